"""solutions.gaussian1d: univariate Gaussian mixtures with a variance floor.

Compared with scipy.stats, with solutions.gaussian (an independent
implementation, with reg_covar=0), with brute-force maximisation of Q, and
with the published maximum-likelihood fit of the Old Faithful waiting times.
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from solutions import datasets, gaussian, gaussian1d


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(-2, 1, 60), rng.normal(3, 0.5, 40)])
    pi, mu, var = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([2.0, 0.8])
    return x, pi, mu, var


def test_log_normal_pdf_matches_scipy(data):
    x, _, mu, var = data
    np.testing.assert_allclose(
        gaussian1d.log_normal_pdf(x, mu, var),
        norm.logpdf(x[:, None], mu, np.sqrt(var)),
        rtol=1e-13,
    )


def test_log_normal_pdf_far_from_the_mean_stays_finite():
    got = gaussian1d.log_normal_pdf([1e3, 1e8 + 1.0], [0.0, 1e8], [1.0, 1e-6])
    assert norm.pdf(1e3) == 0.0  # the density itself underflows
    np.testing.assert_allclose(got[0, 0], -0.5 * np.log(2 * np.pi) - 5e5, rtol=1e-15)
    # x - mu = 1 exactly for the narrow component at 1e8
    np.testing.assert_allclose(got[1, 1], -0.5 * np.log(2 * np.pi * 1e-6) - 0.5e6, rtol=1e-12)


def test_e_step_and_log_likelihood_match_solutions_gaussian(data):
    x, pi, mu, var = data
    np.testing.assert_allclose(
        gaussian1d.e_step(x, pi, mu, var), gaussian.e_step(x, pi, mu, var), rtol=1e-10, atol=1e-14
    )
    assert gaussian1d.log_likelihood(x, pi, mu, var) == pytest.approx(
        gaussian.log_likelihood(x, pi, mu, var), rel=1e-12
    )
    # the textbook formula where nothing underflows
    weighted = pi * norm.pdf(x[:, None], mu, np.sqrt(var))
    np.testing.assert_allclose(
        gaussian1d.e_step(x, pi, mu, var), weighted / weighted.sum(1, keepdims=True), rtol=1e-10
    )
    assert gaussian1d.log_likelihood(x, pi, mu, var) == pytest.approx(
        np.log(weighted.sum(1)).sum(), rel=1e-12
    )


def test_e_step_when_every_density_underflows():
    x = np.array([0.0, 60.0])
    pi, mu, var = np.array([0.5, 0.5]), np.array([-1.0, 1.0]), np.array([1.0, 1.0])
    assert np.all(pi * norm.pdf(60.0, mu, 1.0) == 0.0)
    lj = np.log(pi) + norm.logpdf(x[:, None], mu, 1.0)
    tau = gaussian1d.e_step(x, pi, mu, var)
    np.testing.assert_allclose(tau, np.exp(lj - logsumexp(lj, axis=1, keepdims=True)), atol=1e-15)
    assert tau[1, 1] == 1.0
    assert gaussian1d.log_likelihood(x, pi, mu, var) == pytest.approx(
        logsumexp(lj, axis=1).sum(), rel=1e-14
    )


def test_e_step_zero_weight_gives_zero_responsibility(data):
    x, _, mu, var = data
    tau = gaussian1d.e_step(x, [1.0, 0.0], mu, var)
    assert np.all(tau[:, 1] == 0.0) and np.all(tau[:, 0] == 1.0)


def test_m_step_without_floor_matches_solutions_gaussian(data):
    x, pi, mu, var = data
    tau = gaussian1d.e_step(x, pi, mu, var)
    got = gaussian1d.m_step(x, tau, var_floor=0.0)
    want = gaussian.m_step(x, tau, reg_covar=0.0)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_m_step_floor_is_the_constrained_maximiser():
    """max(S_k, eps) maximises Q_k over v >= eps (brute force on a grid); S_k + eps does not."""
    x = np.array([0.0, 0.2, 0.4, 5.0, 7.0, 9.0])
    tau = np.eye(2)[[0, 0, 0, 1, 1, 1]]
    eps = 0.5
    _, mu, var = gaussian1d.m_step(x, tau, var_floor=eps)
    s = np.array([x[:3].var(), x[3:].var()])
    assert s[0] < eps < s[1]
    np.testing.assert_allclose(var, [eps, s[1]], rtol=1e-14)

    def q(k, v):
        v = np.asarray(v, dtype=float)[..., None]
        return np.sum(tau[:, k] * norm.logpdf(x, mu[k], np.sqrt(v)), axis=-1)

    grid = np.linspace(eps, 20, 200_001)
    for k in range(2):
        best = grid[np.argmax(q(k, grid))]
        assert abs(best - var[k]) < 2e-4
        assert q(k, var[k]) > q(k, s[k] + eps)  # the additive rule is not the maximiser


def test_m_step_collapse_on_one_point_gives_the_floor():
    x = np.array([1.0, 2.0, 3.0, 7.0])
    tau = np.eye(2)[[0, 0, 0, 1]]
    pi, mu, var = gaussian1d.m_step(x, tau)
    np.testing.assert_allclose(pi, [0.75, 0.25])
    np.testing.assert_allclose(mu, [2.0, 7.0])
    np.testing.assert_allclose(var, [2.0 / 3.0, gaussian1d.VAR_FLOOR], rtol=1e-14)


def test_m_step_data_far_from_zero_keeps_its_digits():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, 200)
    tau = rng.dirichlet([1.0, 1.0], size=200)
    far = gaussian1d.m_step(1e8 + y, tau, var_floor=0.0)
    near = gaussian1d.m_step(y, tau, var_floor=0.0)
    np.testing.assert_allclose(far.mu - 1e8, near.mu, atol=1e-7)
    np.testing.assert_allclose(far.var, near.var, rtol=1e-7)


def test_m_step_empty_component_is_finite(data):
    x = data[0]
    tau = np.column_stack([np.ones_like(x), np.zeros_like(x)])
    pi, mu, var = gaussian1d.m_step(x, tau)
    np.testing.assert_allclose(pi, [1.0, 0.0])
    assert np.all(np.isfinite(mu)) and np.all(var > 0)


def test_fit_old_faithful_published_mle():
    """Waiting times: the MLE reported for R's faithful data (l = -1034.002)."""
    x = datasets.old_faithful()[:, 1]
    res = gaussian1d.fit(x, [0.5, 0.5], [50.0, 60.0], [30.0, 30.0], tol=1e-12, max_iter=5000)
    pi, mu, var = res.params
    assert res.converged and np.all(np.diff(res.loglik) >= -1e-9)
    assert round(res.loglik[-1], 3) == -1034.002
    np.testing.assert_allclose(pi, [0.361, 0.639], atol=5e-4)
    np.testing.assert_allclose(mu, [54.61, 80.09], atol=5e-3)
    np.testing.assert_allclose(np.sqrt(var), [5.871, 5.868], atol=5e-4)
    # the same fixed point as solutions.gaussian without regularisation
    ref = gaussian.fit(x, [0.5, 0.5], [50.0, 60.0], [30.0, 30.0], tol=1e-12, max_iter=5000,
                       reg_covar=0.0)
    for a, b in zip(res.params, ref.params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_fit_collapse_stops_at_the_floor_and_stays_monotone():
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 10.0])
    res = gaussian1d.fit(x, [0.5, 0.5], [1.0, 10.0], [1.0, 0.01], tol=0.0, max_iter=20)
    assert res.params.var[1] == gaussian1d.VAR_FLOOR
    assert np.all(np.isfinite(res.loglik)) and np.all(np.diff(res.loglik) >= -1e-12)
    with pytest.raises(ValueError, match="collapsed"):
        gaussian1d.fit(x, [0.5, 0.5], [1.0, 10.0], [1.0, 0.01], var_floor=0.0, max_iter=20)


