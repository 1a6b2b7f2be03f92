"""Build the corpus of ``gaussian_mixture``: submissions made from the release
notebook, with the grades they must get.

Every submission starts from the committed release notebook (what students
download) and fills in, breaks or abuses it the way real submissions do: the
instructor's solution, the untouched release, a naive solution (densities
outside log space), one typical bug per graded function, faults (syntax
error, infinite loop, exception, wrong return shape) and cheats (a lookup
table of the public answers, monkeypatched numpy, reading the course files).
Each comes with the exact points it must earn per grade cell, its status and
the categories of its flags, derived from what the submission does; the
points come from the declaration (``ASSIGNMENT.cells()``).

``python -m autograder_corpus.gaussian_mixture.build DEST`` (from ``tests/``)
writes the corpus to DEST.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from autograder.assignments.gaussian_mixture import ASSIGNMENT
from autograder_corpus import common
from autograder_corpus.common import Expected, insert_after, release

SOURCE = ASSIGNMENT.source_notebook
NOTEBOOK = ASSIGNMENT.notebook
#: The per-cell timeout the corpus test grades with.
TIMEOUT = 10
full = partial(common.full, ASSIGNMENT)
without = partial(common.without, ASSIGNMENT)
solved = partial(common.solved, ASSIGNMENT)
#: The grade cells that only code working in log space passes.
EXTREME = ("test_log_pdf_extreme", "test_e_step_extreme", "test_log_likelihood_extreme")






# --------------------------------------------------------------------------
# variants

#: No log space: densities through inv and det, then their log; responsibilities
#: and the likelihood from the densities. Right wherever nothing underflows.
NAIVE = {
    "log_gaussian_pdf": """
def log_gaussian_pdf(X, mu, cov):
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    out = np.empty((n, len(mu)))
    for k in range(len(mu)):
        diff = X - mu[k]
        maha = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov[k]), diff)
        dens = np.exp(-0.5 * maha) / np.sqrt((2 * np.pi) ** d * np.linalg.det(cov[k]))
        out[:, k] = np.log(dens)
    return out
""",
    "e_step": """
def e_step(X, pi, mu, cov):
    joint = np.asarray(pi) * np.exp(log_gaussian_pdf(X, mu, cov))
    return joint / joint.sum(axis=1, keepdims=True)
""",
    "log_likelihood": """
def log_likelihood(X, pi, mu, cov):
    joint = np.asarray(pi) * np.exp(log_gaussian_pdf(X, mu, cov))
    return float(np.sum(np.log(joint.sum(axis=1))))
""",
}
WRONG_LOG_PDF = """
def log_gaussian_pdf(X, mu, cov):
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    out = np.empty((n, len(mu)))
    for k in range(len(mu)):
        L = cholesky(cov[k], lower=True)
        y = solve_triangular(L, (X - mu[k]).T, lower=True)
        log_det = np.sum(np.log(np.diag(L)))  # log det L, half of log det Σ_k
        out[:, k] = -0.5 * (d * np.log(2 * np.pi) + log_det + np.sum(y**2, axis=0))
    return out
"""
WRONG_E = """
def e_step(X, pi, mu, cov):
    log_joint = np.log(pi)[None, :] + log_gaussian_pdf(X, mu, cov)
    return np.exp(log_joint - logsumexp(log_joint, axis=0, keepdims=True))  # wrong axis
"""
M_UNBIASED = """
def m_step(X, tau, reg_covar=1e-6):
    X, tau = np.asarray(X, dtype=float), np.asarray(tau, dtype=float)
    n, d = X.shape
    n_k = tau.sum(axis=0)
    mu = (tau.T @ X) / n_k[:, None]
    cov = np.empty((len(n_k), d, d))
    for k in range(len(n_k)):
        diff = X - mu[k]
        cov[k] = (tau[:, k, None] * diff).T @ diff / (n_k[k] - 1) + reg_covar * np.eye(d)
    return n_k / n, mu, cov
"""
M_NO_REG = """
def m_step(X, tau, reg_covar=1e-6):
    X, tau = np.asarray(X, dtype=float), np.asarray(tau, dtype=float)
    n, d = X.shape
    n_k = tau.sum(axis=0)
    mu = (tau.T @ X) / n_k[:, None]
    cov = np.empty((len(n_k), d, d))
    for k in range(len(n_k)):
        diff = X - mu[k]
        cov[k] = (tau[:, k, None] * diff).T @ diff / n_k[k]  # forgets reg_covar I
    return n_k / n, mu, cov
"""
WRONG_LL = """
def log_likelihood(X, pi, mu, cov):
    log_joint = np.log(pi)[None, :] + log_gaussian_pdf(X, mu, cov)
    return float(np.mean(logsumexp(log_joint, axis=1)))  # mean, not sum
"""
EM_NO_INITIAL = """
def em(X, pi0, mu0, cov0, max_iter=500, tol=1e-8, reg_covar=1e-6):
    pi, mu, cov = pi0, mu0, cov0
    loglik = []  # forgets l(theta^0)
    for _ in range(max_iter):
        pi, mu, cov = m_step(X, e_step(X, pi, mu, cov), reg_covar)
        loglik.append(log_likelihood(X, pi, mu, cov))
        if tol > 0 and len(loglik) > 1 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, cov, np.array(loglik)
