r"""Observed information by the missing-information principle (Louis 1982).

With observed data :math:`x`, latent data :math:`z` and the complete-data
log-likelihood :math:`\log p(x, z \mid \theta)`, for every :math:`\theta`

.. math::

    I_{obs}(\theta) = -\nabla^2 \ell(\theta)
    = \underbrace{E\big[-\nabla^2 \log p(x, z \mid \theta) \mid x, \theta\big]}_{I_c}
    - \underbrace{\operatorname{Var}\big[\nabla \log p(x, z \mid \theta) \mid x, \theta\big]}_{I_m}:

the observed information is the complete information minus the missing
information. At the maximum-likelihood estimate :math:`\hat\theta`,
:math:`I_{obs}(\hat\theta)^{-1}` estimates the covariance of
:math:`\hat\theta`, and the square roots of its diagonal are the standard
errors.

:func:`louis` evaluates the formula for models whose latent variables are
discrete and independent across units (mixtures: :math:`z_i = k` with
probability :math:`t_{ik}`), from the complete-data score and Hessian of each
unit for each value of :math:`z_i`. The missing-data normal has continuous
latent values; see :func:`solutions.mvn_missing.observed_information`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["complete_information", "louis", "missing_information", "standard_errors"]


def _check(tau: object, arr: object, name: str, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    tau = np.asarray(tau, dtype=float)
    arr = np.asarray(arr, dtype=float)
    if tau.ndim != 2:
        raise ValueError(f"tau must be 2-dimensional (n, K), got shape {tau.shape}")
    if arr.ndim != ndim or arr.shape[:2] != tau.shape:
        raise ValueError(
            f"{name} must have shape {tau.shape} + {(ndim - 2) * ('p',)}, got {arr.shape}"
        )
    if not (np.all(np.isfinite(tau)) and np.all(np.isfinite(arr))):
        raise ValueError(f"tau and {name} must be finite")
    if np.any(tau < 0) or not np.allclose(tau.sum(axis=1), 1.0, rtol=0, atol=1e-8):
        raise ValueError("each row of tau must be a probability vector")
    return tau, arr


def complete_information(tau: object, hessians: object) -> np.ndarray:
    r"""Expected complete information :math:`I_c = -\sum_i \sum_k t_{ik} H_{ik}`.

    Parameters
    ----------
    tau : array_like of shape (n, K)
        :math:`t_{ik} = p(z_i = k \mid x_i, \theta)`.
    hessians : array_like of shape (n, K, p, p)
        :math:`H_{ik} = \nabla^2 \log p(x_i, z_i = k \mid \theta)`.
    """
    tau, hessians = _check(tau, hessians, "hessians", 4)
    return -np.einsum("ik,ikab->ab", tau, hessians)


def missing_information(tau: object, scores: object) -> np.ndarray:
    r"""Missing information :math:`I_m = \sum_i \operatorname{Var}_{z_i \sim t_{i\cdot}}(s_{i z_i})`.

    With :math:`\bar s_i = \sum_k t_{ik} s_{ik}`,
    :math:`I_m = \sum_i \sum_k t_{ik} (s_{ik} - \bar s_i)(s_{ik} - \bar s_i)^\top`
    (the units are independent given :math:`\theta`, so their variances add).

    Parameters
    ----------
    tau : array_like of shape (n, K)
    scores : array_like of shape (n, K, p)
        :math:`s_{ik} = \nabla \log p(x_i, z_i = k \mid \theta)`.
    """
    tau, scores = _check(tau, scores, "scores", 3)
    centred = scores - np.einsum("ik,ika->ia", tau, scores)[:, None, :]
    return np.einsum("ik,ika,ikb->ab", tau, centred, centred)


def louis(tau: object, scores: object, hessians: object) -> np.ndarray:
    r"""Observed information :math:`I_{obs} = I_c - I_m` (Louis 1982).

    Arguments as in :func:`complete_information` and
    :func:`missing_information`. Holds at every :math:`\theta`; at an
    interior maximum of :math:`\ell` the result is :math:`-\nabla^2 \ell(\hat\theta)`.
    """
    return complete_information(tau, hessians) - missing_information(tau, scores)


def standard_errors(information: object) -> np.ndarray:
    r"""Standard errors :math:`\sqrt{\operatorname{diag}(I^{-1})}` from an information matrix.

    Raises a ValueError when ``information`` is not symmetric positive
    definite (not a non-degenerate maximum: no standard errors).
    """
    info = np.asarray(information, dtype=float)
    if info.ndim != 2 or info.shape[0] != info.shape[1] or not np.all(np.isfinite(info)):
        raise ValueError(f"information must be a finite square matrix, got shape {info.shape}")
    if not np.allclose(info, info.T, rtol=1e-6, atol=1e-10 * np.abs(info).max()):
        raise ValueError("information must be symmetric")
    try:
        chol = np.linalg.cholesky((info + info.T) / 2)
    except np.linalg.LinAlgError:
        raise ValueError(
            "information is not positive definite: not a non-degenerate maximum"
        ) from None
    inv_chol = np.linalg.inv(chol)
    return np.sqrt(np.sum(inv_chol**2, axis=0))
