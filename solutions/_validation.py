"""Input checks shared by the models: each raises a ValueError naming the problem.

Nothing is clipped or repaired here: bad input is refused with a message that
says which argument is wrong and why.
"""

from __future__ import annotations

import numpy as np

WEIGHT_SUM_RTOL = 1e-8


def as_float_array(a: object, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """``a`` as a float64 array with the expected number of dimensions, all finite."""
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        want = " or ".join(str(d) for d in allowed)
        raise ValueError(f"{name} must be {want}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    check_finite(arr, name)
    return arr


def has_real_dtype(arr: np.ndarray) -> bool:
    """Whether ``arr`` holds integers or floats (bool, complex, strings, objects: no)."""
    return bool(np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = "NaN" if np.isnan(arr).any() else "infinite values"
        raise ValueError(f"{name} contains {bad}")


def check_weights(pi: object, name: str = "pi") -> np.ndarray:
    """Mixing proportions: 1-D, non-negative, summing to 1."""
    pi = as_float_array(pi, name, 1)
    if np.any(pi < 0):
        raise ValueError(f"{name} has negative weights: {pi}")
    total = pi.sum()
    if abs(total - 1.0) > WEIGHT_SUM_RTOL * len(pi) ** 0.5 + 1e-12:
        raise ValueError(f"{name} must sum to 1, sums to {total!r}")
    return pi


def _is_integral(value: object) -> bool:
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def check_integer(value: object, name: str, minimum: int = 0) -> int:
    """``value`` as an int: an integer (or an integral float) of at least ``minimum``."""
    if isinstance(value, bool) or not _is_integral(value) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_n_components(n_samples: int, n_components: object) -> int:
    if isinstance(n_components, bool) or not _is_integral(n_components):
        raise ValueError(f"n_components must be an integer, got {n_components!r}")
    if n_components < 1:
        raise ValueError(f"need at least one component, got {n_components}")
    if n_components > n_samples:
        raise ValueError(f"more components ({n_components}) than samples ({n_samples})")
    return int(n_components)


def check_length(arr: np.ndarray, k: int, name: str, pi_name: str = "pi") -> None:
    if arr.shape[0] != k:
        raise ValueError(f"{name} has {arr.shape[0]} components but {pi_name} has {k}")


def check_responsibilities(tau: object, n_samples: int) -> np.ndarray:
    """Responsibilities: (n, K), entries in [0, 1], rows summing to 1."""
    tau = as_float_array(tau, "tau", 2)
    if tau.shape[0] != n_samples:
        raise ValueError(f"tau has {tau.shape[0]} rows but the data has {n_samples} samples")
    if np.any(tau < 0) or np.any(tau > 1):
        raise ValueError("tau must have entries in [0, 1]")
    if not np.allclose(tau.sum(axis=1), 1.0, rtol=0, atol=1e-6):
        raise ValueError("each row of tau must sum to 1")
    return tau


def check_max_iter_tol(max_iter: object, tol: object) -> tuple[int, float]:
    """The EM loop's options: ``max_iter`` an integer >= 0, ``tol`` a finite number >= 0.

    The one rule for every ``fit`` and for :func:`solutions.em.run_em`.
    """
    max_iter = check_integer(max_iter, "max_iter", 0)
    try:
        tol_value = float(tol)
    except (TypeError, ValueError):
        tol_value = float("nan")
    if isinstance(tol, bool) or not (np.isfinite(tol_value) and tol_value >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return max_iter, tol_value
