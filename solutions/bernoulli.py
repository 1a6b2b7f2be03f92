r"""Mixture of multivariate Bernoulli distributions ("mixture of multinoullis").

Model: :math:`z_i \sim \mathrm{Cat}(\pi)` and, given :math:`z_i = k`, the
:math:`d` binary features of :math:`x_i \in \{0, 1\}^d` are independent,
:math:`x_{ij} \mid z_i = k \sim \mathrm{Ber}(\mu_{kj})`:

.. math::

    p(x_i \mid z_i = k, \theta) = \prod_{j=1}^d \mu_{kj}^{x_{ij}} (1 - \mu_{kj})^{1 - x_{ij}},
    \qquad
    p(x_i \mid \theta) = \sum_{k=1}^K \pi_k
        \prod_{j=1}^d \mu_{kj}^{x_{ij}} (1 - \mu_{kj})^{1 - x_{ij}},

with :math:`\theta = (\pi_1, \dots, \pi_K, \mu_{11}, \dots, \mu_{Kd})`.

EM updates from :math:`\theta^q`:

* E-step: :math:`t_{ik}^q = \dfrac{\pi_k^q\, p(x_i \mid \mu_k^q)}
  {\sum_l \pi_l^q\, p(x_i \mid \mu_l^q)}`, computed in log space;
* M-step: :math:`\pi_k^{q+1} = \frac{1}{n}\sum_i t_{ik}^q`,
  :math:`\mu_{kj}^{q+1} = \dfrac{\sum_i t_{ik}^q x_{ij}}{\sum_i t_{ik}^q}`.

**Log space and cost.** With :math:`d = 784` (binarised MNIST) the product of
Bernoulli probabilities underflows to 0, so everything is computed on the log
scale. The component log-densities are affine in :math:`x_i`,

.. math::

    \log p(x_i \mid \mu_k) = \sum_j x_{ij} \log\frac{\mu_{kj}}{1 - \mu_{kj}}
                           + \sum_j \log(1 - \mu_{kj}),

so the E-step is one matrix product :math:`X\,\mathrm{logit}(\mu)^\top` plus a
row vector, and the M-step is the product :math:`t^\top X`.

**Probabilities 0 and 1.** :math:`\mu_{kj} \in \{0, 1\}` is a legal parameter
(EM without smoothing produces it whenever a pixel is constant within a
component). Its logit is infinite, and the matrix product would give
:math:`0 \cdot \infty = \mathrm{NaN}`. Such entries are handled exactly instead:
they contribute 0 to the finite part, and :math:`\log p(x_i \mid \mu_k) = -\infty`
exactly when :math:`x_i` contradicts one of them (:math:`x_{ij} = 1` where
:math:`\mu_{kj} = 0`, or :math:`x_{ij} = 0` where :math:`\mu_{kj} = 1`). A sample
that is impossible under every component has likelihood 0:
:func:`log_likelihood` returns :math:`-\infty` and :func:`e_step` raises
``ValueError`` (its responsibilities are undefined). Once EM has taken a step,
this cannot happen: every sample is possible under the components it is
responsible to.

**Smoothing (MAP).** ``smoothing = s > 0`` puts a symmetric
:math:`\mathrm{Beta}(1 + s, 1 + s)` prior on every :math:`\mu_{kj}` (flat prior on
:math:`\pi`), and the M-step becomes

.. math::

    \mu_{kj}^{q+1} = \frac{\sum_i t_{ik}^q x_{ij} + s}{\sum_i t_{ik}^q + 2s}

(:math:`s = 1` is Laplace's add-one smoothing), which never reaches 0 or 1.
EM then increases the log-posterior, not the log-likelihood:
:func:`fit` reports the log-likelihood in ``EMResult.loglik`` and the
non-decreasing log-posterior, up to a constant,

.. math::

    \log p(x_{1:n} \mid \theta) + s \sum_{k, j} \big[\log \mu_{kj} + \log(1 - \mu_{kj})\big],

in ``EMResult.objective``.

**Empty components.** If :math:`\sum_i t_{ik} = 0`, the M-step sets
:math:`\pi_k = 0` and, without smoothing, :math:`\mu_k = \bar x` (the overall
mean, a finite placeholder); with smoothing the formula above applies as is
and gives :math:`\mu_{kj} = 1/2`, the mode of the prior, which is the exact
maximiser (any other value could lower the log-posterior). With
:math:`\pi_k = 0` the component keeps zero responsibility from then on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import em
from .em import EMResult, Model

__all__ = [
    "BernoulliParams",
    "e_step",
    "fit",
    "fit_beta",
    "log_bernoulli_prob",
    "log_beta_prior",
    "log_likelihood",
    "m_step",
    "m_step_beta",
    "sample",
]


class BernoulliParams(NamedTuple):
    """Parameters of a Bernoulli mixture: weights ``pi`` (K,), probabilities ``mu`` (K, d)."""

    pi: np.ndarray
    mu: np.ndarray


# --------------------------------------------------------------------------
# validation


def _check_binary(X: object) -> np.ndarray:
    """Binary data: 2-D, entries 0 or 1 (bool, integer or float); returned as float64."""
    arr = np.asarray(X)
    if arr.dtype != bool and not v.has_real_dtype(arr):
        raise ValueError(f"X must be a numeric or boolean array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n_samples, n_features), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"X is empty (shape {arr.shape})")
    if arr.dtype != bool:
        if np.issubdtype(arr.dtype, np.floating):
            v.check_finite(arr, "X")
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            value = arr[i, j].item()
            raise ValueError(
                f"X must be binary (values 0 and 1 only), found X[{i}, {j}] = {value!r}"
            )
    return np.asarray(arr, dtype=float)


def _check_mu(mu: object) -> np.ndarray:
    mu = v.as_float_array(mu, "mu", 2)
    if np.any(mu < 0) or np.any(mu > 1):
        raise ValueError("mu must contain probabilities in [0, 1]")
    return mu


def _check_params(pi: object, mu: object, n_features: int | None = None) -> BernoulliParams:
    pi = v.check_weights(pi)
    mu = _check_mu(mu)
    v.check_length(mu, len(pi), "mu")
    if n_features is not None and mu.shape[1] != n_features:
        raise ValueError(f"mu has {mu.shape[1]} features (columns) but X has {n_features}")
    return BernoulliParams(pi, mu)


def _check_smoothing(smoothing: float) -> float:
    try:
        s = float(smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"smoothing must be a number, got {smoothing!r}") from None
    if not (np.isfinite(s) and s >= 0):
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}")
    return s


# --------------------------------------------------------------------------
# the model's computations (X already a float64 0/1 array)


class _Affine(NamedTuple):
    r""":math:`\log \pi_k + \log p(x \mid \mu_k)` as an affine function of ``x``.

    ``w @ x + c`` for the finite part; the columns ``cols`` that hold a
    boundary :math:`\mu_{kj} \in \{0, 1\}` are kept aside to count, exactly,
    how many of them ``x`` contradicts: ``sign @ x[cols] + n_one``.
    """

    w: np.ndarray  # (K, d) logits log(mu / (1 - mu)), 0 where mu is 0 or 1
    c: np.ndarray  # (K, 1) log pi_k + sum_j log(1 - mu_kj) over mu_kj < 1
    cols: np.ndarray  # columns with some mu_kj in {0, 1}
    sign: np.ndarray  # (K, len(cols)): [mu_kj == 0] - [mu_kj == 1]
    n_one: np.ndarray  # (K, 1) number of mu_kj == 1


def _affine(mu: np.ndarray, pi: np.ndarray | None = None) -> _Affine:
    with np.errstate(divide="ignore"):
        log_mu = np.log(mu)
        log_1m = np.log1p(-mu)
        log_pi = np.zeros(len(mu)) if pi is None else np.log(pi)
    zero, one = mu == 0.0, mu == 1.0
    boundary = zero | one
    if not boundary.any():
        return _Affine(
            log_mu - log_1m, (log_pi + log_1m.sum(axis=1))[:, None],
            np.empty(0, dtype=np.intp), np.empty((len(mu), 0)), np.zeros((len(mu), 1)),
        )  # fmt: skip
    # A boundary entry contributes log 1 = 0 when x_ij agrees with it and
    # -inf when x_ij contradicts it: 0 in the finite part, and
    # [mu == 0] @ x + [mu == 1] @ (1 - x) = ([mu == 0] - [mu == 1]) @ x + sum [mu == 1]
    # counts the contradictions (an integer-valued product, so exact).
    cols = np.flatnonzero(boundary.any(axis=0))
    return _Affine(
        np.where(boundary, 0.0, log_mu - log_1m),
        (log_pi + np.where(one, 0.0, log_1m).sum(axis=1))[:, None],
        cols,
        zero[:, cols].astype(float) - one[:, cols],
        one.sum(axis=1, keepdims=True).astype(float),
    )


def _evaluate(X: np.ndarray, f: _Affine) -> np.ndarray:
    """(K, n) values of the affine map at the rows of X: one GEMM plus a column.

    Components along the rows keep the per-sample reductions of the E-step
    (max and sum over k) contiguous, which matters when K is small.
    """
    out = f.w @ X.T
    out += f.c
    if f.cols.size:
        contradictions = f.sign @ X[:, f.cols].T + f.n_one
        out[contradictions > 0.5] = -np.inf
    return out


def _log_prob(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """(n, K) component log-densities log p(x_i | mu_k)."""
    return _evaluate(X, _affine(mu)).T


def _e_pass(X: np.ndarray, pi: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E-step: t_ik (n, K; a transposed view) and log p(x_i | theta) (n,)."""
    tau_t = _evaluate(X, _affine(mu, pi))
    log_norm = em.normalise_log_joint(tau_t)
    return tau_t.T, log_norm


