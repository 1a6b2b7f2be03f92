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

Empty components: if a component receives no responsibility
(:math:`\sum_i t_{ik} = 0`), the M-step sets :math:`\pi_k = 0` and
:math:`\lambda_k = \bar x` (the sample mean, a finite placeholder). With
:math:`\pi_k = 0` the component keeps zero responsibility from then on.
A component whose members are all zeros tends to :math:`\lambda_k = 0`, the
point mass at 0; the E-step handles that limit exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln, xlogy

from . import _validation as v
from .em import EMResult, Model, run_em
from .init import check_start, multi_start

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


def _check_params(pi: object, lam: object) -> PoissonParams:
    pi = v.check_weights(pi)
    lam = v.as_float_array(lam, "lam", 1)
    v.check_length(lam, len(pi), "lam")
    if np.any(lam < 0):
        raise ValueError(f"lam must contain non-negative rates, got {lam}")
    return PoissonParams(pi, lam)


# --------------------------------------------------------------------------
# the model's computations, on distinct values with multiplicities


def _log_pmf(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    # xlogy gives 0 * log 0 = 0, so lam = 0 is the point mass at zero.
    return xlogy(x[:, None], lam[None, :]) - lam[None, :] - gammaln(x + 1.0)[:, None]


def _log_joint(x: np.ndarray, pi: np.ndarray, lam: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    return _log_pmf(x, lam) + log_pi[None, :]


def _normalise(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities and per-row log normaliser, both by log-sum-exp."""
    m = log_joint.max(axis=1, keepdims=True)
    tau = np.exp(log_joint - m)
    s = tau.sum(axis=1, keepdims=True)
    tau /= s
    return tau, (m + np.log(s))[:, 0]


def _weighted_m_step(x: np.ndarray, tau: np.ndarray, weight: np.ndarray | None) -> PoissonParams:
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
        Rates :math:`\lambda_k \ge 0` (:math:`\lambda_k = 0` is the point mass at 0).

    Returns
    -------
    ndarray of shape (n, K)
    """
    x = _check_counts(x)
    lam = v.as_float_array(lam, "lam", 1)
    if np.any(lam < 0):
        raise ValueError(f"lam must contain non-negative rates, got {lam}")
    return _log_pmf(x, lam)


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
    """
    x = _check_counts(x)
    pi, lam = _check_params(pi, lam)
    return _normalise(_log_joint(x, pi, lam))[0]


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

    Computed with log-sum-exp, so it stays finite where the densities underflow.
    """
    x = _check_counts(x)
    pi, lam = _check_params(pi, lam)
    return float(_normalise(_log_joint(x, pi, lam))[1].sum())


def sample(
    n: int, pi: object, lam: object, random_state: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` counts from the mixture; returns ``(x, z)`` with labels ``z``."""
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


def _model(values: np.ndarray, freq: np.ndarray) -> Model[PoissonParams]:
    def e(theta: PoissonParams) -> tuple[np.ndarray, float]:
        tau, log_norm = _normalise(_log_joint(values, theta.pi, theta.lam))
        return tau, float(freq @ log_norm)

    def to_vector(theta: PoissonParams) -> np.ndarray:
        return np.concatenate([theta.pi, theta.lam])

    def from_vector(vec: np.ndarray) -> PoissonParams | None:
        k = vec.size // 2
        pi, lam = vec[:k], vec[k:]
        if np.any(pi < 0) or np.any(lam < 0) or not np.all(np.isfinite(vec)):
            return None
        return PoissonParams(pi / pi.sum(), lam)

    return Model(
        e_step=e,
        m_step=lambda tau: _weighted_m_step(values, tau, freq),
        to_vector=to_vector,
        from_vector=from_vector,
    )


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

    Either give a start ``(pi0, lam0)`` — :math:`\theta^0` — or give
    ``n_components`` and let ``fit`` choose ``n_init`` starts (see
    :mod:`solutions.init`) and keep the best run.

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.
    pi0, lam0 : array_like of shape (K,), optional
        Initial weights :math:`\pi^0` and rates :math:`\lambda^0`.
    n_components : int, optional
        :math:`K`, when no start is given.
    n_init : int
        Number of starts when ``n_components`` is given; the run with the
        highest final log-likelihood is returned.
    init : {"kmeans++", "random"}
        How starts are drawn.
    random_state : int or Generator, optional
        Seed for the starts.
    max_iter : int
        Maximum number of EM iterations (SQUAREM cycles when accelerated).
    tol : float
        Relative change of the log-likelihood below which EM stops.
    accelerate : bool
        Use SQUAREM (Varadhan & Roland 2008); the trace stays non-decreasing.

    Returns
    -------
    EMResult
        ``params`` is a :class:`PoissonParams`; ``tau`` the (n, K)
        responsibilities at the final parameters.

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
    v.check_max_iter_tol(max_iter, tol)
    values, freq, index = _compress(x)

    def expand(tau_distinct: np.ndarray):
        return lambda: tau_distinct[index]

    model = _model(values, freq)

    def run(theta0: PoissonParams) -> EMResult[PoissonParams]:
        return run_em(
            model,
            theta0,
            max_iter=max_iter,
            tol=tol,
            accelerate=accelerate,
            tau_transform=expand,
        )

    if check_start((pi0, lam0), n_components, n_init, init):
        theta0 = _check_params(pi0, lam0)
        v.check_n_components(x.size, len(theta0.pi))
        return run(theta0)

    v.check_n_components(x.size, n_components)
    return multi_start(
        values[:, None],
        n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        start_from=lambda tau0: _weighted_m_step(values, tau0, freq),
        run=run,
        sample_weight=freq,
    )
