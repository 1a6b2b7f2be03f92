"""Normal with missing values: EM against closed forms, scipy and finite differences."""

import numpy as np
import pytest
from scipy import optimize, stats

from solutions import mvn_missing

D = 3


def _tril_vector(mu, cov):
    return np.concatenate([mu, cov[np.tril_indices(len(mu))]])


def _from_vector(v, d=D):
    cov = np.zeros((d, d))
    cov[np.tril_indices(d)] = v[d:]
    return v[:d], cov + np.tril(cov, -1).T


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(D, D))
    cov = A @ A.T + np.eye(D)
    X = rng.multivariate_normal(rng.normal(size=D), cov, size=150)
    # Missing at random: x_2 is hidden more often when x_1 is large.
    hide = rng.random(X.shape) < np.where(X[:, [0]] > 0, 0.5, 0.1)
    hide[:, 0] = rng.random(len(X)) < 0.15
    hide[hide.all(axis=1), 1] = False
    X[hide] = np.nan
    return X


def brute_loglik(X, mu, cov):
    """One scipy marginal density per row."""
    total = 0.0
    for row in X:
        o = ~np.isnan(row)
        total += stats.multivariate_normal(mu[o], cov[np.ix_(o, o)]).logpdf(row[o])
    return total


def fd_hessian(f, v, h=1e-4):
    p = v.size
    H = np.zeros((p, p))
    for a in range(p):
        for b in range(p):
            ea, eb = h * np.eye(p)[a], h * np.eye(p)[b]
            H[a, b] = (
                f(v + ea + eb) - f(v + ea - eb) - f(v - ea + eb) + f(v - ea - eb)
            ) / (4 * h * h)
    return H


def test_log_likelihood_matches_scipy_row_by_row(data):
    mu, cov = np.array([0.1, -0.2, 0.3]), np.diag([1.0, 2.0, 3.0]) + 0.3
    assert np.isclose(
        mvn_missing.log_likelihood(data, mu, cov), brute_loglik(data, mu, cov), rtol=1e-12
    )


def test_e_step_matches_conditional_normal_row_by_row(data):
    mu, cov = np.array([0.1, -0.2, 0.3]), np.diag([1.0, 2.0, 3.0]) + 0.3
    t1, t2 = np.zeros(D), np.zeros((D, D))
    for row in data:
        o, m = ~np.isnan(row), np.isnan(row)
        x = row.copy()
        C = np.zeros((D, D))
        if m.any():
            inv_oo = np.linalg.inv(cov[np.ix_(o, o)])
            x[m] = mu[m] + cov[np.ix_(m, o)] @ inv_oo @ (row[o] - mu[o])
            C[np.ix_(m, m)] = cov[np.ix_(m, m)] - cov[np.ix_(m, o)] @ inv_oo @ cov[np.ix_(o, m)]
        t1 += x
        t2 += np.outer(x, x) + C
    stats_ = mvn_missing.e_step(data, mu, cov)
    assert stats_.n == len(data)
    np.testing.assert_allclose(stats_.t1, t1, rtol=1e-10)
    np.testing.assert_allclose(stats_.t2, t2, rtol=1e-10)