_IMPOSSIBLE = "each contradicts some mu_kj in {0, 1} of every component with pi_k > 0"


def _log_prior(mu: np.ndarray, smoothing: float) -> float:
    """s * sum_kj [log mu_kj + log(1 - mu_kj)]: the Beta(1+s, 1+s) log-prior up to a constant."""
    if smoothing == 0.0:
        return 0.0
    with np.errstate(divide="ignore"):
        return float(smoothing * (np.log(mu).sum() + np.log1p(-mu).sum()))


def _m_step(
    X: np.ndarray, tau: np.ndarray, smoothing: float, xbar: np.ndarray | None = None
) -> BernoulliParams:
    """M-step; ``xbar``: the column means of X when already known."""
    nk = tau.sum(axis=0)
    sx = tau.T @ X
    pi = nk / nk.sum()
    if smoothing > 0:
        mu = (sx + smoothing) / (nk[:, None] + 2.0 * smoothing)
    else:
        empty = nk <= 0
        mu = sx / np.where(empty, 1.0, nk)[:, None]
        if empty.any():
            mu[empty] = X.mean(axis=0) if xbar is None else xbar
    # sum_i t_ik x_ij <= sum_i t_ik holds exactly, but the two sums are
    # accumulated in different orders and the ratio may exceed 1 by an ulp.
    np.minimum(mu, 1.0, out=mu)
    return BernoulliParams(pi, mu)


