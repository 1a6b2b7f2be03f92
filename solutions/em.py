r"""The EM algorithm shared by every model: the loop, SQUAREM, and ``fit``.

Notation (as in the book). Observed data :math:`x_{1:n}`, missing labels
:math:`z_{1:n}`, parameters :math:`\theta`. From :math:`\theta^q` one EM
iteration computes

* **E-step**: the responsibilities
  :math:`t_{ik}^q = p(z_i = k \mid x_i, \theta^q)`, which define
  :math:`Q(\theta, \theta^q) = \sum_{i,k} t_{ik}^q \log p(x_i, z_i = k \mid \theta)`;
* **M-step**: :math:`\theta^{q+1} = \arg\max_\theta Q(\theta, \theta^q)`.

The log-likelihood :math:`\ell(\theta^q) = \log p(x_{1:n} \mid \theta^q)` comes
for free from the normalising constant of the E-step
(:func:`normalise_log_joint`), so one iteration costs one E-step and one
M-step.

**Stopping rule.** After iteration :math:`q`, EM stops when ``tol > 0`` and

.. math::

    |\ell(\theta^q) - \ell(\theta^{q-1})| \le \mathrm{tol} \cdot |\ell(\theta^q)|

(with a prior, :math:`\ell` is the objective EM increases, the log-posterior);
``tol = 0`` runs exactly ``max_iter`` iterations.

Every model module (:mod:`~solutions.poisson`, :mod:`~solutions.gaussian`,
:mod:`~solutions.bernoulli`) describes itself, for one data set, by a
:class:`Model` — its E-step, its M-step, what counts as a valid parameter —
and its ``fit`` hands that record to :func:`fit`, which validates the options,
checks the start or draws several (:mod:`solutions.init`) and runs
:func:`run_em` from each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from . import _validation as v
from .init import multi_start, uses_given_start

__all__ = [
    "EMResult",
    "Model",
    "fit",
    "from_vector",
    "normalise_log_joint",
    "responsibilities",
    "run_em",
    "stops",
    "to_vector",
]

P = TypeVar("P", bound=tuple)


# --------------------------------------------------------------------------
# the E-step's normaliser, shared by every model


def normalise_log_joint(log_joint: np.ndarray) -> np.ndarray:
    r"""Responsibilities from :math:`\log \pi_k + \log p_k(x_i)`, in place, by log-sum-exp.

    .. math::

        \log p(x_i \mid \theta) = \operatorname{logsumexp}_k
            \big[\log \pi_k + \log p_k(x_i)\big], \qquad
        t_{ik} = \exp\big(\log \pi_k + \log p_k(x_i) - \log p(x_i \mid \theta)\big).

    Parameters
    ----------
    log_joint : ndarray of shape (K, n)
        :math:`\log \pi_k + \log p_k(x_i)`, components along the rows (the
        reductions over :math:`k` then run over contiguous rows); entries may
        be :math:`-\infty` (a component with :math:`\pi_k = 0`, or one under
        which :math:`x_i` is impossible). Overwritten with :math:`t_{ik}`,
        so ``log_joint.T`` is the (n, K) array of responsibilities. A view
        (e.g. a block of columns) works.

    Returns
    -------
    ndarray of shape (n,)
        :math:`\log p(x_i \mid \theta)`. A sample impossible under every
        component gets :math:`-\infty` and responsibilities all 0: the caller
        decides whether that is an error (see :func:`raise_if_impossible`).
    """
    top = log_joint.max(axis=0)
    top[~np.isfinite(top)] = 0.0
    log_joint -= top
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=0)
    with np.errstate(divide="ignore"):
        log_norm = top + np.log(total)
    total[total == 0.0] = 1.0
    log_joint /= total
    return log_norm


def responsibilities(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`normalise_log_joint` for a log-joint laid out (n, K), one row per
    sample: :math:`t_{ik}` (the same array, overwritten) and
    :math:`\log p(x_i \mid \theta)`.
    """
    log_norm = normalise_log_joint(log_joint.T)  # components along the rows: the (K, n) view
    return log_joint, log_norm


def raise_if_impossible(log_norm: np.ndarray, why: str) -> None:
    """ValueError when some sample has probability 0 under every component.

    Its responsibilities are undefined; ``why`` says what makes it impossible.
    """
    bad = np.flatnonzero(np.isneginf(log_norm))
    if bad.size:
        raise ValueError(
            f"sample {bad[0]} has zero probability under every component "
            f"({bad.size} such samples): {why}"
        )


# --------------------------------------------------------------------------
# parameters as one flat vector (SQUAREM)


def to_vector(theta: tuple) -> np.ndarray:
    """The parameters (a NamedTuple of arrays) as one flat vector, field after field."""
    return np.concatenate([np.ravel(a) for a in theta])


