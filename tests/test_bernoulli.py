"""Bernoulli mixture: E/M steps against brute force, boundary probabilities,
smoothing, digits, SQUAREM, bad input."""

import numpy as np
import pytest
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from solutions import bernoulli
from solutions.datasets import binarized_digits


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The matrices here are small; BLAS threads only contend on a busy machine.
    with threadpool_limits(1):
        yield


def brute_force_joint(X, pi, mu):
    """pi_k * prod_j mu_kj^x_ij (1 - mu_kj)^(1 - x_ij), one (i, k) at a time.

    numpy's 0.0**0 == 1 makes the boundary probabilities exact here.
    """
    X = np.asarray(X, dtype=float)
    return np.array(
        [
            [pi[k] * np.prod(mu[k] ** x * (1 - mu[k]) ** (1 - x)) for k in range(len(pi))]
            for x in X
        ]
    )


def two_product_log_joint(X, pi, mu):
    """log pi_k + X log mu^T + (1 - X) log(1 - mu)^T: the textbook formula in log space."""
    X = np.asarray(X, dtype=float)
    return np.log(pi) + X @ np.log(mu).T + (1 - X) @ np.log1p(-mu).T


def log_prior(mu, s):
    return s * np.sum(np.log(mu) + np.log(1 - mu))


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(11)
    X = (rng.random((40, 6)) < 0.4).astype(np.uint8)
    pi = np.array([0.2, 0.5, 0.3])
    mu = rng.uniform(0.05, 0.95, size=(3, 6))
    return X, pi, mu


# --------------------------------------------------------------------------
# the steps against brute force


def test_log_bernoulli_prob_matches_product(small_problem):
    X, _, mu = small_problem
    expected = np.log(brute_force_joint(X, np.ones(3), mu))
    np.testing.assert_allclose(bernoulli.log_bernoulli_prob(X, mu), expected, rtol=1e-12)


def test_e_step_matches_bayes_rule(small_problem):
    X, pi, mu = small_problem
    joint = brute_force_joint(X, pi, mu)
    expected = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(bernoulli.e_step(X, pi, mu), expected, rtol=1e-12, atol=1e-15)


def test_log_likelihood_matches_product(small_problem):
    X, pi, mu = small_problem
    expected = np.sum(np.log(brute_force_joint(X, pi, mu).sum(axis=1)))
    assert bernoulli.log_likelihood(X, pi, mu) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("s", [0.0, 0.5, 1.0])
def test_m_step_is_weighted_average(small_problem, s):
    X, _, _ = small_problem
    rng = np.random.default_rng(2)
    tau = rng.dirichlet(np.ones(3), size=len(X))
    n, d = X.shape
    pi_expected = [sum(tau[i, k] for i in range(n)) / n for k in range(3)]
    mu_expected = [
        [
            (sum(tau[i, k] * X[i, j] for i in range(n)) + s)
            / (sum(tau[i, k] for i in range(n)) + 2 * s)
            for j in range(d)
        ]
        for k in range(3)
    ]
    pi, mu = bernoulli.m_step(X, tau, smoothing=s)
    np.testing.assert_allclose(pi, pi_expected, rtol=1e-12)
    np.testing.assert_allclose(mu, mu_expected, rtol=1e-12)
    if s == 0:
        for k in range(3):
            np.testing.assert_allclose(mu[k], np.average(X, axis=0, weights=tau[:, k]))


def test_m_step_empty_component(small_problem):
    X, _, _ = small_problem
    tau = np.zeros((len(X), 3))
    tau[:, 0] = 0.3
    tau[:, 2] = 0.7
    pi, mu = bernoulli.m_step(X, tau)
    assert pi[1] == 0.0
    np.testing.assert_allclose(mu[1], X.mean(axis=0), rtol=1e-12)
    # With a prior the formula itself applies: (0 + s) / (0 + 2s) = 1/2, the prior mode.
    pi, mu = bernoulli.m_step(X, tau, smoothing=2.0)
    assert pi[1] == 0.0
    np.testing.assert_array_equal(mu[1], 0.5)


def test_bool_int_and_float_data_agree(small_problem):
    X, pi, mu = small_problem
    ref = bernoulli.e_step(X, pi, mu)
    for data in (X.astype(bool), X.astype(np.int64), X.astype(float), X.tolist()):
        np.testing.assert_array_equal(bernoulli.e_step(data, pi, mu), ref)