# --------------------------------------------------------------------------
# public API


def log_bernoulli_prob(X: object, mu: object) -> np.ndarray:
    r"""Component log-densities :math:`\log p(x_i \mid \mu_k)`.

    .. math::

        \log p(x_i \mid \mu_k) = \sum_j x_{ij} \log\frac{\mu_{kj}}{1 - \mu_{kj}}
                               + \sum_j \log(1 - \mu_{kj}),

    computed as one matrix product; :math:`-\infty` exactly where :math:`x_i`
    contradicts a :math:`\mu_{kj} \in \{0, 1\}`.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Binary data (0/1, bool accepted).
    mu : array_like of shape (K, d)
        Probabilities :math:`\mu_{kj} \in [0, 1]`.

    Returns
    -------
    ndarray of shape (n, K)
    """
    X = _check_binary(X)
    mu = _check_mu(mu)
    if mu.shape[1] != X.shape[1]:
        raise ValueError(f"mu has {mu.shape[1]} features (columns) but X has {X.shape[1]}")
    return _log_prob(X, mu)


def e_step(X: object, pi: object, mu: object) -> np.ndarray:
    r"""Responsibilities :math:`t_{ik} = p(z_i = k \mid x_i, \theta)`.

    .. math::

        t_{ik} = \frac{\pi_k \prod_j \mu_{kj}^{x_{ij}} (1 - \mu_{kj})^{1 - x_{ij}}}
                      {\sum_l \pi_l \prod_j \mu_{lj}^{x_{ij}} (1 - \mu_{lj})^{1 - x_{ij}}}
               = \exp\Big(\log \pi_k + \log p(x_i \mid \mu_k)
                 - \operatorname{logsumexp}_l\big[\log \pi_l + \log p(x_i \mid \mu_l)\big]\Big)

    Parameters
    ----------
    X : array_like of shape (n, d)
        Binary data.
    pi : array_like of shape (K,)
        Mixing proportions :math:`\pi_k` (non-negative, summing to 1).
    mu : array_like of shape (K, d)
        Probabilities :math:`\mu_{kj} \in [0, 1]`.

    Returns
    -------
    tau : ndarray of shape (n, K)
        Rows sum to 1, finite even when every product of probabilities
        underflows (:math:`d = 784`).

    Raises
    ------
    ValueError
        Besides bad input, when a sample has probability 0 under every
        component (it contradicts a :math:`\mu_{kj} \in \{0, 1\}` of every
        component with :math:`\pi_k > 0`): its responsibilities are undefined.
    """
    X = _check_binary(X)
    pi, mu = _check_params(pi, mu, X.shape[1])
    tau, log_norm = _e_pass(X, pi, mu)
    em.raise_if_impossible(log_norm, _IMPOSSIBLE)
    return tau


