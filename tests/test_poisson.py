"""Poisson mixture: E/M steps against brute force, the Hasselblad MLE, bad input."""

import math

import numpy as np
import pytest

from solutions import bernoulli, exponential, gaussian, gaussian1d, poisson

HASSELBLAD_FREQ = [162, 267, 271, 185, 111, 61, 27, 8, 3, 1]
HASSELBLAD_X = np.repeat(np.arange(10), HASSELBLAD_FREQ)


def brute_force_joint(x, pi, lam):
    """pi_k * lam_k^x e^{-lam_k} / x!, one entry at a time, in plain floats."""
    return np.array(
        [
            [
                pi[k] * lam[k] ** xi * math.exp(-lam[k]) / math.factorial(int(xi))
                for k in range(len(pi))
            ]
            for xi in x
        ]
    )


def brute_force_log_joint(x, pi, lam):
    """Log-space version with math.lgamma, for counts where the product underflows."""
    return np.array(
        [
            [
                math.log(pi[k]) + xi * math.log(lam[k]) - lam[k] - math.lgamma(xi + 1)
                for k in range(len(pi))
            ]
            for xi in x
        ]
    )


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(1)
    x = rng.poisson(4.0, size=40)
    pi = np.array([0.2, 0.5, 0.3])
    lam = np.array([1.0, 4.0, 9.5])
    return x, pi, lam


def test_log_pmf_matches_scipy(small_problem):
    from scipy.stats import poisson as sp_poisson

    x, _, lam = small_problem
    expected = sp_poisson.logpmf(x[:, None], lam[None, :])
    np.testing.assert_allclose(poisson.log_poisson_pmf(x, lam), expected, rtol=1e-12)


def test_e_step_matches_brute_force(small_problem):
    x, pi, lam = small_problem
    joint = brute_force_joint(x, pi, lam)
    expected = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(poisson.e_step(x, pi, lam), expected, rtol=1e-12, atol=1e-300)


def test_m_step_matches_brute_force(small_problem):
    x, _, _ = small_problem
    rng = np.random.default_rng(2)
    tau = rng.dirichlet(np.ones(3), size=len(x))
    n = len(x)
    pi_expected = [sum(tau[i, k] for i in range(n)) / n for k in range(3)]
    lam_expected = [
        sum(tau[i, k] * x[i] for i in range(n)) / sum(tau[i, k] for i in range(n)) for k in range(3)
    ]
    pi, lam = poisson.m_step(x, tau)
    np.testing.assert_allclose(pi, pi_expected, rtol=1e-12)
    np.testing.assert_allclose(lam, lam_expected, rtol=1e-12)
    assert pi.sum() == pytest.approx(1.0, abs=1e-12)


def test_log_likelihood_matches_brute_force(small_problem):
    x, pi, lam = small_problem
    expected = sum(math.log(row.sum()) for row in brute_force_joint(x, pi, lam))
    assert poisson.log_likelihood(x, pi, lam) == pytest.approx(expected, rel=1e-12)


def test_extreme_counts_stay_finite():
    # p(1000 | 0.5) = exp(-4597...) underflows to 0 in double precision.
    x = np.array([1000, 0, 3, 250])
    pi = np.array([0.5, 0.5])
    lam = np.array([0.5, 900.0])
    tau = poisson.e_step(x, pi, lam)
    assert np.all(np.isfinite(tau))
    np.testing.assert_allclose(tau.sum(axis=1), 1.0, rtol=1e-14)
    log_joint = brute_force_log_joint(x, pi, lam)
    m = log_joint.max(axis=1, keepdims=True)
    expected = np.exp(log_joint - m) / np.exp(log_joint - m).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(tau, expected, rtol=1e-10, atol=1e-300)
    ll = poisson.log_likelihood(x, pi, lam)
    expected_ll = sum(mi + math.log(np.exp(row - mi).sum()) for row, mi in zip(log_joint, m[:, 0], strict=True))
    assert ll == pytest.approx(expected_ll, rel=1e-12)


def test_uneven_weights():
    x = np.array([0, 1, 2, 50])
    pi = np.array([1 - 1e-12, 1e-12])
    lam = np.array([1.0, 50.0])
    tau = poisson.e_step(x, pi, lam)
    log_joint = brute_force_log_joint(x, pi, lam)
    expected = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(tau, expected, rtol=1e-10)
    assert tau[3, 1] > 0.99  # 50 is far more likely from the rare component


