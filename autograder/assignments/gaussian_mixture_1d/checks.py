"""Checks of the five graded functions of the univariate Gaussian mixture exercise.

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
OUTPUTS = {"m_step": ("pi", "mu", "var"), "em": ("pi", "mu", "var", "loglik")}

_PDF_HINT = (
    "Compute log p(x | μ, σ²) = -log(2πσ²)/2 - (x - μ)²/(2σ²) directly, from x - μ;\n"
    "never take the log of a density that underflowed to 0 (x far from μ, or σ² tiny)."
)
_GAUSS_LSE_HINT = (
    "π_k p(x_i | μ_k, σ_k²) underflows to 0 for every k when x_i is far from every μ_k:\n"
    "normalise in log space (log-sum-exp trick); a weight π_k = 0 gives log π_k = -inf\n"
    "and t_ik = 0."
)
_FLOOR_HINT = (
    "σ_k² = max(S_k, var_floor) with S_k = Σ_i t_ik (x_i - μ_k)² / n_k, the weighted\n"
    "variance about the new mean μ_k: the floor replaces S_k only when S_k is below it\n"
    "(it is not added to S_k)."
)


def check_log_normal_pdf(got, expected, rtol=1e-6, atol=1e-8):
    """``log_normal_pdf(x, mu, var)`` against the expected (n, K) log-densities."""
    check_log_density(as_outputs("log_normal_pdf", got), expected,
                      "log_normal_pdf(x, mu, var)", _PDF_HINT, rtol, atol, finite=True)


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    """``e_step(x, pi, mu, var)`` against the expected (n, K) responsibilities."""
    tau = as_outputs("e_step", got)
    responsibilities(tau, np.asarray(expected, dtype=float), _GAUSS_LSE_HINT, rtol, atol)


def check_m_step(got, expected, rtol=1e-6, atol=1e-8):
    """``m_step(x, tau, var_floor)`` against the expected ``(pi, mu, var)``."""
    pi, mu, var = as_outputs("m_step", got, OUTPUTS["m_step"])
    want_pi, want_mu, want_var = (np.asarray(e, dtype=float) for e in expected)
    single = single_precision(pi, mu, var)
    for got_part, want_part, name in ((pi, want_pi, "pi"), (mu, want_mu, "mu"),
                                      (var, want_var, "var")):
        same_shape(got_part, want_part.shape, f"m_step: {name}")
        all_finite(got_part, f"m_step: {name}")
    if abs(pi.sum() - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        fail(f"m_step: pi sums to {fmt(pi.sum())}, not 1", "π_k = n_k / n sum to 1")
    rtol, atol = tolerances(single, rtol, atol)
    close(pi, want_pi, "m_step: pi", rtol, atol)
    close(mu, want_mu, "m_step: mu", rtol, atol)
    try:
        close(var, want_var, "m_step: var", rtol, atol)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_FLOOR_HINT}") from None


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    """``log_likelihood(x, pi, mu, var)`` against the expected float."""
    check_finite_number(as_scalar("log_likelihood", got), expected, "log_likelihood",
                        _GAUSS_LSE_HINT, rtol, atol)


def check_em(got, expected, rtol=1e-8, param_rtol=1e-8, loglik_atol=1e-6):
    """EM result against the reference run from the same start.

    ``expected`` holds ``pi``, ``mu``, ``var`` (final parameters),
    ``loglik_head`` (the first log-likelihoods ℓ(θ^0), ℓ(θ^1), ... of plain
    EM), ``loglik_final`` and ``n_iter`` (the exact number of iterations when
    ``tol=0``, else None). Components are matched up to a permutation (by
    their means).
    """
    pi, mu, var, loglik = as_outputs("em", got, OUTPUTS["em"])
    want = {name: np.asarray(expected[name], dtype=float) for name in ("pi", "mu", "var")}
    k = want["pi"].shape[0]
    for got_part, name in ((pi, "pi"), (mu, "mu"), (var, "var")):
        same_shape(got_part, (k,), f"em: {name}")
    if loglik.ndim != 1 or loglik.size < 2:
        fail(f"em: loglik has shape {loglik.shape}",
             "loglik must be a 1-D array [ℓ(θ^0), ℓ(θ^1), ...] with at least 2 values")
    for got_part, name in ((pi, "pi"), (mu, "mu"), (var, "var")):
        all_finite(got_part, f"em: {name}", _FLOOR_HINT if name == "var" else "")
    all_finite(loglik, "em: loglik", _GAUSS_LSE_HINT)
    single = single_precision(pi, mu, var, loglik)
    if single:
        rtol, param_rtol = max(rtol, SINGLE["loglik_rtol"]), max(param_rtol, SINGLE["param_rtol"])
        loglik_atol = max(loglik_atol, SINGLE["final_rtol"] * abs(float(expected["loglik_final"])))
    check_trace(loglik, expected, single, rtol, loglik_atol)
    if single and expected.get("n_iter") is None:
        return  # float32 cannot resolve the flat top of ℓ: its final ℓ is judged only
    perm = list(best_permutation(mu, want["mu"]))
    # A mean is judged in units of its component's standard deviation too: a
    # mean near 0 has no relative precision to speak of.
    close(pi[perm], want["pi"], "em: pi (up to a permutation)", param_rtol, 1e-10)
    slack = param_rtol * (np.abs(want["mu"]) + np.sqrt(np.abs(want["var"])))
    off = np.abs(mu[perm] - want["mu"]) > slack
    if off.any():
        j = int(np.argmax(off))
        fail(f"em: mu (up to a permutation)[{j}] is {fmt(mu[perm][j])}, "
             f"expected {fmt(want['mu'][j])}",
             f"tolerance {param_rtol:g} relative to |μ_k| + σ_k")
    close(var[perm], want["var"], "em: var (up to a permutation)", param_rtol, 1e-10)
