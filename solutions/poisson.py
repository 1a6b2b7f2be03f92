r"""Mixture of univariate Poisson distributions.

Model: :math:`z_i \sim \mathrm{Cat}(\pi)`, :math:`x_i \mid z_i = k \sim
\mathrm{Poisson}(\lambda_k)`, so

.. math::

    p(x_i \mid \theta) = \sum_{k=1}^K \pi_k \, \frac{\lambda_k^{x_i} e^{-\lambda_k}}{x_i!},
    \qquad \theta = (\pi_1, \dots, \pi_K, \lambda_1, \dots, \lambda_K).

EM updates from :math:`\theta^q`:

* E-step: :math:`t_{ik}^q = \dfrac{\pi_k^q\, p(x_i \mid \lambda_k^q)}
  {\sum_l \pi_l^q\, p(x_i \mid \lambda_l^q)}`, computed in log space;
* M-step: :math:`\pi_k^{q+1} = \frac{1}{n}\sum_i t_{ik}^q`,
  :math:`\lambda_k^{q+1} = \dfrac{\sum_i t_{ik}^q x_i}{\sum_i t_{ik}^q}`.

:func:`fit` works on the distinct counts :math:`u_1 < \dots < u_m` and their
multiplicities :math:`c_j`: every sum over :math:`i` becomes a weighted sum over
:math:`j`, which is exact and makes each iteration cost :math:`O(mK)` instead
of :math:`O(nK)`.

Rates :math:`\lambda_k \ge 0`. A rate :math:`\lambda_k = 0` is the point mass
at 0: :math:`\log p(0 \mid 0) = 0` and :math:`\log p(x \mid 0) = -\infty` for
:math:`x > 0` (``xlogy`` gives :math:`0 \log 0 = 0`). The M-step returns it for
a component whose members are all zeros, and the E-step and the
log-likelihood handle its :math:`-\infty` entries exactly. A count
:math:`x_i > 0` that every component with :math:`\pi_k > 0` gives probability
0 has log-likelihood :math:`-\infty` and undefined responsibilities
(:func:`e_step` raises).

Empty components: if a component receives no responsibility
(:math:`\sum_i t_{ik} = 0`), the M-step sets :math:`\pi_k = 0` and
:math:`\lambda_k = \bar x` (the sample mean, a finite placeholder). With
:math:`\pi_k = 0` the component keeps zero responsibility from then on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln, xlogy

from . import _validation as v
from . import em
from .em import EMResult, Model

__all__ = [
    "PoissonParams",
    "e_step",
    "fit",
    "log_likelihood",
    "log_poisson_pmf",
    "m_step",
    "sample",
]


class PoissonParams(NamedTuple):
    """Parameters of a Poisson mixture: weights ``pi`` (K,), rates ``lam`` (K,)."""

    pi: np.ndarray
    lam: np.ndarray


# --------------------------------------------------------------------------
# validation


def _check_counts(x: object) -> np.ndarray:
    """Counts: 1-D, finite, non-negative integers (any numeric dtype)."""
    arr = np.asarray(x)
    if arr.dtype == bool or not v.has_real_dtype(arr):
        raise ValueError(f"x must be an array of counts, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"x must be 1-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("x is empty")
    if np.issubdtype(arr.dtype, np.floating):
        v.check_finite(arr, "x")
        if np.any(arr != np.floor(arr)):
            raise ValueError("x must contain integer counts (found non-integer values)")
    if np.any(arr < 0):
        raise ValueError("x must contain non-negative counts (found negative values)")
    return arr.astype(float, copy=False)


def _check_rates(lam: object) -> np.ndarray:
    """Rates: 1-D, finite, >= 0 (0 is the point mass at 0)."""
    lam = v.as_float_array(lam, "lam", 1)
    if np.any(lam < 0):
        raise ValueError(f"lam must contain non-negative rates, got {lam}")
    return lam


def _check_params(pi: object, lam: object) -> PoissonParams:
    pi = v.check_weights(pi)
    lam = _check_rates(lam)
    v.check_length(lam, len(pi), "lam")
    return PoissonParams(pi, lam)


# --------------------------------------------------------------------------
# the model's computations, on distinct values with multiplicities


def _log_pmf(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """(n, K) log p(x_i | lam_k); xlogy gives 0 log 0 = 0, so lam_k = 0 is the point mass at 0."""
    with np.errstate(divide="ignore"):  # log 0 = -inf for x > 0 and lam = 0
        return xlogy(x[:, None], lam[None, :]) - lam[None, :] - gammaln(x + 1.0)[:, None]


def _e_pass(x: np.ndarray, pi: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E-step: t_ik (n, K) and log p(x_i | theta) (n,)."""
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    log_joint = _log_pmf(x, lam)
    log_joint += log_pi[None, :]
    return em.responsibilities(log_joint)


