r"""A multivariate normal with values missing at random, fitted by EM.

Model: :math:`x_i \sim \mathcal N(\mu, \Sigma)` on :math:`\mathbb R^d`,
independently. Row :math:`i` is observed on the coordinates :math:`o_i` and
missing on :math:`m_i` (``NaN`` in ``X``); the missingness is *at random*
(it may depend on observed values only), so it can be ignored in the
likelihood. The observed data, the missing data and the complete data are
:math:`x_{i,o_i}`, :math:`x_{i,m_i}` and :math:`x_i`;
:math:`\theta = (\mu, \Sigma)`.

* Observed-data log-likelihood:
  :math:`\ell(\theta) = \sum_i \log \mathcal N(x_{i,o_i} \mid \mu_{o_i},
  \Sigma_{o_i o_i})`.
* Complete-data sufficient statistics: :math:`T_1 = \sum_i x_i` and
  :math:`T_2 = \sum_i x_i x_i^\top`.
* E-step: their conditional expectations given the observed values, from
  :math:`x_{i,m} \mid x_{i,o} \sim \mathcal N(\hat x_{i,m}, C_i)` with
  :math:`\hat x_{i,m} = \mu_m + \Sigma_{mo}\Sigma_{oo}^{-1}(x_{i,o} - \mu_o)`
  and :math:`C_i = \Sigma_{mm} - \Sigma_{mo}\Sigma_{oo}^{-1}\Sigma_{om}`:
  :math:`E[T_1] = \sum_i \hat x_i` and
  :math:`E[T_2] = \sum_i (\hat x_i \hat x_i^\top + C_i)`, where
  :math:`\hat x_i` is :math:`x_i` with its missing entries filled in and
  :math:`C_i` is zero outside the :math:`(m_i, m_i)` block.
* M-step: :math:`\mu = E[T_1]/n`, :math:`\Sigma = E[T_2]/n - \mu\mu^\top`.

Rows are grouped by their pattern of missing values, so each step costs one
Cholesky factorisation per pattern and matrix products over the rows.

For this model the "responsibilities" that :func:`solutions.em.run_em`
passes from the E-step to the M-step (``EMResult.tau``) are the expected
sufficient statistics, an :class:`ExpectedStats`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _validation as v
from .em import EMResult, Model, run_em
from .information import standard_errors

__all__ = [
    "ExpectedStats",
    "MVNParams",
    "complete_and_missing_information",
    "e_step",
    "fit",
    "log_likelihood",
    "m_step",
    "observed_information",
    "standard_errors",
]

_LOG_2PI = math.log(2.0 * math.pi)


class MVNParams(NamedTuple):
    """Parameters :math:`\\theta = (\\mu, \\Sigma)`: ``mu`` (d,), ``cov`` (d, d)."""

    mu: np.ndarray
    cov: np.ndarray


class ExpectedStats(NamedTuple):
    """:math:`E[T_1 \\mid x_{obs}]` (d,), :math:`E[T_2 \\mid x_{obs}]` (d, d), n."""

    t1: np.ndarray
    t2: np.ndarray
    n: int


class _Pattern(NamedTuple):
    obs: np.ndarray  # boolean (d,): observed coordinates
    rows: np.ndarray  # indices of the rows with this pattern


# --------------------------------------------------------------------------
# validation


def _check_X(X: object) -> tuple[np.ndarray, list[_Pattern]]:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"X must be numeric (NaN for missing): {exc}") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-dimensional array, got {X.shape}")
    if np.isinf(X).any():
        raise ValueError("X contains infinite values (use NaN for missing ones)")
    observed = ~np.isnan(X)
    empty = np.flatnonzero(~observed.any(axis=1))
    if empty.size:
        raise ValueError(
            f"row {empty[0]} of X has no observed value ({empty.size} such "
            "rows): it carries no information, drop it"
        )
    never = np.flatnonzero(~observed.any(axis=0))
    if never.size:
        raise ValueError(f"column {never[0]} of X is never observed")
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    patterns = [_Pattern(key, np.flatnonzero(inverse == j)) for j, key in enumerate(keys)]
    return X, patterns


def _check_params(mu: object, cov: object, d: int) -> MVNParams:
    mu = np.asarray(mu, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mu.shape != (d,) or cov.shape != (d, d):
        raise ValueError(
            f"need mu of shape ({d},) and cov of shape ({d}, {d}), "
            f"got {mu.shape} and {cov.shape}"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov))):
        raise ValueError("mu and cov must be finite")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=0):
        raise ValueError("cov must be symmetric")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("cov must be positive definite") from None
    return MVNParams(mu, (cov + cov.T) / 2)


# --------------------------------------------------------------------------
# the steps


def _conditionals(X: np.ndarray, pat: _Pattern, theta: MVNParams):
    """Filled rows, conditional covariance C (d, d) and log N(x_o) per row."""
    mu, cov = theta
    o, m = pat.obs, ~pat.obs
    r_o = X[np.ix_(pat.rows, o)] - mu[o]
    chol = np.linalg.cholesky(cov[np.ix_(o, o)])
    # w = L^{-1} r_o, so r_o^T S_oo^{-1} r_o = |w|^2; B^T = S_oo^{-1} S_om.
    w = np.linalg.solve(chol, r_o.T)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    log_p = -0.5 * (o.sum() * _LOG_2PI + log_det + np.sum(w**2, axis=0))
    filled = np.empty((pat.rows.size, X.shape[1]))
    filled[:, o] = X[np.ix_(pat.rows, o)]
    C = np.zeros_like(cov)
    if m.any():
        v = np.linalg.solve(chol, cov[np.ix_(o, m)])  # L^{-1} S_om
        filled[:, m] = mu[m] + w.T @ v
        C[np.ix_(m, m)] = cov[np.ix_(m, m)] - v.T @ v
    return filled, C, log_p


def _e_step(X, patterns, theta) -> tuple[ExpectedStats, float]:
    d = X.shape[1]
    t1, t2, loglik = np.zeros(d), np.zeros((d, d)), 0.0
    for pat in patterns:
        filled, C, log_p = _conditionals(X, pat, theta)
        t1 += filled.sum(axis=0)
        t2 += filled.T @ filled + pat.rows.size * C
        loglik += log_p.sum()
    return ExpectedStats(t1, t2, X.shape[0]), float(loglik)


def _m_step(stats: ExpectedStats) -> MVNParams:
    mu = stats.t1 / stats.n
    cov = stats.t2 / stats.n - np.outer(mu, mu)
    return MVNParams(mu, (cov + cov.T) / 2)


def e_step(X: object, mu: object, cov: object) -> ExpectedStats:
    r"""Conditional expectations of :math:`T_1 = \sum_i x_i`, :math:`T_2 = \sum_i x_i x_i^\top`.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Data, ``NaN`` where a value is missing; every row and every column
        has at least one observed value.
    mu : array_like of shape (d,)
    cov : array_like of shape (d, d)
        Symmetric positive definite.

    Returns
    -------
    ExpectedStats
        ``t1`` :math:`= \sum_i \hat x_i`, ``t2``
        :math:`= \sum_i (\hat x_i \hat x_i^\top + C_i)`, and ``n``.
    """
    X, patterns = _check_X(X)
    theta = _check_params(mu, cov, X.shape[1])
    return _e_step(X, patterns, theta)[0]


def m_step(stats: ExpectedStats) -> MVNParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)`: :math:`\mu = E[T_1]/n`, :math:`\Sigma = E[T_2]/n - \mu\mu^\top`."""
    return _m_step(stats)


