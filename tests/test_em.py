"""The shared EM loop: iteration counting, stopping, SQUAREM fallback."""

import numpy as np
import pytest

from solutions import poisson
from solutions.em import Model, run_em

X = np.repeat(np.arange(10), [162, 267, 271, 185, 111, 61, 27, 8, 3, 1])


def test_tol_zero_runs_exactly_max_iter():
    res = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], max_iter=17, tol=0)
    assert res.n_iter == 17 and len(res.loglik) == 18 and not res.converged


def test_max_iter_zero_returns_the_start():
    res = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], max_iter=0)
    np.testing.assert_array_equal(res.params.pi, [0.3, 0.7])
    assert res.loglik[0] == pytest.approx(poisson.log_likelihood(X, [0.3, 0.7], [1.0, 2.5]))
    assert res.n_iter == 0


def test_loglik_zero_is_at_the_initial_parameters():
    res = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], max_iter=5)
    assert res.loglik[0] == pytest.approx(
        poisson.log_likelihood(X, [0.3, 0.7], [1.0, 2.5]), rel=1e-14
    )
    assert res.loglik[-1] == pytest.approx(poisson.log_likelihood(X, *res.params), rel=1e-14)


def test_stops_on_relative_change():
    res = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], tol=1e-6, max_iter=10_000)
    assert res.converged
    rel = np.abs(np.diff(res.loglik)) / np.abs(res.loglik[:-1])
    assert rel[-1] < 1e-6 and np.all(rel[:-1] >= 1e-6)


class _CountingModel:
    """A Model wrapper that counts E-steps and can refuse extrapolated points."""

    def __init__(self, refuse: bool):
        self.inner = poisson._model(*poisson._compress(X.astype(float))[:2])
        self.refuse = refuse
        self.e_calls = 0

    def model(self) -> Model:
        def e(theta):
            self.e_calls += 1
            return self.inner.e_step(theta)

        return Model(
            e_step=e,
            m_step=self.inner.m_step,
            to_vector=self.inner.to_vector,
            from_vector=(lambda v: None) if self.refuse else self.inner.from_vector,
        )


def test_squarem_falls_back_to_plain_em_when_extrapolation_leaves_the_space():
    """If every extrapolated point is refused, SQUAREM must equal two plain EM steps per cycle."""
    counting = _CountingModel(refuse=True)
    theta0 = poisson.PoissonParams(np.array([0.3, 0.7]), np.array([1.0, 2.5]))
    acc = run_em(counting.model(), theta0, max_iter=10, tol=0, accelerate=True)
    plain = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], max_iter=20, tol=0)
    np.testing.assert_allclose(acc.loglik, plain.loglik[::2], rtol=1e-13)
    np.testing.assert_allclose(acc.params.lam, plain.params.lam, rtol=1e-12)


def test_squarem_trace_never_decreases_from_many_starts():
    rng = np.random.default_rng(0)
    for _ in range(30):
        pi0 = rng.dirichlet(np.ones(3))
        lam0 = rng.uniform(0.1, 8.0, size=3)
        res = poisson.fit(X, pi0, lam0, accelerate=True, max_iter=200)
        assert np.all(np.diff(res.loglik) >= -1e-10 * abs(res.loglik[-1]))


def test_validation_of_loop_options():
    theta0 = poisson.PoissonParams(np.array([0.3, 0.7]), np.array([1.0, 2.5]))
    model = _CountingModel(refuse=False).model()
    with pytest.raises(ValueError, match="max_iter"):
        run_em(model, theta0, max_iter=-1)
    with pytest.raises(ValueError, match="tol"):
        run_em(model, theta0, tol=-1)


def test_tau_is_lazy_for_compressed_fits():
    res = poisson.fit(X, [0.3, 0.7], [1.0, 2.5], max_iter=3)
    assert callable(res._tau)
    assert res.tau.shape == (len(X), 2)
    assert not callable(res._tau)
