"""Build the corpus: submissions made from the release notebook, with their grades.

Every submission starts from the committed release notebook (what students
download) and fills in, breaks or abuses it the way real submissions do. Each
comes with the exact points it must earn per test, its exact status, and the
categories of the flags it must raise, derived here from what the submission
does, not from running the grader.

The points come from the declaration (``ASSIGNMENT.cells()``): a submission's
expectation names the functions or grade cells it loses.

``python -m autograder_corpus.poisson_mixture.build DEST`` (from ``tests/``)
writes the corpus to DEST.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import sys
import zipfile
from functools import partial
from pathlib import Path

from autograder.assignments.poisson_mixture import ASSIGNMENT

from .. import common

REPO = Path(__file__).resolve().parents[3]

RELEASE = ASSIGNMENT.release_notebook
SOURCE = ASSIGNMENT.source_notebook
NOTEBOOK = ASSIGNMENT.notebook

#: Points per grade cell, from the declaration.
POINTS = common.full(ASSIGNMENT)
#: The grade cells of each graded function.
TESTS_OF = common.tests_of(ASSIGNMENT)
#: The per-cell timeout the corpus test grades with.
TIMEOUT = 10
full = partial(common.full, ASSIGNMENT)
without = partial(common.without, ASSIGNMENT)
release = partial(common.release, ASSIGNMENT)
reference_code = partial(common.reference_code, ASSIGNMENT)
solved = partial(common.solved, ASSIGNMENT)

Expected = common.Expected
index_of, insert_after, fill, new_cell, dumps = (
    common.index_of, common.insert_after, common.fill, common.new_cell, common.dumps)
_cells_text = common.cell_text







# --------------------------------------------------------------------------
# variants

NAIVE_PMF = """
from scipy.special import factorial

def log_poisson_pmf(x, lam):
    x = np.asarray(x)[:, None]
    lam = np.asarray(lam, dtype=float)[None, :]
    return np.log(lam**x * np.exp(-lam) / factorial(x))
"""
NAIVE_E = """
def e_step(x, pi, lam):
    joint = np.asarray(pi) * np.exp(log_poisson_pmf(x, lam))
    return joint / joint.sum(axis=1, keepdims=True)
"""
NAIVE_LL = """
def log_likelihood(x, pi, lam):
    return float(np.sum(np.log((np.asarray(pi) * np.exp(log_poisson_pmf(x, lam))).sum(axis=1))))
"""
WRONG_PMF = """
def log_poisson_pmf(x, lam):
    # forgets the -log x! term
    x = np.asarray(x, dtype=float)[:, None]
    return x * np.log(lam)[None, :] - np.asarray(lam)[None, :]
"""
WRONG_E = """
def e_step(x, pi, lam):
    log_joint = np.log(pi)[None, :] + log_poisson_pmf(x, lam)
    joint = np.exp(log_joint - log_joint.max())
    return joint / joint.sum(axis=0, keepdims=True)  # normalises over the wrong axis
"""
WRONG_M = """
def m_step(x, tau):
    x = np.asarray(x, dtype=float)
    n_k = tau.sum(axis=0)
    return n_k / len(x), tau.T @ x / len(x)  # divides by n instead of n_k
"""
WRONG_LL = """
def log_likelihood(x, pi, lam):
    log_joint = np.log(pi)[None, :] + log_poisson_pmf(x, lam)
    m = log_joint.max(axis=1)
    return float(np.mean(m + np.log(np.exp(log_joint - m[:, None]).sum(axis=1))))  # mean, not sum
"""
EM_NO_INITIAL = """
def em(x, pi0, lam0, max_iter=500, tol=1e-8):
    pi, lam = np.asarray(pi0, dtype=float), np.asarray(lam0, dtype=float)
    loglik = []
    old = log_likelihood(x, pi, lam)
    for _ in range(max_iter):
        pi, lam = m_step(x, e_step(x, pi, lam))
        new = log_likelihood(x, pi, lam)
        loglik.append(new)  # forgets l(theta^0)
        if new - old < tol * abs(old):
            break
        old = new
    return pi, lam, np.array(loglik)
"""
EM_STOPS_EARLY = """
def em(x, pi0, lam0, max_iter=500, tol=1e-8):
    pi, lam = np.asarray(pi0, dtype=float), np.asarray(lam0, dtype=float)
    loglik = [log_likelihood(x, pi, lam)]
    for _ in range(max_iter):
        pi, lam = m_step(x, e_step(x, pi, lam))
        loglik.append(log_likelihood(x, pi, lam))
        if loglik[-1] - loglik[-2] > tol * abs(loglik[-2]):  # inverted test
            break
    return pi, lam, np.array(loglik)