def m_step(X: object, tau: object, smoothing: float = 0.0) -> BernoulliParams:
    r"""Maximiser of :math:`Q(\theta, \theta^q)` (plus the log-prior when smoothing).

    .. math::

        \pi_k = \frac{1}{n} \sum_{i=1}^n t_{ik}, \qquad
        \mu_{kj} = \frac{\sum_i t_{ik}\, x_{ij} + s}{\sum_i t_{ik} + 2s}

    :math:`s = 0` gives the maximum-likelihood update (weighted averages of the
    rows); :math:`s > 0` the MAP update under a :math:`\mathrm{Beta}(1+s, 1+s)`
    prior. A component with :math:`\sum_i t_{ik} = 0` gets :math:`\pi_k = 0` and,
    when :math:`s = 0`, :math:`\mu_k = \bar x`.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Binary data.
    tau : array_like of shape (n, K)
        Responsibilities (entries in [0, 1], rows summing to 1).
    smoothing : float
        :math:`s \ge 0`.

    Returns
    -------
    BernoulliParams
        ``(pi, mu)`` of shapes (K,) and (K, d).
    """
    X = _check_binary(X)
    tau = v.check_responsibilities(tau, X.shape[0])
    return _m_step(X, tau, _check_smoothing(smoothing))


def log_likelihood(X: object, pi: object, mu: object) -> float:
    r"""Observed-data log-likelihood :math:`\sum_i \log \sum_k \pi_k\, p(x_i \mid \mu_k)`.

    Computed with log-sum-exp, so it stays finite where the densities
    underflow. It is :math:`-\infty` when some sample has probability 0 under
    every component (see the module notes on probabilities 0 and 1).
    """
    X = _check_binary(X)
    pi, mu = _check_params(pi, mu, X.shape[1])
    return float(_e_pass(X, pi, mu)[1].sum())