def log_likelihood(X: object, mu: object, cov: object) -> float:
    r"""Observed-data log-likelihood :math:`\sum_i \log \mathcal N(x_{i,o_i} \mid \mu_{o_i}, \Sigma_{o_i o_i})`."""
    X, patterns = _check_X(X)
    theta = _check_params(mu, cov, X.shape[1])
    return _e_step(X, patterns, theta)[1]


def fit(
    X: object,
    mu0: object | None = None,
    cov0: object | None = None,
    *,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
) -> EMResult[MVNParams]:
    r"""Maximum-likelihood :math:`(\mu, \Sigma)` from incomplete data, by EM.

    The default start :math:`\theta^0` is the mean and variance of the
    observed values of each column, with zero covariances. The stopping rule
    and ``accelerate`` are those of :func:`solutions.em.run_em`.

    Returns
    -------
    EMResult
        ``params`` is an :class:`MVNParams`; ``tau`` the final
        :class:`ExpectedStats`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 6.0]])
    >>> res = fit(X)
    >>> bool(res.converged)
    True
    """
    X, patterns = _check_X(X)
    d = X.shape[1]
    if (mu0 is None) != (cov0 is None):
        raise ValueError("give both mu0 and cov0, or neither")
    if mu0 is None:
        mu0, cov0 = np.nanmean(X, axis=0), np.diag(np.nanvar(X, axis=0))
        if np.any(np.diag(cov0) <= 0):
            raise ValueError("a column of X has no spread: give mu0 and cov0")
    theta0 = _check_params(mu0, cov0, d)
    v.check_max_iter_tol(max_iter, tol)

    def feasible(theta: MVNParams) -> bool:
        # SQUAREM's extrapolation keeps Sigma symmetric; it must stay positive definite.
        return bool(np.all(np.linalg.eigvalsh(theta.cov) > 0))

    model = Model(
        e_step=lambda theta: _e_step(X, patterns, theta),
        m_step=_m_step,
        feasible=feasible,
    )
    return run_em(model, theta0, max_iter=max_iter, tol=tol, accelerate=accelerate)


# --------------------------------------------------------------------------
# standard errors (Louis 1982)


def _unit_matrices(d: int) -> np.ndarray:
    """E_ab = d Sigma / d sigma_ab for the lower-triangle entries, (p, d, d)."""
    rows, cols = np.tril_indices(d)
    E = np.zeros((rows.size, d, d))
    E[np.arange(rows.size), rows, cols] = 1.0
    E[np.arange(rows.size), cols, rows] = 1.0
    return E