def from_vector(vec: np.ndarray, like: P) -> P:
    """The inverse of :func:`to_vector`: fields with the shapes of those of ``like``."""
    fields, start = [], 0
    for a in like:
        shape = np.shape(a)
        size = int(np.prod(shape))
        fields.append(vec[start : start + size].reshape(shape))
        start += size
    if start != vec.size:
        raise ValueError(f"vector of {vec.size} values for {start} parameters")
    return type(like)(*fields)


def _anywhere(theta: tuple) -> bool:
    return True


def _objective_is_loglik(theta: tuple, objective: float) -> float:
    return objective


# --------------------------------------------------------------------------
# the model record and the result


@dataclass(frozen=True)
class Model(Generic[P]):
    r"""One model on one data set: what :func:`run_em` and :func:`fit` need.

    The parameters :math:`\theta` are a NamedTuple of arrays; for a mixture,
    one field is the weights ``pi`` (SQUAREM keeps them summing to 1).

    Attributes
    ----------
    e_step : callable
        ``e_step(theta) -> (tau, objective)``: responsibilities at ``theta``,
        one row per fitted row, and the objective at ``theta`` (the
        log-likelihood, plus the log-prior if any).
    m_step : callable
        ``m_step(tau) -> theta``: the maximiser of :math:`Q(\theta, \theta^q)`
        (plus the log-prior if any).
    feasible : callable
        ``feasible(theta) -> bool``: whether ``theta``, finite with
        non-negative weights summing to 1, lies in the parameter space (SQUAREM
        falls back to EM when an extrapolated point does not).
    loglik : callable
        ``loglik(theta, objective) -> float``: the log-likelihood, given the
        objective already computed at ``theta`` (identity without a prior).
    rows : ndarray of shape (m, d), optional
        The rows EM works on, where :func:`fit` draws its starting partitions
        (:mod:`solutions.init`); the data, or its distinct values.
    weights : ndarray of shape (m,), optional
        How many samples each row stands for, when the rows are distinct values.
    row_of_sample : ndarray of shape (n,), optional
        With ``weights``: the row of each sample, to give each sample its
        responsibilities.
    start_m_step : callable, optional
        ``start_m_step(tau0) -> theta0``: turns starting responsibilities
        into parameters (default: ``m_step``).
    """

    e_step: Callable[[P], tuple[np.ndarray, float]]
    m_step: Callable[[np.ndarray], P]
    feasible: Callable[[P], bool] = _anywhere
    loglik: Callable[[P, float], float] = _objective_is_loglik
    rows: np.ndarray | None = None
    weights: np.ndarray | None = None
    row_of_sample: np.ndarray | None = None
    start_m_step: Callable[[np.ndarray], P] | None = None

    @property
    def n_samples(self) -> int:
        """:math:`n`, the number of samples the rows stand for."""
        if self.rows is None:
            raise ValueError("this model has no rows to fit")
        return len(self.rows) if self.weights is None else int(np.rint(self.weights.sum()))


@dataclass(frozen=True)
class EMResult(Generic[P]):
    r"""Outcome of an EM run.

    Attributes
    ----------
    params : NamedTuple
        Final parameters :math:`\theta^{q}` (``pi, lam`` / ``pi, mu, cov`` /
        ``pi, mu`` depending on the model).
    loglik : ndarray of shape (n_iter + 1,)
        ``loglik[q]`` is :math:`\ell(\theta^q) = \log p(x_{1:n} \mid \theta^q)`,
        summed over the samples; ``loglik[0]`` is at the initial parameters.
    n_iter : int
        Number of iterations done (SQUAREM: number of accelerated cycles).
    converged : bool
        Whether the stopping rule ended the run: ``tol > 0`` and
        :math:`|\ell(\theta^q) - \ell(\theta^{q-1})| \le \mathrm{tol}\,|\ell(\theta^q)|`
        (on ``objective``). False when ``max_iter`` ended it.
    objective : ndarray of shape (n_iter + 1,)
        The quantity EM increases: equal to ``loglik`` for maximum likelihood,
        the log-likelihood plus the log-prior when a model is fitted with a
        prior (e.g. Bernoulli smoothing). Never decreases.
    n_em_steps : int
        Number of EM maps (E-step followed by M-step) evaluated; with SQUAREM
        each cycle evaluates up to three.
    row_tau : ndarray of shape (m, K)
        Responsibilities at ``params`` of each row EM worked on: the samples,
        or their distinct values (Poisson). Read :attr:`tau` instead.
    row_of_sample : ndarray of shape (n,) or None
        The row of each sample when the rows are distinct values.
    """

    params: P
    loglik: np.ndarray
    n_iter: int
    converged: bool
    objective: np.ndarray
    n_em_steps: int
    row_tau: np.ndarray
    row_of_sample: np.ndarray | None = None

    @property
    def tau(self) -> np.ndarray:
        r"""Final responsibilities :math:`t_{ik}`, shape (n, K), one row per sample.

        For a fit on distinct values each access expands ``row_tau`` again
        (the Poisson fit of :math:`10^8` counts never builds the (n, K) array
        unless asked).
        """
        if self.row_of_sample is None:
            return self.row_tau
        return self.row_tau[self.row_of_sample]


