"""The corpus of ``gaussian_mixture_1d``: submissions made from the release notebook.

Every submission starts from the committed release notebook (what students
download) and fills it in, breaks it or abuses it the way real submissions do:
the instructor's solution, the untouched release, a numerically naive
solution (no log space), one typical bug per graded function (the variance
floor added instead of taken as a maximum, no floor at all, variances divided
by n, var and sd confused, ...), faults (a syntax error, an infinite loop, an
exception, a wrong return shape) and cheats (a table of the public hidden
answers, monkeypatched numpy, reading the course files, importing
``solutions``). Each comes with the exact points it must earn per grade cell,
its status and the categories of its flags, derived from what it does; the
points come from the declaration (``ASSIGNMENT.cells()``).

``python -m autograder_corpus.gaussian_mixture_1d.build DEST`` (from
``tests/``) writes the corpus to DEST.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from autograder.assignments.gaussian_mixture_1d import ASSIGNMENT
from autograder_corpus import common
from autograder_corpus.common import Expected, insert_after

NOTEBOOK = ASSIGNMENT.notebook
#: Points per grade cell, from the declaration.
POINTS = common.full(ASSIGNMENT)
#: The extreme cells: what a solution without log space loses.
EXTREME = ("test_log_pdf_extreme", "test_e_step_extreme", "test_log_likelihood_extreme")
#: The per-cell timeout the corpus test grades with.
TIMEOUT = 10
full = partial(common.full, ASSIGNMENT)
without = partial(common.without, ASSIGNMENT)
release = partial(common.release, ASSIGNMENT)
reference_code = partial(common.reference_code, ASSIGNMENT)
solved = partial(common.solved, ASSIGNMENT)







# --------------------------------------------------------------------------
# variants

NAIVE = {
    "log_normal_pdf": """
def log_normal_pdf(x, mu, var):
    x = np.asarray(x, dtype=float)[:, None]
    density = np.exp(-(x - mu) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)
    return np.log(density)
""",
    "e_step": """
def e_step(x, pi, mu, var):
    joint = np.asarray(pi) * np.exp(log_normal_pdf(x, mu, var))
    return joint / joint.sum(axis=1, keepdims=True)
""",
    "log_likelihood": """
def log_likelihood(x, pi, mu, var):
    joint = np.asarray(pi) * np.exp(log_normal_pdf(x, mu, var))
    return float(np.sum(np.log(joint.sum(axis=1))))
""",
}
VAR_AS_SD = """
def log_normal_pdf(x, mu, var):
    # takes var for the standard deviation
    x = np.asarray(x, dtype=float)[:, None]
    return -np.log(np.sqrt(2 * np.pi) * var) - (x - mu) ** 2 / (2 * var ** 2)
"""
WRONG_AXIS_E = """
def e_step(x, pi, mu, var):
    log_joint = np.log(pi)[None, :] + log_normal_pdf(x, mu, var)
    joint = np.exp(log_joint - log_joint.max())
    return joint / joint.sum(axis=0, keepdims=True)  # normalises over the wrong axis
"""
M_ADDITIVE = """
def m_step(x, tau, var_floor=1e-6):
    x = np.asarray(x, dtype=float)
    n_k = tau.sum(axis=0)
    mu = tau.T @ x / n_k
    s = (tau * (x[:, None] - mu) ** 2).sum(axis=0) / n_k
    return n_k / len(x), mu, s + var_floor  # adds the floor, like reg_covar
"""
M_NO_FLOOR = """
def m_step(x, tau, var_floor=1e-6):
    x = np.asarray(x, dtype=float)
    n_k = tau.sum(axis=0)
    mu = tau.T @ x / n_k
    return n_k / len(x), mu, (tau * (x[:, None] - mu) ** 2).sum(axis=0) / n_k  # no floor
"""
M_DIVIDES_BY_N = """
def m_step(x, tau, var_floor=1e-6):
    x = np.asarray(x, dtype=float)
    n_k = tau.sum(axis=0)
    mu = tau.T @ x / n_k
    s = (tau * (x[:, None] - mu) ** 2).sum(axis=0) / len(x)  # divides by n, not n_k
    return n_k / len(x), mu, np.maximum(s, var_floor)
"""
M_OLD_MEAN = """
def m_step(x, tau, var_floor=1e-6):
    x = np.asarray(x, dtype=float)
    n_k = tau.sum(axis=0)
    mu = tau.T @ x / n_k
    s = (tau * (x[:, None] - x.mean()) ** 2).sum(axis=0) / n_k  # about the data mean
    return n_k / len(x), mu, np.maximum(s, var_floor)
"""
MEAN_LL = """
def log_likelihood(x, pi, mu, var):
    log_joint = np.log(pi)[None, :] + log_normal_pdf(x, mu, var)
    return float(np.mean(logsumexp(log_joint, axis=1)))  # mean, not sum