_IMPOSSIBLE = "a count > 0 where every component with pi_k > 0 has rate lam_k = 0"


def _weighted_m_step(x: np.ndarray, tau: np.ndarray, weight: np.ndarray | None) -> PoissonParams:
    """M-step on values ``x`` each standing for ``weight`` samples (1 if None)."""
    wtau = tau if weight is None else tau * weight[:, None]
    n = x.shape[0] if weight is None else weight.sum()
    nk = wtau.sum(axis=0)
    sx = x @ wtau
    empty = nk <= 0
    lam = np.where(empty, sx.sum() / n, sx / np.where(empty, 1.0, nk))
    return PoissonParams(nk / n, lam)


# --------------------------------------------------------------------------
# public API


def log_poisson_pmf(x: object, lam: object) -> np.ndarray:
    r"""Log-probabilities :math:`\log p(x_i \mid \lambda_k) = x_i \log\lambda_k - \lambda_k - \log x_i!`.

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.
    lam : array_like of shape (K,)
        Rates :math:`\lambda_k \ge 0`.

    Returns
    -------
    ndarray of shape (n, K)
        :math:`-\infty` where :math:`\lambda_k = 0` and :math:`x_i > 0`
        (:math:`\log p(0 \mid 0) = 0`).
    """
    x = _check_counts(x)
    return _log_pmf(x, _check_rates(lam))


def e_step(x: object, pi: object, lam: object) -> np.ndarray:
    r"""Responsibilities :math:`t_{ik} = p(z_i = k \mid x_i, \theta)`.

    .. math::

        t_{ik} = \frac{\pi_k\, p(x_i \mid \lambda_k)}{\sum_{l} \pi_l\, p(x_i \mid \lambda_l)}
               = \exp\Big(\log \pi_k + \log p(x_i \mid \lambda_k)
                 - \operatorname{logsumexp}_l\big[\log \pi_l + \log p(x_i \mid \lambda_l)\big]\Big)

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.
    pi : array_like of shape (K,)
        Mixing proportions :math:`\pi_k` (non-negative, summing to 1).
    lam : array_like of shape (K,)
        Rates :math:`\lambda_k \ge 0`.

    Returns
    -------
    tau : ndarray of shape (n, K)
        Rows sum to 1, finite even when every :math:`p(x_i \mid \lambda_k)`
        underflows (e.g. :math:`x_i = 1000`, :math:`\lambda_k = 0.5`).

    Raises
    ------
    ValueError
        Besides bad input, when some count :math:`x_i > 0` has probability 0
        under every component (all those with :math:`\pi_k > 0` have
        :math:`\lambda_k = 0`): its responsibilities are undefined.
    """
    x = _check_counts(x)
    pi, lam = _check_params(pi, lam)
    tau, log_norm = _e_pass(x, pi, lam)
    em.raise_if_impossible(log_norm, _IMPOSSIBLE)
    return tau


