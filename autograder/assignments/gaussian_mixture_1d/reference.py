"""Expected results of the test cases, computed by :mod:`solutions.gaussian1d`.

One function per graded function, ``f(case) -> expected`` (the ``reference``
of its :class:`~autograder.spec.Function`). ``m_step`` and ``em`` take the
variance floor from the case's keyword ``var_floor`` (default
:data:`solutions.gaussian1d.VAR_FLOOR`, as in the notebook's contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from solutions import gaussian1d

if TYPE_CHECKING:
    from autograder.spec import Case

#: The maximum-likelihood runs: SQUAREM to a very tight tolerance.
MLE_TOL = 1e-14
MLE_MAX_ITER = 100_000


def _floor(case: Case) -> float:
    return float(case.kwargs.get("var_floor", gaussian1d.VAR_FLOOR))


def log_normal_pdf(case: Case) -> np.ndarray:
    return gaussian1d.log_normal_pdf(*case.args)


def e_step(case: Case) -> np.ndarray:
    return gaussian1d.e_step(*case.args)


def m_step(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pi, mu, var = gaussian1d.m_step(*case.args, var_floor=_floor(case))
    return (pi, mu, var)


def log_likelihood(case: Case) -> float:
    return gaussian1d.log_likelihood(*case.args)


def em(case: Case) -> dict[str, Any]:
    """What :func:`.checks.check_em` compares an ``em`` result with."""
    x, pi0, mu0, var0 = case.args
    floor = _floor(case)
    if case.reference == "exact":
        n_iter = int(case.kwargs["max_iter"])
        run = gaussian1d.fit(x, pi0, mu0, var0, var_floor=floor, max_iter=n_iter, tol=0.0)
        pi, mu, var = run.params
        return {"pi": pi, "mu": mu, "var": var, "loglik_head": run.loglik,
                "loglik_final": float(run.loglik[-1]), "n_iter": n_iter}
    head = gaussian1d.fit(x, pi0, mu0, var0, var_floor=floor, max_iter=1, tol=0.0).loglik
    mle = gaussian1d.fit(x, pi0, mu0, var0, var_floor=floor, max_iter=MLE_MAX_ITER,
                         tol=MLE_TOL, accelerate=True)
    pi, mu, var = mle.params
    return {"pi": pi, "mu": mu, "var": var, "loglik_head": head,
            "loglik_final": float(mle.loglik[-1]), "n_iter": None}