# --------------------------------------------------------------------------
# high dimension: the products underflow


def test_no_underflow_at_mnist_dimension():
    rng = np.random.default_rng(5)
    n, d, K = 200, 784, 4
    X = (rng.random((n, d)) < 0.5).astype(np.uint8)
    mu = rng.uniform(0.0, 1.0, size=(K, d))
    pi = rng.dirichlet(np.ones(K))
    # The test is meaningful: the plain product underflows for most samples.
    naive = brute_force_joint(X[:20], pi, mu)
    assert np.mean(naive.sum(axis=1) == 0.0) > 0.5

    tau = bernoulli.e_step(X, pi, mu)
    assert np.all(np.isfinite(tau))
    np.testing.assert_allclose(tau.sum(axis=1), 1.0, rtol=1e-12)
    log_joint = two_product_log_joint(X, pi, mu)
    log_norm = logsumexp(log_joint, axis=1)
    np.testing.assert_allclose(tau, np.exp(log_joint - log_norm[:, None]), atol=1e-10)

    ll = bernoulli.log_likelihood(X, pi, mu)
    assert np.isfinite(ll)
    assert ll == pytest.approx(log_norm.sum(), rel=1e-12)


# --------------------------------------------------------------------------
# probabilities exactly 0 or 1


@pytest.fixture
def boundary_problem():
    mu = np.array(
        [
            [0.0, 1.0, 0.3, 0.6, 0.5],
            [0.2, 1.0, 0.0, 0.0, 0.9],
            [0.4, 0.7, 0.5, 1.0, 0.1],
        ]
    )
    pi = np.array([0.5, 0.2, 0.3])
    X = np.array(list(np.ndindex(*(2,) * 5)), dtype=np.uint8)  # all 32 binary vectors
    return X, pi, mu


def test_boundary_log_prob_is_exact(boundary_problem):
    X, _, mu = boundary_problem
    with np.errstate(divide="ignore"):
        expected = np.log(brute_force_joint(X, np.ones(3), mu))
    got = bernoulli.log_bernoulli_prob(X, mu)
    assert not np.any(np.isnan(got))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    assert finite.sum() > 0 and (~finite).sum() > 0
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12)


def test_boundary_e_step_and_log_likelihood(boundary_problem):
    X, pi, mu = boundary_problem
    joint = brute_force_joint(X, pi, mu)
    possible = joint.sum(axis=1) > 0
    Xp = X[possible]
    expected = joint[possible] / joint[possible].sum(axis=1, keepdims=True)
    tau = bernoulli.e_step(Xp, pi, mu)
    np.testing.assert_allclose(tau, expected, rtol=1e-12, atol=0)
    assert np.all(tau[expected == 0] == 0.0)
    assert bernoulli.log_likelihood(Xp, pi, mu) == pytest.approx(
        np.sum(np.log(joint[possible].sum(axis=1))), rel=1e-12
    )


def test_sample_impossible_under_every_component(boundary_problem):
    X, pi, mu = boundary_problem
    joint = brute_force_joint(X, pi, mu)
    impossible = np.flatnonzero(joint.sum(axis=1) == 0)
    assert impossible.size > 0
    assert bernoulli.log_likelihood(X, pi, mu) == -np.inf
    with pytest.raises(ValueError, match=f"sample {impossible[0]} has zero probability"):
        bernoulli.e_step(X, pi, mu)
    # A zero weight makes its component's samples impossible too.
    x = np.array([[1, 1, 0, 0, 1]])  # possible only under component 1
    assert bernoulli.log_likelihood(x, pi, mu) > -np.inf
    with pytest.raises(ValueError, match="zero probability under every component"):
        bernoulli.e_step(x, [0.5, 0.0, 0.5], mu)


def test_fit_from_a_boundary_start(boundary_problem):
    X, pi, mu = boundary_problem
    possible = brute_force_joint(X, pi, mu).sum(axis=1) > 0
    res = bernoulli.fit(X[possible], pi, mu, max_iter=50, tol=0)
    assert np.all(np.isfinite(res.loglik))
    assert np.all(np.diff(res.loglik) >= -1e-12 * abs(res.loglik[-1]))
    with pytest.raises(ValueError, match="zero probability under every component"):
        bernoulli.fit(X, pi, mu)
    # Under a prior that start has log-prior -inf; loglik stays the plain one.
    smoothed = bernoulli.fit(X[possible], pi, mu, smoothing=1.0, max_iter=5, tol=0)
    assert smoothed.objective[0] == -np.inf
    assert smoothed.loglik[0] == pytest.approx(res.loglik[0], rel=1e-12)
    assert np.all(np.isfinite(smoothed.objective[1:]))


