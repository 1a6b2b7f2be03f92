"""Expected results of the test cases, computed by :mod:`solutions.poisson`.

The grader computes them when it starts (milliseconds) and the source
notebook's test cells embed the same values (see :mod:`autograder.build_source`);
a project test checks the two agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from solutions import poisson

from .spec import SPEC, Case, GradeCell

#: The maximum-likelihood runs: SQUAREM to a very tight tolerance.
MLE_TOL = 1e-14
MLE_MAX_ITER = 100_000


def em_expected(case: Case) -> dict[str, Any]:
    """What :func:`autograder.checks.check_em` compares an ``em`` result with."""
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


def expected(cell: GradeCell, case: Case) -> Any:
    """The reference result of ``case`` (same structure as a normalised student result)."""
    f = cell.function
    if f == "log_poisson_pmf":
        return poisson.log_poisson_pmf(*case.args)
    if f == "e_step":
        return poisson.e_step(*case.args)
    if f == "m_step":
        pi, lam = poisson.m_step(*case.args)
        return (pi, lam)
    if f == "log_likelihood":
        return poisson.log_likelihood(*case.args)
    if f == "em":
        return em_expected(case)
    raise ValueError(f"unknown function {f!r}")


def all_expected() -> dict[str, list[Any]]:
    """``{grade_id: [expected result of each case]}`` for the whole spec."""
    with np.errstate(invalid="raise", over="raise", divide="raise"):
        return {cell.grade_id: [expected(cell, case) for case in cell.cases] for cell in SPEC}
