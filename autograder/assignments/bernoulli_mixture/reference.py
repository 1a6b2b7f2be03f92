"""Expected results of the test cases, computed by :mod:`solutions.bernoulli`.

One function per graded function, ``f(case) -> expected`` (the ``reference``
of its :class:`~autograder.spec.Function`). The Beta(α, β) prior of the
assignment is :func:`solutions.bernoulli.m_step_beta` and
:func:`solutions.bernoulli.fit_beta` (α = β = 1: maximum likelihood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from solutions import bernoulli

if TYPE_CHECKING:
    from autograder.spec import Case

#: The converged runs: SQUAREM to a very tight tolerance.
CONVERGED_TOL = 1e-14
CONVERGED_MAX_ITER = 100_000


def log_bernoulli(case: Case) -> np.ndarray:
    return bernoulli.log_bernoulli_prob(*case.args)


def e_step(case: Case) -> np.ndarray:
    return bernoulli.e_step(*case.args)


def m_step(case: Case) -> tuple[np.ndarray, np.ndarray]:
    X, tau = case.args
    pi, mu = bernoulli.m_step_beta(X, tau, **case.kwargs)
    return (pi, mu)


def log_likelihood(case: Case) -> float:
    return bernoulli.log_likelihood(*case.args)


def em(case: Case) -> dict[str, Any]:
    """What :func:`.checks.check_em` compares an ``em`` result with.

    ``"exact"``: the run of ``max_iter`` iterations with ``tol = 0``;
    otherwise the converged point (the maximum of the objective that EM from
    this start reaches), with F(θ^0), F(θ^1) of plain EM.
    """
    X, pi0, mu0 = case.args
    prior = {k: float(case.kwargs.get(k, 1.0)) for k in ("alpha", "beta")}
    if case.reference == "exact":
        n_iter = int(case.kwargs["max_iter"])
        run = bernoulli.fit_beta(X, pi0, mu0, max_iter=n_iter, tol=0.0, **prior)
        return {
            "pi": run.params.pi, "mu": run.params.mu, "objective_head": run.objective,
            "objective_final": float(run.objective[-1]), "n_iter": n_iter,
        }
    head = bernoulli.fit_beta(X, pi0, mu0, max_iter=1, tol=0.0, **prior).objective
    best = bernoulli.fit_beta(X, pi0, mu0, max_iter=CONVERGED_MAX_ITER, tol=CONVERGED_TOL,
                              accelerate=True, **prior)
    return {
        "pi": best.params.pi, "mu": best.params.mu, "objective_head": head,
        "objective_final": float(best.objective[-1]), "n_iter": None,
    }
