"""Checks of the five graded functions of the Poisson mixture exercise.

Inlined into the notebook's ``test_helpers`` cell after the engine's helpers
(:mod:`autograder.checks`); the grader imports it to judge, in its own
process, the plain arrays that a student's function returned in the sandbox.
numpy, the standard library and the engine's helpers only.

Each ``check_<function>(result, expected, **tolerances)`` raises an
``AssertionError`` whose first line puts the numbers first.
"""

import numpy as np

from autograder.checks import (
    DOUBLE,
    SINGLE,
    all_finite,
    as_outputs,
    as_scalar,
    best_permutation,
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
)

#: The names of the parts of a tuple result; the other functions return one value.
OUTPUTS = {"m_step": ("pi", "lam"), "em": ("pi", "lam", "loglik")}

_LOG_HINT = (
    "Compute log p(x | λ) = x log λ - λ - log x! directly: gammaln(x + 1) for log x!,\n"
    "and x log λ = 0 when x = 0 and λ = 0 (scipy.special.xlogy); never take the log\n"
    "of a probability that under- or overflowed."
)
_LSE_HINT = (
    "π_k p(x_i | λ_k) underflows to 0 for every k when x_i is large: normalise in\n"
    "log space (log-sum-exp trick); a component with λ_k = 0 has log p = -inf for x > 0."
)


def check_log_poisson_pmf(got, expected, rtol=1e-6, atol=1e-8):
    """``log_poisson_pmf(x, lam)`` against the expected (n, K) log-probabilities."""
    check_log_density(as_outputs("log_poisson_pmf", got), expected,
                      "log_poisson_pmf(x, lam)", _LOG_HINT, rtol, atol)


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    """``e_step(x, pi, lam)`` against the expected (n, K) responsibilities."""
    tau = as_outputs("e_step", got)
    responsibilities(tau, np.asarray(expected, dtype=float), _LSE_HINT, rtol, atol)


def check_m_step(got, expected, rtol=1e-6, atol=1e-8):
    """``m_step(x, tau)`` against the expected ``(pi, lam)``."""
    pi, lam = as_outputs("m_step", got, OUTPUTS["m_step"])
    want_pi, want_lam = (np.asarray(e, dtype=float) for e in expected)
    single = single_precision(pi, lam)
    same_shape(pi, want_pi.shape, "m_step: pi")
    same_shape(lam, want_lam.shape, "m_step: lam")
    all_finite(pi, "m_step: pi")
    all_finite(lam, "m_step: lam")
    if abs(pi.sum() - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        fail(f"m_step: pi sums to {fmt(pi.sum())}, not 1", "π_k = n_k / n sum to 1")
    rtol, atol = tolerances(single, rtol, atol)
    close(pi, want_pi, "m_step: pi", rtol, atol)
    close(lam, want_lam, "m_step: lam", rtol, atol)


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    """``log_likelihood(x, pi, lam)`` against the expected float."""
    check_finite_number(as_scalar("log_likelihood", got), expected, "log_likelihood",
                        _LSE_HINT, rtol, atol)


def check_em(got, expected, rtol=1e-8, param_rtol=1e-8, loglik_atol=1e-6):
    """EM result against the reference run from the same start.

    ``expected`` holds ``pi``, ``lam`` (final parameters), ``loglik_head`` (the
    first log-likelihoods ℓ(θ^0), ℓ(θ^1), ... of plain EM), ``loglik_final``
    and ``n_iter`` (the exact number of iterations when ``tol=0``, else None).
    Components are matched up to a permutation.
    """
    pi, lam, loglik = as_outputs("em", got, OUTPUTS["em"])
    want_pi = np.asarray(expected["pi"], dtype=float)
    want_lam = np.asarray(expected["lam"], dtype=float)
    k = want_pi.shape[0]
    same_shape(pi, (k,), "em: pi")
    same_shape(lam, (k,), "em: lam")
    if loglik.ndim != 1 or loglik.size < 2:
        fail(f"em: loglik has shape {loglik.shape}",
              "loglik must be a 1-D array [ℓ(θ^0), ℓ(θ^1), ...] with at least 2 values")
    all_finite(pi, "em: pi")
    all_finite(lam, "em: lam")
    all_finite(loglik, "em: loglik", _LSE_HINT)
    single = single_precision(pi, lam, loglik)
    if single:
        rtol, param_rtol = max(rtol, SINGLE["loglik_rtol"]), max(param_rtol, SINGLE["param_rtol"])
        loglik_atol = max(loglik_atol, SINGLE["final_rtol"] * abs(float(expected["loglik_final"])))
    check_trace(loglik, expected, single, rtol, loglik_atol)
    if single and expected.get("n_iter") is None:
        # float32 cannot resolve the flat ridge of ℓ near its maximum (Hasselblad:
        # π_1 anywhere in 0.30-0.36 is within 0.06 of ℓ*): its final ℓ is judged only.
        return
    perm = list(best_permutation(lam, want_lam))
    close(pi[perm], want_pi, "em: pi (up to a permutation)", param_rtol, 1e-10)
    close(lam[perm], want_lam, "em: lam (up to a permutation)", param_rtol, 1e-10)
