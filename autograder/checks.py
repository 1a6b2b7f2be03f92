"""Checks of the five graded functions: one judge for the notebook and the grader.

This module is inlined into the notebook's ``test_helpers`` cell (the student's
kernel has no course files), and the grader imports it to judge, in its own
process, the plain arrays that a student's function returned in the sandbox.
It therefore depends on numpy and the standard library only.

Each ``check_<function>(result, expected, **tolerances)`` raises an
``AssertionError`` whose first line puts the numbers first (``nbgrader
validate`` cuts long lines), e.g. ``e_step: tau[0] sums to 1.3, not 1``; the
lines after it say what to do.

Results computed in single precision (float32) are judged with tolerances fit
for float32 (:data:`SINGLE`): a correct float32 solution earns full marks. The
grader receives every result as float64, so single precision is recognised by
its values: every finite value is a float32 number.
"""

import itertools

import numpy as np

#: The names of the parts of a tuple result; the other functions return one value.
OUTPUTS = {"m_step": ("pi", "lam"), "em": ("pi", "lam", "loglik")}

#: Tolerances for float32 results. float32 keeps ~7 significant digits: a
#: log-probability of -6000 (x = 1000) carries an absolute error near 1e-3, which
#: reaches the responsibilities through exp(); a float32 log-likelihood of -2000
#: jitters by ~1e-2 from one iteration to the next, so a float32 EM stops up to
#: ~0.3 below the maximum, which on a flat likelihood (Hasselblad) leaves the
#: parameters 20% away from the maximum-likelihood estimate.
SINGLE = {"rtol": 2e-4, "atol": 1e-4, "sum": 1e-5, "drop": 1e-5, "loglik_rtol": 2e-5,
          "final_rtol": 5e-4, "param_rtol": 3e-2}
#: The same checks in double precision.
DOUBLE = {"sum": 1e-6, "drop": 1e-9}

_LOG_HINT = (
    "Compute log p(x | λ) = x log λ - λ - log x! directly: gammaln(x + 1) for log x!,\n"
    "and x log λ = 0 when x = 0 and λ = 0 (scipy.special.xlogy); never take the log\n"
    "of a probability that under- or overflowed."
)
_LSE_HINT = (
    "π_k p(x_i | λ_k) underflows to 0 for every k when x_i is large: normalise in\n"
    "log space (log-sum-exp trick); a component with λ_k = 0 has log p = -inf for x > 0."
)


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
    names = OUTPUTS.get(function)
    if names is None:
        arr = as_numeric(result, f"{function} returned a value that")
        if function != "log_likelihood":
            return arr
        if arr.size != 1:
            raise AssertionError(
                f"log_likelihood must return one number (a float), got an array of shape {arr.shape}"
            )
        return float(arr.reshape(()))
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


def single_precision(*arrays):
    """Whether the values are float32 numbers (perhaps upcast to float64 since)."""
    values = [np.asarray(a) for a in arrays]
    if any(a.dtype.kind == "f" and a.dtype.itemsize < 8 for a in values):
        return True
    finite = np.concatenate([np.ravel(a).astype(np.float64) for a in values])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return False
    with np.errstate(over="ignore"):
        return bool(np.all(finite.astype(np.float32).astype(np.float64) == finite))


def _tolerances(single, rtol, atol):
    if single:
        return max(rtol, SINGLE["rtol"]), max(atol, SINGLE["atol"])
    return rtol, atol


def _check_shape(got, shape, what):
    if got.shape != tuple(shape):
        raise AssertionError(f"{what} has shape {got.shape}, expected {tuple(shape)}")


def _check_finite(got, what, hint=""):
    """No NaN nor infinity in ``got``."""
    bad = ~np.isfinite(got)
    if bad.any():
        first = tuple(np.argwhere(bad)[0]) if got.ndim else ()
        _fail(f"{what}{_where(first) if got.ndim else ''} is {_fmt(got[first])}",
              f"{int(bad.sum())} of {got.size} values are NaN or infinite", hint)


def _fail(first, detail, hint=""):
    raise AssertionError("\n".join(part for part in (first, f"({detail})", hint) if part))


def _check_special(got, want, what, hint):
    """NaN and infinities: exactly where the expected values have them."""
    special = ~np.isfinite(want)
    bad = np.where(special, got != want, ~np.isfinite(got))
    if bad.any():
        first = tuple(np.argwhere(bad)[0])
        _fail(f"{what}{_where(first)} is {_fmt(got[first])}, expected {_fmt(want[first])}",
              f"{int(bad.sum())} of {got.size} values", hint)


def _check_close(got, want, what, rtol, atol):
    """Equal up to the tolerances; infinite expected values must be met exactly."""
    special = ~np.isfinite(want)
    g = np.where(special, 0.0, got)
    w = np.where(special, 0.0, want)
    err = np.abs(g - w) - (atol + rtol * np.abs(w))
    err = np.where(special & (got != want), np.inf, err)
    if not (err > 0).any():
        return
    if got.ndim == 0:
        _fail(f"{what} is {_fmt(got)}, expected {_fmt(want)}", f"tolerance rtol={rtol:g}")
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    _fail(f"{what}{_where(worst)} is {_fmt(got[worst])}, expected {_fmt(want[worst])}",
          f"{int((err > 0).sum())} of {got.size} values differ; rtol={rtol:g}, atol={atol:g}")


def check_log_poisson_pmf(got, expected, rtol=1e-6, atol=1e-8):
    """``log_poisson_pmf(x, lam)`` against the expected (n, K) log-probabilities."""
    got = normalise("log_poisson_pmf", got)
    want = np.asarray(expected, dtype=float)
    what = "log_poisson_pmf(x, lam)"
    _check_shape(got, want.shape, what)
    _check_special(got, want, what, _LOG_HINT)
    _check_close(got, want, what, *_tolerances(single_precision(got), rtol, atol))