def m_step(x: object, tau: object) -> PoissonParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)` given responsibilities :math:`t_{ik}`.

    .. math::

        \pi_k = \frac{1}{n} \sum_{i=1}^n t_{ik}, \qquad
        \lambda_k = \frac{\sum_{i} t_{ik}\, x_i}{\sum_{i} t_{ik}}

    A component with :math:`\sum_i t_{ik} = 0` gets :math:`\pi_k = 0` and
    :math:`\lambda_k = \bar x`.

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.
    tau : array_like of shape (n, K)
        Responsibilities (entries in [0, 1], rows summing to 1).

    Returns
    -------
    PoissonParams
        ``(pi, lam)``, each of shape (K,).
    """
    x = _check_counts(x)
    tau = v.check_responsibilities(tau, len(x))
    return _weighted_m_step(x, tau, None)


def log_likelihood(x: object, pi: object, lam: object) -> float:
    r"""Observed-data log-likelihood :math:`\sum_i \log \sum_k \pi_k\, p(x_i \mid \lambda_k)`.

    Computed with log-sum-exp, so it stays finite where the densities underflow;
    :math:`-\infty` when some count :math:`x_i > 0` has probability 0 under every
    component (all those with :math:`\pi_k > 0` have :math:`\lambda_k = 0`).
    """
    x = _check_counts(x)
    pi, lam = _check_params(pi, lam)
    return float(_e_pass(x, pi, lam)[1].sum())


def sample(
    n: int, pi: object, lam: object, random_state: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` counts from the mixture; returns ``(x, z)`` with labels ``z``."""
    n = v.check_integer(n, "n", 0)
    pi, lam = _check_params(pi, lam)
    rng = np.random.default_rng(random_state)
    z = rng.choice(len(pi), size=n, p=pi)
    return rng.poisson(lam[z]), z


def _compress(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct counts, their multiplicities, and the index of each sample's count."""
    top = int(x.max())
    if top <= 4 * x.size + 1_000_000:
        # Counting sort: O(n), much faster than np.unique's O(n log n).
        xi = x.astype(np.int64)
        freq = np.bincount(xi)
        values = np.flatnonzero(freq)
        position = np.zeros(top + 1, dtype=np.int64)
        position[values] = np.arange(values.size)
        return values.astype(float), freq[values].astype(float), position[xi]
    values, inverse, freq = np.unique(x, return_inverse=True, return_counts=True)
    return values, freq.astype(float), inverse


def _model(
    values: np.ndarray, freq: np.ndarray, index: np.ndarray | None = None
) -> Model[PoissonParams]:
    """The model on the distinct counts ``values`` with multiplicities ``freq``.

    ``index``: the position in ``values`` of each sample's count.
    """

    def e(theta: PoissonParams) -> tuple[np.ndarray, float]:
        tau, log_norm = _e_pass(values, theta.pi, theta.lam)
        bad = np.isneginf(log_norm)
        if bad.any():  # rows are distinct counts: name the count, not a row
            raise ValueError(
                f"the count {values[bad][0]:g} has zero probability under every component "
                f"({freq[bad].sum():g} such samples): {_IMPOSSIBLE}"
            )
        return tau, float(freq @ log_norm)

    return Model(
        e_step=e,
        m_step=lambda tau: _weighted_m_step(values, tau, freq),
        feasible=lambda theta: bool(np.all(theta.lam >= 0)),
        rows=values[:, None],
        weights=freq,
        row_of_sample=index,
    )


@em.shared_doc
def fit(
    x: object,
    pi0: object | None = None,
    lam0: object | None = None,
    *,
    n_components: int | None = None,
    n_init: int = 1,
    init: str = "kmeans++",
    random_state: int | np.random.Generator | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
) -> EMResult[PoissonParams]:
    r"""Fit a Poisson mixture by EM.

    {start}

    EM runs on the distinct counts and their multiplicities (see the module
    notes); the objective is the log-likelihood.

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.
    pi0, lam0 : array_like of shape (K,), optional
        Initial weights :math:`\pi^0` and rates :math:`\lambda^0 \ge 0`.
    {start_options}
    {accelerate}

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> from solutions import poisson
    >>> x = np.repeat(np.arange(10), [162, 267, 271, 185, 111, 61, 27, 8, 3, 1])
    >>> res = poisson.fit(x, [0.3, 0.7], [1.0, 2.5], accelerate=True)
    >>> round(res.loglik[-1], 3)
    -1989.946
    """
    x = _check_counts(x)
    return em.fit(
        lambda: _model(*_compress(x)),
        (pi0, lam0),
        _check_params,
        n_components=n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        max_iter=max_iter,
        tol=tol,
        accelerate=accelerate,
    )