def test_fit_tol_zero_runs_max_iter(data):
    x, pi, mu, var = data
    res = gaussian1d.fit(x, pi, mu, var, tol=0.0, max_iter=7)
    assert res.n_iter == 7 and res.loglik.size == 8


def test_sample_then_fit_recovers_the_truth():
    x, _ = gaussian1d.sample(4000, [0.4, 0.6], [0.0, 5.0], [1.0, 2.0], random_state=1)
    res = gaussian1d.fit(x, n_components=2, n_init=3, random_state=0)
    order = np.argsort(res.params.mu)
    np.testing.assert_allclose(res.params.pi[order], [0.4, 0.6], atol=0.03)
    np.testing.assert_allclose(res.params.mu[order], [0.0, 5.0], atol=0.1)
    np.testing.assert_allclose(res.params.var[order], [1.0, 2.0], rtol=0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gaussian1d.log_normal_pdf([0.0], [0.0], [0.0]), "positive variances"),
        (lambda: gaussian1d.e_step([0.0, np.nan], [1.0], [0.0], [1.0]), "NaN"),
        (lambda: gaussian1d.e_step([0.0], [0.6, 0.6], [0.0, 1.0], [1.0, 1.0]), "sum to 1"),
        (lambda: gaussian1d.e_step([0.0], [1.0], [0.0, 1.0], [1.0]), "mu has 2 components"),
        (lambda: gaussian1d.m_step([0.0, 1.0], [[1.0, 0.0]]), "tau has 1 rows"),
        (lambda: gaussian1d.m_step([0.0], [[1.0]], var_floor=-1.0), "var_floor"),
        (lambda: gaussian1d.log_likelihood(["a"], [1.0], [0.0], [1.0]), "real numbers"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
