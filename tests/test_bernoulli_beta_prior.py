"""Beta(alpha, beta) priors in solutions.bernoulli: m_step_beta, log_beta_prior, fit_beta."""

import numpy as np
import pytest
from scipy import optimize

from solutions import bernoulli


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    X = (rng.random((30, 6)) < 0.4).astype(float)
    tau = rng.dirichlet(np.ones(3), size=30)
    return X, tau


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.0, 2.0), (1.5, 3.0), (4.0, 1.0)])
def test_m_step_beta_maximises_the_penalised_q(problem, a, b):
    """Each mu_kj maximises sum_i t_ik [x log mu + (1-x) log(1-mu)] + (a-1) log mu + (b-1) log(1-mu)."""
    X, tau = problem
    pi, mu = bernoulli.m_step_beta(X, tau, a, b)
    np.testing.assert_allclose(pi, tau.mean(axis=0), rtol=1e-12)
    for k in range(3):
        for j in range(6):
            ones = tau[:, k] @ X[:, j] + a - 1
            zeros = tau[:, k] @ (1 - X[:, j]) + b - 1

            def neg(m, ones=ones, zeros=zeros):
                return -(ones * np.log(m) + zeros * np.log1p(-m))

            best = optimize.minimize_scalar(neg, bounds=(1e-12, 1 - 1e-12), method="bounded",
                                            options={"xatol": 1e-12})
            assert mu[k, j] == pytest.approx(best.x, abs=1e-6)


def test_symmetric_prior_is_smoothing(problem):
    X, tau = problem
    for s in (0.0, 0.5, 1.0):
        got = bernoulli.m_step_beta(X, tau, 1 + s, 1 + s)
        want = bernoulli.m_step(X, tau, smoothing=s)
        np.testing.assert_allclose(got.mu, want.mu, rtol=1e-14)


def test_empty_component_gets_the_prior_mode():
    X = np.array([[1, 0], [1, 1], [0, 1]], dtype=float)
    tau = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    pi, mu = bernoulli.m_step_beta(X, tau, 3.0, 2.0)
    np.testing.assert_allclose(pi, [1.0, 0.0])
    np.testing.assert_allclose(mu[1], [2 / 3, 2 / 3])  # (a - 1) / (a + b - 2)
    np.testing.assert_allclose(mu[0], [(2 + 2) / (3 + 3), (2 + 2) / (3 + 3)])


def test_log_beta_prior_values():
    mu = np.array([[0.0, 0.25], [1.0, 0.5]])
    assert bernoulli.log_beta_prior(mu, 1.0, 1.0) == 0.0  # 0 log 0 = 0
    assert bernoulli.log_beta_prior(mu, 2.0, 1.0) == -np.inf
    inner = np.array([[0.1, 0.25]])
    want = 0.5 * np.log(inner).sum() + 2.0 * np.log(1 - inner).sum()
    assert bernoulli.log_beta_prior(inner, 1.5, 3.0) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.0, 2.0), (1.2, 2.5)])
def test_fit_beta_monotone_objective_and_iterated_steps(a, b):
    X, _ = bernoulli.sample(200, [0.4, 0.6], [[0.9, 0.8, 0.1, 0.2], [0.1, 0.3, 0.9, 0.7]],
                            random_state=1)
    pi0, mu0 = np.array([0.5, 0.5]), np.array([[0.6, 0.6, 0.4, 0.4], [0.4, 0.4, 0.6, 0.6]])
    res = bernoulli.fit_beta(X, pi0, mu0, alpha=a, beta=b, max_iter=5, tol=0.0)
    assert res.n_iter == 5 and len(res.objective) == 6
    assert np.all(np.diff(res.objective) >= -1e-9)
    pi, mu = pi0, mu0
    for q in range(6):
        want = bernoulli.log_likelihood(X, pi, mu)
        assert res.loglik[q] == pytest.approx(want, rel=1e-12)
        assert res.objective[q] == pytest.approx(want + bernoulli.log_beta_prior(mu, a, b),
                                                 rel=1e-12)
        pi, mu = bernoulli.m_step_beta(X, bernoulli.e_step(X, pi, mu), a, b)


def test_fit_beta_stopping_rule_on_the_objective():
    X, _ = bernoulli.sample(300, [0.5, 0.5], [[0.8] * 5 + [0.2] * 5, [0.2] * 5 + [0.8] * 5],
                            random_state=2)
    pi0, mu0 = np.array([0.5, 0.5]), np.array([[0.55] * 10, [0.45] * 10])
    tol = 1e-8
    res = bernoulli.fit_beta(X, pi0, mu0, alpha=1.5, beta=3.0, max_iter=1000, tol=tol)
    obj = res.objective
    assert res.converged
    assert abs(obj[-1] - obj[-2]) <= tol * abs(obj[-1])
    assert all(abs(obj[q] - obj[q - 1]) > tol * abs(obj[q]) for q in range(1, len(obj) - 1))


@pytest.mark.parametrize(("a", "b"), [(0.5, 1.0), (1.0, 0.0), (np.inf, 2.0), ("x", 1.0)])
def test_bad_prior(problem, a, b):
    X, tau = problem
    with pytest.raises(ValueError, match=r"alpha|beta"):
        bernoulli.m_step_beta(X, tau, a, b)
