"""The engine's judging helpers, shared by every assignment's checks.

Every assignment has a ``checks.py`` of its own (``check_<function>(result,
expected, **tolerances)``, one per graded function); those functions are built
from the helpers here: reading a result as plain float64 arrays, closeness
with the numbers first, finite values, shapes, matching up to a permutation of
the components, float32 tolerances.

This module and the assignment's ``checks.py`` are inlined, in that order, into
the ``test_helpers`` cell of the assignment's notebook (the student's kernel
has no course files; see :func:`autograder.build_source.helpers_source`), and
the grader imports both to judge, in its own process, the plain arrays that a
student's function returned in the sandbox. Both therefore depend on numpy and
the standard library only, and their top-level names must not collide.

The sandboxed child loads this file too, by its path, for :func:`normalise`
alone: it turns whatever a student's function returned into plain arrays
without knowing the function's contract (the child knows no assignment); the
grader hands those arrays to the assignment's check, which reads them with
:func:`as_outputs` as it reads a live result in the notebook.

Every failure is an ``AssertionError`` whose first line puts the numbers first
(``nbgrader validate`` cuts long lines), e.g. ``e_step: tau[0] sums to 1.3,
not 1``; the lines after it say what to do (:func:`fail`).

Results computed in single precision (float32) are judged with tolerances fit
for float32 (:data:`SINGLE`): a correct float32 solution earns full marks. The
grader receives every result as float64, so single precision is recognised by
its values: every finite value is a float32 number (:func:`single_precision`).
"""

import itertools

import numpy as np

#: Tolerances for float32 results. float32 keeps ~7 significant digits: a
#: log-probability of -6000 carries an absolute error near 1e-3, which reaches
#: the responsibilities through exp(); a float32 log-likelihood of -2000
#: jitters by ~1e-2 from one iteration to the next, so a float32 EM stops up to
#: ~0.3 below the maximum, which on a flat likelihood leaves the parameters
#: 20% away from the maximum-likelihood estimate.
SINGLE = {"rtol": 2e-4, "atol": 1e-4, "sum": 1e-5, "drop": 1e-5, "loglik_rtol": 2e-5,
          "final_rtol": 5e-4, "param_rtol": 3e-2}
#: The same checks in double precision.
DOUBLE = {"sum": 1e-6, "drop": 1e-9}


def fmt(value):
    """A number as the messages show it."""
    return f"{float(value):.10g}"


def where(index):
    """An index as the messages show it: ``[2, 0]``."""
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def fail(first, detail, hint=""):
    """Raise the ``AssertionError`` of a failed check: the numbers first, then
    the detail in parentheses, then what to do."""
    raise AssertionError("\n".join(part for part in (first, f"({detail})", hint) if part))


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
    """Any result as plain float64 arrays, whatever the function's contract.

    Used by the sandboxed child, which knows no assignment: a tuple, or a list
    that is not one array, gives a tuple of arrays; anything else one array.
    The assignment's check reads them with :func:`as_outputs`.
    """
    if isinstance(result, list):
        try:
            return as_numeric(result, f"{function} returned a value that")
        except (AssertionError, ValueError):
            pass
    if isinstance(result, tuple | list):
        return tuple(as_numeric(part, f"{function}: value {i} of the result")
                     for i, part in enumerate(result))
    return as_numeric(result, f"{function} returned a value that")


def as_outputs(function, result, names=()):
    """A graded function's result as its contract says: one float64 array
    when ``names`` is empty, else the tuple of the arrays called ``names``."""
    if not names:
        return as_numeric(result, f"{function} returned a value that")
    wanted = "(" + ", ".join(names) + ")"
    if isinstance(result, str | bytes | dict) or not hasattr(result, "__len__"):
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


def as_scalar(function, result):
    """A result that must be one number, as a float."""
    arr = as_numeric(result, f"{function} returned a value that")
    if arr.size != 1:
        raise AssertionError(
            f"{function} must return one number (a float), got an array of shape {arr.shape}"
        )
    return float(arr.reshape(()))


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


def tolerances(single, rtol, atol):
    """``(rtol, atol)``, widened to :data:`SINGLE`'s for a float32 result."""
    if single:
        return max(rtol, SINGLE["rtol"]), max(atol, SINGLE["atol"])
    return rtol, atol


def same_shape(got, shape, what):
    """``got`` has the shape ``shape``."""
    if got.shape != tuple(shape):
        raise AssertionError(f"{what} has shape {got.shape}, expected {tuple(shape)}")


def all_finite(got, what, hint=""):
    """No NaN nor infinity in ``got``."""
    bad = ~np.isfinite(got)
    if bad.any():
        first = tuple(np.argwhere(bad)[0]) if got.ndim else ()
        fail(f"{what}{where(first) if got.ndim else ''} is {fmt(got[first])}",
             f"{int(bad.sum())} of {got.size} values are NaN or infinite", hint)


def same_special(got, want, what, hint):
    """NaN and infinities: exactly where the expected values have them."""
    special = ~np.isfinite(want)
    bad = np.where(special, got != want, ~np.isfinite(got))
    if bad.any():
        first = tuple(np.argwhere(bad)[0])
        fail(f"{what}{where(first)} is {fmt(got[first])}, expected {fmt(want[first])}",
             f"{int(bad.sum())} of {got.size} values", hint)


