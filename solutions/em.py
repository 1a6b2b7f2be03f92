r"""The EM loop shared by every model, with optional SQUAREM acceleration.

Notation (as in the book). Observed data :math:`x_{1:n}`, missing labels
:math:`z_{1:n}`, parameters :math:`\theta`. From :math:`\theta^q` one EM
iteration computes

* **E-step**: the responsibilities
  :math:`t_{ik}^q = p(z_i = k \mid x_i, \theta^q)`, which define
  :math:`Q(\theta, \theta^q) = \sum_{i,k} t_{ik}^q \log p(x_i, z_i = k \mid \theta)`;
* **M-step**: :math:`\theta^{q+1} = \arg\max_\theta Q(\theta, \theta^q)`.

The log-likelihood :math:`\log p(x_{1:n} \mid \theta^q)` comes for free from
the normalising constant of the E-step, so one iteration costs one E-step and
one M-step.

A model plugs into :func:`run_em` through a :class:`Model`: its E-step
(responsibilities and the objective at the current parameters), its M-step,
and, for SQUAREM, a flat-vector view of its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

__all__ = ["EMResult", "Model", "run_em"]

P = TypeVar("P", bound=tuple)


@dataclass(frozen=True)
class EMResult(Generic[P]):
    """Outcome of an EM run.

    Attributes
    ----------
    params : NamedTuple
        Final parameters :math:`\\theta^{q}` (``pi, lam`` / ``pi, mu, cov`` /
        ``pi, mu`` depending on the model).
    loglik : ndarray of shape (n_iter + 1,)
        ``loglik[t]`` is :math:`\\log p(x_{1:n} \\mid \\theta^t)`, summed over
        the samples; ``loglik[0]`` is at the initial parameters.
    n_iter : int
        Number of iterations done (SQUAREM: number of accelerated cycles).
    converged : bool
        Whether the relative change of the objective fell below ``tol``.
    objective : ndarray of shape (n_iter + 1,)
        The quantity EM increases: equal to ``loglik`` for maximum likelihood,
        the log-likelihood plus the log-prior when a model is fitted with a
        prior (e.g. Bernoulli smoothing). Never decreases.
    n_em_steps : int
        Number of EM maps (E-step followed by M-step) evaluated; with SQUAREM
        each cycle evaluates up to three.
    """

    params: P
    loglik: np.ndarray
    n_iter: int
    converged: bool
    objective: np.ndarray
    n_em_steps: int
    _tau: Any = field(repr=False, compare=False)

    @property
    def tau(self) -> np.ndarray:
        """Final responsibilities :math:`t_{ik}`, shape (n, K).

        Computed on first access for models that fit on compressed data
        (the Poisson fit works on the distinct counts only).
        """
        if callable(self._tau):
            object.__setattr__(self, "_tau", self._tau())
        return self._tau


@dataclass(frozen=True)
class Model(Generic[P]):
    """What :func:`run_em` needs to know about a model.

    Attributes
    ----------
    e_step : callable
        ``e_step(theta) -> (tau, objective)``: responsibilities at ``theta`` and
        the objective (log-likelihood, plus log-prior if any) at ``theta``.
    m_step : callable
        ``m_step(tau) -> theta``: the maximiser of :math:`Q(\\theta, \\theta^q)`.
    loglik : callable
        ``loglik(theta, objective) -> float``: the log-likelihood, given the
        objective already computed at ``theta`` (identity without a prior).
    to_vector : callable
        ``to_vector(theta) -> ndarray``: the parameters as one flat vector.
    from_vector : callable
        ``from_vector(v) -> theta or None``: the inverse; ``None`` when ``v``
        lies outside the parameter space (SQUAREM then falls back to EM).
    """

    e_step: Callable[[P], tuple[np.ndarray, float]]
    m_step: Callable[[np.ndarray], P]
    to_vector: Callable[[P], np.ndarray]
    from_vector: Callable[[np.ndarray], P | None]
    loglik: Callable[[P, float], float] = lambda theta, objective: objective


class _State(NamedTuple):
    theta: Any
    tau: np.ndarray
    objective: float


def _relative_change(new: float, old: float) -> float:
    if not np.isfinite(old):
        return np.inf
    return abs(new - old) / max(abs(old), np.finfo(float).tiny)


def run_em(
    model: Model[P],
    theta0: P,
    *,
    max_iter: int = 1000,
    tol: float = 1e-10,
    accelerate: bool = False,
    tau_transform: Callable[[np.ndarray], Any] | None = None,
) -> EMResult[P]:
    r"""Iterate EM (optionally SQUAREM-accelerated) from ``theta0``.

    Parameters
    ----------
    model : Model
        The model's E- and M-steps.
    theta0 : NamedTuple
        Initial parameters :math:`\theta^0`.
    max_iter : int
        Maximum number of iterations (SQUAREM: cycles).
    tol : float
        Stop when the relative change of the objective,
        :math:`|\ell(\theta^{q+1}) - \ell(\theta^q)| / |\ell(\theta^q)|`,
        falls below ``tol``. ``tol=0`` runs exactly ``max_iter`` iterations.
    accelerate : bool
        Use SQUAREM (Varadhan & Roland 2008, scheme S3). Each cycle takes two
        EM steps :math:`\theta_1 = F(\theta^q)`, :math:`\theta_2 = F(\theta_1)`,
        forms :math:`r = \theta_1 - \theta^q`, :math:`v = \theta_2 - \theta_1 - r`,
        :math:`\alpha = -\|r\| / \|v\|` (capped at :math:`-1`), extrapolates
        :math:`\theta' = \theta^q - 2\alpha r + \alpha^2 v` and stabilises it with
        one EM step. Whenever :math:`\theta'` leaves the parameter space or the
        stabilised point has a lower objective than :math:`\theta_2`, the cycle
        keeps :math:`\theta_2` (two plain EM steps), so the objective trace
        never decreases.
    tau_transform : callable, optional
        Applied to the final responsibilities before they are stored (used by
        models that fit on compressed data). It may return a zero-argument
        callable to defer the work until ``EMResult.tau`` is read.

    Returns
    -------
    EMResult
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")

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
        change = _relative_change(new.objective, state.objective)
        state = new
        if change < tol:
            converged = True
            break

    tau = state.tau if tau_transform is None else tau_transform(state.tau)
    return EMResult(
        params=state.theta,
        loglik=np.asarray(logliks),
        n_iter=len(objectives) - 1,
        converged=converged,
        objective=np.asarray(objectives),
        n_em_steps=n_em_steps,
        _tau=tau,
    )


def _squarem_cycle(
    model: Model[P], state: _State, evaluate: Callable[[P], _State]
) -> tuple[_State, int]:
    """One SQUAREM (S3) cycle with a monotone fallback; returns the new state."""
    one = evaluate(model.m_step(state.tau))
    two = evaluate(model.m_step(one.tau))
    v0 = model.to_vector(state.theta)
    r = model.to_vector(one.theta) - v0
    v = model.to_vector(two.theta) - model.to_vector(one.theta) - r
    norm_v = np.linalg.norm(v)
    if norm_v == 0.0 or not np.isfinite(norm_v):
        return two, 2
    alpha = min(-np.linalg.norm(r) / norm_v, -1.0)
    if alpha == -1.0:
        # The extrapolation would land exactly on theta_2: nothing to gain.
        return two, 2
    theta_prime = model.from_vector(v0 - 2.0 * alpha * r + alpha**2 * v)
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