"""
EM_NO_INITIAL = """
def em(x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6):
    pi, mu, var = pi0, mu0, var0
    loglik = []  # forgets l(theta^0)
    for _ in range(max_iter):
        pi, mu, var = m_step(x, e_step(x, pi, mu, var), var_floor)
        loglik.append(log_likelihood(x, pi, mu, var))
        if len(loglik) > 1 and tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, var, np.array(loglik)
"""
EM_STOPS_EARLY = """
def em(x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6):
    pi, mu, var = pi0, mu0, var0
    loglik = [log_likelihood(x, pi, mu, var)]
    for _ in range(max_iter):
        pi, mu, var = m_step(x, e_step(x, pi, mu, var), var_floor)
        loglik.append(log_likelihood(x, pi, mu, var))
        if loglik[-1] - loglik[-2] > tol * abs(loglik[-2]):  # inverted test
            break
    return pi, mu, var, np.array(loglik)
"""
EM_IGNORES_FLOOR = """
def em(x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6):
    pi, mu, var = pi0, mu0, var0
    loglik = [log_likelihood(x, pi, mu, var)]
    for _ in range(max_iter):
        pi, mu, var = m_step(x, e_step(x, pi, mu, var))  # var_floor not passed on
        loglik.append(log_likelihood(x, pi, mu, var))
        if tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, var, np.array(loglik)
"""
# faults
SYNTAX_ERROR_M = """
def m_step(x, tau, var_floor=1e-6)
    return tau.mean(axis=0)
"""
RAISES_M = """
def m_step(x, tau, var_floor=1e-6):
    n_k = tau.sum(axis=0)
    return n_k / n, None, None  # n is not defined: NameError
"""
TRANSPOSED_E = """
def e_step(x, pi, mu, var):
    log_joint = np.log(pi)[None, :] + log_normal_pdf(x, mu, var)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True)).T  # (K, n)
"""
EM_THREE_VALUES = """
def em(x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6):
    pi, mu, var = pi0, mu0, var0
    loglik = [log_likelihood(x, pi, mu, var)]
    for _ in range(max_iter):
        pi, mu, var = m_step(x, e_step(x, pi, mu, var), var_floor)
        loglik.append(log_likelihood(x, pi, mu, var))
        if tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, np.array(loglik)  # var left out
"""
# cheats
CHEAT_ALLCLOSE = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
FAKE_E = """
def e_step(x, pi, mu, var):
    return np.full((len(x), len(pi)), 1.0 / len(pi))
"""
CHEAT_IMPORT = """
from solutions.gaussian1d import e_step  # noqa: F401
"""
# fair forms of a correct solution
FLOAT32 = {
    "log_normal_pdf": """
def log_normal_pdf(x, mu, var):
    # single precision throughout
    x = np.asarray(x, dtype=np.float32)[:, None]
    mu = np.asarray(mu, dtype=np.float32)[None, :]
    var = np.asarray(var, dtype=np.float32)[None, :]
    return np.float32(-0.5) * np.log(np.float32(2 * np.pi) * var) - (x - mu) ** 2 / (2 * var)
""",
    "e_step": """
def e_step(x, pi, mu, var):
    log_joint = np.log(np.asarray(pi, dtype=np.float32))[None, :] + log_normal_pdf(x, mu, var)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
""",
    "m_step": """
def m_step(x, tau, var_floor=1e-6):
    x = np.asarray(x, dtype=np.float32)
    tau = np.asarray(tau, dtype=np.float32)
    n_k = tau.sum(axis=0)
    mu = (tau.T @ x) / n_k
    s = (tau * (x[:, None] - mu) ** 2).sum(axis=0) / n_k
    return n_k / np.float32(len(x)), mu, np.maximum(s, np.float32(var_floor))
""",
    "log_likelihood": """
def log_likelihood(x, pi, mu, var):
    log_joint = np.log(np.asarray(pi, dtype=np.float32))[None, :] + log_normal_pdf(x, mu, var)
    return logsumexp(log_joint, axis=1).sum()
""",
    "em": """
def em(x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6):
    pi, mu, var = (np.asarray(a, dtype=np.float32) for a in (pi0, mu0, var0))
    loglik = [log_likelihood(x, pi, mu, var)]
    for _ in range(max_iter):
        pi, mu, var = m_step(x, e_step(x, pi, mu, var), var_floor)
        loglik.append(log_likelihood(x, pi, mu, var))
        if tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, mu, var, np.array(loglik, dtype=np.float32)
""",
}
SCIPY_PDF = """
from scipy.stats import norm

def log_normal_pdf(x, mu, var):
    return norm.logpdf(np.asarray(x, dtype=float)[:, None], mu, np.sqrt(var))
"""
LOOPS = {
    "e_step": """
import math