# --------------------------------------------------------------------------
# the loop


class _State(NamedTuple):
    theta: Any
    tau: np.ndarray
    objective: float


def stops(new: float, old: float, tol: float) -> bool:
    r"""The stopping rule: ``tol > 0`` and :math:`|\ell^{new} - \ell^{old}| \le \mathrm{tol}\,|\ell^{new}|`.

    False for ``tol = 0`` (EM then runs ``max_iter`` iterations) and whenever
    an objective is not finite.
    """
    return bool(tol > 0 and abs(new - old) <= tol * abs(new))


def run_em(
    model: Model[P],
    theta0: P,
    *,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
) -> EMResult[P]:
    r"""Iterate EM (optionally SQUAREM-accelerated) from ``theta0``.

    Parameters
    ----------
    model : Model
        The model's E- and M-steps.
    theta0 : NamedTuple
        Initial parameters :math:`\theta^0`.
    max_iter, tol
        As in :func:`fit`.
    accelerate : bool
        Use SQUAREM (Varadhan & Roland 2008, scheme S3). Each cycle takes two
        EM steps :math:`\theta_1 = F(\theta^q)`, :math:`\theta_2 = F(\theta_1)`,
        forms :math:`r = \theta_1 - \theta^q`, :math:`v = \theta_2 - \theta_1 - r`,
        :math:`\alpha = -\|r\| / \|v\|` (capped at :math:`-1`), extrapolates
        :math:`\theta' = \theta^q - 2\alpha r + \alpha^2 v` and stabilises it with
        one EM step. Whenever :math:`\theta'` leaves the parameter space or the
        stabilised point has a lower objective than :math:`\theta_2`, the cycle
        keeps :math:`\theta_2` (two plain EM steps), so the objective trace
        never decreases. A cycle counts as one iteration for ``max_iter`` and
        the stopping rule.

    Returns
    -------
    EMResult
    """
    max_iter, tol = v.check_max_iter_tol(max_iter, tol)

    def evaluate(theta: P) -> _State:
        tau, objective = model.e_step(theta)
        return _State(theta, tau, float(objective))

    state = evaluate(theta0)
    logliks = [model.loglik(state.theta, state.objective)]
    objectives = [state.objective]
    n_em_steps = 0
    converged = False
    for _ in range(max_iter):
        if accelerate:
            new, steps = _squarem_cycle(model, state, evaluate)
        else:
            new, steps = evaluate(model.m_step(state.tau)), 1
        n_em_steps += steps
        logliks.append(model.loglik(new.theta, new.objective))
        objectives.append(new.objective)
        old, state = state, new
        if stops(new.objective, old.objective, tol):
            converged = True
            break

    return EMResult(
        params=state.theta,
        loglik=np.asarray(logliks),
        n_iter=len(objectives) - 1,
        converged=converged,
        objective=np.asarray(objectives),
        n_em_steps=n_em_steps,
        row_tau=state.tau,
        row_of_sample=model.row_of_sample,
    )


def _extrapolated(model: Model[P], vec: np.ndarray, like: P) -> P | None:
    """The point ``vec`` as parameters, or None outside the parameter space."""
    if not np.all(np.isfinite(vec)):
        return None
    theta = from_vector(vec, like)
    if "pi" in theta._fields:  # a mixture (EM also serves models without weights)
        pi = theta.pi
        if np.any(pi < 0) or not pi.sum() > 0:
            return None
        # The extrapolation keeps sum(pi) = 1 up to rounding only.
        theta = theta._replace(pi=pi / pi.sum())
    return theta if model.feasible(theta) else None


def _squarem_cycle(
    model: Model[P], state: _State, evaluate: Callable[[P], _State]
) -> tuple[_State, int]:
    """One SQUAREM (S3) cycle with a monotone fallback; returns the new state."""
    one = evaluate(model.m_step(state.tau))
    two = evaluate(model.m_step(one.tau))
    v0 = to_vector(state.theta)
    v1 = to_vector(one.theta)
    r = v1 - v0
    v = to_vector(two.theta) - v1 - r
    norm_v = np.linalg.norm(v)
    if norm_v == 0.0 or not np.isfinite(norm_v):
        return two, 2
    alpha = min(-np.linalg.norm(r) / norm_v, -1.0)
    if alpha == -1.0:
        # The extrapolation would land exactly on theta_2: nothing to gain.
        return two, 2
    theta_prime = _extrapolated(model, v0 - 2.0 * alpha * r + alpha**2 * v, state.theta)
    if theta_prime is None:
        return two, 2
    try:
        extrapolated = evaluate(theta_prime)
        stabilised = evaluate(model.m_step(extrapolated.tau))
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return two, 2
    if np.isfinite(stabilised.objective) and stabilised.objective >= two.objective:
        return stabilised, 3
    return two, 3