@pytest.mark.parametrize("accelerate", [False, True])
def test_hasselblad_reaches_published_mle(accelerate):
    res = poisson.fit(
        HASSELBLAD_X, [0.3, 0.7], [1.0, 2.5], accelerate=accelerate, max_iter=10_000, tol=1e-12
    )
    assert res.converged
    assert res.loglik[-1] == pytest.approx(-1989.946, abs=1e-3)
    order = np.argsort(res.params.lam)
    np.testing.assert_allclose(res.params.pi[order], [0.360, 0.640], atol=1e-3)
    np.testing.assert_allclose(res.params.lam[order], [1.256, 2.663], atol=1e-3)
    assert np.all(np.diff(res.loglik) >= -1e-9)
    if accelerate:
        assert res.n_iter < 100
    else:
        assert res.n_iter > 1000  # the slow linear convergence SQUAREM is for


def test_squarem_is_far_faster_on_hasselblad():
    plain = poisson.fit(HASSELBLAD_X, [0.3, 0.7], [1.0, 2.5], max_iter=10_000, tol=1e-12)
    fast = poisson.fit(
        HASSELBLAD_X, [0.3, 0.7], [1.0, 2.5], accelerate=True, max_iter=10_000, tol=1e-12
    )
    assert fast.n_em_steps * 5 < plain.n_em_steps
    assert fast.loglik[-1] >= plain.loglik[-1] - 1e-6