def sample(
    n: int, pi: object, mu: object, random_state: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` binary vectors from the mixture.

    Returns
    -------
    X : ndarray of shape (n, d), dtype uint8
    z : ndarray of shape (n,)
        The component of each sample.
    """
    n = v.check_integer(n, "n", 0)
    pi, mu = _check_params(pi, mu)
    rng = np.random.default_rng(random_state)
    z = rng.choice(len(pi), size=n, p=pi)
    # U ~ Uniform[0, 1), so U < 0 never and U < 1 always: mu = 0, 1 are exact.
    X = (rng.random((n, mu.shape[1])) < mu[z]).astype(np.uint8)
    return X, z


def _model(X: np.ndarray, smoothing: float) -> Model[BernoulliParams]:
    """The model on binary data ``X``; the objective is the log-posterior when smoothing."""
    xbar = X.mean(axis=0)

    def e(theta: BernoulliParams) -> tuple[np.ndarray, float]:
        tau, log_norm = _e_pass(X, theta.pi, theta.mu)
        em.raise_if_impossible(log_norm, _IMPOSSIBLE)
        return tau, float(log_norm.sum()) + _log_prior(theta.mu, smoothing)

    def loglik(theta: BernoulliParams, objective: float) -> float:
        prior = _log_prior(theta.mu, smoothing)
        if np.isfinite(prior):
            return objective - prior
        # Only at a user's start with some mu_kj in {0, 1} under a prior.
        return float(_e_pass(X, theta.pi, theta.mu)[1].sum())

    return Model(
        e_step=e,
        m_step=lambda tau: _m_step(X, tau, smoothing, xbar),
        feasible=lambda theta: bool(np.all((theta.mu >= 0) & (theta.mu <= 1))),
        loglik=loglik,
        rows=X,
        # A chosen start never has mu_kj on the boundary {0, 1}.
        start_m_step=lambda tau0: _m_step(X, tau0, max(smoothing, 1.0), xbar),
    )


@em.shared_doc
def fit(
    X: object,
    pi0: object | None = None,
    mu0: object | None = None,
    *,
    n_components: int | None = None,
    n_init: int = 1,
    init: str = "kmeans++",
    random_state: int | np.random.Generator | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    smoothing: float = 0.0,
    accelerate: bool = False,
) -> EMResult[BernoulliParams]:
    r"""Fit a mixture of multivariate Bernoullis by EM (MAP-EM when smoothing).

    {start}

    A drawn start is turned into parameters by one M-step with smoothing
    :math:`\max(s, 1)`, so no drawn start has a :math:`\mu_{kj}` on the
    boundary {0, 1}. With smoothing the objective, which the stopping rule
    and the choice among starts use, is the log-posterior
    :math:`\ell(\theta) + s \sum_{kj} [\log\mu_{kj} + \log(1-\mu_{kj})]`.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Binary data (0/1 integers or floats, or booleans). Converted to a
        float64 array once.
    pi0 : array_like of shape (K,), optional
        Initial weights :math:`\pi^0`.
    mu0 : array_like of shape (K, d), optional
        Initial probabilities :math:`\mu^0` in [0, 1].
    {start_options}
    smoothing : float
        :math:`s \ge 0`: MAP estimation under a :math:`\mathrm{Beta}(1+s, 1+s)`
        prior on every :math:`\mu_{kj}` (``s = 1``: add-one smoothing).
    {accelerate}

    Returns
    -------
    {returns}

    Raises
    ------
    ValueError
        On bad input, or when a given start makes some sample impossible
        under every component.

    Examples
    --------
    >>> import numpy as np
    >>> from solutions import bernoulli
    >>> mu = np.array([[0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9]])
    >>> X, z = bernoulli.sample(500, [0.5, 0.5], mu, random_state=0)
    >>> res = bernoulli.fit(X, n_components=2, n_init=3, random_state=0)
    >>> bool(np.all(np.diff(res.loglik) >= 0))
    True
    """
    X = _check_binary(X)
    s = _check_smoothing(smoothing)
    return em.fit(
        lambda: _model(X, s),
        (pi0, mu0),
        lambda pi, mu: _check_params(pi, mu, X.shape[1]),
        n_components=n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        max_iter=max_iter,
        tol=tol,
        accelerate=accelerate,
    )


# --------------------------------------------------------------------------
# Beta(alpha, beta) priors (the bernoulli_mixture assignment's parametrisation)


def _check_beta_prior(alpha: float, beta: float) -> tuple[float, float]:
    out = []
    for name, value in (("alpha", alpha), ("beta", beta)):
        try:
            a = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not (np.isfinite(a) and a >= 1.0):
            # Below 1 the Beta density is unbounded at 0 or 1: the posterior
            # mode is on the boundary and the formula below is not it.
            raise ValueError(f"{name} must be a finite number >= 1, got {value!r}")
        out.append(a)
    return out[0], out[1]


def log_beta_prior(mu: object, alpha: float = 1.0, beta: float = 1.0) -> float:
    r"""Log-density of independent :math:`\mathrm{Beta}(\alpha, \beta)` priors, up to a constant.

    .. math::

        \sum_{k, j} \big[(\alpha - 1) \log \mu_{kj} + (\beta - 1) \log(1 - \mu_{kj})\big],

    with :math:`0 \log 0 = 0` (so it is 0 for :math:`\alpha = \beta = 1`,
    whatever :math:`\mu`), and :math:`-\infty` when :math:`\alpha > 1` and
    some :math:`\mu_{kj} = 0` (or :math:`\beta > 1` and some :math:`\mu_{kj} = 1`).
    """
    from scipy.special import xlog1py, xlogy

    mu = _check_mu(mu)
    a, b = _check_beta_prior(alpha, beta)
    return float(xlogy(a - 1.0, mu).sum() + xlog1py(b - 1.0, -mu).sum())


def _m_step_beta(
    X: np.ndarray, tau: np.ndarray, a: float, b: float, xbar: np.ndarray | None
) -> BernoulliParams:
    if a == b:
        # Beta(1 + s, 1 + s) is the symmetric smoothing s: one formula, declared once.
        return _m_step(X, tau, a - 1.0, xbar)
    nk = tau.sum(axis=0)
    mu = (tau.T @ X + (a - 1.0)) / (nk[:, None] + (a + b - 2.0))
    np.minimum(mu, 1.0, out=mu)
    return BernoulliParams(nk / nk.sum(), mu)


def m_step_beta(X: object, tau: object, alpha: float = 1.0, beta: float = 1.0) -> BernoulliParams:
    r"""M-step under independent :math:`\mathrm{Beta}(\alpha, \beta)` priors on the :math:`\mu_{kj}`.

    The maximiser of :math:`Q(\theta, \theta^q) + \sum_{kj} [(\alpha - 1)\log\mu_{kj}
    + (\beta - 1)\log(1 - \mu_{kj})]` (flat prior on :math:`\pi`):

    .. math::

        \pi_k = \frac{1}{n} \sum_i t_{ik}, \qquad
        \mu_{kj} = \frac{\sum_i t_{ik} x_{ij} + \alpha - 1}{\sum_i t_{ik} + \alpha + \beta - 2}.

    :math:`\alpha = \beta = 1` is :func:`m_step` without smoothing (maximum
    likelihood); :math:`\alpha = \beta = 1 + s` is :func:`m_step` with
    ``smoothing=s``. Requires :math:`\alpha, \beta \ge 1`.
    """
    X = _check_binary(X)
    tau = v.check_responsibilities(tau, X.shape[0])
    a, b = _check_beta_prior(alpha, beta)
    return _m_step_beta(X, tau, a, b, None)


def fit_beta(
    X: object,
    pi0: object,
    mu0: object,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
) -> EMResult[BernoulliParams]:
    r"""EM (MAP-EM when :math:`(\alpha, \beta) \ne (1, 1)`) from a given start.

    The M-step is :func:`m_step_beta`; ``objective`` is the log-posterior
    :math:`\ell(\theta) + ` :func:`log_beta_prior`, which EM never decreases
    and on which the stopping rule acts; ``loglik`` is :math:`\ell(\theta)`.
    For :math:`\alpha = \beta` it is :func:`fit` with ``smoothing = alpha - 1``.
    """
    X = _check_binary(X)
    a, b = _check_beta_prior(alpha, beta)
    if a == b:
        return fit(
            X, pi0, mu0, max_iter=max_iter, tol=tol, smoothing=a - 1.0, accelerate=accelerate
        )
    theta0 = _check_params(pi0, mu0, X.shape[1])
    xbar = X.mean(axis=0)

    def prior(mu: np.ndarray) -> float:
        from scipy.special import xlog1py, xlogy

        return float(xlogy(a - 1.0, mu).sum() + xlog1py(b - 1.0, -mu).sum())

    def e(theta: BernoulliParams) -> tuple[np.ndarray, float]:
        tau, log_norm = _e_pass(X, theta.pi, theta.mu)
        em.raise_if_impossible(log_norm, _IMPOSSIBLE)
        return tau, float(log_norm.sum()) + prior(theta.mu)

    def loglik(theta: BernoulliParams, objective: float) -> float:
        p = prior(theta.mu)
        return objective - p if np.isfinite(p) else float(_e_pass(X, theta.pi, theta.mu)[1].sum())

    model = Model(
        e_step=e,
        m_step=lambda tau: _m_step_beta(X, tau, a, b, xbar),
        feasible=lambda theta: bool(np.all((theta.mu >= 0) & (theta.mu <= 1))),
        loglik=loglik,
        rows=X,
    )
    v.check_n_components(model.n_samples, len(theta0.pi))
    return em.run_em(model, theta0, max_iter=max_iter, tol=tol, accelerate=accelerate)
