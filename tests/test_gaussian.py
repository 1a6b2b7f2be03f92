"""Gaussian mixture: E/M steps against brute force, scikit-learn, Old Faithful, bad input."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from solutions import em, gaussian
from solutions.gaussian import GaussianParams

TYPES = ["full", "diag", "spherical"]
FAITHFUL = Path(__file__).resolve().parents[1] / "solutions" / "data" / "old_faithful.csv"


# --------------------------------------------------------------------------
# helpers written independently of the module


def full_covariances(cov, covariance_type, d):
    """Any covariance layout as (K, d, d) matrices."""
    cov = np.asarray(cov, float)
    if covariance_type == "full":
        return cov
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([c * np.eye(d) for c in cov])


def brute_force_log_joint(X, pi, mu, cov, covariance_type):
    """log pi_k + log N(x_i | mu_k, Sigma_k), one component at a time with scipy."""
    mats = full_covariances(cov, covariance_type, X.shape[1])
    return np.column_stack(
        [
            np.log(pi[k]) + multivariate_normal(mu[k], mats[k]).logpdf(X).reshape(-1)
            for k in range(len(pi))
        ]
    )


def closed_form_m_step(X, tau, covariance_type, reg_covar):
    """Weighted means and covariances, one component at a time, in plain numpy."""
    n, d = X.shape
    pis, mus, covs = [], [], []
    for k in range(tau.shape[1]):
        w = tau[:, k]
        nk = w.sum()
        mean = (w[:, None] * X).sum(axis=0) / nk
        diff = X - mean
        sigma = np.einsum("i,ia,ib->ab", w, diff, diff) / nk + reg_covar * np.eye(d)
        pis.append(nk / n)
        mus.append(mean)
        if covariance_type == "full":
            covs.append(sigma)
        elif covariance_type == "diag":
            covs.append(np.diag(sigma))
        else:
            covs.append(np.trace(sigma) / d)
    return np.array(pis), np.array(mus), np.array(covs)


def random_start(rng, k, d, covariance_type):
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        cov = a @ a.transpose(0, 2, 1) / d + 0.5 * np.eye(d)
    elif covariance_type == "diag":
        cov = rng.uniform(0.5, 3.0, size=(k, d))
    else:
        cov = rng.uniform(0.5, 3.0, size=k)
    return rng.dirichlet(np.ones(k) * 3), rng.normal(scale=2.0, size=(k, d)), cov


def blobs(rng, n, d, k, spread=4.0, offset=0.0):
    centres = rng.normal(scale=spread, size=(k, d))
    z = rng.integers(0, k, size=n)
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    return centres[z] + scales[z] * rng.normal(size=(n, d)) + offset


def sklearn_precisions(cov, covariance_type):
    """Our covariances as sklearn's ``precisions_init``."""
    cov = np.asarray(cov, float)
    return np.linalg.inv(cov) if covariance_type == "full" else 1.0 / cov


def assert_cov_close(actual, expected, rtol):
    """Relative to each component's largest entry (off-diagonals can be ~0)."""
    expected = np.asarray(expected)
    scale = np.abs(expected).reshape(len(expected), -1).max(axis=1)
    err = np.abs(actual - expected).reshape(len(expected), -1).max(axis=1)
    assert np.all(err <= rtol * scale), err / scale


def old_faithful_waiting():
    data = np.genfromtxt(FAITHFUL, delimiter=",", names=True)
    return data["waiting_min"]


