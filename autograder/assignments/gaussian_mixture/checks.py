"""Checks of the five graded functions of the Gaussian mixture exercise.

Inlined into the notebook's ``test_helpers`` cell after the engine's helpers
(:mod:`autograder.checks`); the grader imports it to judge, in its own
process, the plain arrays that a student's function returned in the sandbox.
numpy, the standard library and the engine's helpers only.

Each ``check_<function>(result, expected, **tolerances)`` raises an
``AssertionError`` whose first line puts the numbers first. Fitted mixtures
(``em``) are compared up to a permutation of the components: the one that
matches the means best.
"""

import numpy as np

from autograder.checks import (
    DOUBLE,
    SINGLE,
    all_finite,
    as_outputs,
    as_scalar,
    check_finite_number,
    check_log_density,
    check_trace,
    close,
    fail,
    fmt,
    responsibilities,
    same_shape,
    single_precision,
    tolerances,
    where,
)

#: The names of the parts of a tuple result; the other functions return one value.
OUTPUTS = {"m_step": ("pi", "mu", "cov"), "em": ("pi", "mu", "cov", "loglik")}

_GMM_LOG_HINT = (
    "Compute log N(x | μ, Σ) = -d/2 log 2π - 1/2 log det Σ - 1/2 (x - μ)ᵀ Σ⁻¹ (x - μ)\n"
    "in log space, through the Cholesky factor Σ = L Lᵀ: log det Σ = 2 Σ_j log L_jj and\n"
    "(x - μ)ᵀ Σ⁻¹ (x - μ) = |L⁻¹ (x - μ)|² (solve_triangular); never take the log of a\n"
    "density that underflowed to 0."
)
_GMM_LSE_HINT = (
    "π_k N(x_i | μ_k, Σ_k) underflows to 0 for every k when x_i is far from every\n"
    "component: normalise in log space (log-sum-exp trick)."
)


def check_log_gaussian_pdf(got, expected, rtol=1e-6, atol=1e-8):
    """``log_gaussian_pdf(X, mu, cov)`` against the expected (n, K) log-densities."""
    check_log_density(as_outputs("log_gaussian_pdf", got), expected,
                      "log_gaussian_pdf(X, mu, cov)", _GMM_LOG_HINT, rtol, atol, finite=True)


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    """``e_step(X, pi, mu, cov)`` against the expected (n, K) responsibilities."""
    tau = as_outputs("e_step", got)
    responsibilities(tau, np.asarray(expected, dtype=float), _GMM_LSE_HINT, rtol, atol)


def _symmetric(cov, what):
    """Every Σ_k equals its transpose (up to rounding)."""
    asym = np.abs(cov - np.swapaxes(cov, -1, -2))
    scale = np.abs(cov).max() if cov.size else 0.0
    if asym.size and asym.max() > 1e-8 * max(scale, 1e-300):
        worst = np.unravel_index(int(np.argmax(asym)), asym.shape)
        fail(f"{what}{where(worst)} is {fmt(cov[worst])} but its transpose entry differs",
             f"largest asymmetry {asym.max():.3g}", "A covariance matrix is symmetric.")