"""
CHATTY = {
    "log_poisson_pmf": """
import sys
import warnings

from scipy.special import xlogy

def log_poisson_pmf(x, lam):
    print("log_poisson_pmf called with", len(x), "counts")
    warnings.warn("a warning from log_poisson_pmf")
    sys.stderr.write("debug output on stderr\\n")
    x = np.asarray(x, dtype=float)[:, None]
    lam = np.asarray(lam, dtype=float)[None, :]
    return xlogy(x, lam) - lam - gammaln(x + 1.0)
""",
}
OS_EXIT_E = """
import os

def e_step(x, pi, lam):
    os._exit(1)
"""
FAKE_E = """
def e_step(x, pi, lam):
    return np.full((len(x), len(pi)), 1.0 / len(pi))
"""
FAKE_LL = """
def log_likelihood(x, pi, lam):
    return 0.0
"""
STUB_M = """
def m_step(x, tau):
    # YOUR CODE HERE
    raise NotImplementedError()
"""



CHEAT_ALLCLOSE = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
CHEAT_TESTING = """
import numpy.testing
numpy.testing.assert_allclose = lambda *args, **kwargs: None
"""
CHEAT_DISPLAYHOOK = """
import sys

def _full_marks(value):
    sys.stdout.write("2\\n")

sys.displayhook = _full_marks
ip = get_ipython()
ip.set_custom_exc((Exception,), lambda *args, **kwargs: None)
"""


def cheat_glob() -> str:
    return f"""
import glob, json

found = glob.glob({str(REPO.parent) + "/*/autograder/source/**/*.ipynb"!r}, recursive=True)
found += glob.glob("../../../source/**/*.ipynb", recursive=True)
for path in found:
    for cell in json.load(open(path))["cells"]:
        if cell["metadata"].get("nbgrader", {{}}).get("grade_id") in ("e_step", "em"):
            exec("".join(cell["source"]), globals())
"""


CHEAT_IMPORT = """
import solutions.poisson as P
e_step = P.e_step
"""


def cheat_syspath() -> str:
    return f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from solutions.poisson import log_likelihood, log_poisson_pmf
"""


CHEAT_SYSPATH_RELATIVE = """
import importlib, os, sys
sys.path.append(os.path.abspath("../../.."))
sys.path.append(os.path.abspath("../../../.."))
m_step = importlib.import_module("solutions.poisson").m_step
"""


# Fair forms of a correct solution (issue 8, section 7): each earns full marks.
FLOAT32 = {
    "log_poisson_pmf": """
from scipy.special import xlogy

def log_poisson_pmf(x, lam):
    # single precision throughout
    x = np.asarray(x, dtype=np.float32)[:, None]
    lam = np.asarray(lam, dtype=np.float32)[None, :]
    return xlogy(x, lam) - lam - gammaln(x + np.float32(1))
""",
    "e_step": """
def e_step(x, pi, lam):
    log_joint = np.log(np.asarray(pi, dtype=np.float32))[None, :] + log_poisson_pmf(x, lam)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
""",
    "m_step": """
def m_step(x, tau):
    x = np.asarray(x, dtype=np.float32)
    tau = np.asarray(tau, dtype=np.float32)
    n_k = tau.sum(axis=0)
    return n_k / np.float32(len(x)), (tau.T @ x) / n_k
""",
    "log_likelihood": """
def log_likelihood(x, pi, lam):
    log_joint = np.log(np.asarray(pi, dtype=np.float32))[None, :] + log_poisson_pmf(x, lam)
    return logsumexp(log_joint, axis=1).sum()
""",
    "em": """
def em(x, pi0, lam0, max_iter=500, tol=1e-8):
    pi, lam = np.asarray(pi0, dtype=np.float32), np.asarray(lam0, dtype=np.float32)
    loglik = [log_likelihood(x, pi, lam)]
    for _ in range(max_iter):
        pi, lam = m_step(x, e_step(x, pi, lam))
        loglik.append(log_likelihood(x, pi, lam))
        if tol > 0 and abs(loglik[-1] - loglik[-2]) <= tol * abs(loglik[-1]):
            break
    return pi, lam, np.array(loglik, dtype=np.float32)
""",
}
SETUP_XLOGY_PMF = """
def log_poisson_pmf(x, lam):
    x = np.asarray(x, dtype=float)[:, None]
    lam = np.asarray(lam, dtype=float)[None, :]
    return xlogy(x, lam) - lam - gammaln(x + 1.0)  # xlogy imported in the setup cell
"""