def test_complete_data_gives_sample_mean_and_covariance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, D)) @ rng.normal(size=(D, D))
    res = mvn_missing.fit(X)
    np.testing.assert_allclose(res.params.mu, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(res.params.cov, np.cov(X.T, bias=True), rtol=1e-10)
    # Nothing missing: one M-step lands on the maximum, the second changes nothing.
    assert res.n_iter <= 2
    # Complete data: the information for mu is n Sigma^{-1}, and mu, Sigma decouple.
    info = mvn_missing.observed_information(X, *res.params)
    np.testing.assert_allclose(info[:D, :D], len(X) * np.linalg.inv(res.params.cov), rtol=1e-10)
    np.testing.assert_allclose(info[:D, D:], 0, atol=1e-8 * np.abs(info).max())


def test_fit_matches_direct_maximisation(data):
    res = mvn_missing.fit(data, tol=1e-13, max_iter=5000)
    assert res.converged
    assert np.all(np.diff(res.loglik) >= -1e-9 * np.abs(res.loglik[-1]))

    def negloglik(v):
        L = np.zeros((D, D))
        L[np.tril_indices(D)] = v[D:]
        # The likelihood itself is checked against scipy above; here the
        # independent part is the optimiser.
        return -mvn_missing.log_likelihood(data, v[:D], L @ L.T + 1e-12 * np.eye(D))

    L0 = np.linalg.cholesky(np.diag(np.nanvar(data, axis=0)))
    v0 = np.concatenate([np.nanmean(data, axis=0), L0[np.tril_indices(D)]])
    opt = optimize.minimize(negloglik, v0, method="BFGS", options={"gtol": 1e-7})
    assert res.loglik[-1] >= -opt.fun - 1e-6
    L = np.zeros((D, D))
    L[np.tril_indices(D)] = opt.x[D:]
    np.testing.assert_allclose(res.params.mu, opt.x[:D], atol=1e-4)
    np.testing.assert_allclose(res.params.cov, L @ L.T, atol=1e-4)


def test_squarem_reaches_the_same_maximum(data):
    plain = mvn_missing.fit(data, tol=1e-13, max_iter=5000)
    fast = mvn_missing.fit(data, tol=1e-13, max_iter=5000, accelerate=True)
    assert fast.n_iter < plain.n_iter
    np.testing.assert_allclose(fast.params.cov, plain.params.cov, atol=1e-5)


@pytest.mark.parametrize("at_mle", [True, False])
def test_louis_information_is_minus_the_hessian(data, at_mle):
    res = mvn_missing.fit(data, tol=1e-13, max_iter=5000)
    v = _tril_vector(*res.params)
    if not at_mle:  # Louis's identity holds at every theta
        v = v + 0.05 * np.random.default_rng(1).normal(size=v.size)
    info = mvn_missing.observed_information(data, *_from_vector(v))
    H = fd_hessian(lambda u: mvn_missing.log_likelihood(data, *_from_vector(u)), v)
    np.testing.assert_allclose(info, -H, atol=1e-4 * np.abs(H).max())
    if at_mle:
        se = mvn_missing.standard_errors(info)
        np.testing.assert_allclose(se, np.sqrt(np.diag(np.linalg.inv(-H))), rtol=1e-4)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ([[1.0, np.nan], [np.nan, np.nan]], "no observed value"),
        ([[1.0, np.nan], [2.0, np.nan]], "never observed"),
        ([[1.0, np.inf], [2.0, 3.0]], "infinite"),
        ([1.0, 2.0], "2-dimensional"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_bad_data_is_refused(X, message):
    with pytest.raises(ValueError, match=message):
        mvn_missing.fit(X)


def test_bad_parameters_are_refused(data):
    with pytest.raises(ValueError, match="positive definite"):
        mvn_missing.log_likelihood(data, np.zeros(D), -np.eye(D))
    with pytest.raises(ValueError, match="shape"):
        mvn_missing.e_step(data, np.zeros(2), np.eye(D))
    with pytest.raises(ValueError, match="both"):
        mvn_missing.fit(data, mu0=np.zeros(D))


def test_rate_matrix_is_the_jacobian_of_the_em_map(data):
    """At the maximum, I_c^{-1} I_m = DM, by finite differences of one EM step."""
    res = mvn_missing.fit(data, tol=1e-14, max_iter=5000, accelerate=True)
    v = _tril_vector(*res.params)

    def em_map(u):
        theta = mvn_missing.m_step(mvn_missing.e_step(data, *_from_vector(u)))
        return _tril_vector(*theta)

    h = 1e-6
    DM = np.column_stack(
        [(em_map(v + h * e) - em_map(v - h * e)) / (2 * h) for e in np.eye(v.size)]
    )
    I_c, I_m = mvn_missing.complete_and_missing_information(data, *res.params)
    np.testing.assert_allclose(np.linalg.solve(I_c, I_m), DM, atol=1e-6)
    assert np.linalg.eigvalsh(I_m).min() > -1e-9 * np.abs(I_m).max()