def check_m_step(got, expected, rtol=1e-8, atol=1e-10):
    """``m_step(X, tau, reg_covar)`` against the expected ``(pi, mu, cov)``.

    The tolerances are tight (the updates are closed formulas), so that a
    forgotten ``reg_covar * I`` (1e-6 on the diagonal) is seen.
    """
    pi, mu, cov = as_outputs("m_step", got, OUTPUTS["m_step"])
    want_pi, want_mu, want_cov = (np.asarray(e, dtype=float) for e in expected)
    single = single_precision(pi, mu, cov)
    same_shape(pi, want_pi.shape, "m_step: pi")
    same_shape(mu, want_mu.shape, "m_step: mu")
    same_shape(cov, want_cov.shape, "m_step: cov")
    for part, name in ((pi, "pi"), (mu, "mu"), (cov, "cov")):
        all_finite(part, f"m_step: {name}")
    if abs(pi.sum() - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        fail(f"m_step: pi sums to {fmt(pi.sum())}, not 1", "π_k = n_k / n sum to 1")
    _symmetric(cov, "m_step: cov")
    rtol, atol = tolerances(single, rtol, atol)
    close(pi, want_pi, "m_step: pi", rtol, atol)
    close(mu, want_mu, "m_step: mu", rtol, atol)
    close(cov, want_cov, "m_step: cov", rtol, atol)


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    """``log_likelihood(X, pi, mu, cov)`` against the expected float."""
    check_finite_number(as_scalar("log_likelihood", got), expected, "log_likelihood",
                        _GMM_LSE_HINT, rtol, atol)


def _gmm_permutations(k):
    """Every order of range(k), as tuples (itertools is not imported here: the
    engine's helpers, inlined before this module in the notebook, import it)."""
    if k == 0:
        return [()]
    return [(*p[:i], k - 1, *p[i:]) for p in _gmm_permutations(k - 1) for i in range(k)]


def match_components(got_mu, want_mu):
    """The order of the fitted components closest to the expected ones: the
    permutation that minimises the largest distance between matched means,
    each coordinate in units of the spread of the expected means."""
    got_mu, want_mu = np.asarray(got_mu, dtype=float), np.asarray(want_mu, dtype=float)
    k = len(want_mu)
    scale = np.maximum(np.abs(want_mu).max(axis=0), 1e-12)
    perms = _gmm_permutations(k) if k <= 6 else [tuple(range(k))]
    return list(min(perms, key=lambda p: float(np.max(np.abs(got_mu[list(p)] - want_mu)
                                                       / scale))))


def check_em(got, expected, rtol=1e-8, param_rtol=1e-8, loglik_atol=1e-6):
    """EM result against the reference run from the same start.

    ``expected`` holds ``pi``, ``mu``, ``cov`` (final parameters),
    ``loglik_head`` (the first log-likelihoods ℓ(θ^0), ℓ(θ^1), ... of plain
    EM), ``loglik_final`` and ``n_iter`` (the exact number of iterations when
    ``tol=0``, else None). Components are matched up to a permutation; the
    parameters are compared with ``param_rtol`` relative to the scale of each
    coordinate (means) or pair of coordinates (covariances).
    """
    pi, mu, cov, loglik = as_outputs("em", got, OUTPUTS["em"])
    want_pi = np.asarray(expected["pi"], dtype=float)
    want_mu = np.asarray(expected["mu"], dtype=float)
    want_cov = np.asarray(expected["cov"], dtype=float)
    same_shape(pi, want_pi.shape, "em: pi")
    same_shape(mu, want_mu.shape, "em: mu")
    same_shape(cov, want_cov.shape, "em: cov")
    if loglik.ndim != 1 or loglik.size < 2:
        fail(f"em: loglik has shape {loglik.shape}",
             "loglik must be a 1-D array [ℓ(θ^0), ℓ(θ^1), ...] with at least 2 values")
    for part, name in ((pi, "pi"), (mu, "mu"), (cov, "cov")):
        all_finite(part, f"em: {name}")
    all_finite(loglik, "em: loglik", _GMM_LSE_HINT)
    single = single_precision(pi, mu, cov, loglik)
    if single:
        rtol, param_rtol = max(rtol, SINGLE["loglik_rtol"]), max(param_rtol, SINGLE["param_rtol"])
        loglik_atol = max(loglik_atol, SINGLE["final_rtol"] * abs(float(expected["loglik_final"])))
    check_trace(loglik, expected, single, rtol, loglik_atol)
    if single and expected.get("n_iter") is None:
        return  # float32 cannot resolve the flat top of ℓ: its final ℓ is judged only
    perm = match_components(mu, want_mu)
    sd = np.sqrt(np.abs(np.diagonal(want_cov, axis1=1, axis2=2)).max(axis=0))
    close(pi[perm], want_pi, "em: pi (up to a permutation)", param_rtol, param_rtol)
    mu, cov = mu[perm], cov[perm]
    for a in range(want_mu.shape[1]):
        close(mu[:, a], want_mu[:, a], f"em: mu[:, {a}] (up to a permutation)", param_rtol,
              param_rtol * max(float(np.abs(want_mu[:, a]).max()), float(sd[a])))
        for b in range(want_mu.shape[1]):
            close(cov[:, a, b], want_cov[:, a, b], f"em: cov[:, {a}, {b}] (up to a permutation)",
                  param_rtol, param_rtol * float(sd[a] * sd[b]))