def e_step(x, pi, mu, var):
    # one point at a time, log-sum-exp by hand
    tau = np.zeros((len(x), len(pi)))
    for i, xi in enumerate(x):
        a = [math.log(p) - 0.5 * math.log(2 * math.pi * v) - (xi - m) ** 2 / (2 * v)
             if p > 0 else -math.inf for p, m, v in zip(pi, mu, var)]
        top = max(a)
        total = sum(math.exp(ak - top) for ak in a)
        tau[i] = [math.exp(ak - top) / total for ak in a]
    return tau
""",
}



# --------------------------------------------------------------------------
# the corpus


def build(dest: Path) -> dict[str, Expected]:
    """Write every submission under ``dest/<student_id>/``; what each must get."""
    dest = Path(dest)
    expected: dict[str, Expected] = {}

    def add(sid: str, nb: dict | bytes, exp: Expected) -> None:
        common.write(dest, sid, nb, NOTEBOOK)
        expected[sid] = exp

    add("a01_reference", solved(), Expected(full()))
    add("a02_stubs", release(), Expected(common.zero(ASSIGNMENT)))
    # No log space: the extreme cells are lost; em passes with the instructor's
    # helpers standing in for the naive ones.
    add("a03_naive", solved(**NAIVE), Expected(without(*EXTREME)))
    # Each bug costs its own function's cells only.
    add("a04_var_as_sd", solved(log_normal_pdf=VAR_AS_SD), Expected(without("log_normal_pdf")))
    add("a05_e_step_wrong_axis", solved(e_step=WRONG_AXIS_E), Expected(without("e_step")))
    # S_k + ε instead of max(S_k, ε): right wherever S_k >> ε, wrong at the floor.
    add("a06_m_step_adds_floor", solved(m_step=M_ADDITIVE),
        Expected(without("test_m_step_floor")))
    add("a07_m_step_no_floor", solved(m_step=M_NO_FLOOR), Expected(without("test_m_step_floor")))
    add("a08_m_step_divides_by_n", solved(m_step=M_DIVIDES_BY_N), Expected(without("m_step")))
    add("a09_m_step_about_data_mean", solved(m_step=M_OLD_MEAN), Expected(without("m_step")))
    add("a10_log_likelihood_mean", solved(log_likelihood=MEAN_LL),
        Expected(without("log_likelihood")))
    add("a11_em_without_initial", solved(em=EM_NO_INITIAL), Expected(without("em")))
    add("a12_em_stops_early", solved(em=EM_STOPS_EARLY), Expected(without("em")))
    # Only the hidden collapse case passes a var_floor other than the default.
    add("a13_em_ignores_var_floor", solved(em=EM_IGNORES_FLOOR),
        Expected(without("test_em_extreme")))

    add("b01_syntax_error", solved(m_step=SYNTAX_ERROR_M),
        Expected(without("m_step")))
    nb, n = insert_after(solved(), "em", "while True:\n    pass\n")
    add("b02_infinite_loop", nb, Expected(full(), f"timeout in cell {n} ({TIMEOUT} s)",
                                          {"timeout"}))
    add("b03_exception", solved(m_step=RAISES_M), Expected(without("m_step")))
    add("b04_transposed_tau", solved(e_step=TRANSPOSED_E), Expected(without("e_step")))
    add("b05_em_three_values", solved(em=EM_THREE_VALUES), Expected(without("em")))

    nb, _ = insert_after(solved(e_step=FAKE_E), "setup", CHEAT_ALLCLOSE)
    add("c01_allclose", nb, Expected(without("e_step"), flags={"monkeypatch"}))
    nb, _ = insert_after(
        solved(m_step=common.stub("m_step", "x, tau, var_floor=1e-6"),
               em=common.stub("em", "x, pi0, mu0, var0, max_iter=500, tol=1e-8, var_floor=1e-6")),
        "em", common.cheat_read_source(ASSIGNMENT, ("m_step", "em")))
    add("c02_read_source", nb, Expected(without("m_step", "em"),
                                        flags={"file access", "course files", "dynamic code"}))
    nb, _ = insert_after(solved(e_step=common.stub("e_step", "x, pi, mu, var")), "e_step",
                         CHEAT_IMPORT)
    add("c03_import_solutions", nb, Expected(without("e_step"), flags={"course files"}))
    # With a course secret the hidden inputs differ from the public ones: a
    # table of public answers earns nothing (every cell has a hidden case).
    table, stubs = common.lookup_table_cheat(ASSIGNMENT)
    nb, _ = insert_after(solved(**stubs), "setup", table)
    add("c04_lookup_table", nb, Expected(common.zero(ASSIGNMENT)))

    add("d01_float32", solved(**FLOAT32), Expected(full()))
    add("d02_scipy_logpdf", solved(log_normal_pdf=SCIPY_PDF), Expected(full()))
    add("d03_python_loops", solved(**LOOPS), Expected(full()))
    return expected


def main(argv: list[str] | None = None) -> int:
    return common.main(build, "autograder_corpus.gaussian_mixture_1d.build", argv)  # from tests/


if __name__ == "__main__":
    sys.exit(main())
