"""Checks of the five graded functions: one judge for the notebook and the grader.

This module is inlined into the notebook's ``test_helpers`` cell (the student's
kernel has no course files), and the grader imports it to judge, in its own
process, the plain arrays that a student's function returned in the sandbox.
It therefore depends on numpy and the standard library only.

``check_result(function, result, expected, **options)`` raises an ``AssertionError``
whose message says what is wrong in words a student can act on, e.g.
``e_step: rows of tau do not sum to 1 (max deviation 0.3)``.
"""

import itertools

import numpy as np

FUNCTIONS = ("log_poisson_pmf", "e_step", "m_step", "log_likelihood", "em")
_N_OUTPUTS = {"m_step": ("pi", "lam"), "em": ("pi", "lam", "loglik")}


def _fmt(value):
    return f"{float(value):.10g}"


def _where(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def as_numeric(value, what):
    """``value`` as a float64 array; refuses objects, strings, booleans, complex."""
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise AssertionError(
            f"{what} is not a numeric array ({type(value).__name__}: {exc})"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise AssertionError(
            f"{what} is not a numeric array (got {type(value).__name__} with dtype {arr.dtype})"
        )
    return arr.astype(np.float64)


def normalise(function, result):
    """The result of a graded function as plain float64 arrays.

    ``log_poisson_pmf`` and ``e_step`` give one array, ``log_likelihood`` a
    float, ``m_step`` the tuple ``(pi, lam)`` and ``em`` ``(pi, lam, loglik)``.
    """
    if function in ("log_poisson_pmf", "e_step"):
        return as_numeric(result, f"{function} returned a value that")
    if function == "log_likelihood":
        arr = as_numeric(result, "log_likelihood returned a value that")
        if arr.size != 1:
            raise AssertionError(
                f"log_likelihood must return one number (a float), got an array of shape {arr.shape}"
            )
        return float(arr.reshape(()))
    names = _N_OUTPUTS[function]
    wanted = "(" + ", ".join(names) + ")"
    if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__len__"):
        raise AssertionError(
            f"{function} must return the tuple {wanted}, got {type(result).__name__}"
        )
    if len(result) != len(names):
        raise AssertionError(
            f"{function} must return the tuple {wanted} ({len(names)} values), "
            f"got {len(result)} values"
        )
    return tuple(
        as_numeric(part, f"{function}: {name}") for part, name in zip(result, names, strict=True)
    )


def _check_shape(got, shape, what):
    if got.shape != tuple(shape):
        raise AssertionError(f"{what} has shape {got.shape}, expected {tuple(shape)}")


def _check_finite(got, what, hint=""):
    bad = ~np.isfinite(got)
    if bad.any():
        kinds = "NaN" if np.isnan(got).any() else "infinite values"
        first = _where(np.argwhere(bad)[0]) if got.ndim else ""
        where = f" (first at {first})" if first else ""
        count = int(bad.sum())
        raise AssertionError(
            f"{what} contains {kinds} in {count} of {got.size} entries{where}{hint}"
        )


def _check_close(got, want, what, rtol, atol):
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    n_bad = int((err > 0).sum())
    if got.ndim == 0:
        raise AssertionError(
            f"{what} is {_fmt(got)}, expected {_fmt(want)} (tolerance rtol={rtol:g})"
        )
    raise AssertionError(
        f"{what}: {n_bad} of {got.size} values differ from the expected ones "
        f"(worst at {_where(worst)}: got {_fmt(got[worst])}, expected {_fmt(want[worst])}; "
        f"tolerance rtol={rtol:g}, atol={atol:g})"
    )


_LOG_HINT = (
    ": compute log p(x | λ) = x log λ - λ - log x! directly instead of taking the "
    "log of a probability that under- or overflowed"
)
_LSE_HINT = (
    ": π_k p(x_i | λ_k) underflows to 0 for every k, so normalise in log space "
    "(log-sum-exp trick)"
)


def check_log_poisson_pmf(got, expected, rtol=1e-6, atol=1e-8):
    got = normalise("log_poisson_pmf", got)
    want = np.asarray(expected, dtype=float)
    _check_shape(got, want.shape, "log_poisson_pmf(x, lam)")
    _check_finite(got, "log_poisson_pmf(x, lam)", _LOG_HINT)
    _check_close(got, want, "log_poisson_pmf(x, lam)", rtol, atol)


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    tau = normalise("e_step", got)
    want = np.asarray(expected, dtype=float)
    _check_shape(tau, want.shape, "e_step: tau")
    _check_finite(tau, "e_step: tau", _LSE_HINT)
    if (tau < -1e-12).any() or (tau > 1 + 1e-12).any():
        raise AssertionError(
            f"e_step: tau has entries outside [0, 1] (min {_fmt(tau.min())}, max {_fmt(tau.max())})"
        )
    deviation = np.abs(tau.sum(axis=1) - 1.0).max()
    if deviation > 1e-6:
        raise AssertionError(
            f"e_step: rows of tau do not sum to 1 (max deviation {deviation:.3g})"
        )
    _check_close(tau, want, "e_step: tau", rtol, atol)


def check_m_step(got, expected, rtol=1e-6, atol=1e-8):
    pi, lam = normalise("m_step", got)
    want_pi, want_lam = (np.asarray(e, dtype=float) for e in expected)
    _check_shape(pi, want_pi.shape, "m_step: pi")
    _check_shape(lam, want_lam.shape, "m_step: lam")
    _check_finite(pi, "m_step: pi")
    _check_finite(lam, "m_step: lam")
    if abs(pi.sum() - 1.0) > 1e-6:
        raise AssertionError(f"m_step: pi sums to {_fmt(pi.sum())}, not 1")
    _check_close(pi, want_pi, "m_step: pi", rtol, atol)
    _check_close(lam, want_lam, "m_step: lam", rtol, atol)


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    value = np.float64(normalise("log_likelihood", got))
    if not np.isfinite(value):
        raise AssertionError(f"log_likelihood is {value}, expected {_fmt(expected)}{_LSE_HINT}")
    _check_close(value, np.float64(expected), "log_likelihood", rtol, atol)


def _best_permutation(got_lam, want_lam):
    k = len(want_lam)
    scale = np.maximum(np.abs(want_lam), 1e-12)
    perms = itertools.permutations(range(k)) if k <= 6 else [tuple(range(k))]
    return min(perms, key=lambda p: float(np.max(np.abs(got_lam[list(p)] - want_lam) / scale)))


def check_em(got, expected, rtol=1e-8, param_rtol=1e-8, loglik_atol=1e-6):
    """EM result against the reference run from the same start.

    ``expected`` holds ``pi``, ``lam`` (final parameters), ``loglik_head`` (the
    first log-likelihoods ℓ(θ^0), ℓ(θ^1), ... of plain EM), ``loglik_final``
    and ``n_iter`` (the exact number of iterations when ``tol=0``, else None).
    Components are matched up to a permutation.
    """
    pi, lam, loglik = normalise("em", got)
    want_pi = np.asarray(expected["pi"], dtype=float)
    want_lam = np.asarray(expected["lam"], dtype=float)
    head = np.asarray(expected["loglik_head"], dtype=float)
    k = want_pi.shape[0]
    _check_shape(pi, (k,), "em: pi")
    _check_shape(lam, (k,), "em: lam")
    if loglik.ndim != 1 or loglik.size < 2:
        raise AssertionError(
            f"em: loglik must be a 1-D array [ℓ(θ^0), ℓ(θ^1), ...] with at least 2 values, "
            f"got shape {loglik.shape}"
        )
    _check_finite(pi, "em: pi")
    _check_finite(lam, "em: lam")
    _check_finite(loglik, "em: loglik", _LSE_HINT)
    if not np.isclose(loglik[0], head[0], rtol=rtol, atol=0):
        raise AssertionError(
            f"em: loglik[0] is {_fmt(loglik[0])}, but the log-likelihood at the initial "
            f"parameters θ^0 is {_fmt(head[0])}"
        )
    n_head = min(len(head), len(loglik))
    for t in range(1, n_head):
        if not np.isclose(loglik[t], head[t], rtol=rtol, atol=0):
            raise AssertionError(
                f"em: loglik[{t}] is {_fmt(loglik[t])}, but after {t} EM iteration(s) "
                f"the log-likelihood is {_fmt(head[t])}"
            )
    drops = np.diff(loglik) < -1e-9 * np.abs(loglik[:-1])
    if drops.any():
        t = int(np.argmax(drops)) + 1
        raise AssertionError(
            f"em: loglik decreases at iteration {t} ({_fmt(loglik[t - 1])} -> {_fmt(loglik[t])}); "
            "EM never decreases the likelihood"
        )
    n_iter = expected.get("n_iter")
    if n_iter is not None and loglik.size != n_iter + 1:
        raise AssertionError(
            f"em: with max_iter={n_iter} and tol=0, em must run exactly {n_iter} iterations "
            f"(len(loglik) == {n_iter + 1}), got len(loglik) == {loglik.size}"
        )
    final = float(expected["loglik_final"])
    if not abs(loglik[-1] - final) <= loglik_atol:
        raise AssertionError(
            f"em: the final log-likelihood is {_fmt(loglik[-1])}, expected {_fmt(final)} "
            f"(tolerance {loglik_atol:g}); did EM stop too early?"
        )
    perm = list(_best_permutation(lam, want_lam))
    _check_close(pi[perm], want_pi, "em: pi (up to a permutation of the components)",
                 param_rtol, 1e-10)
    _check_close(lam[perm], want_lam, "em: lam (up to a permutation of the components)",
                 param_rtol, 1e-10)


_CHECKS = {
    "log_poisson_pmf": check_log_poisson_pmf,
    "e_step": check_e_step,
    "m_step": check_m_step,
    "log_likelihood": check_log_likelihood,
    "em": check_em,
}


def check_result(function, result, expected, **options):
    """Judge ``result`` (what ``function`` returned) against ``expected``."""
    _CHECKS[function](result, expected, **options)