def close(got, want, what, rtol, atol):
    """Equal up to the tolerances; infinite expected values must be met exactly."""
    special = ~np.isfinite(want)
    g = np.where(special, 0.0, got)
    w = np.where(special, 0.0, want)
    err = np.abs(g - w) - (atol + rtol * np.abs(w))
    err = np.where(special & (got != want), np.inf, err)
    if not (err > 0).any():
        return
    if got.ndim == 0:
        fail(f"{what} is {fmt(got)}, expected {fmt(want)}", f"tolerance rtol={rtol:g}")
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    fail(f"{what}{where(worst)} is {fmt(got[worst])}, expected {fmt(want[worst])}",
         f"{int((err > 0).sum())} of {got.size} values differ; rtol={rtol:g}, atol={atol:g}")


def responsibilities(tau, want, hint, rtol, atol, single_sum=None):
    """The E-step's ``tau`` against the expected (n, K) responsibilities: the
    shape, finite, within [0, 1], rows summing to 1, then close to ``want``.

    ``hint`` follows a non-finite message (the log-sum-exp advice of the
    model); ``single_sum`` widens the row-sum slack of a float32 result beyond
    :data:`SINGLE`'s where the model's log-densities make it coarser.
    """
    single = single_precision(tau)
    same_shape(tau, want.shape, "e_step: tau")
    all_finite(tau, "e_step: tau", hint)
    slack = SINGLE["sum"] if single else 1e-12
    if (tau < -slack).any() or (tau > 1 + slack).any():
        worst = np.unravel_index(int(np.argmax(np.abs(tau - 0.5))), tau.shape)
        fail(f"e_step: tau{where(worst)} is {fmt(tau[worst])}, outside [0, 1]",
             f"min {fmt(tau.min())}, max {fmt(tau.max())}")
    sums = tau.sum(axis=1)
    row = int(np.argmax(np.abs(sums - 1.0)))
    limit = (single_sum or SINGLE["sum"]) if single else DOUBLE["sum"]
    if abs(sums[row] - 1.0) > limit:
        fail(f"e_step: tau[{row}] sums to {fmt(sums[row])}, not 1",
             f"each row of tau must sum to 1; max deviation {abs(sums[row] - 1.0):.3g}")
    close(tau, want, "e_step: tau", *tolerances(single, rtol, atol))


def check_log_density(got, expected, what, hint, rtol, atol, finite=False):
    """An (n, K) array of log-densities against the expected ones: its shape,
    then its infinities where expected (or, with ``finite``, none at all; the
    ``hint`` follows either message), then closeness."""
    want = np.asarray(expected, dtype=float)
    same_shape(got, want.shape, what)
    if finite:
        all_finite(got, what, hint)
    else:
        same_special(got, want, what, hint)
    close(got, want, what, *tolerances(single_precision(got), rtol, atol))


def check_finite_number(value, expected, what, hint, rtol, atol):
    """One number (a log-likelihood): finite (else the ``hint``), then close."""
    value, want = np.float64(value), np.float64(expected)
    if not np.isfinite(value):
        fail(f"{what} is {value}, expected {fmt(want)}", "not a finite number", hint)
    close(value, want, what, *tolerances(single_precision(value), rtol, atol))


def check_trace(values, expected, single, rtol, final_atol, name="loglik",
                first="the log-likelihood at the initial parameters θ^0",
                after="the log-likelihood after {t} EM iteration(s)",
                never="EM never decreases the likelihood"):
    """The values of EM's objective at θ^0, θ^1, ... (``values``, 1-D, finite)
    against the reference run's: ``expected`` holds ``{name}_head`` (its
    first values, matched to ``rtol``), ``{name}_final`` (matched to
    ``final_atol``) and ``n_iter`` (the exact number of iterations with
    ``tol=0``, else None). No decrease beyond rounding (:data:`SINGLE` or
    :data:`DOUBLE` ``drop``, by ``single``). ``first``, ``after`` and
    ``never`` word the messages (``after`` with ``{t}``)."""
    head = np.asarray(expected[f"{name}_head"], dtype=float)
    if not np.isclose(values[0], head[0], rtol=rtol, atol=0):
        fail(f"em: {name}[0] is {fmt(values[0])}, expected {fmt(head[0])}",
             f"{name}[0] is {first}")
    for t in range(1, min(len(head), len(values))):
        if not np.isclose(values[t], head[t], rtol=rtol, atol=0):
            fail(f"em: {name}[{t}] is {fmt(values[t])}, expected {fmt(head[t])}",
                 after.format(t=t))
    drop = (SINGLE if single else DOUBLE)["drop"]
    drops = np.diff(values) < -drop * np.abs(values[:-1])
    if drops.any():
        t = int(np.argmax(drops)) + 1
        fail(f"em: {name} decreases at iteration {t} ({fmt(values[t - 1])} -> "
             f"{fmt(values[t])})", never)
    n_iter = expected.get("n_iter")
    if n_iter is not None and values.size != n_iter + 1:
        fail(f"em: len({name}) is {values.size}, expected {n_iter + 1}",
             f"with max_iter={n_iter} and tol=0, em runs exactly {n_iter} iterations")
    final = float(expected[f"{name}_final"])
    if not abs(values[-1] - final) <= final_atol:
        fail(f"em: {name}[-1] is {fmt(values[-1])}, expected {fmt(final)}",
             f"tolerance {final_atol:g}; did EM stop too early?")


def best_permutation(got, want):
    """The order of ``got``'s components (along its first axis) closest to
    ``want``'s, by the largest relative difference; the identity past K = 6."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    k = len(want)
    scale = np.maximum(np.abs(want), 1e-12)
    perms = itertools.permutations(range(k)) if k <= 6 else [tuple(range(k))]
    return min(perms, key=lambda p: float(np.max(np.abs(got[list(p)] - want) / scale)))