def observed_information(X: object, mu: object, cov: object) -> np.ndarray:
    r"""Observed information :math:`I_{obs} = -\nabla^2 \ell(\theta) = I_c - I_m` (Louis 1982).

    See :func:`complete_and_missing_information` for the parametrisation and
    the two terms.

    Returns
    -------
    ndarray of shape (p, p), :math:`p = d + d(d+1)/2`
    """
    I_c, I_m = complete_and_missing_information(X, mu, cov)
    return I_c - I_m


def complete_and_missing_information(
    X: object, mu: object, cov: object
) -> tuple[np.ndarray, np.ndarray]:
    r"""The two terms of Louis's formula, :math:`I_c` and :math:`I_m`.

    The parameters are :math:`\theta = (\mu, \sigma)` with :math:`\sigma`
    the lower-triangle entries :math:`\sigma_{ab}`, :math:`a \ge b`, of
    :math:`\Sigma` in ``np.tril_indices`` order (the order of
    ``fit``'s ``to_vector``). With :math:`P = \Sigma^{-1}`,
    :math:`r_i = x_i - \mu` and :math:`E_{ab} = \partial\Sigma/\partial\sigma_{ab}`,
    the complete-data score of row :math:`i` is linear in :math:`(r_i, r_i r_i^\top)`,

    .. math::

        s_\mu = P r_i, \qquad
        s_{\sigma_{ab}} = \tfrac12 r_i^\top P E_{ab} P r_i - \tfrac12 \operatorname{tr}(P E_{ab}),

    and, given the observed values, :math:`r_i \sim \mathcal N(m_i, C_i)`
    with :math:`m_i = \hat x_i - \mu`. Louis's formula
    :math:`I_{obs} = E[I_c \mid x_{obs}] - \operatorname{Var}[s \mid x_{obs}]`
    is evaluated in closed form from the Gaussian moments up to order four
    (Isserlis). It holds at every :math:`\theta`, not only at the maximum.
    At a fixed point of EM, :math:`I_c^{-1} I_m` is the Jacobian of the EM
    map (the rate matrix of the book's monotonicity chapter).

    Returns
    -------
    I_c, I_m : ndarray of shape (p, p), :math:`p = d + d(d+1)/2`
        The expected complete information
        :math:`E[-\nabla^2 \log p(x, z \mid \theta) \mid x_{obs}]` and the
        missing information :math:`\operatorname{Var}[\nabla \log p(x, z
        \mid \theta) \mid x_{obs}]`.
    """
    X, patterns = _check_X(X)
    d = X.shape[1]
    theta = _check_params(mu, cov, d)
    P = np.linalg.inv(theta.cov)
    E = _unit_matrices(d)
    PEP = P @ E @ P  # (q, d, d), q = d(d+1)/2
    n = X.shape[0]

    s1 = np.zeros(d)  # sum_i m_i
    W = np.zeros((d, d))  # sum_i E[r r^T] = sum_i (m_i m_i^T + C_i)
    cov_rr = np.zeros((d, d))  # sum_i Cov(r_i)
    cov_rR = np.zeros((d, d, d))  # sum_i Cov(r_a, r_b r_c)
    cov_RR = np.zeros((d, d, d, d))  # sum_i Cov(r_a r_b, r_c r_d)
    for pat in patterns:
        filled, C, _ = _conditionals(X, pat, theta)
        m = filled - theta.mu
        k = pat.rows.size
        S1, S2 = m.sum(axis=0), m.T @ m
        s1 += S1
        W += S2 + k * C
        cov_rr += k * C
        cov_rR += np.einsum("ab,c->abc", C, S1) + np.einsum("ac,b->abc", C, S1)
        cc = np.einsum("ac,bd->abcd", C, C) + np.einsum("ad,bc->abcd", C, C)
        cov_RR += (
            k * cc
            + np.einsum("ac,bd->abcd", S2, C)
            + np.einsum("ad,bc->abcd", S2, C)
            + np.einsum("bc,ad->abcd", S2, C)
            + np.einsum("bd,ac->abcd", S2, C)
        )

    # Missing information: Var of s = L u, u = (r, r r^T), L = diag(P, M).
    M = 0.5 * PEP.reshape(len(E), d * d)
    I_m_mumu = P @ cov_rr @ P
    I_m_musig = P @ cov_rR.reshape(d, d * d) @ M.T
    I_m_sigsig = M @ cov_RR.reshape(d * d, d * d) @ M.T

    # Expected complete information -E[Hessian of log p(x, z | theta)].
    I_c_mumu = n * P
    I_c_musig = np.einsum("qab,b->aq", PEP, s1)
    I_c_sigsig = -0.5 * n * np.einsum("ab,qbc,cd,rda->qr", P, E, P, E) + np.einsum(
        "qab,bc,rcd,da->qr", PEP, theta.cov, PEP, W
    )

    I_c = np.block([[I_c_mumu, I_c_musig], [I_c_musig.T, I_c_sigsig]])
    I_m = np.block([[I_m_mumu, I_m_musig], [I_m_musig.T, I_m_sigsig]])
    return I_c, I_m