# --------------------------------------------------------------------------
# fit


@pytest.fixture(scope="module")
def digits():
    return binarized_digits()


def test_fit_equals_iterated_public_steps(small_problem):
    X, pi, mu = small_problem
    res = bernoulli.fit(X, pi, mu, max_iter=5, tol=0)
    theta = (pi, mu)
    trace = [bernoulli.log_likelihood(X, *theta)]
    for _ in range(5):
        theta = bernoulli.m_step(X, bernoulli.e_step(X, *theta))
        trace.append(bernoulli.log_likelihood(X, *theta))
    np.testing.assert_allclose(res.params.pi, theta[0], rtol=1e-12)
    np.testing.assert_allclose(res.params.mu, theta[1], rtol=1e-12)
    np.testing.assert_allclose(res.loglik, trace, rtol=1e-12)
    np.testing.assert_allclose(res.tau, bernoulli.e_step(X, *theta), rtol=1e-12, atol=1e-15)


def test_fit_digits_finds_the_digits(digits):
    X, y = digits
    res = bernoulli.fit(X, n_components=10, random_state=0, max_iter=500, tol=1e-8)
    assert res.converged
    np.testing.assert_array_equal(res.objective, res.loglik)
    assert np.all(np.diff(res.loglik) >= -1e-12 * abs(res.loglik[-1]))
    assert res.loglik[-1] > res.loglik[0]
    # Clusters (hard assignment by t_ik) against the true labels. Over 30
    # seeds the purity ranged from 0.63 to 0.76 and the clusters' majority
    # labels covered 7 to 9 of the 10 digits; labelling at random gives a
    # purity near 0.1.
    cluster = res.tau.argmax(axis=1)
    tables = [np.bincount(y[cluster == k], minlength=10) for k in range(10)]
    purity = sum(t.max() for t in tables) / len(y)
    majorities = {int(t.argmax()) for t in tables if t.sum() > 0}
    assert purity > 0.6
    assert len(majorities) >= 7
    # Each prototype mu_k is closest (in squared distance) to the mean image
    # of its cluster's majority digit, i.e. it looks like that digit (at least
    # 7 of 10 prototypes over the same 30 seeds; all 10 for this one).
    class_means = np.array([X[y == c].mean(axis=0) for c in range(10)])
    nearest = np.argmin(
        ((res.params.mu[:, None, :] - class_means[None]) ** 2).sum(axis=2), axis=1
    )
    agree = [nearest[k] == tables[k].argmax() for k in range(10) if tables[k].sum() > 0]
    assert np.mean(agree) >= 0.7


def test_smoothing_monotone_objective_plain_loglik(digits):
    X, _ = digits
    s = 1.0
    rng = np.random.default_rng(0)
    pi0 = np.full(6, 1 / 6)
    mu0 = rng.uniform(0.25, 0.75, size=(6, X.shape[1]))
    res = bernoulli.fit(X, pi0, mu0, smoothing=s, max_iter=100, tol=0)
    # EM with a prior increases the log-posterior, the reported objective...
    assert np.all(np.diff(res.objective) >= -1e-12 * abs(res.objective[-1]))
    assert res.objective[-1] > res.objective[0]
    # ...while loglik is the plain log-likelihood.
    pi, mu = res.params
    assert res.loglik[0] == pytest.approx(bernoulli.log_likelihood(X, pi0, mu0), rel=1e-12)
    assert res.loglik[-1] == pytest.approx(bernoulli.log_likelihood(X, pi, mu), rel=1e-12)
    assert res.objective[0] - res.loglik[0] == pytest.approx(log_prior(mu0, s), rel=1e-9)
    assert res.objective[-1] - res.loglik[-1] == pytest.approx(log_prior(mu, s), rel=1e-9)
    # The estimate is smoothed: never on the boundary, although plain EM
    # gives mu_kj = 0 for the pixels that are always off.
    assert np.all((mu > 0) & (mu < 1))
    assert np.any(bernoulli.fit(X, pi0, mu0, max_iter=100, tol=0).params.mu == 0)
    # It is a fixed point of the smoothed EM map (MAP), not of the plain one.
    again = bernoulli.m_step(X, bernoulli.e_step(X, pi, mu), smoothing=s)
    np.testing.assert_allclose(again.mu, mu, atol=1e-5)
    plain = bernoulli.m_step(X, bernoulli.e_step(X, pi, mu))
    assert np.abs(plain.mu - mu).max() > 1e-3