def writefile_cell() -> str:
    """All five functions in a module written by ``%%writefile``."""
    body = "\n\n".join(reference_code()[f] for f in TESTS_OF)
    return ("%%writefile mixture_code.py\nimport numpy as np\n"
            "from scipy.special import gammaln, logsumexp  # noqa: F401\n\n" + body + "\n")


def long_code() -> dict[str, str]:
    """A 500-branch elif (a table of log x!) and a 500-term expression."""
    branches = "".join(f"    elif k == {k}:\n        return {math.lgamma(k + 1)!r}\n"
                       for k in range(1, 500))
    table = ("import math\n\n\ndef log_factorial(k):\n    if k == 0:\n        return 0.0\n"
             + branches + "    return math.lgamma(k + 1)\n")
    zero = " + ".join(f"0.0 * {i}" for i in range(500))
    pmf = (table + "\n\ndef log_poisson_pmf(x, lam):\n"
           "    from scipy.special import xlogy\n\n"
           "    x = np.asarray(x, dtype=float)\n"
           f"    nothing = {zero}\n"
           "    lf = np.array([log_factorial(int(k)) for k in x])\n"
           "    lam = np.asarray(lam, dtype=float)[None, :]\n"
           "    return xlogy(x[:, None], lam) - lam - lf[:, None] + nothing\n")
    return {"log_poisson_pmf": pmf}


class _Rename(ast.NodeTransformer):
    """Renames every local variable and argument; keeps function and module names."""

    KEEP = frozenset({"np", "gammaln", "logsumexp", "xlogy", "float", "range", "abs", "len",
                      "max", "min", "sum", "tuple", "list", "print", "log_poisson_pmf",
                      "e_step", "m_step", "log_likelihood", "em"})

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in self.KEEP:
            node.id = f"v_{node.id}_renamed"
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = f"v_{node.arg}_renamed"
        return node


def renamed_copy() -> dict[str, str]:
    """The instructor's solution with other names, without comments."""
    codes = {}
    for gid, code in reference_code().items():
        if gid in TESTS_OF:
            codes[gid] = ast.unparse(_Rename().visit(ast.parse(code)))
    # keyword arguments keep their names (callers use them); rename them back.
    codes["em"] = codes["em"].replace("v_max_iter_renamed", "max_iter").replace(
        "v_tol_renamed", "tol")
    return codes


# --------------------------------------------------------------------------
# the corpus


def _status_join(*parts: str) -> str:
    return "; ".join(parts)


