"""Expected results of the test cases, computed by :mod:`solutions.poisson`.

One function per graded function, ``f(case) -> expected`` (the ``reference``
of its :class:`~autograder.spec.Function`). The grader computes the expected
values of its own (secret-drawn) cases when it starts, in milliseconds; the
source notebook's test cells embed those of the public default cases (see
:mod:`autograder.build_source`), and a project test checks the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from solutions import poisson

if TYPE_CHECKING:
    from autograder.spec import Case

#: The maximum-likelihood runs: SQUAREM to a very tight tolerance.
MLE_TOL = 1e-14
MLE_MAX_ITER = 100_000


def log_poisson_pmf(case: Case) -> np.ndarray:
    return poisson.log_poisson_pmf(*case.args)


def e_step(case: Case) -> np.ndarray:
    return poisson.e_step(*case.args)


def m_step(case: Case) -> tuple[np.ndarray, np.ndarray]:
    pi, lam = poisson.m_step(*case.args)
    return (pi, lam)


def log_likelihood(case: Case) -> float:
    return poisson.log_likelihood(*case.args)


def em(case: Case) -> dict[str, Any]:
    """What :func:`.checks.check_em` compares an ``em`` result with."""
    x, pi0, lam0 = case.args
    if case.reference == "exact":
        n_iter = int(case.kwargs["max_iter"])
        run = poisson.fit(x, pi0, lam0, max_iter=n_iter, tol=0.0)
        return {
            "pi": run.params.pi, "lam": run.params.lam, "loglik_head": run.loglik,
            "loglik_final": float(run.loglik[-1]), "n_iter": n_iter,
        }
    head = poisson.fit(x, pi0, lam0, max_iter=1, tol=0.0).loglik
    mle = poisson.fit(x, pi0, lam0, max_iter=MLE_MAX_ITER, tol=MLE_TOL, accelerate=True)
    return {
        "pi": mle.params.pi, "lam": mle.params.lam, "loglik_head": head,
        "loglik_final": float(mle.loglik[-1]), "n_iter": None,
    }
