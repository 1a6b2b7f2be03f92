r"""Mixture of Gaussian distributions, univariate or multivariate.

Model: :math:`z_i \sim \mathrm{Cat}(\pi)`, :math:`x_i \mid z_i = k \sim
\mathcal N(\mu_k, \Sigma_k)` with :math:`x_i \in \mathbb R^d`, so

.. math::

    p(x_i \mid \theta) = \sum_{k=1}^K \pi_k\, \mathcal N(x_i \mid \mu_k, \Sigma_k),
    \qquad \theta = (\pi_k, \mu_k, \Sigma_k)_{k=1..K}.

EM updates from :math:`\theta^q`:

* E-step: :math:`t_{ik}^q = \dfrac{\pi_k^q\, \mathcal N(x_i \mid \mu_k^q, \Sigma_k^q)}
  {\sum_l \pi_l^q\, \mathcal N(x_i \mid \mu_l^q, \Sigma_l^q)}`, computed in log
  space with log-sum-exp; its normaliser summed over :math:`i` is the
  log-likelihood :math:`\log p(x_{1:n} \mid \theta^q)`;
* M-step: with :math:`n_k = \sum_i t_{ik}^q`,

  .. math::

      \pi_k^{q+1} = \frac{n_k}{n}, \qquad
      \mu_k^{q+1} = \frac{1}{n_k} \sum_i t_{ik}^q\, x_i, \qquad
      \Sigma_k^{q+1} = \frac{1}{n_k} \sum_i t_{ik}^q\,
          (x_i - \mu_k^{q+1})(x_i - \mu_k^{q+1})^\top + \varepsilon I,

  where :math:`\varepsilon` is ``reg_covar``.

Covariance types (shapes as in scikit-learn's ``GaussianMixture``):

* ``"full"``: :math:`\Sigma_k` any SPD matrix, ``cov`` of shape (K, d, d);
* ``"diag"``: :math:`\Sigma_k = \operatorname{diag}(\sigma_{k1}^2, \dots,
  \sigma_{kd}^2)`, ``cov`` of shape (K, d) holding the variances, M-step
  :math:`\sigma_{kj}^2 = \frac{1}{n_k} \sum_i t_{ik} (x_{ij} - \mu_{kj})^2 + \varepsilon`;
* ``"spherical"``: :math:`\Sigma_k = \sigma_k^2 I`, ``cov`` of shape (K,),
  M-step :math:`\sigma_k^2 = \frac{1}{d} \sum_j \sigma_{kj}^2` (the mean of the
  diagonal variances, :math:`\varepsilon` included).

Univariate data: ``X`` of shape (n,) is a mixture of univariate normals;
``mu`` and ``cov`` (the variances) then have shape (K,) and
``covariance_type`` makes no difference. (K, 1) and (K, 1, 1) shapes are
accepted on input; results come back with shape (K,).

Numerics follow scikit-learn. Each :math:`\Sigma_k` is used through the
Cholesky factor of its precision: with :math:`\Sigma_k = L_k L_k^\top`,
:math:`P_k = L_k^{-\top}` gives :math:`\Sigma_k^{-1} = P_k P_k^\top`, the
squared Mahalanobis distance :math:`\|P_k^\top (x_i - \mu_k)\|^2` and
:math:`\log\det \Sigma_k^{-1/2} = \sum_j \log (P_k)_{jj}`. The data are
centred at their mean once per fit, and every step is a few large matrix
products:

* E-step, ``"full"``: the K factors :math:`[P_k^\top, -P_k^\top \mu_k]` are
  stacked into one :math:`Kd \times (d+1)` matrix, so one product with the rows
  :math:`[x_i, 1]` gives every :math:`P_k^\top (x_i - \mu_k)`; squares are
  summed per block of d rows. ``"diag"``/``"spherical"`` expand
  :math:`\sum_j (x_{ij} - \mu_{kj})^2 / \sigma_{kj}^2` so that one product with
  the rows :math:`[x_i^2, x_i, 1]` gives every :math:`\log \pi_k + \log
  \mathcal N(x_i \mid \mu_k, \Sigma_k)`. Samples go in blocks that fit in
  cache, in a (K, n) layout where the log-sum-exp over components works on
  contiguous rows. A component much narrower than the data's extent (a
  collapsing one), for which these expansions would cancel away digits,
  is computed from :math:`x_i - \mu_k` directly.
* M-step: :math:`n_k`, :math:`\sum_i t_{ik} x_i` and (``"diag"``,
  ``"spherical"``) the second moments for all components at once are one
  product of each block's responsibilities with its feature columns, taken
  by the E-step of a fit while the block is still in cache. ``"full"`` sums
  :math:`\sum_i t_{ik} x_i x_i^\top` either from the :math:`d(d+1)/2` products
  :math:`x_{ia} x_{ib}` of each row (few features, when they fit in memory) or
  as :math:`A^\top A` (BLAS syrk) with :math:`A = \sqrt{t_k}\, x` on cached
  blocks. A component whose mean is far, in its own metric, from the data
  mean would lose digits in :math:`E[x x^\top] - \mu_k \mu_k^\top`: its
  covariance (for ``"diag"``: the coordinates concerned) is recomputed from
  the raw samples about its own mean, :math:`A = \sqrt{t_k} (x - \mu_k)`.
* Threads: the samples are cut into chunks (a partition that depends on n
  and the block size, never on the thread count, and whose partial sums are
  added in order, so that the results do not depend on the number of
  threads). For large n the chunks go to a pool of as many Python threads as
  BLAS may use (numpy and BLAS release the GIL), with BLAS held to one thread
  inside: the elementwise work (squares, log-sum-exp), single-threaded in
  numpy, then runs on every core too.

The textbook forms, one component at a time, are :func:`_e_step_textbook`
and :func:`_m_step_textbook`; the tests hold the fast steps to them with one
and several threads.

Collapsing and empty components:

* **Collapse.** The likelihood is unbounded: a component sitting on one
  point (or on fewer than :math:`d + 1` affinely independent points) drives
  :math:`\det \Sigma_k \to 0`. ``reg_covar`` :math:`= \varepsilon > 0` (default
  :math:`10^{-6}`, as in scikit-learn) adds :math:`\varepsilon I` to every
  :math:`\Sigma_k` in the M-step, so :math:`\Sigma_k \succeq \varepsilon I`
  and the fit stays finite. With ``reg_covar=0`` a singular
  :math:`\Sigma_k` raises a ValueError naming the component.
* **Empty.** A component with :math:`n_k = \sum_i t_{ik} = 0` (below the
  smallest normal double) gets :math:`\pi_k = 0` and, as a finite
  placeholder, the pooled mean and covariance of all the data
  (plus :math:`\varepsilon I`). With :math:`\pi_k = 0` its responsibilities stay
  exactly 0, so it stays empty. No NaN is ever produced.

``reg_covar > 0`` makes the M-step slightly differ from the exact maximiser
of :math:`Q(\theta, \theta^q)`, so the log-likelihood trace is then
non-decreasing only up to terms of order :math:`\varepsilon`; with
``reg_covar=0`` it is non-decreasing up to rounding.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from typing import NamedTuple, TypeVar

import numpy as np

# LAPACK directly: scipy.linalg.solve_triangular costs far more than the
# arithmetic for d x d factors (and can hit BLAS threading overhead).
from scipy.linalg.lapack import dpotrf, dtrtri

from . import _validation as v
from . import em
from .em import EMResult, Model

__all__ = [
    "COVARIANCE_TYPES",
    "GaussianParams",
    "bic",
    "e_step",
    "fit",
    "log_likelihood",
    "m_step",
    "n_parameters",
    "sample",
]

COVARIANCE_TYPES = ("full", "diag", "spherical")

_LOG_2PI = math.log(2.0 * math.pi)
# Samples per block are chosen so that a block's widest temporary holds about
# this many doubles (1 MiB): about the size of a core's L2 cache.
_BLOCK_DOUBLES = 1 << 17
# The "full" M-step keeps the d(d+1)/2 x n products of the data when they
# take at most this many doubles (128 MiB) and d is at most _PRODUCTS_MAX_D,
# else works component by component on cached blocks (_scatter).
_PRODUCTS_MAX_DOUBLES = 1 << 24
_PRODUCTS_MAX_D = 16
# Worker threads (see _map_chunks): None for as many as BLAS may use.
_THREADS: int | None = None
# Samples are split into about this many chunks of at least _MIN_CHUNK_ROWS,
# shared by the worker threads; a step of fewer than _PARALLEL_MIN_WORK flops
# runs in the calling thread (a pool's hand-offs would cost more).
_CHUNKS = 64
_MIN_CHUNK_ROWS = 4096
_PARALLEL_MIN_WORK = 4e6
# M-step: components whose mean, about the data mean, has a squared
# Mahalanobis distance above this (per coordinate for "diag"/"spherical") get
# their covariance recomputed about their own mean (at most ~3 digits lost).
_CANCELLATION_RATIO = 1e3
# E-step: a component whose expanded distance terms reach this size (in units
# of its own covariance) has its distances computed from x - mu directly; the
# error of the expansion is about machine epsilon times this.
_EXPANSION_LIMIT = 1e5
_SYMMETRY_RTOL = 1e-8
_TINY = np.finfo(float).tiny

T = TypeVar("T")
_CONTROLLER: list = []
_POOLS: dict[int, ThreadPoolExecutor] = {}


class GaussianParams(NamedTuple):
    """Parameters of a Gaussian mixture.

    ``pi`` (K,) mixing proportions; ``mu`` (K, d) means, or (K,) for
    univariate data; ``cov`` covariances: (K, d, d) for ``"full"``, (K, d)
    variances for ``"diag"``, (K,) variances for ``"spherical"`` and for
    univariate data.
    """

    pi: np.ndarray
    mu: np.ndarray
    cov: np.ndarray


# --------------------------------------------------------------------------
# validation


def _check_covariance_type(covariance_type: object) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        )
    return covariance_type


def _check_reg_covar(reg_covar: float) -> float:
    if not (np.isfinite(reg_covar) and reg_covar >= 0):
        raise ValueError(f"reg_covar must be a finite number >= 0, got {reg_covar!r}")
    return float(reg_covar)


def _check_X(X: object) -> tuple[np.ndarray, bool]:
    """Data as an (n, d) array, and whether it was given as 1-D (univariate)."""
    X = v.as_float_array(X, "X", (1, 2))
    if X.ndim == 1:
        return X[:, None], True
    if X.shape[1] == 0:
        raise ValueError(f"X has no features, shape {X.shape}")
    return X, False


def _internal_type(covariance_type: str, univariate: bool) -> str:
    # Univariate variances are stored as (K,), the spherical layout.
    return "spherical" if univariate else covariance_type


def _check_params(
    pi: object,
    mu: object,
    cov: object,
    covariance_type: str,
    univariate: bool,
    n_features: int | None = None,
) -> GaussianParams:
    """Validated parameters in the internal layout: ``mu`` is always (K, d)."""
    pi = v.check_weights(pi)
    k = len(pi)
    if univariate:
        mu = v.as_float_array(mu, "mu", (1, 2))
        if mu.ndim == 2 and mu.shape[1] != 1:
            raise ValueError(f"mu must have shape (K,) or (K, 1) for 1-D X, got {mu.shape}")
        mu = mu.reshape(-1, 1)
        v.check_length(mu, k, "mu")
        cov = v.as_float_array(cov, "cov", (1, 2, 3))
        if cov.shape[1:] not in ((), (1,), (1, 1)):
            raise ValueError(
                f"cov must have shape (K,), (K, 1) or (K, 1, 1) for 1-D X, got {cov.shape}"
            )
        cov = cov.reshape(-1)
        v.check_length(cov, k, "cov")
        _check_variances(cov)
        return GaussianParams(pi, mu, cov)

    mu = v.as_float_array(mu, "mu", 2)
    v.check_length(mu, k, "mu")
    d = mu.shape[1] if n_features is None else n_features
    if mu.shape[1] != d:
        raise ValueError(f"mu has {mu.shape[1]} features but X has {d}")
    expected = {"full": (k, d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]
    cov = v.as_float_array(cov, "cov", len(expected))
    if cov.shape != expected:
        raise ValueError(
            f"cov must have shape {expected} for covariance_type={covariance_type!r} "
            f"with {k} components and {d} features, got {cov.shape}"
        )
    if covariance_type == "full":
        for j in range(k):
            c = cov[j]
            if np.abs(c - c.T).max() > _SYMMETRY_RTOL * np.abs(c).max():
                raise ValueError(f"cov[{j}] (component {j}) is not symmetric")
        _precision_cholesky(cov, "full", what="given")
    else:
        _check_variances(cov)
    return GaussianParams(pi, mu, cov)


def _check_variances(var: np.ndarray) -> None:
    bad = np.flatnonzero(np.any(var.reshape(len(var), -1) <= 0, axis=1))
    if bad.size:
        raise ValueError(
            f"variances must be positive: cov[{bad[0]}] (component {bad[0]}) has {var[bad[0]]}"
        )


def _external(theta: GaussianParams, univariate: bool) -> GaussianParams:
    """Parameters in the user's layout: (K,) means for univariate data."""
    if univariate:
        return GaussianParams(theta.pi, theta.mu[:, 0].copy(), theta.cov)
    return theta