# --------------------------------------------------------------------------
# fit: one skeleton for every model


def fit(
    make_model: Callable[[], Model[P]],
    start: Sequence[object | None],
    check_start: Callable[..., P],
    *,
    n_components: int | None,
    n_init: int,
    init: str,
    random_state: int | np.random.Generator | None,
    max_iter: int,
    tol: float,
    accelerate: bool,
) -> EMResult[P]:
    """Validate the options, check the start (or draw ``n_init`` of them), run EM.

    The skeleton of every model's ``fit``; see, e.g., :func:`solutions.poisson.fit`
    for the meaning of the options.

    Parameters
    ----------
    make_model : callable
        ``make_model() -> Model``: the model on the data (with ``rows``),
        built once the options are known to be valid.
    start : sequence
        The user's initial parameters (``pi0, lam0`` ...), each possibly None.
    check_start : callable
        ``check_start(*start) -> theta0``: validates a given start.
    """
    max_iter, tol = v.check_max_iter_tol(max_iter, tol)
    given = uses_given_start(start, n_components, n_init, init)
    model = make_model()

    def run(theta0: P) -> EMResult[P]:
        return run_em(model, theta0, max_iter=max_iter, tol=tol, accelerate=accelerate)

    if given:
        theta0 = check_start(*start)
        v.check_n_components(model.n_samples, len(theta0[0]))
        return run(theta0)

    n_components = v.check_n_components(model.n_samples, n_components)
    return multi_start(
        model.rows,
        n_components,
        n_init=n_init,
        init=init,
        random_state=random_state,
        start_from=model.m_step if model.start_m_step is None else model.start_m_step,
        run=run,
        sample_weight=model.weights,
    )


# --------------------------------------------------------------------------
# the documentation every fit shares

FIT_DOCS = {
    "start": r"""
Either give a start :math:`\theta^0` (the initial parameters), or give
``n_components`` and let ``fit`` draw ``n_init`` starts (see
:mod:`solutions.init`: each start is one M-step from a k-means++ or random
partition) and keep the run with the highest final objective. Each iteration
is one E-step and one M-step (see ``e_step``, ``m_step``); ``max_iter=m`` and
``tol=0`` run exactly ``m`` of them.
""",
    "start_options": r"""
n_components : int, optional
    :math:`K`, when no start is given.
n_init : int
    Number of starts drawn when ``n_components`` is given; the run with the
    highest final objective is returned.
init : {"kmeans++", "random"}
    How starts are drawn: a k-means++ partition, or random responsibilities.
random_state : int or Generator, optional
    Seed for the starts.
max_iter : int
    Maximum number of EM iterations (SQUAREM cycles when accelerated).
tol : float
    After iteration :math:`q`, EM stops when ``tol > 0`` and
    :math:`|\ell(\theta^q) - \ell(\theta^{q-1})| \le \mathrm{tol}\,|\ell(\theta^q)|`
    (:math:`\ell` the objective); ``tol=0`` runs exactly ``max_iter``
    iterations.
""",
    "accelerate": r"""
accelerate : bool
    Use SQUAREM (Varadhan & Roland 2008) with a fallback to plain EM steps
    that keeps the objective trace non-decreasing.
""",
    "returns": r"""
EMResult
    ``params`` the final parameters; ``loglik`` the log-likelihood trace
    :math:`\ell(\theta^0), \dots, \ell(\theta^q)`; ``objective`` the trace EM
    increases (``loglik`` itself without a prior); ``n_iter``,
    ``converged``, ``n_em_steps``; ``tau`` the (n, K) responsibilities at the
    final parameters.
""",
}


def shared_doc(func: Callable) -> Callable:
    """Fill ``func``'s docstring: a line holding only ``{name}`` becomes ``FIT_DOCS[name]``.

    The inserted text takes the indentation of the placeholder line. Other
    braces (LaTeX) are left alone.
    """
    lines = []
    for line in inspect.cleandoc(func.__doc__).splitlines():
        key = line.strip()
        if key.startswith("{") and key.endswith("}") and key[1:-1] in FIT_DOCS:
            indent = line[: len(line) - len(line.lstrip())]
            block = FIT_DOCS[key[1:-1]].strip("\n").splitlines()
            lines.extend(indent + part if part else "" for part in block)
        else:
            lines.append(line)
    func.__doc__ = "\n".join(lines)
    return func
