r"""Mixture of univariate Gaussians with a variance floor (the course's 1-D assignment).

Model: :math:`z_i \sim \mathrm{Cat}(\pi)`, :math:`x_i \mid z_i = k \sim
\mathcal N(\mu_k, \sigma_k^2)`, so

.. math::

    p(x_i \mid \theta) = \sum_{k=1}^K \pi_k\, p_k(x_i), \qquad
    \log p_k(x_i) = -\tfrac12 \log(2\pi\sigma_k^2) - \frac{(x_i - \mu_k)^2}{2\sigma_k^2}.

EM updates from :math:`\theta^q`, with :math:`n_k = \sum_i t_{ik}^q`:

* E-step: :math:`t_{ik}^q = \pi_k^q p_k^q(x_i) / \sum_l \pi_l^q p_l^q(x_i)`,
  by log-sum-exp (:func:`solutions.em.normalise_log_joint`);
* M-step: :math:`\pi_k^{q+1} = n_k / n`,
  :math:`\mu_k^{q+1} = \frac{1}{n_k}\sum_i t_{ik}^q x_i` and

  .. math::

      \sigma_k^{2,\,q+1} = \max\big(S_k, \varepsilon\big), \qquad
      S_k = \frac{1}{n_k} \sum_i t_{ik}^q (x_i - \mu_k^{q+1})^2,

  where :math:`\varepsilon` is ``var_floor``.

**Why a floor, not** :math:`S_k + \varepsilon` (``reg_covar`` of
:mod:`solutions.gaussian` and scikit-learn). For fixed :math:`\mu_k`,
:math:`Q_k(v) = -\tfrac{n_k}{2}\log(2\pi v) - \tfrac{n_k S_k}{2v}` increases on
:math:`(0, S_k]` and decreases after, so its maximiser over :math:`v \ge
\varepsilon` is :math:`\max(S_k, \varepsilon)`: the floor is the exact M-step of
the constrained problem :math:`\sigma_k^2 \ge \varepsilon`, on which the
likelihood is bounded, and EM then never decreases it. Adding
:math:`\varepsilon` maximises nothing; it changes every variance. The two agree
to :math:`\varepsilon / S_k` when :math:`S_k \gg \varepsilon`.

This module reuses :mod:`solutions.gaussian`'s conventions (``mu``, ``var`` of
shape (K,)) but none of its code: its M-step adds ``reg_covar``.

Empty components (:math:`n_k = 0`) get :math:`\pi_k = 0` and, as a finite
placeholder, the data mean and :math:`\max(\text{data variance}, \varepsilon)`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import em
from .em import EMResult, Model

__all__ = [
    "VAR_FLOOR",
    "Gaussian1DParams",
    "e_step",
    "fit",
    "log_likelihood",
    "log_normal_pdf",
    "m_step",
    "sample",
]

#: The default floor :math:`\varepsilon` on every variance.
VAR_FLOOR = 1e-6
_LOG_2PI = math.log(2.0 * math.pi)
_TINY = np.finfo(float).tiny


class Gaussian1DParams(NamedTuple):
    """Weights ``pi`` (K,), means ``mu`` (K,), variances ``var`` (K,)."""

    pi: np.ndarray
    mu: np.ndarray
    var: np.ndarray


def _check_x(x: object) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == bool or not v.has_real_dtype(arr):
        raise ValueError(f"x must be an array of real numbers, got dtype {arr.dtype}")
    return v.as_float_array(arr, "x", 1)


def _check_floor(var_floor: object) -> float:
    try:
        value = float(var_floor)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(var_floor, bool) or not (np.isfinite(value) and value >= 0):
        raise ValueError(f"var_floor must be a finite number >= 0, got {var_floor!r}")
    return value


def _check_params(pi: object, mu: object, var: object) -> Gaussian1DParams:
    pi = v.check_weights(pi)
    mu = v.as_float_array(mu, "mu", 1)
    var = v.as_float_array(var, "var", 1)
    v.check_length(mu, len(pi), "mu")
    v.check_length(var, len(pi), "var")
    if np.any(var <= 0):
        raise ValueError(f"var must contain positive variances, got {var}")
    return Gaussian1DParams(pi, mu, var)


def _log_pdf(x: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    # From x - mu directly: expanding (x - mu)^2 = x^2 - 2 x mu + mu^2 cancels
    # away every digit for a narrow component far from 0.
    return -0.5 * (_LOG_2PI + np.log(var)) - np.square(x[:, None] - mu) / (2.0 * var)


def _log_joint(x: np.ndarray, theta: Gaussian1DParams) -> np.ndarray:
    """:math:`\\log \\pi_k + \\log p_k(x_i)`, shape (n, K); :math:`-\\infty` where π_k = 0."""
    with np.errstate(divide="ignore"):
        log_pi = np.log(theta.pi)
    return log_pi + _log_pdf(x, theta.mu, theta.var)


def _m_step(x: np.ndarray, tau: np.ndarray, var_floor: float) -> Gaussian1DParams:
    nk = tau.sum(axis=0)
    empty = nk < _TINY
    safe = np.where(empty, 1.0, nk)
    mu = np.where(empty, x.mean(), (x @ tau) / safe)
    # About each component's own mean, not E[x^2] - mu^2, which cancels
    # when the data sit far from 0 relative to their spread.
    s = np.einsum("ik,ik->k", tau, np.square(x[:, None] - mu)) / safe
    s = np.where(empty, x.var(), s)
    pi = np.where(empty, 0.0, nk)
    return Gaussian1DParams(pi / pi.sum(), mu, np.maximum(s, var_floor))


def log_normal_pdf(x: object, mu: object, var: object) -> np.ndarray:
    r""":math:`\log p(x_i \mid \mu_k, \sigma_k^2)`, shape (n, K).

    .. math::

        \log p(x_i \mid \mu_k, \sigma_k^2) = -\tfrac12 \log(2\pi\sigma_k^2)
            - \frac{(x_i - \mu_k)^2}{2\sigma_k^2}

    Parameters
    ----------
    x : array_like of shape (n,)
    mu, var : array_like of shape (K,)
        Means and positive variances :math:`\sigma_k^2`.
    """
    x = _check_x(x)
    mu = v.as_float_array(mu, "mu", 1)
    var = v.as_float_array(var, "var", 1)
    v.check_length(var, len(mu), "var", "mu")
    if np.any(var <= 0):
        raise ValueError(f"var must contain positive variances, got {var}")
    return _log_pdf(x, mu, var)


def e_step(x: object, pi: object, mu: object, var: object) -> np.ndarray:
    r"""Responsibilities :math:`t_{ik} = \pi_k p_k(x_i) / \sum_l \pi_l p_l(x_i)`, shape (n, K).

    Computed by log-sum-exp: rows stay finite when every :math:`\pi_k p_k(x_i)`
    underflows, and a weight :math:`\pi_k = 0` gives :math:`t_{ik} = 0`.
    """
    x = _check_x(x)
    return em.responsibilities(_log_joint(x, _check_params(pi, mu, var)))[0]


def m_step(x: object, tau: object, var_floor: float = VAR_FLOOR) -> Gaussian1DParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)` under :math:`\sigma_k^2 \ge \varepsilon`.

    .. math::

        \pi_k = \frac{n_k}{n}, \quad
        \mu_k = \frac{1}{n_k}\sum_i t_{ik} x_i, \quad
        \sigma_k^2 = \max\Big(\frac{1}{n_k}\sum_i t_{ik}(x_i - \mu_k)^2,\ \varepsilon\Big)

    Parameters
    ----------
    x : array_like of shape (n,)
    tau : array_like of shape (n, K)
        Responsibilities :math:`t_{ik}` (rows sum to 1).
    var_floor : float
        :math:`\varepsilon \ge 0`, the smallest variance allowed.
    """
    x = _check_x(x)
    return _m_step(x, v.check_responsibilities(tau, len(x)), _check_floor(var_floor))