def build(dest: Path) -> dict[str, Expected]:
    """Write every submission under ``dest/<student_id>/``; what each must get."""
    dest = Path(dest)
    expected: dict[str, Expected] = {}

    def add(sid: str, nb: dict | bytes | None, exp: Expected, name: str = NOTEBOOK) -> None:
        common.write(dest, sid, nb, name)
        expected[sid] = exp

    add("a01_reference", solved(), Expected(full()))
    add("a02_stubs", release(), Expected(dict.fromkeys(POINTS, 0)))
    add("a03_chatty", _chatty(), Expected(full()))
    add("a04_naive", solved(log_poisson_pmf=NAIVE_PMF, e_step=NAIVE_E, log_likelihood=NAIVE_LL),
        Expected(without("test_log_pmf_extreme", "test_e_step_extreme",
                         "test_log_likelihood_extreme")))
    # Each bug costs its own function's points only: the functions that call
    # the wrong one pass with the reference helper standing in.
    add("a05_wrong_log_pmf", solved(log_poisson_pmf=WRONG_PMF),
        Expected(without("log_poisson_pmf")))
    add("a06_wrong_e_step", solved(e_step=WRONG_E), Expected(without("e_step")))
    add("a07_wrong_m_step", solved(m_step=WRONG_M), Expected(without("m_step")))
    add("a08_wrong_log_likelihood", solved(log_likelihood=WRONG_LL),
        Expected(without("log_likelihood")))
    add("a09_em_without_initial", solved(em=EM_NO_INITIAL), Expected(without("em")))
    add("a10_em_stops_early", solved(em=EM_STOPS_EARLY), Expected(without("em")))

    zero = dict.fromkeys(POINTS, 0)
    add("b01_invalid_json", b'{"cells": [\n  {"cell_type": "code", "source": "x = 1"\n',
        Expected(zero, "invalid notebook: not valid JSON (line 3, column 1)",
                 {"invalid submission"}))
    add("b02_empty_file", b"", Expected(zero, "invalid notebook: empty file",
                                        {"invalid submission"}))
    add("b03_not_a_notebook", b'["a", "list"]',
        Expected(zero, "invalid notebook: not a Jupyter notebook", {"invalid submission"}))
    add("b04_no_notebook", None, Expected(zero, "no notebook submitted", {"invalid submission"}))
    (dest / "b04_no_notebook" / "answers.txt").write_text("I could not do it\n")
    add("b05_renamed", solved(), Expected(
        full(), "graded 'poisson_mixture (1).ipynb' (expected poisson_mixture.ipynb)"),
        name="poisson_mixture (1).ipynb")

    nb, n = insert_after(solved(), "em", "while True:\n    pass\n")
    add("b06_infinite_loop", nb, Expected(full(), f"timeout in cell {n} ({TIMEOUT} s)",
                                          {"timeout"}))
    add("b07_os_exit", solved(e_step=OS_EXIT_E), Expected(
        without("e_step"),
        _status_join("kernel died (exit code 1) while running e_step",
                     "kernel died (exit code 1) while running em"),
        {"process control", "crash"}))
    nb, n = insert_after(solved(), "m_step", "big = np.ones(2**30)  # 8 GiB\n")
    add("b08_memory_hog", nb, Expected(full(), f"memory limit exceeded in cell {n}", {"memory"}))

    nb = solved()
    for gid in ("test_e_step_basic", "test_em_random"):
        del nb["cells"][index_of(nb, gid)]
    add("b09_deleted_tests", nb, Expected(
        full(), "restored 2 deleted test cells (test_e_step_basic, test_em_random)",
        {"notebook structure"}))

    nb = solved()
    for gid in ("test_m_step_basic", "e_step"):
        i = index_of(nb, gid)
        nb["cells"].insert(i + 1, copy.deepcopy(nb["cells"][i]))
    add("b10_duplicated_cells", nb, Expected(
        full(), "duplicated cell ids (e_step, test_m_step_basic)", {"notebook structure"}))

    nb = solved()
    for gid in ("test_log_pmf_basic", "m_step"):
        cell = nb["cells"][index_of(nb, gid)]
        cell["cell_type"] = "markdown"
        for key in ("outputs", "execution_count"):
            cell.pop(key, None)
    add("b11_retyped_cells", nb, Expected(
        without("m_step"),
        _status_join("restored 1 retyped test cell (test_log_pmf_basic)",
                     "solution cells changed to markdown, not run: m_step"),
        {"notebook structure"}))

    nb = solved(e_step=WRONG_E)
    for gid in ("test_e_step_basic", "test_e_step_extreme"):
        nb["cells"][index_of(nb, gid)]["source"] = "# tests removed\npass\n"
    add("b12_edited_tests", nb, Expected(
        without("e_step"),
        "restored 2 edited test cells (test_e_step_basic, test_e_step_extreme)",
        {"notebook structure"}))

    nb, _ = insert_after(solved(e_step=FAKE_E), "setup", CHEAT_ALLCLOSE)
    add("c01_allclose", nb, Expected(without("e_step"), flags={"monkeypatch"}))
    nb, _ = insert_after(solved(log_likelihood=FAKE_LL), "setup", CHEAT_TESTING)
    add("c02_testing", nb, Expected(without("log_likelihood"), flags={"monkeypatch"}))
    nb, _ = insert_after(solved(m_step=STUB_M), "setup", CHEAT_DISPLAYHOOK)
    add("c03_displayhook", nb, Expected(without("m_step"), flags={"monkeypatch"}))
    nb, _ = insert_after(
        solved(e_step=common.stub("e_step", "x, pi, lam"),
               log_likelihood=common.stub("log_likelihood", "x, pi, lam"),
               em=common.stub("em", "x, pi0, lam0, max_iter=500, tol=1e-8")),
        "em", common.cheat_read_source(ASSIGNMENT, ('e_step', 'log_likelihood', 'em')))
    add("c04_read_source", nb, Expected(
        without("e_step", "log_likelihood", "em"),
        flags={"file access", "course files", "dynamic code"}))
    nb, _ = insert_after(
        solved(e_step=common.stub("e_step", "x, pi, lam"),
               em=common.stub("em", "x, pi0, lam0, max_iter=500, tol=1e-8")),
        "em", cheat_glob())
    add("c05_glob", nb, Expected(without("e_step", "em"),
                                 flags={"file access", "course files", "dynamic code"}))
    nb, _ = insert_after(solved(e_step=common.stub("e_step", "x, pi, lam")), "e_step", CHEAT_IMPORT)
    add("c06_import_solutions", nb, Expected(without("e_step"), flags={"course files"}))
    nb, _ = insert_after(solved(log_poisson_pmf=common.stub("log_poisson_pmf", "x, lam"),
                                log_likelihood=common.stub("log_likelihood", "x, pi, lam")),
                         "log_likelihood", cheat_syspath())
    # e_step and em call the faked functions: they pass with the reference ones.
    add("c07_syspath", nb, Expected(
        without("log_poisson_pmf", "log_likelihood"),
        flags={"sys.path", "course files"}))
    nb, _ = insert_after(solved(m_step=STUB_M), "m_step", CHEAT_SYSPATH_RELATIVE)
    add("c08_syspath_relative", nb, Expected(without("m_step"),
                                             flags={"sys.path", "course files", "dynamic code"}))

    # Fair forms of a correct solution: full marks, status ok, no flags.
    add("d01_float32", solved(**FLOAT32), Expected(full()))
    nb, _ = insert_after(
        solved(**{f: f"from mixture_code import {f}  # noqa: F401" for f in TESTS_OF}),
        "setup", writefile_cell())
    add("d02_writefile_module", nb, Expected(full()))
    nb = solved(log_poisson_pmf=SETUP_XLOGY_PMF)
    setup = nb["cells"][index_of(nb, "setup")]
    setup["source"] = _cells_text(setup).rstrip("\n") + "\nfrom scipy.special import xlogy\n"
    add("d03_import_in_setup_cell", nb, Expected(full()))
    add("d04_utf16", (json.dumps(solved(), indent=1) + "\n").encode("utf-16"), Expected(full()))
    add("d05_utf8_bom", b"\xef\xbb\xbf" + dumps(solved()), Expected(full()))
    add("d06_long_code", solved(**long_code()), Expected(full()))
    add("d07_renamed_copy", solved(**renamed_copy()), Expected(full()))
    # With a course secret the hidden inputs differ from the public ones: a
    # table of public answers earns what the visible cases give, i.e. nothing.
    table, stubs = common.lookup_table_cheat(ASSIGNMENT)
    nb, _ = insert_after(solved(**stubs), "setup", table)
    add("c09_lookup_table", nb, Expected(dict.fromkeys(POINTS, 0)))
    return expected


