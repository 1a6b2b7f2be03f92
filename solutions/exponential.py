r"""Mixture of exponential distributions (the running example of the EM chapter).

Model: :math:`z_i \sim \mathrm{Cat}(\pi)`, :math:`x_i \mid z_i = k \sim
\mathrm{Exp}(\lambda_k)` with rate :math:`\lambda_k > 0` (mean
:math:`1/\lambda_k`), so

.. math::

    p(x_i \mid \theta) = \sum_{k=1}^K \pi_k \, \lambda_k e^{-\lambda_k x_i},
    \qquad x_i \ge 0 .

EM updates from :math:`\theta^q`:

* E-step: :math:`t_{ik}^q = \dfrac{\pi_k^q\, p_k(x_i \mid \lambda_k^q)}
  {\sum_l \pi_l^q\, p_l(x_i \mid \lambda_l^q)}`, computed in log space;
* M-step: :math:`\pi_k^{q+1} = \frac{1}{n}\sum_i t_{ik}^q` and
  :math:`\lambda_k^{q+1} = \dfrac{\sum_i t_{ik}^q}{\sum_i t_{ik}^q x_i}`,
  the reciprocal of the responsibility-weighted mean.

This model is not one of the course's assignments: the book uses it to show
the algorithm without giving away the exercises' formulas.

Empty components: a component with :math:`\sum_i t_{ik} = 0` gets
:math:`\pi_k = 0` and :math:`\lambda_k = 1 / \bar x` (a finite placeholder).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import em
from .em import EMResult, Model

__all__ = [
    "ExponentialParams",
    "e_step",
    "fit",
    "log_likelihood",
    "m_step",
    "sample",
]


class ExponentialParams(NamedTuple):
    """Parameters of an exponential mixture: weights ``pi`` (K,), rates ``lam`` (K,)."""

    pi: np.ndarray
    lam: np.ndarray


def _check_x(x: object) -> np.ndarray:
    """Data: 1-D, finite, non-negative, not all zero."""
    arr = np.asarray(x)
    if arr.dtype == bool or not v.has_real_dtype(arr):
        raise ValueError(f"x must be an array of non-negative numbers, got dtype {arr.dtype}")
    arr = v.as_float_array(arr, "x", 1)
    if np.any(arr < 0):
        raise ValueError("x must be non-negative (found negative values)")
    if not np.any(arr > 0):
        raise ValueError("x must contain a positive value (all values are 0)")
    return arr


def _check_params(pi: object, lam: object) -> ExponentialParams:
    pi = v.check_weights(pi)
    lam = v.as_float_array(lam, "lam", 1)
    v.check_length(lam, len(pi), "lam")
    if np.any(lam <= 0):
        raise ValueError(f"lam must contain positive rates, got {lam}")
    return ExponentialParams(pi, lam)


def _log_joint(x: np.ndarray, theta: ExponentialParams) -> np.ndarray:
    """log(pi_k p_k(x_i)), shape (n, K); log 0 = -inf for an empty component."""
    with np.errstate(divide="ignore"):
        log_pi = np.log(theta.pi)
    return log_pi + np.log(theta.lam) - np.outer(x, theta.lam)


def _m_step(x: np.ndarray, tau: np.ndarray) -> ExponentialParams:
    nk = tau.sum(axis=0)
    sx = x @ tau
    # A component whose weight sits on x = 0 only would get an infinite rate;
    # like an empty one, it gets the placeholder 1 / mean(x).
    empty = (nk <= 0) | (sx <= 0)
    lam = np.where(empty, x.size / x.sum(), nk / np.where(empty, 1.0, sx))
    return ExponentialParams(nk / x.size, lam)


def e_step(x: object, pi: object, lam: object) -> np.ndarray:
    r"""Responsibilities :math:`t_{ik} = p(z_i = k \mid x_i, \theta)`, shape (n, K).

    .. math::

        t_{ik} = \frac{\pi_k \lambda_k e^{-\lambda_k x_i}}
                      {\sum_l \pi_l \lambda_l e^{-\lambda_l x_i}},

    computed by log-sum-exp, so rows stay finite when every density underflows.
    """
    x = _check_x(x)
    return em.responsibilities(_log_joint(x, _check_params(pi, lam)))[0]


def m_step(x: object, tau: object) -> ExponentialParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)` given responsibilities :math:`t_{ik}`.

    .. math::

        \pi_k = \frac{1}{n} \sum_{i=1}^n t_{ik}, \qquad
        \lambda_k = \frac{\sum_i t_{ik}}{\sum_i t_{ik}\, x_i}
    """
    x = _check_x(x)
    return _m_step(x, v.check_responsibilities(tau, len(x)))


def log_likelihood(x: object, pi: object, lam: object) -> float:
    r""":math:`\ell(\theta) = \sum_i \log \sum_k \pi_k \lambda_k e^{-\lambda_k x_i}`."""
    x = _check_x(x)
    return float(em.responsibilities(_log_joint(x, _check_params(pi, lam)))[1].sum())


def sample(
    n: int, pi: object, lam: object, random_state: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` values from the mixture; returns ``(x, z)`` with labels ``z``."""
    pi, lam = _check_params(pi, lam)
    n = v.check_integer(n, "n", 0)
    rng = np.random.default_rng(random_state)
    z = rng.choice(len(pi), size=n, p=pi)
    return rng.exponential(1.0 / lam[z]), z


def _model(x: np.ndarray) -> Model[ExponentialParams]:
    def e(theta: ExponentialParams) -> tuple[np.ndarray, float]:
        tau, log_norm = em.responsibilities(_log_joint(x, theta))
        return tau, float(log_norm.sum())

    return Model(
        e_step=e,
        m_step=lambda tau: _m_step(x, tau),
        feasible=lambda theta: bool(np.all(theta.lam > 0)),
        rows=x[:, None],
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
) -> EMResult[ExponentialParams]:
    r"""Fit a mixture of exponential distributions by EM.

    {start}

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative values, not all 0.
    pi0, lam0 : array_like of shape (K,), optional
        Initial weights :math:`\pi^0` and rates :math:`\lambda^0 > 0`.
    {start_options}
    {accelerate}

    Returns
    -------
    {returns}
    """
    x = _check_x(x)
    return em.fit(
        lambda: _model(x),
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