def test_fit_chosen_starts_are_smoothed(digits):
    X, _ = digits
    for init in ("kmeans++", "random"):
        start = bernoulli.fit(X, n_components=4, init=init, random_state=1, max_iter=0).params
        assert np.all((start.mu > 0) & (start.mu < 1))
        assert start.pi.sum() == pytest.approx(1.0, abs=1e-12)
    res = bernoulli.fit(X, n_components=4, init="random", n_init=2, random_state=1, max_iter=30)
    assert np.all(np.diff(res.loglik) >= -1e-12 * abs(res.loglik[-1]))


def test_squarem_same_optimum_fewer_cycles():
    rng = np.random.default_rng(3)
    K, d = 3, 20
    X, _ = bernoulli.sample(1500, [0.5, 0.3, 0.2], rng.uniform(0.2, 0.8, size=(K, d)), 4)
    pi0, mu0 = np.full(K, 1 / K), rng.uniform(0.3, 0.7, size=(K, d))
    plain = bernoulli.fit(X, pi0, mu0, tol=1e-12, max_iter=5000)
    fast = bernoulli.fit(X, pi0, mu0, tol=1e-12, max_iter=5000, accelerate=True)
    assert plain.converged and fast.converged
    assert np.all(np.diff(fast.loglik) >= -1e-12 * abs(fast.loglik[-1]))
    assert fast.loglik[-1] == pytest.approx(plain.loglik[-1], rel=1e-10)
    np.testing.assert_allclose(fast.params.mu, plain.params.mu, atol=1e-4)
    np.testing.assert_allclose(fast.params.pi, plain.params.pi, atol=1e-4)
    assert fast.n_iter < plain.n_iter / 3
    assert fast.n_em_steps < plain.n_em_steps / 2


def test_sample_frequencies():
    pi = np.array([0.25, 0.75])
    mu = np.array([[0.0, 1.0, 0.2, 0.9], [1.0, 0.5, 0.7, 0.05]])
    X, z = bernoulli.sample(20_000, pi, mu, random_state=0)
    assert X.shape == (20_000, 4) and set(np.unique(X)) <= {0, 1}
    assert np.mean(z == 0) == pytest.approx(0.25, abs=0.015)
    for k in range(2):
        # Boundary probabilities are exact; the others within 5 standard errors.
        freq = X[z == k].mean(axis=0)
        se = np.sqrt(mu[k] * (1 - mu[k]) / np.sum(z == k))
        assert np.all(np.abs(freq - mu[k]) <= 5 * se)


# --------------------------------------------------------------------------
# bad input

X_OK = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1]])
PI_OK = np.array([0.4, 0.6])
MU_OK = np.array([[0.2, 0.5, 0.9], [0.7, 0.1, 0.4]])

BAD_DATA = [
    (np.array([[0, 2, 1], [1, 0, 0]]), r"binary .* X\[0, 1\] = 2"),
    (np.array([[0.0, 0.5, 1.0]]), "binary"),
    (np.array([[0, -1, 1]]), "binary"),
    (np.array([[0.0, np.nan, 1.0]]), "X contains NaN"),
    (np.array([[0.0, np.inf, 1.0]]), "X contains infinite"),
    (np.array([0, 1, 1]), "X must be 2-dimensional"),
    (np.zeros((2, 3, 1)), "X must be 2-dimensional"),
    (np.zeros((0, 3)), "X is empty"),
    (np.array([["0", "1", "1"]]), "numeric or boolean"),
]