def log_likelihood(x: object, pi: object, mu: object, var: object) -> float:
    r""":math:`\ell(\theta) = \sum_i \log \sum_k \pi_k p_k(x_i)`, by log-sum-exp."""
    x = _check_x(x)
    return float(em.responsibilities(_log_joint(x, _check_params(pi, mu, var)))[1].sum())


def sample(
    n: int,
    pi: object,
    mu: object,
    var: object,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` values from the mixture; returns ``(x, z)`` with labels ``z``."""
    pi, mu, var = _check_params(pi, mu, var)
    n = v.check_integer(n, "n", 0)
    rng = np.random.default_rng(random_state)
    z = rng.choice(len(pi), size=n, p=pi)
    return rng.normal(mu[z], np.sqrt(var[z])), z


def _model(x: np.ndarray, var_floor: float) -> Model[Gaussian1DParams]:
    def e(theta: Gaussian1DParams) -> tuple[np.ndarray, float]:
        if np.any(theta.var <= 0):
            k = int(np.argmin(theta.var))
            raise ValueError(
                f"component {k} collapsed: variance {theta.var[k]!r} (use var_floor > 0)"
            )
        tau, log_norm = em.responsibilities(_log_joint(x, theta))
        return tau, float(log_norm.sum())

    return Model(
        e_step=e,
        m_step=lambda tau: _m_step(x, tau, var_floor),
        feasible=lambda theta: bool(np.all(theta.var >= var_floor) and np.all(theta.var > 0)),
        rows=x[:, None],
    )


@em.shared_doc
def fit(
    x: object,
    pi0: object | None = None,
    mu0: object | None = None,
    var0: object | None = None,
    *,
    var_floor: float = VAR_FLOOR,
    n_components: int | None = None,
    n_init: int = 1,
    init: str = "kmeans++",
    random_state: int | np.random.Generator | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
) -> EMResult[Gaussian1DParams]:
    r"""Fit a mixture of univariate Gaussians by EM, every variance at least ``var_floor``.

    {start}

    Parameters
    ----------
    x : array_like of shape (n,)
    pi0, mu0, var0 : array_like of shape (K,), optional
        Initial weights, means and variances :math:`\theta^0`.
    var_floor : float
        :math:`\varepsilon \ge 0`: the M-step sets
        :math:`\sigma_k^2 = \max(S_k, \varepsilon)`. With 0, a component
        collapsing on one point makes the E-step fail (a ValueError).
    {start_options}
    {accelerate}

    Returns
    -------
    {returns}
    """
    x = _check_x(x)
    var_floor = _check_floor(var_floor)
    return em.fit(
        lambda: _model(x, var_floor),
        (pi0, mu0, var0),
        _check_params,
        n_components=n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        max_iter=max_iter,
        tol=tol,
        accelerate=accelerate,
    )