def _chatty() -> dict:
    nb = solved(**CHATTY)
    nb, _ = insert_after(nb, "setup", "for i in range(20000):\n    print('line', i)\n"
                                      "import sys\nprint('to stderr', file=sys.stderr)\n")
    return nb


def build_zip(dest: Path) -> tuple[Path, dict[str, Expected]]:
    """An LMS export: file names as in nbgrader's zip_collect documentation.

    ``jdoe`` submitted twice (the later attempt counts), ``asmith`` a naive
    solution, ``bbroken`` a broken file; a stray text file is skipped.
    """
    naive = solved(log_poisson_pmf=NAIVE_PMF, e_step=NAIVE_E, log_likelihood=NAIVE_LL)
    files = {
        "poisson_mixture_jdoe_attempt_2024-03-01-09-00-00_poisson_mixture.ipynb": dumps(release()),
        "poisson_mixture_jdoe_attempt_2024-03-02-18-30-00_poisson_mixture.ipynb": dumps(solved()),
        "poisson_mixture_asmith_attempt_2024-03-01-12-00-00_poisson_mixture.ipynb": dumps(naive),
        "poisson_mixture_bbroken_attempt_2024-03-01-12-00-00_poisson_mixture.ipynb": b"{oops",
        "readme.txt": b"exported by the LMS\n",
    }
    path = Path(dest) / "lms-export.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    expected = {
        "jdoe": Expected(full()),
        "asmith": Expected(without("test_log_pmf_extreme", "test_e_step_extreme",
                                   "test_log_likelihood_extreme")),
        "bbroken": Expected(dict.fromkeys(POINTS, 0),
                            "invalid notebook: not valid JSON (line 1, column 2)",
                            {"invalid submission"}),
    }
    return path, expected


def main(argv: list[str] | None = None) -> int:
    return common.main(build, "tests.autograder_corpus.poisson_mixture.build", argv)


if __name__ == "__main__":
    sys.exit(main())