@pytest.mark.parametrize(("X", "match"), BAD_DATA)
def test_bad_data(X, match):
    with pytest.raises(ValueError, match=match):
        bernoulli.e_step(X, PI_OK, MU_OK)
    with pytest.raises(ValueError, match=match):
        bernoulli.log_likelihood(X, PI_OK, MU_OK)
    with pytest.raises(ValueError, match=match):
        bernoulli.log_bernoulli_prob(X, MU_OK)
    with pytest.raises(ValueError, match=match):
        bernoulli.m_step(X, np.full((len(X), 2), 0.5))
    with pytest.raises(ValueError, match=match):
        bernoulli.fit(X, n_components=1)


BAD_PARAMS = [
    ([-0.1, 1.1], MU_OK, "negative weights"),
    ([0.5, 0.6], MU_OK, "sum to 1"),
    ([0.5, np.nan], MU_OK, "pi contains NaN"),
    (PI_OK, [[0.2, 0.5, 1.1], [0.7, 0.1, 0.4]], r"probabilities in \[0, 1\]"),
    (PI_OK, [[0.2, -0.5, 0.1], [0.7, 0.1, 0.4]], r"probabilities in \[0, 1\]"),
    (PI_OK, [[0.2, np.nan, 0.1], [0.7, 0.1, 0.4]], "mu contains NaN"),
    (PI_OK, [0.2, 0.5, 0.9], "mu must be 2-dimensional"),
    (PI_OK, MU_OK[:, :2], "mu has 2 features .* X has 3"),
    (PI_OK, MU_OK[:1], "mu has 1 components but pi has 2"),
    ([0.2, 0.3, 0.5], MU_OK, "mu has 2 components but pi has 3"),
]


@pytest.mark.parametrize(("pi", "mu", "match"), BAD_PARAMS)
def test_bad_parameters(pi, mu, match):
    with pytest.raises(ValueError, match=match):
        bernoulli.e_step(X_OK, pi, mu)
    with pytest.raises(ValueError, match=match):
        bernoulli.log_likelihood(X_OK, pi, mu)
    with pytest.raises(ValueError, match=match):
        bernoulli.fit(X_OK, pi, mu)


def test_bad_log_prob_and_sample_arguments():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        bernoulli.log_bernoulli_prob(X_OK, MU_OK + 0.5)
    with pytest.raises(ValueError, match="mu has 2 features"):
        bernoulli.log_bernoulli_prob(X_OK, MU_OK[:, :2])
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        bernoulli.sample(-1, PI_OK, MU_OK)
    with pytest.raises(ValueError, match="sum to 1"):
        bernoulli.sample(5, [0.5, 0.6], MU_OK)


BAD_TAU = [
    (np.full((4, 2), 0.6), "each row of tau must sum to 1"),
    (np.array([[1.5, -0.5]] * 4), r"tau must have entries in \[0, 1\]"),
    (np.full((3, 2), 0.5), "tau has 3 rows but the data has 4 samples"),
    (np.array([[np.nan, 0.5]] * 4), "tau contains NaN"),
    (np.full(4, 1.0), "tau must be 2-dimensional"),
]


@pytest.mark.parametrize(("tau", "match"), BAD_TAU)
def test_bad_responsibilities(tau, match):
    with pytest.raises(ValueError, match=match):
        bernoulli.m_step(X_OK, tau)


@pytest.mark.parametrize("s", [-0.5, np.nan, np.inf, "a lot"])
def test_bad_smoothing(s):
    tau = np.full((4, 2), 0.5)
    with pytest.raises(ValueError, match="smoothing must be"):
        bernoulli.m_step(X_OK, tau, smoothing=s)
    with pytest.raises(ValueError, match="smoothing must be"):
        bernoulli.fit(X_OK, PI_OK, MU_OK, smoothing=s)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 5}, r"more components \(5\) than samples \(4\)"),
        ({"n_components": 0}, "at least one component"),
        ({"pi0": np.full(5, 0.2), "mu0": np.full((5, 3), 0.5)}, "more components"),
        ({"pi0": PI_OK}, "give all initial parameters or none"),
        ({}, "give initial parameters or n_components"),
        ({"n_components": 2, "init": "best"}, "init must be one of"),
        ({"n_components": 2, "n_init": 0}, "n_init must be a positive integer"),
        ({"pi0": PI_OK, "mu0": MU_OK, "n_components": 3}, "disagrees"),
        ({"n_components": 2, "max_iter": -1}, "max_iter"),
        ({"n_components": 2, "tol": -1.0}, "tol"),
    ],
)
def test_bad_fit_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bernoulli.fit(X_OK, **kwargs)
