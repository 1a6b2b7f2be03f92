"""Expected results of the test cases, computed by :mod:`solutions.gaussian`.

One function per graded function, ``f(case) -> expected``, with
``covariance_type="full"`` throughout: ``X`` is always (n, d), also for
d = 1, so the parameters keep their (K, d) and (K, d, d) shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from solutions import gaussian

if TYPE_CHECKING:
    from autograder.spec import Case

#: The converged runs: SQUAREM to a very tight tolerance (the same fixed point
#: as plain EM, reached in far fewer iterations).
LIMIT_TOL = 1e-14
LIMIT_MAX_ITER = 100_000
#: The contract's default ``reg_covar`` (scikit-learn's).
REG_COVAR = 1e-6


def log_gaussian_pdf(case: Case) -> np.ndarray:
    """log N(x_i | μ_k, Σ_k): the log-likelihood of the one-point, one-component
    mixture (x_i; π = (1,), μ_k, Σ_k), which :mod:`solutions.gaussian` computes
    through the Cholesky factor of Σ_k."""
    X, mu, cov = (np.asarray(a, dtype=float) for a in case.args)
    out = np.empty((X.shape[0], mu.shape[0]))
    for i in range(X.shape[0]):
        for k in range(mu.shape[0]):
            out[i, k] = gaussian.log_likelihood(X[i : i + 1], [1.0], mu[k : k + 1],
                                                cov[k : k + 1])
    return out


def e_step(case: Case) -> np.ndarray:
    return gaussian.e_step(*case.args)


def m_step(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pi, mu, cov = gaussian.m_step(*case.args,
                                  reg_covar=float(case.kwargs.get("reg_covar", REG_COVAR)))
    return (pi, mu, cov)


def log_likelihood(case: Case) -> float:
    return gaussian.log_likelihood(*case.args)


def em(case: Case) -> dict[str, Any]:
    """What :func:`checks.check_em` compares an ``em`` result with.

    ``case.reference`` is ``"exact"`` (``tol=0``: the whole run of
    ``max_iter`` iterations) or ``"limit"`` (the limit of the iteration from
    the same start, with the same ``reg_covar``: with ``reg_covar > 0`` it is a
    fixed point of the regularised EM map, not exactly a maximiser of ℓ).
    """
    X, pi0, mu0, cov0 = case.args
    reg_covar = float(case.kwargs.get("reg_covar", REG_COVAR))
    if case.reference == "exact":
        n_iter = int(case.kwargs["max_iter"])
        run = gaussian.fit(X, pi0, mu0, cov0, max_iter=n_iter, tol=0.0, reg_covar=reg_covar)
        return {
            "pi": run.params.pi, "mu": run.params.mu, "cov": run.params.cov,
            "loglik_head": run.loglik, "loglik_final": float(run.loglik[-1]), "n_iter": n_iter,
        }
    if case.reference != "limit":
        raise ValueError(f"unknown em reference {case.reference!r}")
    head = gaussian.fit(X, pi0, mu0, cov0, max_iter=1, tol=0.0, reg_covar=reg_covar).loglik
    lim = gaussian.fit(X, pi0, mu0, cov0, max_iter=LIMIT_MAX_ITER, tol=LIMIT_TOL,
                       reg_covar=reg_covar, accelerate=True)
    return {
        "pi": lim.params.pi, "mu": lim.params.mu, "cov": lim.params.cov,
        "loglik_head": head, "loglik_final": float(lim.loglik[-1]), "n_iter": None,
    }