def check_e_step(got, expected, rtol=1e-6, atol=1e-8):
    """``e_step(x, pi, lam)`` against the expected (n, K) responsibilities."""
    tau = normalise("e_step", got)
    want = np.asarray(expected, dtype=float)
    single = single_precision(tau)
    _check_shape(tau, want.shape, "e_step: tau")
    _check_finite(tau, "e_step: tau", _LSE_HINT)
    slack = SINGLE["sum"] if single else 1e-12
    if (tau < -slack).any() or (tau > 1 + slack).any():
        worst = np.unravel_index(int(np.argmax(np.abs(tau - 0.5))), tau.shape)
        _fail(f"e_step: tau{_where(worst)} is {_fmt(tau[worst])}, outside [0, 1]",
              f"min {_fmt(tau.min())}, max {_fmt(tau.max())}")
    sums = tau.sum(axis=1)
    row = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[row] - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        _fail(f"e_step: tau[{row}] sums to {_fmt(sums[row])}, not 1",
              f"each row of tau must sum to 1; max deviation {abs(sums[row] - 1.0):.3g}")
    _check_close(tau, want, "e_step: tau", *_tolerances(single, rtol, atol))


def check_m_step(got, expected, rtol=1e-6, atol=1e-8):
    """``m_step(x, tau)`` against the expected ``(pi, lam)``."""
    pi, lam = normalise("m_step", got)
    want_pi, want_lam = (np.asarray(e, dtype=float) for e in expected)
    single = single_precision(pi, lam)
    _check_shape(pi, want_pi.shape, "m_step: pi")
    _check_shape(lam, want_lam.shape, "m_step: lam")
    _check_finite(pi, "m_step: pi")
    _check_finite(lam, "m_step: lam")
    if abs(pi.sum() - 1.0) > (SINGLE if single else DOUBLE)["sum"]:
        _fail(f"m_step: pi sums to {_fmt(pi.sum())}, not 1", "π_k = n_k / n sum to 1")
    rtol, atol = _tolerances(single, rtol, atol)
    _check_close(pi, want_pi, "m_step: pi", rtol, atol)
    _check_close(lam, want_lam, "m_step: lam", rtol, atol)


def check_log_likelihood(got, expected, rtol=1e-6, atol=1e-8):
    """``log_likelihood(x, pi, lam)`` against the expected float."""
    value = np.float64(normalise("log_likelihood", got))
    want = np.float64(expected)
    if not np.isfinite(value):
        _fail(f"log_likelihood is {value}, expected {_fmt(want)}", "not a finite number",
              _LSE_HINT)
    _check_close(value, want, "log_likelihood", *_tolerances(single_precision(value), rtol, atol))


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
        _fail(f"em: loglik has shape {loglik.shape}",
              "loglik must be a 1-D array [ℓ(θ^0), ℓ(θ^1), ...] with at least 2 values")
    _check_finite(pi, "em: pi")
    _check_finite(lam, "em: lam")
    _check_finite(loglik, "em: loglik", _LSE_HINT)
    single = single_precision(pi, lam, loglik)
    if single:
        rtol, param_rtol = max(rtol, SINGLE["loglik_rtol"]), max(param_rtol, SINGLE["param_rtol"])
        loglik_atol = max(loglik_atol, SINGLE["final_rtol"] * abs(float(expected["loglik_final"])))
    if not np.isclose(loglik[0], head[0], rtol=rtol, atol=0):
        _fail(f"em: loglik[0] is {_fmt(loglik[0])}, expected {_fmt(head[0])}",
              "loglik[0] is the log-likelihood at the initial parameters θ^0")
    n_head = min(len(head), len(loglik))
    for t in range(1, n_head):
        if not np.isclose(loglik[t], head[t], rtol=rtol, atol=0):
            _fail(f"em: loglik[{t}] is {_fmt(loglik[t])}, expected {_fmt(head[t])}",
                  f"the log-likelihood after {t} EM iteration(s)")
    drop = (SINGLE if single else DOUBLE)["drop"]
    drops = np.diff(loglik) < -drop * np.abs(loglik[:-1])
    if drops.any():
        t = int(np.argmax(drops)) + 1
        _fail(f"em: loglik decreases at iteration {t} ({_fmt(loglik[t - 1])} -> "
              f"{_fmt(loglik[t])})", "EM never decreases the likelihood")
    n_iter = expected.get("n_iter")
    if n_iter is not None and loglik.size != n_iter + 1:
        _fail(f"em: len(loglik) is {loglik.size}, expected {n_iter + 1}",
              f"with max_iter={n_iter} and tol=0, em runs exactly {n_iter} iterations")
    final = float(expected["loglik_final"])
    if not abs(loglik[-1] - final) <= loglik_atol:
        _fail(f"em: loglik[-1] is {_fmt(loglik[-1])}, expected {_fmt(final)}",
              f"tolerance {loglik_atol:g}; did EM stop too early?")
    if single and n_iter is None:
        # float32 cannot resolve the flat ridge of ℓ near its maximum (Hasselblad:
        # π_1 anywhere in 0.30-0.36 is within 0.06 of ℓ*): its final ℓ is judged only.
        return
    perm = list(_best_permutation(lam, want_lam))
    _check_close(pi[perm], want_pi, "em: pi (up to a permutation)", param_rtol, 1e-10)
    _check_close(lam[perm], want_lam, "em: lam (up to a permutation)", param_rtol, 1e-10)