"""
EM_IGNORES_REG = """
def em(X, pi0, mu0, cov0, max_iter=500, tol=1e-8, reg_covar=1e-6):
    pi, mu, cov = pi0, mu0, cov0
    loglik = [log_likelihood(X, pi, mu, cov)]
    for _ in range(max_iter):
        pi, mu, cov = m_step(X, e_step(X, pi, mu, cov))  # reg_covar not passed on
        loglik.append(log_likelihood(X, pi, mu, cov))
        if tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, cov, np.array(loglik)
"""
SYNTAX_ERROR_M = """
def m_step(X, tau, reg_covar=1e-6):
    n_k = tau.sum(axis=0
    return n_k / len(X)
"""
RAISES_E = """
def e_step(X, pi, mu, cov):
    raise ValueError("not finished")
"""
TRANSPOSED_LOG_PDF = """
def log_gaussian_pdf(X, mu, cov):
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    out = np.empty((len(mu), n))  # (K, n) instead of (n, K)
    for k in range(len(mu)):
        L = cholesky(cov[k], lower=True)
        y = solve_triangular(L, (X - mu[k]).T, lower=True)
        out[k] = -0.5 * (d * np.log(2 * np.pi) + 2 * np.sum(np.log(np.diag(L)))
                         + np.sum(y**2, axis=0))
    return out
"""
FAKE_E = """
def e_step(X, pi, mu, cov):
    return np.full((len(X), len(pi)), 1.0 / len(pi))
"""
CHEAT_ALLCLOSE = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""


# --------------------------------------------------------------------------
# the corpus


def build(dest: Path) -> dict[str, Expected]:
    """Write every submission under ``dest/<student_id>/``; what each must get."""
    dest = Path(dest)
    expected: dict[str, Expected] = {}

    def add(sid: str, nb: dict | bytes, exp: Expected) -> None:
        common.write(dest, sid, nb, NOTEBOOK)
        expected[sid] = exp

    zero = common.zero(ASSIGNMENT)
    add("a01_reference", solved(), Expected(full()))
    add("a02_stubs", release(ASSIGNMENT), Expected(zero))
    add("a03_naive", solved(**NAIVE), Expected(without(*EXTREME)))
    # Each bug costs its own function's points only: the functions that call
    # the wrong one pass with the instructor's helper standing in.
    add("a04_wrong_log_det", solved(log_gaussian_pdf=WRONG_LOG_PDF),
        Expected(without("log_gaussian_pdf")))
    add("a05_wrong_e_step_axis", solved(e_step=WRONG_E), Expected(without("e_step")))
    add("a06_m_step_unbiased", solved(m_step=M_UNBIASED), Expected(without("m_step")))
    # The visible basic case has reg_covar = 0; the others see the forgotten 1e-6.
    add("a07_m_step_no_reg_covar", solved(m_step=M_NO_REG), Expected(without("m_step")))
    add("a08_log_likelihood_mean", solved(log_likelihood=WRONG_LL),
        Expected(without("log_likelihood")))
    add("a09_em_without_initial", solved(em=EM_NO_INITIAL), Expected(without("em")))
    # Only the hidden K = 1 case (reg_covar = 1e-3) tells that reg_covar was dropped.
    add("a10_em_ignores_reg_covar", solved(em=EM_IGNORES_REG),
        Expected(without("test_em_random")))
    add("b01_syntax_error", solved(m_step=SYNTAX_ERROR_M), Expected(
        without("m_step")))  # the SyntaxError is in the feedback, the status stays ok
    nb, n = insert_after(solved(), "em", "while True:\n    pass\n")
    add("b02_infinite_loop", nb, Expected(full(), f"timeout in cell {n} ({TIMEOUT} s)",
                                          {"timeout"}))
    add("b03_exception", solved(e_step=RAISES_E), Expected(without("e_step")))
    add("b04_wrong_shape", solved(log_gaussian_pdf=TRANSPOSED_LOG_PDF),
        Expected(without("log_gaussian_pdf")))
    table, stubs = common.lookup_table_cheat(ASSIGNMENT)
    nb, _ = insert_after(solved(**stubs), "setup", table)
    add("c01_lookup_table", nb, Expected(zero))
    nb, _ = insert_after(solved(e_step=FAKE_E), "setup", CHEAT_ALLCLOSE)
    add("c02_monkeypatch_numpy", nb, Expected(without("e_step"), flags={"monkeypatch"}))
    nb, _ = insert_after(
        solved(m_step=common.stub("m_step", "X, tau, reg_covar=1e-6"),
               em=common.stub("em", "X, pi0, mu0, cov0, max_iter=500, tol=1e-8, reg_covar=1e-6")),
        "em", common.cheat_read_source(ASSIGNMENT, ('m_step', 'em')))
    add("c03_read_source", nb, Expected(without("m_step", "em"),
                                        flags={"file access", "course files", "dynamic code"}))
    return expected


def main(argv: list[str] | None = None) -> int:
    return common.main(build, "autograder_corpus.gaussian_mixture.build", argv)  # from tests/


if __name__ == "__main__":
    sys.exit(main())
