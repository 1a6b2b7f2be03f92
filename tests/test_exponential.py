"""Exponential mixture: E/M steps against brute force and numerical optimisation."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from solutions import exponential

PI = np.array([0.35, 0.65])
LAM = np.array([2.0, 0.25])


def brute_force_joint(x, pi, lam):
    """pi_k lam_k exp(-lam_k x_i), one entry at a time, in plain floats."""
    return np.array(
        [[pi[k] * lam[k] * math.exp(-lam[k] * xi) for k in range(len(pi))] for xi in x]
    )


@pytest.fixture(scope="module")
def data():
    return exponential.sample(400, PI, LAM, random_state=0)


def test_e_step_and_log_likelihood_match_brute_force(data):
    x, _ = data
    joint = brute_force_joint(x, PI, LAM)
    tau = exponential.e_step(x, PI, LAM)
    np.testing.assert_allclose(tau, joint / joint.sum(axis=1, keepdims=True), rtol=1e-12)
    ll = sum(math.log(row.sum()) for row in joint)
    assert math.isclose(exponential.log_likelihood(x, PI, LAM), ll, rel_tol=1e-12)
    # and against scipy's density (scale = 1 / rate)
    dens = stats.expon.pdf(x[:, None], scale=1 / LAM) @ PI
    assert math.isclose(exponential.log_likelihood(x, PI, LAM), np.log(dens).sum(), rel_tol=1e-12)


def test_e_step_survives_underflow():
    # exp(-50 * 40) underflows to 0 for both components; log space keeps the ratio.
    assert math.exp(-50.0 * 40) == 0.0
    tau = exponential.e_step([40.0], [0.5, 0.5], [50.0, 60.0])
    log_ratio = math.log(50 / 60) + 10 * 40  # log(t_1 / t_2), by hand
    assert np.all(np.isfinite(tau))
    assert math.isclose(math.log(tau[0, 0]) - math.log(tau[0, 1]), log_ratio, rel_tol=1e-12)


def test_m_step_closed_form_and_numerical_maximum(data):
    x, _ = data
    tau = exponential.e_step(x, [0.5, 0.5], [1.0, 0.5])
    theta = exponential.m_step(x, tau)
    np.testing.assert_allclose(theta.pi, tau.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(theta.lam, tau.sum(0) / (tau * x[:, None]).sum(0), rtol=1e-12)

    # Each rate maximises its weighted log-likelihood sum_i t_ik log(lam e^{-lam x_i}).
    for k in range(2):
        def neg(log_lam, k=k):
            lam = math.exp(log_lam[0])
            return -np.sum(tau[:, k] * (math.log(lam) - lam * x))

        best = optimize.minimize(neg, [0.0], method="Nelder-Mead", options={"xatol": 1e-10})
        assert math.isclose(math.exp(best.x[0]), theta.lam[k], rel_tol=1e-6)


def test_m_step_with_known_labels_is_the_group_mle(data):
    x, z = data
    theta = exponential.m_step(x, np.eye(2)[z])
    np.testing.assert_allclose(theta.pi, np.bincount(z) / z.size)
    np.testing.assert_allclose(theta.lam, [1 / x[z == k].mean() for k in range(2)])


def test_empty_component_gets_zero_weight_and_a_finite_rate(data):
    x, _ = data
    tau = np.zeros((x.size, 2))
    tau[:, 0] = 1.0
    theta = exponential.m_step(x, tau)
    assert theta.pi[1] == 0 and np.isclose(theta.lam[1], 1 / x.mean())


def test_fit_trace_equals_the_plain_loop_and_never_decreases(data):
    x, _ = data
    res = exponential.fit(x, [0.5, 0.5], [1.0, 0.5], tol=0, max_iter=30)
    theta, trace = exponential.ExponentialParams(np.array([0.5, 0.5]), np.array([1.0, 0.5])), []
    for _ in range(31):
        trace.append(exponential.log_likelihood(x, *theta))
        theta = exponential.m_step(x, exponential.e_step(x, *theta))
    np.testing.assert_allclose(res.loglik, trace, rtol=1e-12)
    assert res.n_iter == 30 and len(res.loglik) == 31
    assert np.all(np.diff(res.loglik) >= -1e-12 * abs(res.loglik[-1]))


def test_fit_reaches_a_stationary_point_and_squarem_agrees():
    x, _ = exponential.sample(3000, PI, LAM, random_state=1)
    plain = exponential.fit(x, [0.5, 0.5], [1.0, 0.5], tol=1e-13, max_iter=20000)
    fast = exponential.fit(x, [0.5, 0.5], [1.0, 0.5], tol=1e-13, accelerate=True)
    assert plain.converged and fast.converged
    assert math.isclose(plain.loglik[-1], fast.loglik[-1], rel_tol=1e-9)
    # Gradient of the log-likelihood in (logit pi_1, log lam) vanishes at the fit.
    pi, lam = fast.params

    def ll(v):
        p = 1 / (1 + math.exp(-v[0]))
        return exponential.log_likelihood(x, [p, 1 - p], np.exp(v[1:]))

    v0 = np.array([math.log(pi[0] / pi[1]), *np.log(lam)])
    grad = optimize.approx_fprime(v0, ll, 1e-6)
    assert np.max(np.abs(grad)) < 1e-2
    # Sampling error is small with n = 3000 (the rates are well separated).
    order = np.argsort(-lam)
    np.testing.assert_allclose(pi[order], PI, atol=0.05)
    np.testing.assert_allclose(lam[order], LAM, rtol=0.15)


def test_multi_start_keeps_the_best(data):
    x, _ = data
    runs = [exponential.fit(x, n_components=2, random_state=s, accelerate=True) for s in range(3)]
    best = exponential.fit(x, n_components=2, n_init=3, random_state=0, accelerate=True)
    assert best.loglik[-1] >= max(r.loglik[-1] for r in runs) - 1e-6


@pytest.mark.parametrize(
    ("x", "pi", "lam", "match"),
    [
        ([1.0, -2.0], [1.0], [1.0], "non-negative"),
        ([0.0, 0.0], [1.0], [1.0], "positive value"),
        ([1.0, np.nan], [1.0], [1.0], "NaN"),
        ([[1.0]], [1.0], [1.0], "1-dimensional"),
        (["a", "b"], [1.0], [1.0], "dtype"),
        ([1.0, 2.0], [0.5, 0.5], [1.0, 0.0], "positive rates"),
        ([1.0, 2.0], [0.5, 0.6], [1.0, 1.0], "sum to 1"),
        ([1.0, 2.0], [0.5, 0.5], [1.0], "components"),
    ],
)
def test_bad_input_is_refused(x, pi, lam, match):
    with pytest.raises(ValueError, match=match):
        exponential.log_likelihood(x, pi, lam)