def test_compressed_fit_equals_direct_em_on_raw_samples():
    """fit() works on distinct counts; the public steps on all n samples must agree."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.poisson(2.0, 300), rng.poisson(11.0, 200)])
    pi, lam = np.array([0.5, 0.5]), np.array([1.0, 5.0])
    trace = [poisson.log_likelihood(x, pi, lam)]
    for _ in range(30):
        pi, lam = poisson.m_step(x, poisson.e_step(x, pi, lam))
        trace.append(poisson.log_likelihood(x, pi, lam))
    res = poisson.fit(x, [0.5, 0.5], [1.0, 5.0], max_iter=30, tol=0)
    assert res.n_iter == 30
    np.testing.assert_allclose(res.loglik, trace, rtol=1e-12)
    np.testing.assert_allclose(res.params.pi, pi, rtol=1e-10)
    np.testing.assert_allclose(res.params.lam, lam, rtol=1e-10)
    np.testing.assert_allclose(
        res.tau, poisson.e_step(x, res.params.pi, res.params.lam), rtol=1e-10
    )


def test_compression_with_a_huge_count_range():
    x = np.array([0, 3, 10**9, 2, 10**9 + 7, 3])
    res = poisson.fit(x, [0.5, 0.5], [2.0, 1e9], max_iter=50)
    assert np.all(np.isfinite(res.loglik))
    assert res.tau.shape == (6, 2)
    np.testing.assert_allclose(res.tau, poisson.e_step(x, *res.params), rtol=1e-10)


def test_fit_without_start_finds_the_mle():
    res = poisson.fit(
        HASSELBLAD_X, n_components=2, n_init=5, random_state=0, accelerate=True, tol=1e-12
    )
    assert res.loglik[-1] == pytest.approx(-1989.946, abs=1e-3)
    again = poisson.fit(
        HASSELBLAD_X, n_components=2, n_init=5, random_state=0, accelerate=True, tol=1e-12
    )
    np.testing.assert_array_equal(res.loglik, again.loglik)  # reproducible from random_state


def test_random_init_also_works():
    res = poisson.fit(
        HASSELBLAD_X,
        n_components=2,
        n_init=3,
        init="random",
        random_state=1,
        tol=1e-12,
        max_iter=5000,
    )
    assert res.loglik[-1] == pytest.approx(-1989.946, abs=1e-3)


def test_more_components_than_distinct_values_gives_empty_components_not_nan():
    x = np.array([3, 3, 3, 3, 5, 5])
    res = poisson.fit(x, n_components=4, random_state=0, max_iter=20)
    assert np.all(np.isfinite(res.params.lam)) and np.all(np.isfinite(res.loglik))
    assert res.params.pi.sum() == pytest.approx(1.0)


def test_empty_component_in_m_step():
    x = np.array([1, 2, 3, 4])
    tau = np.array([[1.0, 0.0]] * 4)
    pi, lam = poisson.m_step(x, tau)
    np.testing.assert_allclose(pi, [1.0, 0.0])
    np.testing.assert_allclose(lam, [2.5, 2.5])  # the dead component sits at the sample mean


def test_component_collapsing_on_zeros_is_exact():
    """All members of component 1 are zeros: its rate goes to 0, the point mass at 0."""
    x = np.array([0] * 50 + [20, 22, 25, 19])
    res = poisson.fit(x, [0.5, 0.5], [0.5, 15.0], max_iter=2000, tol=1e-14)
    assert np.all(np.isfinite(res.loglik))
    assert np.all(np.diff(res.loglik) >= -1e-9)
    assert res.params.lam.min() < 1e-6


BAD_INPUTS = [
    ("negative count", dict(x=[1, -2, 3]), "negative"),
    ("non-integer count", dict(x=[1, 2.5, 3]), "integer"),
    ("NaN count", dict(x=[1, np.nan, 3]), "NaN"),
    ("infinite count", dict(x=[1, np.inf, 3]), "infinite"),
    ("2-D counts", dict(x=[[1, 2], [3, 4]]), "1-dimensional"),
    ("empty data", dict(x=[]), "empty"),
    ("string data", dict(x=["a", "b"]), "counts"),
    ("negative weight", dict(pi=[1.2, -0.2]), "negative"),
    ("weights not summing to 1", dict(pi=[0.5, 0.6]), "sum to 1"),
    ("NaN weight", dict(pi=[np.nan, 0.5]), "NaN"),
    ("negative rate", dict(lam=[-1.0, 2.0]), "non-negative"),
    ("infinite rate", dict(lam=[np.inf, 2.0]), "infinite"),
    ("shape mismatch", dict(lam=[1.0, 2.0, 3.0]), "components"),
]


@pytest.mark.parametrize("name, override, match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("function", ["e_step", "log_likelihood", "fit"])
def test_bad_input_raises(function, name, override, match):
    args = dict(x=[1, 2, 3], pi=[0.5, 0.5], lam=[1.0, 2.0]) | override
    with pytest.raises(ValueError, match=match):
        if function == "fit":
            poisson.fit(args["x"], args["pi"], args["lam"])
        else:
            getattr(poisson, function)(args["x"], args["pi"], args["lam"])


@pytest.mark.parametrize(
    "tau, match",
    [
        (np.full((3, 2), 0.5)[:2], "rows"),
        (np.array([[0.5, 0.6]] * 3), "sum to 1"),
        (np.array([[1.5, -0.5]] * 3), r"\[0, 1\]"),
        (np.array([[np.nan, 1.0]] * 3), "NaN"),
    ],
)
def test_bad_responsibilities_raise(tau, match):
    with pytest.raises(ValueError, match=match):
        poisson.m_step([1, 2, 3], tau)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_components=5), "more components"),
        (dict(n_components=0), "at least one"),
        (dict(n_components=2, init="bogus"), "init"),
        (dict(n_components=2, n_init=0), "n_init"),
        (dict(), "n_components"),
        (dict(n_components=2, max_iter=-1), "max_iter"),
        (dict(n_components=2, tol=-1.0), "tol"),
    ],
)
def test_bad_fit_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        poisson.fit([1, 2, 3, 4], **kwargs)


def test_partial_start_raises():
    with pytest.raises(ValueError, match="all initial parameters"):
        poisson.fit([1, 2, 3], pi0=[0.5, 0.5])


# --------------------------------------------------------------------------
# rates lambda_k = 0: the point mass at 0


def test_log_pmf_of_a_zero_rate_is_the_point_mass_at_zero():
    x = np.array([0, 1, 4, 0])
    got = poisson.log_poisson_pmf(x, [0.0, 2.0])
    np.testing.assert_array_equal(got[:, 0], [0.0, -np.inf, -np.inf, 0.0])
    np.testing.assert_allclose(got[:, 1], [xi * math.log(2.0) - 2.0 - math.lgamma(xi + 1) for xi in x])


def test_e_step_and_log_likelihood_with_a_zero_rate_component():
    x = np.array([0, 0, 1, 3, 0, 7])
    pi, lam = np.array([0.3, 0.5, 0.2]), np.array([0.0, 1.5, 6.0])
    joint = brute_force_joint(x, pi, lam)  # 0.0 ** 0 = 1: p(0 | 0) = 1, p(x > 0 | 0) = 0
    assert joint[0, 0] == pytest.approx(0.3) and joint[2, 0] == 0.0
    tau = poisson.e_step(x, pi, lam)
    np.testing.assert_allclose(tau, joint / joint.sum(axis=1, keepdims=True), rtol=1e-12)
    assert np.all(tau[x > 0, 0] == 0.0)
    expected = sum(math.log(row.sum()) for row in joint)
    assert poisson.log_likelihood(x, pi, lam) == pytest.approx(expected, rel=1e-12)


def test_a_count_impossible_under_every_component():
    x = np.array([0, 2])
    # Both components with pi_k > 0 are point masses at 0: x = 2 has probability 0.
    assert poisson.log_likelihood(x, [0.5, 0.5, 0.0], [0.0, 0.0, 3.0]) == -np.inf
    with pytest.raises(ValueError, match="sample 1 has zero probability"):
        poisson.e_step(x, [0.5, 0.5, 0.0], [0.0, 0.0, 3.0])
    with pytest.raises(ValueError, match=r"count 2 has zero probability .*\(2 such samples\)"):
        poisson.fit([0, 2, 0, 2], [0.5, 0.5, 0.0], [0.0, 0.0, 3.0])


def test_m_step_returns_a_zero_rate_for_a_component_of_zeros():
    x = np.array([0, 0, 0, 4, 6])
    tau = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 2)
    pi, lam = poisson.m_step(x, tau)
    np.testing.assert_allclose(pi, [0.6, 0.4])
    assert lam[0] == 0.0 and lam[1] == pytest.approx(5.0)
    # ... and the next E-step takes it as the point mass at 0.
    np.testing.assert_allclose(poisson.e_step(x, pi, lam)[3:, 0], 0.0)


@pytest.mark.parametrize("accelerate", [False, True])
def test_fit_from_a_zero_rate_start_equals_em_by_hand(accelerate):
    """EM with a point mass at 0 (zero-inflated counts), against the public steps."""
    rng = np.random.default_rng(7)
    x = np.concatenate([np.zeros(60, dtype=int), rng.poisson(3.0, 140)])
    pi, lam = np.array([0.4, 0.6]), np.array([0.0, 2.0])
    trace = [poisson.log_likelihood(x, pi, lam)]
    for _ in range(40):
        pi, lam = poisson.m_step(x, poisson.e_step(x, pi, lam))
        trace.append(poisson.log_likelihood(x, pi, lam))
    assert lam[0] == 0.0  # component 0 only ever holds zeros
    res = poisson.fit(x, [0.4, 0.6], [0.0, 2.0], max_iter=40, tol=0)
    np.testing.assert_allclose(res.loglik, trace, rtol=1e-12)
    np.testing.assert_allclose(res.params.lam, lam, rtol=1e-10, atol=0)
    fast = poisson.fit(x, [0.4, 0.6], [0.0, 2.0], tol=1e-12, accelerate=accelerate)
    assert np.all(np.diff(fast.loglik) >= -1e-9) and np.all(np.isfinite(fast.loglik))
    assert fast.params.lam[0] == 0.0 and fast.loglik[-1] >= trace[-1] - 1e-6


def test_sample_with_a_zero_rate():
    x, z = poisson.sample(1000, [0.5, 0.5], [0.0, 4.0], random_state=1)
    assert np.all(x[z == 0] == 0) and x[z == 1].mean() == pytest.approx(4.0, abs=0.3)


@pytest.mark.parametrize("model, params", [
    (poisson, ([0.5, 0.5], [1.0, 2.0])),
    (exponential, ([0.5, 0.5], [1.0, 2.0])),
    (gaussian1d, ([0.5, 0.5], [0.0, 3.0], [1.0, 2.0])),
    (bernoulli, ([0.5, 0.5], [[0.2, 0.9], [0.7, 0.1]])),
    (gaussian, ([0.5, 0.5], [[0.0, 0.0], [3.0, 3.0]], [np.eye(2), np.eye(2)])),
])
def test_every_sample_validates_n(model, params):
    """Every model's sample refuses an n that is not a count, with the same message."""
    for n in (2.5, -3, "10"):
        with pytest.raises(ValueError, match="n must be a non-negative integer"):
            model.sample(n, *params)
    assert len(model.sample(3, *params, random_state=0)[1]) == 3


def test_sample_draws_from_the_mixture():
    x, z = poisson.sample(20_000, [0.3, 0.7], [1.0, 8.0], random_state=0)
    assert np.mean(z == 0) == pytest.approx(0.3, abs=0.02)
    assert x[z == 1].mean() == pytest.approx(8.0, abs=0.1)
