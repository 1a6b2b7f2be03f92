"""Checks of the five graded functions of the Bernoulli mixture assignment.

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
    where,
)

#: The names of the parts of a tuple result; the other functions return one value.
OUTPUTS = {"m_step": ("pi", "mu"), "em": ("pi", "mu", "objective")}

#: How far from 1 a float32 row of responsibilities may sum. With d = 1000 the
#: log-densities are near -1000, where one float32 ulp is 6e-5; that error goes
#: through exp() into t_ik, so a correct float32 E-step sums to 1 +- 3e-5
#: (SINGLE["sum"], 1e-5, is fit for smaller log-densities).
BERNOULLI_SINGLE_SUM = 1e-4

_BERNOULLI_LOG_HINT = (
    "Sum the logs: log p(x_i | μ_k) = Σ_j [x_ij log μ_kj + (1 - x_ij) log(1 - μ_kj)];\n"
    "the product of 64 or more probabilities underflows to 0. Where μ_kj is 0 or 1,\n"
    "0 × log 0 must count as 0, not nan (scipy.special.xlogy and xlog1py)."
)
_BERNOULLI_LSE_HINT = (
    "π_k p(x_i | μ_k) underflows to 0 for every k when d is large: normalise in log\n"
    "space (log-sum-exp trick); a component that contradicts μ_kj in {0, 1} has log p = -inf."
)


def _probabilities(mu, what, single):
    """Entries in [0, 1] (up to float32 rounding for a float32 result)."""
    slack = SINGLE["sum"] if single else 0.0
    bad = (mu < -slack) | (mu > 1 + slack)
    if bad.any():
        worst = tuple(np.argwhere(bad)[0])
        fail(f"{what}{where(worst)} is {fmt(mu[worst])}, outside [0, 1]",
             f"{int(bad.sum())} of {mu.size} values",
             "μ_kj is a probability: clip it to [0, 1] (the two sums of the ratio are\n"
             "rounded differently and it may exceed 1 by 2e-16, making log(1 - μ) nan).")


def check_log_bernoulli(got, expected, rtol=1e-6, atol=1e-8):
    """``log_bernoulli(X, mu)`` against the expected (n, K) log-probabilities."""
    check_log_density(as_outputs("log_bernoulli", got), expected,
                      "log_bernoulli(X, mu)", _BERNOULLI_LOG_HINT, rtol, atol)


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    """``e_step(X, pi, mu)`` against the expected (n, K) responsibilities."""
    tau = as_outputs("e_step", got)
    responsibilities(tau, np.asarray(expected, dtype=float), _BERNOULLI_LSE_HINT, rtol, atol,
                     single_sum=BERNOULLI_SINGLE_SUM)


def check_m_step(got, expected, rtol=1e-6, atol=1e-8):
    """``m_step(X, tau, alpha, beta)`` against the expected ``(pi, mu)``."""
    pi, mu = as_outputs("m_step", got, OUTPUTS["m_step"])
    want_pi, want_mu = (np.asarray(e, dtype=float) for e in expected)
    single = single_precision(pi, mu)
    same_shape(pi, want_pi.shape, "m_step: pi")
    same_shape(mu, want_mu.shape, "m_step: mu")
    all_finite(pi, "m_step: pi")
    all_finite(mu, "m_step: mu",
               "0 / 0: with α = β = 1 a component with Σ_i t_ik = 0 gets μ_k = the mean of the rows.")
    if abs(pi.sum() - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        fail(f"m_step: pi sums to {fmt(pi.sum())}, not 1", "π_k = n_k / n sum to 1")
    _probabilities(mu, "m_step: mu", single)
    rtol, atol = tolerances(single, rtol, atol)
    close(pi, want_pi, "m_step: pi", rtol, atol)
    close(mu, want_mu, "m_step: mu", rtol, atol)


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    """``log_likelihood(X, pi, mu)`` against the expected float."""
    check_finite_number(as_scalar("log_likelihood", got), expected, "log_likelihood",
                        _BERNOULLI_LSE_HINT, rtol, atol)


def check_em(got, expected, rtol=1e-8, param_rtol=1e-8, param_atol=1e-10, final_atol=1e-6):
    """EM result against the reference run from the same start.

    ``expected`` holds ``pi``, ``mu`` (final parameters), ``objective_head``
    (the first values F(θ^0), F(θ^1), ... of the objective: the log-likelihood,
    plus the log-prior when α or β exceeds 1), ``objective_final`` and
    ``n_iter`` (the exact number of iterations when ``tol=0``, else None).
    Components are matched up to a permutation (of the rows of ``mu``).
    """
    pi, mu, obj = as_outputs("em", got, OUTPUTS["em"])
    want_pi = np.asarray(expected["pi"], dtype=float)
    want_mu = np.asarray(expected["mu"], dtype=float)
    same_shape(pi, want_pi.shape, "em: pi")
    same_shape(mu, want_mu.shape, "em: mu")
    if obj.ndim != 1 or obj.size < 2:
        fail(f"em: objective has shape {obj.shape}",
             "objective must be a 1-D array [F(θ^0), F(θ^1), ...] with at least 2 values")
    all_finite(pi, "em: pi")
    all_finite(mu, "em: mu")
    all_finite(obj, "em: objective", _BERNOULLI_LSE_HINT
               + "\nThe prior term (α - 1) log μ_kj is 0 when α = 1, even where μ_kj = 0.")
    single = single_precision(pi, mu, obj)
    if single:
        rtol, param_rtol = max(rtol, SINGLE["loglik_rtol"]), max(param_rtol, SINGLE["param_rtol"])
        param_atol = max(param_atol, SINGLE["atol"])
        final_atol = max(final_atol, SINGLE["final_rtol"] * abs(float(expected["objective_final"])))
    check_trace(obj, expected, single, rtol, final_atol, name="objective",
                first="F(θ^0), at the initial parameters",
                after="F(θ^{t}), after {t} EM iteration(s)",
                never="EM never decreases the log-likelihood (nor, with a prior, the "
                      "log-posterior)")
    perm = list(best_permutation(mu, want_mu))
    close(pi[perm], want_pi, "em: pi (up to a permutation)", param_rtol, param_atol)
    close(mu[perm], want_mu, "em: mu (up to a permutation)", param_rtol, param_atol)