# --------------------------------------------------------------------------
# the model's computations


def _precision_cholesky(
    cov: np.ndarray, covariance_type: str, what: str = "fitted"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Precision Cholesky factors :math:`P_k` and :math:`\log\det P_k` (per dimension if spherical).

    ``"full"``: :math:`P_k = L_k^{-\top}` with :math:`\Sigma_k = L_k L_k^\top`;
    ``"diag"``/``"spherical"``: :math:`P_k = 1/\sigma_k` (elementwise).
    """
    if covariance_type != "full":
        if np.any(cov <= 0):
            k = int(np.flatnonzero(np.any(cov.reshape(len(cov), -1) <= 0, axis=1))[0])
            hint = "" if what == "given" else " (collapsed component: increase reg_covar)"
            raise ValueError(f"{what} variance of component {k} is not positive{hint}")
        prec_chol = 1.0 / np.sqrt(cov)
        log_det = np.log(prec_chol)
        if covariance_type == "diag":
            log_det = log_det.sum(axis=1)
        return prec_chol, log_det

    prec_chol = np.empty_like(cov)
    for j in range(len(cov)):
        chol = _cholesky(cov[j])
        if chol is None:
            hint = "" if what == "given" else " (collapsed component: increase reg_covar)"
            raise ValueError(
                f"{what} covariance cov[{j}] (component {j}) is not positive definite{hint}"
            )
        # P_k = L_k^{-T}: the inverse of a triangular factor, as sklearn's
        # solve_triangular(L_k, I).T.
        inv, _ = dtrtri(chol, lower=1)
        prec_chol[j] = inv.T
    log_det = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    return prec_chol, log_det


def _cholesky(a: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of ``a``, or None if ``a`` is not positive definite."""
    chol, info = dpotrf(a, lower=1, clean=1)
    return chol if info == 0 else None


# --------------------------------------------------------------------------
# threads
#
# numpy's elementwise work (squares, exp, the log-sum-exp) runs on one core
# while BLAS runs on all of them, and BLAS cannot split the small products of
# a cache-sized block over threads. So, for large n, the chunks of rows go to a
# small pool of Python threads (numpy and BLAS release the GIL) with BLAS held
# to one thread inside: every core does both the products and the elementwise
# work. The chunks depend on n and the block size only, and their partial sums
# are added in chunk order, so the results do not depend on the thread count.


def _controller() -> object | None:
    """threadpoolctl's controller of the loaded BLAS libraries (built once), or None."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except Exception:  # no threadpoolctl, or it cannot read the libraries: one thread
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


def _workers() -> int:
    """Worker threads: ``_THREADS`` if set, else as many as BLAS may use now."""
    if _THREADS is not None:
        return max(1, int(_THREADS))
    ctl = _controller()
    if ctl is None:
        return 1
    counts = [lib.num_threads for lib in ctl.select(user_api="blas").lib_controllers]
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min([cpus, *counts]))


def _map_chunks(fn: Callable[[int, int], T], chunks: list[tuple[int, int]], work: float) -> list[T]:
    """``[fn(s, e) for (s, e) in chunks]``, in a thread pool when ``work`` (flops) pays for it.

    BLAS is held to one thread either way: the products of one chunk are too
    small to split, and BLAS threads that wait for each other by spinning
    lose most of their time on a loaded machine.
    """
    workers = min(_workers(), len(chunks)) if work >= _PARALLEL_MIN_WORK else 1
    ctl = _controller()
    with ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext():
        if workers <= 1:
            return [fn(s, e) for s, e in chunks]
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="gaussian")
        return list(_POOLS[workers].map(lambda c: fn(*c), chunks))


def _add(parts: list) -> object:
    """Sum of partial results (numbers, arrays, tuples of them, or None), in the order given."""
    if parts[0] is None:
        return None
    if isinstance(parts[0], tuple):
        return tuple(_add([p[i] for p in parts]) for i in range(len(parts[0])))
    total = parts[0].copy() if isinstance(parts[0], np.ndarray) else parts[0]
    for p in parts[1:]:
        total += p
    return total


# --------------------------------------------------------------------------
# the prepared data


class _Data:
    r"""The data prepared once for repeated E- and M-steps.

    ``Xc`` is ``X`` centred at its mean, a view into ``feats``, the columns
    the E-step multiplies by its weights: ``[Xc, 1]`` for ``"full"``,
    ``[Xc**2, Xc, 1]`` for ``"diag"``, ``[||Xc||**2, Xc, 1]`` for
    ``"spherical"``. The column of ones folds the constant terms into the same
    matrix product. ``"full"`` with few features also keeps, when they fit in
    ``_PRODUCTS_MAX_DOUBLES``, the products :math:`x_{ia} x_{ib}`
    (:math:`a \le b`) of each centred row, so that
    :math:`\sum_i t_{ik} x_i x_i^\top` for all k is one matrix product.
    """

    def __init__(self, X: np.ndarray, covariance_type: str) -> None:
        self.n, self.d = n, d = X.shape
        self.covariance_type = covariance_type
        # X itself too: x_i - mu_k for a collapsing or far component is taken
        # from the raw values, where centring would already have rounded away
        # the digits that tell samples near mu_k apart.
        self.X = X
        self.shift = X.mean(axis=0)
        first = {"full": 0, "diag": d, "spherical": 1}[covariance_type]
        self.feats = np.empty((n, first + d + 1))
        self.Xc = self.feats[:, first : first + d]
        np.subtract(X, self.shift, out=self.Xc)
        self.feats[:, -1] = 1.0
        if covariance_type == "diag":
            np.square(self.Xc, out=self.feats[:, :d])
            self.sq_max = self.feats[:, :d].max(axis=0)
        elif covariance_type == "spherical":
            np.einsum("ij,ij->i", self.Xc, self.Xc, out=self.feats[:, 0])
            self.sq_max = self.feats[:, 0].max()
        else:
            self.norm_max = math.sqrt(np.einsum("ij,ij->i", self.Xc, self.Xc).max())
        self._products: np.ndarray | None = None
        self._pooled: np.ndarray | None = None
        # (tau, n_k, first, second moments) from the last E-step (see _e_step).
        self.moments: tuple | None = None

    def products(self) -> np.ndarray | None:
        """(d(d+1)/2, n) products x_ia x_ib (a <= b) of the centred rows, or None.

        None when they would take more than ``_PRODUCTS_MAX_DOUBLES``, or when
        d is so large that a product per component of each cached block
        (:func:`_scatter`) costs less than reading them back from memory.
        """
        n, d = self.n, self.d
        p = d * (d + 1) // 2
        if self._products is None and d <= _PRODUCTS_MAX_D and n * p <= _PRODUCTS_MAX_DOUBLES:
            # Built feature-major: each product is then one contiguous row.
            xt = np.ascontiguousarray(self.Xc.T)
            self._products = np.empty((p, n))
            start = 0
            for a in range(d):
                np.multiply(xt[a], xt[a:], out=self._products[start : start + d - a])
                start += d - a
        return self._products

    def pooled_cov(self) -> np.ndarray:
        """Covariance of all the data (without ``reg_covar``), in the type's layout."""
        if self._pooled is None:
            if self.covariance_type == "full":
                self._pooled = (self.Xc.T @ self.Xc) / self.n
            else:
                var = np.square(self.Xc).mean(axis=0)
                self._pooled = var if self.covariance_type == "diag" else var.mean()
        return self._pooled

    def block_rows(self, width: int) -> int:
        """Samples per block, so that a temporary of ``width`` rows stays in a core's cache."""
        return max(256, _BLOCK_DOUBLES // max(width, 1))

    def chunks(self, block: int) -> list[tuple[int, int]]:
        """(start, end) of the chunks of whole blocks that the worker threads share.

        About ``_CHUNKS`` of them, of at least ``_MIN_CHUNK_ROWS`` samples: a
        partition that depends on n and ``block`` only, not on the thread count.
        """
        size = max(_MIN_CHUNK_ROWS, -(-self.n // _CHUNKS))
        size = -(-size // block) * block
        return [(s, min(s + size, self.n)) for s in range(0, self.n, size)]


# --------------------------------------------------------------------------
# E- and M-steps: the textbook formulas, then the fast path


def _e_step_textbook(
    X: np.ndarray, theta: GaussianParams, covariance_type: str
) -> tuple[np.ndarray, float]:
    r"""The E-step as written in :func:`e_step`, one component at a time.

    :math:`\log \pi_k + \log \mathcal N(x_i \mid \mu_k, \Sigma_k)` with
    :math:`\Sigma_k` as a (d, d) matrix, the Mahalanobis distance from a solve,
    then log-sum-exp. Slow and plain: the reference that the tests hold
    :func:`_e_step` to (any thread count).
    """
    pi, mu, cov = theta
    n, d = X.shape
    log_joint = np.empty((n, len(pi)))
    for k in range(len(pi)):
        if covariance_type == "full":
            sigma = cov[k]
        elif covariance_type == "diag":
            sigma = np.diag(cov[k])
        else:
            sigma = cov[k] * np.eye(d)
        diff = X - mu[k]
        mahalanobis = np.sum(diff * np.linalg.solve(sigma, diff.T).T, axis=1)
        _, log_det = np.linalg.slogdet(sigma)
        with np.errstate(divide="ignore"):
            log_pi = np.log(pi[k])
        log_joint[:, k] = log_pi - 0.5 * (d * _LOG_2PI + log_det + mahalanobis)
    top = log_joint.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
    return np.exp(log_joint - log_norm[:, None]), float(log_norm.sum())


def _m_step_textbook(
    X: np.ndarray, tau: np.ndarray, covariance_type: str, reg_covar: float
) -> GaussianParams:
    r"""The M-step as written in :func:`m_step`, one component at a time (non-empty components).

    The reference that the tests hold :func:`_m_step` to (any thread count).
    """
    n, d = X.shape
    nk = tau.sum(axis=0)
    mu = (tau.T @ X) / nk[:, None]
    cov = []
    for k in range(tau.shape[1]):
        diff = X - mu[k]
        sigma = (tau[:, k, None] * diff).T @ diff / nk[k] + reg_covar * np.eye(d)
        if covariance_type == "diag":
            sigma = np.diag(sigma)
        elif covariance_type == "spherical":
            sigma = np.trace(sigma) / d
        cov.append(sigma)
    return GaussianParams(nk / n, mu, np.array(cov))


def _block_moments(
    data: _Data, t: np.ndarray, s: int, e: int, products: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The M-step's sums over samples ``s:e``, given their (K, e - s) responsibilities ``t``.

    :math:`n_k`, :math:`\sum_i t_{ik} x_i` and the second moments about the
    data mean: :math:`\sum_i t_{ik} x_{ij}^2` (``"diag"``),
    :math:`\sum_i t_{ik} \|x_i\|^2` (``"spherical"``), the products
    :math:`\sum_i t_{ik} x_{ia} x_{ib}` (``"full"`` with ``products``), or an
    empty array (``"full"`` without: :func:`_scatter` sums them). The first
    three come from one product with the feature columns ``[.., x_i, 1]``,
    taken as feats^T t^T: BLAS runs this orientation faster for small K.
    """
    d = data.d
    sums = (data.feats[s:e].T @ t.T).T
    second = sums[:, : -d - 1]
    if products is not None:
        second = t @ products[:, s:e].T
    return sums[:, -1], sums[:, -d - 1 : -1], second


def _e_step(data: _Data, theta: GaussianParams, moments: bool = False) -> tuple[np.ndarray, float]:
    r"""Responsibilities :math:`t_{ik}` and :math:`\sum_i \log p(x_i \mid \theta)`.

    The formulas of :func:`_e_step_textbook`, rearranged into one matrix
    product per block of samples (see the module docstring). The work is
    done on the transposed (K, n) array, where the log-sum-exp over
    components is a reduction across K contiguous rows; the returned (n, K)
    array is its transposed view.

    With ``moments`` (EM's E-steps), each block's sums for the next M-step
    (:func:`_block_moments`) are taken while the block is in cache, and kept
    in ``data.moments`` with the responsibilities they belong to.
    """
    n, d = data.n, data.d
    ct = data.covariance_type
    pi, mu, cov = theta
    data.moments = None  # the responsibilities they belonged to are being replaced
    products = data.products() if moments and ct == "full" else None
    k = len(pi)
    prec_chol, log_det = _precision_cholesky(cov, ct)
    if ct == "spherical":
        log_det = d * log_det
    mu_c = mu - data.shift
    # An empty component (pi_k = 0) gets log pi_k = -inf, set after the
    # products (keeping infinities out of BLAS): exp(-inf) = 0 keeps it empty.
    dead = pi == 0
    const = np.log(np.where(dead, 1.0, pi)) + log_det - 0.5 * d * _LOG_2PI

    if ct == "full":
        # Rows k*d .. k*d+d-1 of the (K*d, d+1) matrix hold sqrt(1/2) [P_k^T, -P_k^T mu_k]:
        # one product with the rows [x_i, 1] gives every sqrt(1/2) P_k^T (x_i - mu_k),
        # whose squares summed over each d-block are half the Mahalanobis distances.
        half = math.sqrt(0.5)
        stack = np.empty((k, d, d + 1))
        stack[:, :, :d] = prec_chol.transpose(0, 2, 1)
        stack[:, :, d] = -np.einsum("kd,kde->ke", mu_c, prec_chol)
        stack = stack.reshape(k * d, d + 1)
        stack *= half
        const_col = const[:, None]
        # P_k^T x_i - P_k^T mu_k cancels to about log10(scale) fewer digits
        # than P_k^T (x_i - mu_k): too many for a component much narrower than
        # the data's extent (a collapsing one), computed directly instead.
        scale = np.sqrt(np.sum(np.square(prec_chol), axis=(1, 2))) * (
            data.norm_max + np.linalg.norm(mu_c, axis=1)
        )
        direct = np.flatnonzero(scale > _EXPANSION_LIMIT)
        block = data.block_rows(k * d)
        flops = 2.0 * n * k * d * (d + 1)

        def log_joint(s: int, e: int, out: np.ndarray, buf: np.ndarray) -> None:
            y = buf[:, : e - s]
            np.matmul(stack, data.feats[s:e].T, out=y)
            np.square(y, out=y)
            np.sum(y.reshape(k, d, e - s), axis=1, out=out)
            np.subtract(const_col, out, out=out)
            for j in direct:
                z = (data.X[s:e] - mu[j]) @ prec_chol[j]
                np.einsum("ij,ij->i", z, z, out=out[j])
                out[j] *= -0.5
                out[j] += const[j]

        def scratch(rows: int) -> np.ndarray:
            return np.empty((k * d, rows))
    else:
        # -1/2 sum_j (x_ij - mu_kj)^2 / s_kj^2 = -1/2 sum_j x_ij^2 / s_kj^2
        #   + sum_j x_ij mu_kj / s_kj^2 - 1/2 sum_j mu_kj^2 / s_kj^2: one row of
        # weights per component against the columns [x_i^2, x_i, 1].
        prec = np.square(prec_chol)
        mu_sq = np.square(mu_c)
        if ct == "diag":
            offset = np.sum(mu_sq * prec, axis=1)
            weights = np.hstack([-0.5 * prec, mu_c * prec, np.zeros((k, 1))])
            # The terms cancel down to the distance, losing about
            # log10(scale) digits: too many for a component much narrower than
            # the data's extent (a collapsing one), computed directly instead.
            scale = np.sum((data.sq_max + mu_sq) * prec, axis=1)
        else:
            offset = np.sum(mu_sq, axis=1) * prec
            weights = np.hstack([-0.5 * prec[:, None], mu_c * prec[:, None], np.zeros((k, 1))])
            scale = (data.sq_max + np.sum(mu_sq, axis=1)) * prec
            prec = np.repeat(prec[:, None], d, axis=1)
        weights[:, -1] = const - 0.5 * offset
        direct = np.flatnonzero(scale > _EXPANSION_LIMIT)
        width = data.feats.shape[1]
        block = data.block_rows(max(k, width))
        # The log-sum-exp's half-dozen passes over (K, n) count as much as the product.
        flops = 2.0 * n * k * width + 10.0 * n * k

        # The product as (samples, K), then transposed into place: BLAS runs
        # (n, 2d+1) @ (2d+1, K) about twice as fast as (K, 2d+1) @ (2d+1, n).
        weights_t = np.ascontiguousarray(weights.T)

        def log_joint(s: int, e: int, out: np.ndarray, buf: np.ndarray) -> None:
            y = buf[: e - s]
            np.matmul(data.feats[s:e], weights_t, out=y)
            np.copyto(out, y.T)
            for j in direct:
                sq = np.square(data.X[s:e] - mu[j])
                np.matmul(sq, -0.5 * prec[j], out=out[j])
                out[j] += const[j]

        def scratch(rows: int) -> np.ndarray:
            return np.empty((rows, k))

    tau_t = np.empty((k, n))

    def chunk(s: int, e: int) -> tuple[float, tuple | None]:
        buf = scratch(min(block, e - s))
        total = 0.0
        sums = None
        for b in range(s, e, block):
            c = min(b + block, e)
            out = tau_t[:, b:c]
            # log pi_k + log N(x_i | mu_k, Sigma_k), then log-sum-exp over k.
            log_joint(b, c, out, buf)
            if dead.any():
                out[dead] = -np.inf
            total += float(em.normalise_log_joint(out).sum())
            if moments:
                part = _block_moments(data, out, b, c, products)
                sums = part if sums is None else _add([sums, part])
        return total, sums

    if moments:
        flops += 2.0 * n * k * (data.feats.shape[1] + (0 if products is None else len(products)))
    total, sums = _add(_map_chunks(chunk, data.chunks(block), flops))
    tau = tau_t.T
    if moments:
        data.moments = (tau, *sums)
    return tau, float(total)


def _far_from_centre(cov: np.ndarray, mean: np.ndarray) -> bool:
    r"""Whether :math:`\mu^\top \Sigma^{-1} \mu` exceeds ``_CANCELLATION_RATIO`` (or Sigma is singular).

    :math:`\Sigma = E[x x^\top] - \mu\mu^\top` computed about the data mean
    carries rounding errors of relative size about
    :math:`\epsilon\,(1 + \mu^\top \Sigma^{-1} \mu)` in the metric of
    :math:`\Sigma` itself.
    """
    chol = _cholesky(cov)
    if chol is None:
        return True
    z = mean @ dtrtri(chol, lower=1)[0].T
    return bool(z @ z > _CANCELLATION_RATIO)


def _spread(data: _Data, t: np.ndarray, cols: np.ndarray, centre: np.ndarray) -> np.ndarray:
    r""":math:`\sum_i t_i (x_{ij} - c_j)^2` for the coordinates ``cols`` (weights ``t`` (n,)).

    The ``"diag"``/``"spherical"`` M-step's careful path, from the raw samples.
    Samples with :math:`t_i = 0` are skipped (a collapsing component, the
    usual reason for this path, holds a handful of samples).
    """
    block = data.block_rows(len(cols))

    def chunk(s: int, e: int) -> np.ndarray:
        acc = np.zeros(len(cols))
        for b in range(s, e, block):
            w = t[b : min(b + block, e)]
            rows = b + np.flatnonzero(w)
            a = data.X[rows[:, None], cols] - centre
            np.square(a, out=a)
            acc += w[rows - b] @ a
        return acc

    return _add(_map_chunks(chunk, data.chunks(block), 3.0 * data.n * len(cols)))


def _scatter(
    data: _Data, tau_t: np.ndarray, comps: np.ndarray, centres: np.ndarray | None
) -> np.ndarray:
    r""":math:`\sum_i t_{ik} (x_i - c_k)(x_i - c_k)^\top`, (len(comps), d, d), for the components ``comps``.

    ``centres`` (K, d) are the :math:`c_k`, about which the raw samples are
    taken; None for the data mean, about which the centred samples are
    taken (the ``"full"`` M-step's first pass). Each cached
    block of samples is transposed once; each component's
    :math:`A^\top = (x - c_k)^\top \sqrt{t_k}` is then one pass over it and
    :math:`A^\top A` one BLAS syrk (numpy hands the product of an array with
    its own transpose to syrk: half the work of a general product).
    """
    d = data.d
    m = len(comps)
    block = data.block_rows(d)

    def chunk(s: int, e: int) -> np.ndarray:
        acc = np.zeros((m, d, d))
        at = np.empty((d, min(block, e - s)))
        for b in range(s, e, block):
            c = min(b + block, e)
            xt = (data.Xc if centres is None else data.X)[b:c].T.copy()
            a = at[:, : c - b]
            weight = np.sqrt(tau_t[comps, b:c])
            for idx, j in enumerate(comps):
                if centres is None:
                    np.multiply(xt, weight[idx], out=a)
                    acc[idx] += a @ a.T
                    continue
                # The careful path: samples with t_ik = 0 skipped (a collapsing
                # component holds a handful of them).
                rows = np.flatnonzero(weight[idx])
                if 2 * rows.size < c - b:
                    z = (xt[:, rows] - centres[j][:, None]) * weight[idx, rows]
                    acc[idx] += z @ z.T
                    continue
                np.subtract(xt, centres[j][:, None], out=a)
                a *= weight[idx]
                acc[idx] += a @ a.T
        return acc

    flops = 2.0 * data.n * m * d * d
    return _add(_map_chunks(chunk, data.chunks(block), flops))


def _m_step(data: _Data, tau: np.ndarray, reg_covar: float) -> GaussianParams:
    """Weighted means and covariances: the formulas of :func:`_m_step_textbook`.

    One pass over the samples, in chunks, sums :math:`n_k`,
    :math:`\\sum_i t_{ik} x_i` and the second moments about the data mean for
    every component (:func:`_block_moments`; in a fit, the E-step has already
    summed them); components for which these would cancel are redone
    about their own mean (:func:`_scatter`).
    """
    n, d = data.n, data.d
    ct = data.covariance_type
    tau_t = tau.T
    k = tau_t.shape[0]
    products = data.products() if ct == "full" else None
    use_scatter = ct == "full" and products is None
    everyone = np.arange(k)

    if data.moments is not None and data.moments[0] is tau:
        # Summed by the E-step that produced tau, while its blocks were in cache.
        nk, first, second = data.moments[1:]
    else:
        width = data.feats.shape[1]
        block = data.block_rows(width)

        def chunk(s: int, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            parts = [
                _block_moments(data, tau_t[:, b : b + block], b, min(b + block, e), products)
                for b in range(s, e, block)
            ]
            return _add(parts)

        flops = 2.0 * n * k * (width + (0 if products is None else products.shape[0]))
        nk, first, second = _add(_map_chunks(chunk, data.chunks(block), flops))
    if use_scatter:
        second = _scatter(data, tau_t, everyone, None)
    empty = nk < _TINY
    safe_nk = np.where(empty, 1.0, nk)[:, None]
    pi = np.where(empty, 0.0, nk)
    pi /= pi.sum()
    mu_c = first / safe_nk

    # Second moments about the data mean, E_k[x x^T] - mu_k mu_k^T, cancel
    # when a component's mean lies many standard deviations away from the
    # data mean; such components are recomputed about their own mean.
    if ct == "full":
        cov = np.empty((k, d, d))
        if products is not None:
            upper = np.triu_indices(d)
            m2 = second / safe_nk
            m2 -= mu_c[:, upper[0]] * mu_c[:, upper[1]]
            cov[:, upper[0], upper[1]] = m2
            cov[:, upper[1], upper[0]] = m2
        else:
            cov[:] = second / safe_nk[:, :, None]
            cov -= mu_c[:, :, None] * mu_c[:, None, :]
        redo = np.array([not empty[j] and _far_from_centre(cov[j], mu_c[j]) for j in range(k)])
        redo = np.flatnonzero(redo)
        if redo.size:
            cov[redo] = _scatter(data, tau_t, redo, mu_c + data.shift) / nk[redo, None, None]
        diagonal = cov.reshape(k, d * d)[:, :: d + 1]
    else:
        m2 = second / safe_nk
        if ct == "diag":
            spread = np.square(mu_c)
            cov = m2 - spread
        else:
            spread = np.square(mu_c).mean(axis=1)
            cov = m2[:, 0] / d - spread
        # "diag": only the coordinates that would cancel are redone.
        bad = (spread > _CANCELLATION_RATIO * cov).reshape(k, -1) & ~empty[:, None]
        for j in np.flatnonzero(bad.any(axis=1)):
            cols = np.flatnonzero(bad[j]) if ct == "diag" else np.arange(d)
            var = _spread(data, tau_t[j], cols, mu_c[j, cols] + data.shift[cols]) / nk[j]
            if ct == "diag":
                cov[j, cols] = var
            else:
                cov[j] = var.mean()
        diagonal = cov.reshape(k, -1)
    diagonal += reg_covar

    if empty.any():
        mu_c[empty] = 0.0  # the data mean
        cov[empty] = data.pooled_cov() + (reg_covar * np.eye(d) if ct == "full" else reg_covar)
    return GaussianParams(pi, mu_c + data.shift, cov)


def _model(data: _Data, reg_covar: float) -> Model[GaussianParams]:
    """The model on the prepared data; parameters in the internal layout (``mu`` (K, d))."""

    def feasible(theta: GaussianParams) -> bool:
        try:
            # Outside the parameter space: a covariance not positive definite.
            _precision_cholesky(theta.cov, data.covariance_type)
        except ValueError:
            return False
        return True

    return Model(
        e_step=lambda theta: _e_step(data, theta, moments=True),
        m_step=lambda tau: _m_step(data, tau, reg_covar),
        feasible=feasible,
        rows=data.Xc,
    )


# --------------------------------------------------------------------------
# public API


def e_step(
    X: object, pi: object, mu: object, cov: object, covariance_type: str = "full"
) -> np.ndarray:
    r"""Responsibilities :math:`t_{ik} = p(z_i = k \mid x_i, \theta)`.

    .. math::

        t_{ik} = \frac{\pi_k\, \mathcal N(x_i \mid \mu_k, \Sigma_k)}
                      {\sum_l \pi_l\, \mathcal N(x_i \mid \mu_l, \Sigma_l)},
        \qquad
        \log \mathcal N(x_i \mid \mu_k, \Sigma_k)
          = -\tfrac{d}{2}\log 2\pi - \tfrac12 \log\det\Sigma_k
            - \tfrac12 (x_i - \mu_k)^\top \Sigma_k^{-1} (x_i - \mu_k),

    normalised with log-sum-exp, so it stays finite where every density
    underflows.

    Parameters
    ----------
    X : array_like of shape (n, d) or (n,)
        Data; 1-D for a univariate mixture.
    pi : array_like of shape (K,)
        Mixing proportions :math:`\pi_k`.
    mu : array_like of shape (K, d), or (K,) for 1-D ``X``
        Means :math:`\mu_k`.
    cov : array_like
        Covariances :math:`\Sigma_k`: (K, d, d) for ``"full"``, (K, d)
        variances for ``"diag"``, (K,) variances for ``"spherical"`` or 1-D ``X``.
    covariance_type : {"full", "diag", "spherical"}

    Returns
    -------
    tau : ndarray of shape (n, K)
        Rows sum to 1.
    """
    X, uni = _check_X(X)
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    theta = _check_params(pi, mu, cov, ct, uni, X.shape[1])
    return _e_step(_Data(X, ct), theta)[0]


def log_likelihood(
    X: object, pi: object, mu: object, cov: object, covariance_type: str = "full"
) -> float:
    r"""Observed-data log-likelihood :math:`\sum_i \log \sum_k \pi_k\, \mathcal N(x_i \mid \mu_k, \Sigma_k)`.

    Computed with log-sum-exp (the E-step's normaliser). Arguments as in
    :func:`e_step`.
    """
    X, uni = _check_X(X)
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    theta = _check_params(pi, mu, cov, ct, uni, X.shape[1])
    return _e_step(_Data(X, ct), theta)[1]


def m_step(
    X: object, tau: object, covariance_type: str = "full", reg_covar: float = 1e-6
) -> GaussianParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)` given responsibilities :math:`t_{ik}`.

    With :math:`n_k = \sum_i t_{ik}`:

    .. math::

        \pi_k = \frac{n_k}{n}, \qquad
        \mu_k = \frac{1}{n_k}\sum_{i} t_{ik}\, x_i, \qquad
        \Sigma_k = \frac{1}{n_k}\sum_{i} t_{ik}\, (x_i - \mu_k)(x_i - \mu_k)^\top
                   + \varepsilon I,

    ``"diag"`` keeps the diagonal of :math:`\Sigma_k`, ``"spherical"`` its
    mean :math:`\sigma_k^2 = \operatorname{tr}(\Sigma_k)/d`. The term
    :math:`\varepsilon I` (``reg_covar``, added as in scikit-learn) keeps a
    collapsing component's covariance :math:`\succeq \varepsilon I`. A component
    with :math:`n_k = 0` gets :math:`\pi_k = 0`, the mean and covariance of all
    the data (plus :math:`\varepsilon I`) as placeholders.

    Parameters
    ----------
    X : array_like of shape (n, d) or (n,)
        Data; 1-D for a univariate mixture.
    tau : array_like of shape (n, K)
        Responsibilities (entries in [0, 1], rows summing to 1).
    covariance_type : {"full", "diag", "spherical"}
    reg_covar : float
        :math:`\varepsilon \ge 0`, added to the diagonal of each covariance.

    Returns
    -------
    GaussianParams
        ``(pi, mu, cov)`` in the shapes described in :class:`GaussianParams`.
    """
    X, uni = _check_X(X)
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    reg_covar = _check_reg_covar(reg_covar)
    tau = v.check_responsibilities(tau, X.shape[0])
    return _external(_m_step(_Data(X, ct), tau, reg_covar), uni)


@em.shared_doc
def fit(
    X: object,
    pi0: object | None = None,
    mu0: object | None = None,
    cov0: object | None = None,
    *,
    covariance_type: str = "full",
    n_components: int | None = None,
    n_init: int = 1,
    init: str = "kmeans++",
    random_state: int | np.random.Generator | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    reg_covar: float = 1e-6,
    accelerate: bool = False,
) -> EMResult[GaussianParams]:
    r"""Fit a Gaussian mixture by EM.

    {start}

    ``max_iter=m, tol=0`` does what scikit-learn's
    ``GaussianMixture(max_iter=m, tol=0)`` does; the objective is the
    log-likelihood.

    Parameters
    ----------
    X : array_like of shape (n, d) or (n,)
        Data; 1-D for a univariate mixture.
    pi0, mu0, cov0 : array_like, optional
        Initial parameters, shapes as in :class:`GaussianParams`.
    covariance_type : {"full", "diag", "spherical"}
        Form of :math:`\Sigma_k`; irrelevant for 1-D ``X``.
    {start_options}
    reg_covar : float
        :math:`\varepsilon \ge 0` added to the diagonal of every covariance
        in the M-step (scikit-learn's default :math:`10^{-6}`). With ``0`` a
        component that collapses onto too few points (singular
        :math:`\Sigma_k`, unbounded likelihood) raises a ValueError.
    {accelerate}

    Returns
    -------
    {returns}
        ``params`` is a :class:`GaussianParams`, in the univariate layout for 1-D ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from solutions import gaussian
    >>> x = np.r_[np.linspace(-1.0, 1.0, 50), np.linspace(4.0, 6.0, 50)]
    >>> res = gaussian.fit(x, [0.5, 0.5], [-0.5, 4.5], [1.0, 1.0])
    >>> np.round(res.params.mu, 3)
    array([0., 5.])
    """
    X, uni = _check_X(X)
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    reg_covar = _check_reg_covar(reg_covar)
    result = em.fit(
        lambda: _model(_Data(X, ct), reg_covar),
        (pi0, mu0, cov0),
        lambda pi, mu, cov: _check_params(pi, mu, cov, ct, uni, X.shape[1]),
        n_components=n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        max_iter=max_iter,
        tol=tol,
        accelerate=accelerate,
    )
    return replace(result, params=_external(result.params, uni))


def sample(
    n: int,
    pi: object,
    mu: object,
    cov: object,
    covariance_type: str = "full",
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from the mixture; returns ``(X, z)`` with labels ``z``.

    ``X`` has shape (n, d), or (n,) when ``mu`` has shape (K,) (univariate).
    """
    n = v.check_integer(n, "n", 0)
    uni = np.ndim(mu) == 1
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    pi, mu, cov = _check_params(pi, mu, cov, ct, uni)
    rng = np.random.default_rng(random_state)
    k, d = mu.shape
    z = rng.choice(k, size=n, p=pi)
    noise = rng.standard_normal((n, d))
    if ct == "full":
        for j in range(k):
            members = z == j
            noise[members] = noise[members] @ _cholesky(cov[j]).T
    else:
        noise *= np.sqrt(cov[z] if ct == "diag" else cov[z][:, None])
    X = mu[z] + noise
    return (X[:, 0] if uni else X), z


def n_parameters(n_components: int, n_features: int, covariance_type: str = "full") -> int:
    r"""Number of free parameters :math:`p` of a mixture (as scikit-learn counts them).

    :math:`K - 1` weights, :math:`Kd` means and :math:`Kd(d+1)/2` (``"full"``),
    :math:`Kd` (``"diag"``) or :math:`K` (``"spherical"``) covariance parameters.
    """
    _check_covariance_type(covariance_type)
    for name, val in (("n_components", n_components), ("n_features", n_features)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    k, d = int(n_components), int(n_features)
    per_cov = {"full": d * (d + 1) // 2, "diag": d, "spherical": 1}[covariance_type]
    return k - 1 + k * d + k * per_cov


def bic(X: object, params: GaussianParams | EMResult, covariance_type: str = "full") -> float:
    r"""Bayesian information criterion :math:`-2 \log p(x_{1:n} \mid \hat\theta) + p \log n`.

    scikit-learn's convention (``GaussianMixture.bic``): lower is better.
    ``params`` is a :class:`GaussianParams` or the :class:`EMResult` of :func:`fit`.
    """
    if isinstance(params, EMResult):
        params = params.params
    X_arr, uni = _check_X(X)
    ct = _internal_type(_check_covariance_type(covariance_type), uni)
    theta = _check_params(*params, ct, uni, X_arr.shape[1])
    loglik = _e_step(_Data(X_arr, ct), theta)[1]
    n, d = X_arr.shape
    return -2.0 * loglik + n_parameters(len(theta.pi), d, covariance_type) * math.log(n)