# --------------------------------------------------------------------------
# E-step and log-likelihood


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_and_log_likelihood_match_brute_force(covariance_type, monkeypatch):
    # Small blocks, so that the blocked E-step runs over several blocks and a
    # partial last one.
    monkeypatch.setattr(gaussian, "_BLOCK_DOUBLES", 1)
    rng = np.random.default_rng(0)
    X = blobs(rng, 700, 3, 3) + 100.0
    pi, mu, cov = random_start(rng, 4, 3, covariance_type)
    mu = mu + 100.0
    log_joint = brute_force_log_joint(X, pi, mu, cov, covariance_type)
    expected_tau = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))

    tau = gaussian.e_step(X, pi, mu, cov, covariance_type)
    assert tau.shape == (700, 4)
    np.testing.assert_allclose(tau, expected_tau, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(tau.sum(axis=1), 1.0, rtol=1e-13)
    ll = gaussian.log_likelihood(X, pi, mu, cov, covariance_type)
    assert isinstance(ll, float)
    np.testing.assert_allclose(ll, logsumexp(log_joint, axis=1).sum(), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_more_components_than_features(covariance_type):
    rng = np.random.default_rng(1)
    X = blobs(rng, 300, 2, 6)
    pi, mu, cov = random_start(rng, 7, 2, covariance_type)
    log_joint = brute_force_log_joint(X, pi, mu, cov, covariance_type)
    expected = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    np.testing.assert_allclose(
        gaussian.e_step(X, pi, mu, cov, covariance_type), expected, rtol=1e-9, atol=1e-14
    )


@pytest.mark.parametrize("cov_shape", [(3,), (3, 1), (3, 1, 1)])
def test_univariate_e_step_matches_brute_force(cov_shape):
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(-2, 1, 80), rng.normal(3, 0.5, 60), rng.normal(10, 2, 40)]
    pi = np.array([0.2, 0.5, 0.3])
    mu = np.array([-1.0, 2.5, 9.0])
    var = np.array([1.5, 0.3, 5.0])
    log_joint = np.log(pi) + norm(mu, np.sqrt(var)).logpdf(x[:, None])
    expected = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    for covariance_type in TYPES:  # irrelevant for 1-D data
        tau = gaussian.e_step(x, pi, mu[:, None], var.reshape(cov_shape), covariance_type)
        np.testing.assert_allclose(tau, expected, rtol=1e-10, atol=1e-15)
        ll = gaussian.log_likelihood(x, pi, mu, var.reshape(cov_shape), covariance_type)
        np.testing.assert_allclose(ll, logsumexp(log_joint, axis=1).sum(), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_accurate_for_a_nearly_collapsed_component(covariance_type):
    # Component 0 has standard deviation 1e-9 around a data point while the
    # data spread over ~100: expanding (x - mu)^2 / s^2 into x^2/s^2 - 2 x mu/s^2
    # + mu^2/s^2 would cancel away every digit of the distance.
    rng = np.random.default_rng(15)
    X = rng.normal(50.0, 30.0, size=(200, 2))
    X[7] = [40.0, 60.0]
    X[8] = X[7] + [1e-9, -2e-9]
    pi = np.array([0.01, 0.99])
    mu = np.array([X[7] + [0.5e-9, 0.0], [50.0, 50.0]])
    var = np.array([[1e-18, 4e-18], [900.0, 900.0]])
    if covariance_type == "spherical":
        var = var.mean(axis=1)
        cov = var
        per_feature = np.repeat(var[:, None], 2, axis=1)
    else:
        per_feature = var
        cov = var if covariance_type == "diag" else np.array([np.diag(v) for v in var])
    # Independent coordinates: log N(x | mu, diag(v)) = sum_j log N(x_j | mu_j, v_j).
    log_joint = np.log(pi) + np.column_stack(
        [norm(mu[k], np.sqrt(per_feature[k])).logpdf(X).sum(axis=1) for k in range(2)]
    )
    expected = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    tau = gaussian.e_step(X, pi, mu, cov, covariance_type)
    np.testing.assert_allclose(tau, expected, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(
        gaussian.log_likelihood(X, pi, mu, cov, covariance_type),
        logsumexp(log_joint, axis=1).sum(),
        rtol=1e-12,
    )


def test_e_step_finite_where_densities_underflow():
    # Points hundreds of standard deviations from every mean: each density is
    # exp(-huge) = 0 in floating point, the log-space E-step is still exact.
    X = np.array([[500.0, 0.0], [-400.0, 10.0], [0.0, 0.0]])
    pi = np.array([0.5, 0.5])
    mu = np.array([[0.0, 0.0], [1.0, 1.0]])
    cov = np.array([np.eye(2), 0.5 * np.eye(2)])
    log_joint = brute_force_log_joint(X, pi, mu, cov, "full")
    assert np.all(np.exp(log_joint[:2]) == 0.0)
    expected = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    tau = gaussian.e_step(X, pi, mu, cov)
    assert np.all(np.isfinite(tau))
    np.testing.assert_allclose(tau, expected, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(
        gaussian.log_likelihood(X, pi, mu, cov), logsumexp(log_joint, axis=1).sum(), rtol=1e-12
    )


# --------------------------------------------------------------------------
# M-step


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_m_step_matches_closed_form(covariance_type, reg_covar):
    rng = np.random.default_rng(3)
    X = blobs(rng, 400, 3, 3) + 50.0
    tau = rng.dirichlet(np.ones(3) * 0.5, size=400)
    pi, mu, cov = gaussian.m_step(X, tau, covariance_type, reg_covar)
    e_pi, e_mu, e_cov = closed_form_m_step(X, tau, covariance_type, reg_covar)
    np.testing.assert_allclose(pi, e_pi, rtol=1e-12)
    np.testing.assert_allclose(mu, e_mu, rtol=1e-12)
    assert cov.shape == e_cov.shape
    assert_cov_close(cov, e_cov, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("use_products", [True, False])
def test_m_step_accurate_for_components_far_from_the_data_mean(
    covariance_type, use_products, monkeypatch
):
    # Tight clusters 1e5 standard deviations apart: second moments about the
    # data mean would cancel catastrophically; the M-step must still match the
    # centred closed form. Also covers the component-by-component path used
    # when the (n, d(d+1)/2) products would not fit in memory.
    if not use_products:
        monkeypatch.setattr(gaussian, "_PRODUCTS_MAX_DOUBLES", 0)
    rng = np.random.default_rng(4)
    a = rng.normal(size=(150, 3)) * [1.0, 2.0, 0.5] + 1e5
    b = rng.normal(size=(100, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1]]) - 1e5
    X = np.vstack([a, b])
    tau = np.zeros((250, 2))
    tau[:150, 0] = 1.0
    tau[150:, 1] = 1.0
    tau[:5] = [0.3, 0.7]  # mixed rows, so no component is a plain sample covariance
    _, mu, cov = gaussian.m_step(X, tau, covariance_type, reg_covar=0.0)
    _, e_mu, e_cov = closed_form_m_step(X, tau, covariance_type, 0.0)
    np.testing.assert_allclose(mu, e_mu, rtol=1e-14)
    assert_cov_close(cov, e_cov, rtol=1e-9)


def test_univariate_m_step_returns_1d_layout():
    rng = np.random.default_rng(5)
    x = np.r_[rng.normal(0, 1, 50), rng.normal(5, 2, 50)]
    tau = rng.dirichlet([1.0, 1.0], size=100)
    pi, mu, var = gaussian.m_step(x, tau, reg_covar=0.0)
    assert mu.shape == (2,) and var.shape == (2,)
    e_pi, e_mu, e_cov = closed_form_m_step(x[:, None], tau, "full", 0.0)
    np.testing.assert_allclose(pi, e_pi, rtol=1e-12)
    np.testing.assert_allclose(mu, e_mu[:, 0], rtol=1e-12)
    np.testing.assert_allclose(var, e_cov[:, 0, 0], rtol=1e-11)


# --------------------------------------------------------------------------
# the fast path against the textbook formulas, with any number of threads


@pytest.fixture
def many_chunks(monkeypatch):
    """Tiny blocks and chunks, and a pool even for tiny steps: every code path
    of the chunked, threaded steps runs on small data. Returns a setter for
    the number of worker threads."""
    monkeypatch.setattr(gaussian, "_BLOCK_DOUBLES", 1)  # blocks of 256 samples
    monkeypatch.setattr(gaussian, "_MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(gaussian, "_CHUNKS", 7)
    monkeypatch.setattr(gaussian, "_PARALLEL_MIN_WORK", 0)

    def threads(n):
        monkeypatch.setattr(gaussian, "_THREADS", n)

    return threads


@pytest.mark.parametrize("covariance_type", TYPES)
def test_textbook_reference_matches_independent_computations(covariance_type):
    # The module's plain reference (_e_step_textbook, _m_step_textbook) against
    # scipy's densities and the closed form written in this file.
    rng = np.random.default_rng(20)
    X = blobs(rng, 300, 3, 3)
    pi, mu, cov = random_start(rng, 3, 3, covariance_type)
    log_joint = brute_force_log_joint(X, pi, mu, cov, covariance_type)
    tau, ll = gaussian._e_step_textbook(X, GaussianParams(pi, mu, cov), covariance_type)
    np.testing.assert_allclose(
        tau, np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True)), rtol=1e-10
    )
    np.testing.assert_allclose(ll, logsumexp(log_joint, axis=1).sum(), rtol=1e-12)
    expected = closed_form_m_step(X, tau, covariance_type, 1e-3)
    for got, want in zip(
        gaussian._m_step_textbook(X, tau, covariance_type, 1e-3), expected, strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    "covariance_type, use_products",
    # "full" sums the second moments from the cached products x_ia x_ib, or
    # (d large, or n d^2 too big) component by component on cached blocks.
    [("full", True), ("full", False), ("diag", None), ("spherical", None)],
)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fast_steps_match_textbook_with_any_thread_count(
    covariance_type, use_products, threads, many_chunks, monkeypatch
):
    many_chunks(threads)
    if use_products is False:
        monkeypatch.setattr(gaussian, "_PRODUCTS_MAX_DOUBLES", 0)
    rng = np.random.default_rng(21)
    n, d, k = 2000, 4, 3
    X = blobs(rng, n, d, k) + 20.0  # off-centre: the steps centre the data themselves
    pi, mu, cov = random_start(rng, k, d, covariance_type)
    theta = GaussianParams(pi, mu + 20.0, cov)
    data = gaussian._Data(X, covariance_type)
    assert len(data.chunks(data.block_rows(1))) >= 4  # the steps really run in chunks

    tau, ll = gaussian._e_step(data, theta)
    e_tau, e_ll = gaussian._e_step_textbook(X, theta, covariance_type)
    np.testing.assert_allclose(tau, e_tau, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ll, e_ll, rtol=1e-12)

    want = gaussian._m_step_textbook(X, tau, covariance_type, 1e-4)
    # The M-step's own pass over tau, and in a fit the sums the E-step took
    # on its way (kept for that very tau only).
    _, fit_ll = gaussian._e_step(data, theta, moments=True)
    assert fit_ll == ll and data.moments is not None
    fit_tau = data.moments[0]
    for t in (tau, fit_tau):
        got = gaussian._m_step(data, t, 1e-4)
        np.testing.assert_allclose(got.pi, want.pi, rtol=1e-12)
        np.testing.assert_allclose(got.mu, want.mu, rtol=1e-12)
        assert_cov_close(got.cov, want.cov, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_fit_same_trace_with_one_or_several_threads(covariance_type, many_chunks):
    # The chunks and their order do not depend on the thread count, so the
    # log-likelihood trace and the estimates agree up to rounding (in practice
    # bit for bit).
    rng = np.random.default_rng(22)
    X = blobs(rng, 3000, 3, 4)
    start = random_start(rng, 4, 3, covariance_type)
    results = []
    for threads in (1, 2, 4):
        many_chunks(threads)
        results.append(gaussian.fit(X, *start, covariance_type=covariance_type, max_iter=30, tol=0))
    for res in results[1:]:
        np.testing.assert_allclose(res.loglik, results[0].loglik, rtol=1e-12, atol=0)
        for got, want in zip(res.params, results[0].params, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert np.all(np.diff(results[0].loglik) > -1e-9 * abs(results[0].loglik[-1]))


def test_worker_count_follows_the_blas_thread_limit(monkeypatch):
    # Unset, the number of worker threads is the number BLAS may use: one
    # under threadpoolctl's limit of 1, and the pool holds BLAS to one thread
    # per worker while it runs (restored afterwards).
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.setattr(gaussian, "_THREADS", None)
    with threadpool_limits(1):
        assert gaussian._workers() == 1
    with threadpool_limits(2):
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        assert gaussian._workers() == min(2, cpus)
        before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        monkeypatch.setattr(gaussian, "_THREADS", 2)
        inside = gaussian._map_chunks(
            lambda s, e: [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"],
            [(0, 1), (1, 2)],
            work=np.inf,
        )
        assert all(set(counts) == {1} for counts in inside)
        after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert after == before


@pytest.mark.parametrize("covariance_type", TYPES)
def test_careful_paths_with_threads(covariance_type, many_chunks):
    # A collapsing component (E-step computed from x - mu directly) and a
    # component far from the data mean (M-step recomputed about its own mean),
    # in the chunked, threaded steps.
    many_chunks(2)
    rng = np.random.default_rng(23)
    a = rng.normal(size=(700, 2)) * [1.0, 2.0] + 1e5
    b = rng.normal(size=(600, 2)) - 1e5
    X = np.vstack([a, b, [[0.0, 0.0], [1e-9, -1e-9]]])
    pi = np.array([0.5, 0.49, 0.01])
    mu = np.array([[1e5, 1e5], [-1e5, -1e5], [0.5e-9, 0.0]])
    var = np.array([[1.0, 4.0], [1.0, 1.0], [1e-18, 1e-18]])
    cov = {
        "full": np.array([np.diag(v) for v in var]),
        "diag": var,
        "spherical": var.mean(axis=1),
    }[covariance_type]
    theta = GaussianParams(pi, mu, cov)
    data = gaussian._Data(X, covariance_type)
    tau, ll = gaussian._e_step(data, theta)
    e_tau, e_ll = gaussian._e_step_textbook(X, theta, covariance_type)
    np.testing.assert_allclose(tau, e_tau, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(ll, e_ll, rtol=1e-12)
    got = gaussian._m_step(data, tau, 0.0)
    _, e_mu, e_cov = closed_form_m_step(X, tau, covariance_type, 0.0)
    # Means to rounding at the data's scale (the collapsed one sits at 5e-10).
    np.testing.assert_allclose(got.mu, e_mu, rtol=1e-14, atol=1e-16 * np.abs(X).max())
    assert_cov_close(got.cov[:2], e_cov[:2], rtol=1e-9)


# --------------------------------------------------------------------------
# against scikit-learn


def sklearn_fit(X, start, covariance_type, max_iter, reg_covar):
    pi0, mu0, cov0 = start
    gm = GaussianMixture(
        n_components=len(pi0),
        covariance_type=covariance_type,
        tol=0,
        max_iter=max_iter,
        reg_covar=reg_covar,
        n_init=1,
        weights_init=pi0,
        means_init=mu0,
        precisions_init=sklearn_precisions(cov0, covariance_type),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [1e-6, 1e-2])
def test_fit_matches_sklearn(covariance_type, reg_covar):
    rng = np.random.default_rng(6)
    X = blobs(rng, 600, 3, 3, spread=2.5, offset=7.0)
    start = random_start(rng, 3, 3, covariance_type)
    start = (start[0], start[1] + 7.0, start[2])
    # sklearn counts an iteration as E-step + M-step from the initial
    # parameters, so max_iter=m gives theta^m on both sides.
    gm = sklearn_fit(X, start, covariance_type, 25, reg_covar)
    res = gaussian.fit(
        X, *start, covariance_type=covariance_type, max_iter=25, tol=0, reg_covar=reg_covar
    )
    assert res.n_iter == 25 and len(res.loglik) == 26
    np.testing.assert_allclose(res.params.pi, gm.weights_, rtol=1e-9)
    np.testing.assert_allclose(res.params.mu, gm.means_, rtol=1e-9)
    assert_cov_close(res.params.cov, gm.covariances_, rtol=1e-9)
    np.testing.assert_allclose(res.loglik[-1], gm.score(X) * len(X), rtol=1e-9)
    np.testing.assert_allclose(res.tau, gm.predict_proba(X), rtol=1e-8, atol=1e-12)

    # The comparison can tell one iteration from another.
    one_less = gaussian.fit(
        X, *start, covariance_type=covariance_type, max_iter=24, tol=0, reg_covar=reg_covar
    )
    assert np.max(np.abs(one_less.params.mu - gm.means_)) > 1e-6


def test_univariate_fit_matches_sklearn():
    x = old_faithful_waiting()
    start = (np.array([0.4, 0.6]), np.array([50.0, 75.0]), np.array([30.0, 60.0]))
    gm = sklearn_fit(x[:, None], (start[0], start[1][:, None], start[2]), "spherical", 30, 1e-6)
    res = gaussian.fit(x, *start, max_iter=30, tol=0)
    np.testing.assert_allclose(res.params.pi, gm.weights_, rtol=1e-9)
    np.testing.assert_allclose(res.params.mu, gm.means_[:, 0], rtol=1e-9)
    np.testing.assert_allclose(res.params.cov, gm.covariances_, rtol=1e-9)
    np.testing.assert_allclose(res.loglik[-1], gm.score(x[:, None]) * len(x), rtol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_bic_matches_sklearn(covariance_type):
    rng = np.random.default_rng(7)
    X = blobs(rng, 300, 3, 2)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    params = GaussianParams(gm.weights_, gm.means_, gm.covariances_)
    np.testing.assert_allclose(gaussian.bic(X, params, covariance_type), gm.bic(X), rtol=1e-10)
    res = gaussian.fit(X, *params, covariance_type=covariance_type, max_iter=0)
    np.testing.assert_allclose(gaussian.bic(X, res, covariance_type), gm.bic(X), rtol=1e-10)


def test_n_parameters():
    # K - 1 weights, K d means, and K d(d+1)/2, K d or K covariance parameters.
    assert gaussian.n_parameters(2, 3, "full") == 1 + 6 + 12
    assert gaussian.n_parameters(2, 3, "diag") == 1 + 6 + 6
    assert gaussian.n_parameters(2, 3, "spherical") == 1 + 6 + 2
    assert gaussian.n_parameters(4, 1, "full") == gaussian.n_parameters(4, 1, "spherical") == 11


# --------------------------------------------------------------------------
# Old Faithful waiting times (published MLE, see solutions/data/README.md)


def check_faithful(params, loglik):
    order = np.argsort(params.mu)
    assert abs(loglik - (-1034.002)) < 1e-3
    np.testing.assert_allclose(params.pi[order], [0.361, 0.639], atol=1e-3)
    np.testing.assert_allclose(params.mu[order], [54.61, 80.09], atol=1e-2)
    np.testing.assert_allclose(np.sqrt(params.cov[order]), [5.871, 5.868], atol=2e-3)


def test_old_faithful_from_a_start():
    x = old_faithful_waiting()
    res = gaussian.fit(x, [0.5, 0.5], [50.0, 80.0], [50.0, 50.0], tol=1e-12)
    assert res.converged
    check_faithful(res.params, res.loglik[-1])


def test_old_faithful_with_random_starts():
    x = old_faithful_waiting()
    res = gaussian.fit(x, n_components=2, n_init=5, random_state=0)
    check_faithful(res.params, res.loglik[-1])
    again = gaussian.fit(x, n_components=2, n_init=5, random_state=0)
    np.testing.assert_array_equal(again.params.mu, res.params.mu)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_random_starts_multivariate(init):
    rng = np.random.default_rng(8)
    X = blobs(rng, 400, 2, 3, spread=6.0)
    res = gaussian.fit(X, n_components=3, n_init=3, init=init, random_state=1)
    assert res.params.mu.shape == (3, 2) and res.params.cov.shape == (3, 2, 2)
    assert np.all(np.diff(res.loglik) >= -1e-9 * abs(res.loglik[-1]))


# --------------------------------------------------------------------------
# SQUAREM and monotonicity


def non_decreasing(trace, rel):
    return bool(np.all(np.diff(trace) >= -rel * abs(trace[-1])))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_squarem_same_optimum_fewer_em_steps(covariance_type):
    rng = np.random.default_rng(9)
    # Overlapping clusters: plain EM is slow there.
    X = blobs(rng, 500, 2, 3, spread=1.5)
    start = random_start(rng, 3, 2, covariance_type)
    plain = gaussian.fit(
        X, *start, covariance_type=covariance_type, reg_covar=0.0, tol=1e-13, max_iter=20000
    )
    fast = gaussian.fit(
        X,
        *start,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=1e-13,
        max_iter=20000,
        accelerate=True,
    )
    assert plain.converged and fast.converged
    assert fast.n_em_steps < plain.n_em_steps
    np.testing.assert_allclose(fast.loglik[-1], plain.loglik[-1], rtol=1e-9)
    order_p, order_f = np.argsort(plain.params.mu[:, 0]), np.argsort(fast.params.mu[:, 0])
    np.testing.assert_allclose(fast.params.mu[order_f], plain.params.mu[order_p], atol=1e-3)
    # Exact EM (reg_covar = 0) never decreases the likelihood, up to rounding.
    assert non_decreasing(plain.loglik, 1e-13)
    assert non_decreasing(fast.loglik, 1e-13)


def test_trace_with_reg_covar_is_non_decreasing_up_to_rounding():
    x = old_faithful_waiting()
    for accelerate in (False, True):
        res = gaussian.fit(x, [0.5, 0.5], [60.0, 70.0], [80.0, 80.0], accelerate=accelerate)
        assert non_decreasing(res.loglik, 1e-12)


def test_squarem_vector_round_trip_and_parameter_space():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(50, 2))
    for covariance_type in TYPES:
        model = gaussian._model(gaussian._Data(X, covariance_type), 1e-6)
        theta = GaussianParams(*random_start(rng, 3, 2, covariance_type))
        vec = em.to_vector(theta)
        assert vec.ndim == 1
        for back in (em.from_vector(vec, theta), em._extrapolated(model, vec, theta)):
            for got, want in zip(back, theta, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-15)
        bad_pi = vec.copy()
        bad_pi[:3] = [1.2, -0.1, -0.1]
        assert em._extrapolated(model, bad_pi, theta) is None
        bad_cov = vec.copy()
        bad_cov[-1] = -1.0  # last variance / last diagonal entry of Sigma_K
        assert not model.feasible(em.from_vector(bad_cov, theta))
        assert em._extrapolated(model, bad_cov, theta) is None
    # Rounding in the extrapolated weights is renormalised away.
    model = gaussian._model(gaussian._Data(X, "spherical"), 1e-6)
    vec = np.r_[0.5, 0.5 + 1e-12, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    like = GaussianParams(np.ones(2) / 2, np.zeros((2, 2)), np.ones(2))
    assert em._extrapolated(model, vec, like).pi.sum() == pytest.approx(1.0, abs=1e-15)


# --------------------------------------------------------------------------
# collapsing and empty components


@pytest.mark.parametrize("covariance_type", TYPES)
def test_component_collapsing_on_one_point_stays_finite(covariance_type):
    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(size=(200, 2)), [[30.0, 30.0]]])
    cov0 = {"full": np.stack([np.eye(2)] * 2), "diag": np.ones((2, 2)), "spherical": np.ones(2)}
    start = ([0.95, 0.05], [[0.0, 0.0], [30.0, 30.0]], cov0[covariance_type])
    reg = 1e-6
    res = gaussian.fit(X, *start, covariance_type=covariance_type, reg_covar=reg, max_iter=50)
    assert np.all(np.isfinite(res.loglik)) and np.all(np.isfinite(res.tau))
    for p in res.params:
        assert np.all(np.isfinite(p))
    variances = full_covariances(res.params.cov, covariance_type, 2)
    diag = np.diagonal(variances, axis1=1, axis2=2)
    assert np.all(diag >= reg * (1 - 1e-12))
    # The second component sits on the outlier alone: Sigma_2 -> reg_covar I.
    np.testing.assert_allclose(diag[1], reg, rtol=1e-6)
    assert res.params.pi[1] == pytest.approx(1 / 201, rel=1e-9)
    # Without regularisation the likelihood is unbounded: a clear error.
    with pytest.raises(ValueError, match=r"component 1.*reg_covar"):
        gaussian.fit(X, *start, covariance_type=covariance_type, reg_covar=0.0, max_iter=50)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_empty_component_gets_zero_weight_and_finite_placeholder(covariance_type):
    rng = np.random.default_rng(12)
    X = blobs(rng, 120, 2, 2)
    tau = np.zeros((120, 3))
    tau[:, 0] = rng.uniform(size=120)
    tau[:, 2] = 1.0 - tau[:, 0]
    reg = 1e-4
    pi, mu, cov = gaussian.m_step(X, tau, covariance_type, reg_covar=reg)
    assert pi[1] == 0.0
    for p in (pi, mu, cov):
        assert np.all(np.isfinite(p))
    # Placeholder: pooled mean and covariance of all the data.
    np.testing.assert_allclose(mu[1], X.mean(axis=0), rtol=1e-12)
    pooled = np.cov(X.T, bias=True) + reg * np.eye(2)
    expected = {"full": pooled, "diag": np.diag(pooled), "spherical": np.trace(pooled) / 2}
    np.testing.assert_allclose(cov[1], expected[covariance_type], rtol=1e-12)

    # With pi_k = 0 the component gets no responsibility and stays empty.
    t = gaussian.e_step(X, pi, mu, cov, covariance_type)
    assert np.all(t[:, 1] == 0.0) and np.all(np.isfinite(t))
    res = gaussian.fit(X, pi, mu, cov, covariance_type=covariance_type, max_iter=20, tol=0)
    assert res.params.pi[1] == 0.0 and np.all(res.tau[:, 1] == 0.0)
    assert np.all(np.isfinite(res.loglik))
    for p in res.params:
        assert np.all(np.isfinite(p))


# --------------------------------------------------------------------------
# sampling and layouts


@pytest.mark.parametrize("covariance_type", TYPES)
def test_sample_moments_and_reproducibility(covariance_type):
    rng = np.random.default_rng(13)
    pi, mu, cov = random_start(rng, 2, 3, covariance_type)
    mu = mu * 5
    X, z = gaussian.sample(40_000, pi, mu, cov, covariance_type, random_state=0)
    assert X.shape == (40_000, 3) and z.shape == (40_000,)
    X2, z2 = gaussian.sample(40_000, pi, mu, cov, covariance_type, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(z, z2)
    mats = full_covariances(cov, covariance_type, 3)
    for k in range(2):
        members = X[z == k]
        assert abs(len(members) / 40_000 - pi[k]) < 0.01
        np.testing.assert_allclose(members.mean(axis=0), mu[k], atol=0.1)
        np.testing.assert_allclose(np.cov(members.T), mats[k], atol=0.15)


def test_sample_univariate():
    x, z = gaussian.sample(20_000, [0.3, 0.7], [-5.0, 5.0], [1.0, 4.0], random_state=1)
    assert x.shape == (20_000,)
    np.testing.assert_allclose(x[z == 1].std(), 2.0, rtol=0.03)
    np.testing.assert_allclose(x[z == 0].mean(), -5.0, atol=0.05)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_univariate_is_the_same_as_one_feature(covariance_type):
    x = old_faithful_waiting()
    start_1d = ([0.5, 0.5], [50.0, 80.0], [40.0, 40.0])
    cov_2d = {"full": [[[40.0]], [[40.0]]], "diag": [[40.0], [40.0]], "spherical": [40.0, 40.0]}
    one = gaussian.fit(x, *start_1d, covariance_type=covariance_type, max_iter=15, tol=0)
    two = gaussian.fit(
        x[:, None],
        [0.5, 0.5],
        [[50.0], [80.0]],
        cov_2d[covariance_type],
        covariance_type=covariance_type,
        max_iter=15,
        tol=0,
    )
    assert one.params.mu.shape == (2,) and one.params.cov.shape == (2,)
    np.testing.assert_allclose(one.params.mu, two.params.mu[:, 0], rtol=1e-12)
    np.testing.assert_allclose(one.params.cov, np.reshape(two.params.cov, 2), rtol=1e-10)
    np.testing.assert_allclose(one.loglik, two.loglik, rtol=1e-12)


# --------------------------------------------------------------------------
# bad input

X3 = np.random.default_rng(14).normal(size=(30, 3))
PI = np.array([0.4, 0.6])
MU = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
COV = np.stack([np.eye(3), 2 * np.eye(3)])
NOT_SYMMETRIC = COV.copy()
NOT_SYMMETRIC[1, 0, 2] = 0.5
NOT_PD = COV.copy()
NOT_PD[1] = [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
X_NAN = X3.copy()
X_NAN[3, 1] = np.nan
X_INF = X3.copy()
X_INF[0, 0] = np.inf
TAU = np.full((30, 2), 0.5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gaussian.e_step(X_NAN, PI, MU, COV), "X contains NaN"),
        (lambda: gaussian.fit(X_INF, PI, MU, COV), "X contains infinite"),
        (lambda: gaussian.log_likelihood(X3[None], PI, MU, COV), "X must be 1 or 2-dim"),
        (lambda: gaussian.e_step(np.empty((0, 3)), PI, MU, COV), "X is empty"),
        (lambda: gaussian.e_step(X3, [0.5, 0.7], MU, COV), "sum to 1"),
        (lambda: gaussian.fit(X3, [1.2, -0.2], MU, COV), "negative"),
        (lambda: gaussian.e_step(X3, PI, MU[:1], COV), "mu has 1 components but pi has 2"),
        (
            lambda: gaussian.e_step(X3, PI, MU[:, :2], COV[:, :2, :2]),
            "mu has 2 features but X has 3",
        ),
        (lambda: gaussian.e_step(X3, PI, MU, COV[:, :2, :2]), r"cov must have shape \(2, 3, 3\)"),
        (lambda: gaussian.e_step(X3, PI, MU, COV[0]), "cov must be 3-dimensional"),
        (lambda: gaussian.e_step(X3, PI, MU, np.ones((2, 3)), "spherical"), "cov must be 1-dim"),
        (
            lambda: gaussian.e_step(X3, PI, MU, np.ones(3), "spherical"),
            r"cov must have shape \(2,\)",
        ),
        (lambda: gaussian.fit(X3, PI, MU, NOT_SYMMETRIC), r"cov\[1\].*not symmetric"),
        (lambda: gaussian.e_step(X3, PI, MU, NOT_PD), "component 1.*not positive definite"),
        (lambda: gaussian.e_step(X3, PI, MU, [[1.0, 1, 1], [1, 0, 1]], "diag"), "component 1"),
        (lambda: gaussian.fit(X3, PI, MU, [1.0, -2.0], covariance_type="spherical"), "positive"),
        (lambda: gaussian.e_step(X3[:, 0], PI, [0.0, 1.0], [1.0, 0.0]), "variances must be pos"),
        (lambda: gaussian.e_step(X3[:, 0], PI, MU, [1.0, 1.0]), r"mu must have shape \(K,\)"),
        (lambda: gaussian.e_step(X3[:, 0], PI, [0.0, 1.0], COV), r"cov must have shape \(K,\)"),
        (lambda: gaussian.e_step(X3, PI, MU, COV, "tied"), "covariance_type must be one of"),
        (lambda: gaussian.m_step(X3, TAU, "bogus"), "covariance_type"),
        (lambda: gaussian.fit(X3, PI, MU, COV, reg_covar=-1e-6), "reg_covar must be"),
        (lambda: gaussian.m_step(X3, TAU, reg_covar=np.nan), "reg_covar must be"),
        (lambda: gaussian.fit(X3[:2], n_components=3), r"more components \(3\) than samples"),
        (lambda: gaussian.fit(X3[:1], PI, MU, COV), "more components"),
        (lambda: gaussian.m_step(X3, TAU[:20]), "tau has 20 rows"),
        (lambda: gaussian.m_step(X3, TAU[:, 0]), "tau must be 2-dim"),
        (lambda: gaussian.m_step(X3, TAU * 0.9), "sum to 1"),
        (lambda: gaussian.m_step(X3, TAU * [-1, 3]), r"entries in \[0, 1\]"),
        (lambda: gaussian.fit(X3), "n_components"),
        (lambda: gaussian.fit(X3, PI, MU), "all initial parameters"),
        (lambda: gaussian.fit(X3, n_components=2, init="nope"), "init must be"),
        (lambda: gaussian.fit(X3, PI, MU, COV, max_iter=-1), "max_iter"),
        (lambda: gaussian.sample(10, PI, MU, NOT_PD), "not positive definite"),
        (lambda: gaussian.sample(-1, PI, MU, COV), "n must be"),
        (lambda: gaussian.n_parameters(2, 3, "tied"), "covariance_type"),
        (lambda: gaussian.n_parameters(0, 3, "full"), "n_components must be"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
