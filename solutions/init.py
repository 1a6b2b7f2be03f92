r"""Starting points for EM when the user does not give one.

EM only climbs to a local maximum of the likelihood, so where it starts
matters. Every model's ``fit`` accepts ``n_components=K`` instead of initial
parameters and then

1. draws ``n_init`` starting partitions of the data, either

   * ``init="kmeans++"`` (default): :math:`K` seeds chosen by k-means++
     (Arthur & Vassilvitskii 2007) — the first uniformly, each next one with
     probability proportional to the squared distance to the nearest seed
     already chosen — and every sample assigned to its nearest seed; or
   * ``init="random"``: responsibilities :math:`t_{ik}` drawn from a flat
     Dirichlet distribution for each sample;

2. turns each partition into parameters :math:`\theta^0` with one M-step,
3. runs EM from each :math:`\theta^0` and keeps the run with the highest final
   objective (log-likelihood).

Seeding is reproducible through ``random_state``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import _validation as v

if TYPE_CHECKING:  # em imports this module
    from .em import EMResult

__all__ = [
    "INITS",
    "best_of",
    "initial_responsibilities",
    "kmeans_plusplus",
    "multi_start",
    "uses_given_start",
]

INITS = ("kmeans++", "random")


def kmeans_plusplus(
    X: np.ndarray,
    n_components: int,
    rng: np.random.Generator,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of ``n_components`` k-means++ seeds among the rows of ``X``.

    ``sample_weight`` lets a row stand for several identical samples (the
    Poisson fit works on distinct counts with their multiplicities).
    """
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    seeds = [rng.choice(n, p=w / w.sum())]
    closest = np.sum((X - X[seeds[0]]) ** 2, axis=1)
    for _ in range(1, n_components):
        p = w * closest
        total = p.sum()
        # Every row coincides with a seed (fewer distinct points than
        # components): any row will do; the duplicate seed's component starts
        # empty and the M-step gives it weight 0.
        if total <= 0:
            p, total = w, w.sum()
        seeds.append(rng.choice(n, p=p / total))
        closest = np.minimum(closest, np.sum((X - X[seeds[-1]]) ** 2, axis=1))
    return np.asarray(seeds)


def initial_responsibilities(
    X: np.ndarray,
    n_components: int,
    init: str,
    rng: np.random.Generator,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Starting responsibilities (n, K): a hard k-means++ partition or random."""
    n = X.shape[0]
    if init == "kmeans++":
        centres = X[kmeans_plusplus(X, n_components, rng, sample_weight)]
        d2 = (
            np.sum(X**2, axis=1)[:, None]
            - 2.0 * X @ centres.T
            + np.sum(centres**2, axis=1)[None, :]
        )
        tau = np.zeros((n, n_components))
        tau[np.arange(n), np.argmin(d2, axis=1)] = 1.0
        return tau
    if init == "random":
        return rng.dirichlet(np.ones(n_components), size=n)
    raise ValueError(f"init must be one of {INITS}, got {init!r}")


def best_of(runs: list[Callable[[], EMResult]]) -> EMResult:
    """Run every candidate and keep the one with the highest final objective."""
    best = None
    for run in runs:
        result = run()
        if best is None or result.objective[-1] > best.objective[-1]:
            best = result
    return best


def multi_start(
    X: np.ndarray,
    n_components: int,
    *,
    n_init: int,
    init: str,
    random_state: int | np.random.Generator | None,
    start_from: Callable[[np.ndarray], tuple],
    run: Callable[[tuple], EMResult],
    sample_weight: np.ndarray | None = None,
) -> EMResult:
    """Draw ``n_init`` starts, run EM from each, keep the best run.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The rows the starting partitions are drawn on.
    n_components : int
        :math:`K`.
    n_init, init, random_state
        As in every model's ``fit``.
    start_from : callable
        Turns starting responsibilities (n, K) into parameters
        :math:`\theta^0` (the model's M-step).
    run : callable
        Runs EM from :math:`\theta^0`.
    sample_weight : ndarray of shape (n,), optional
        Multiplicity of each row (k-means++ seeding only).
    """
    rng = np.random.default_rng(random_state)
    starts = [
        start_from(initial_responsibilities(X, n_components, init, rng, sample_weight))
        for _ in range(n_init)
    ]
    return best_of([lambda t=t: run(t) for t in starts])


def uses_given_start(
    start: Sequence[object | None], n_components: int | None, n_init: int, init: str
) -> bool:
    """Whether ``fit`` starts from the user's parameters (True) or draws its starts (False).

    Validates the combination: all of ``start`` given (then ``n_init`` is 1
    and ``n_components``, if given, agrees), or none of it and
    ``n_components``, a positive ``n_init`` and a known ``init``.
    """
    have = [g is not None for g in start]
    if all(have):
        if n_components is not None and n_components != len(np.atleast_1d(start[0])):
            raise ValueError(
                f"n_components={n_components} disagrees with the "
                f"{len(np.atleast_1d(start[0]))} initial weights"
            )
        if n_init != 1:
            raise ValueError("n_init > 1 needs n_components, not initial parameters")
        return True
    if any(have):
        raise ValueError("give all initial parameters or none (and n_components)")
    if n_components is None:
        raise ValueError("give initial parameters or n_components")
    v.check_integer(n_init, "n_init", 1)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    return False
