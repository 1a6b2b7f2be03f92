"""The student version of the notebook, its hidden tests, and stock nbgrader.

* the committed release has stubs raising NotImplementedError, no solution
  code and no hidden test; ``python -m autograder release`` reproduces it
  byte for byte, every time;
* the values that the source notebook's hidden tests embed equal what
  :mod:`solutions.poisson` computes today;
* stock nbgrader works on the course (validate, generate_assignment,
  autograde) and agrees with ``python -m autograder grade`` on honest
  submissions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import release
from autograder.assignments.poisson_mixture import ASSIGNMENT as A
from solutions import poisson

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "autograder"
SOURCE = COURSE / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
RELEASE = COURSE / "release" / "poisson_mixture" / "poisson_mixture.ipynb"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _meta(cell: dict) -> dict:
    return cell["metadata"].get("nbgrader", {})


def _solution_lines() -> list[str]:
    """The lines between the solution markers of the source notebook."""
    lines, inside = [], False
    for cell in _cells(SOURCE):
        for line in _text(cell).splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.append(line.strip())
    return lines


def _hidden_blocks() -> list[str]:
    blocks = []
    for cell in _cells(SOURCE):
        text = _text(cell)
        if "### BEGIN HIDDEN TESTS" in text:
            blocks.append(text.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0])
    return blocks


def test_release_has_stubs_and_no_solution_or_hidden_test():
    text = RELEASE.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    cells = _cells(RELEASE)
    solutions = [c for c in cells if _meta(c).get("solution") and c["cell_type"] == "code"]
    assert [_meta(c)["grade_id"] for c in solutions] == [f.name for f in A.functions]
    for cell in solutions:
        body = _text(cell)
        assert body.rstrip().endswith("# YOUR CODE HERE\n    raise NotImplementedError()")
        ns: dict = {"np": np}
        exec(body, ns)
        with pytest.raises(NotImplementedError):
            function = A.function(_meta(cell)["grade_id"])
            ns[function.name](*[np.ones(2)] * len(function.arguments))
    answers = [c for c in cells if _meta(c).get("solution") and c["cell_type"] == "markdown"]
    assert answers and all(_text(c) == "YOUR ANSWER HERE" for c in answers)
    released = "\n".join(_text(c) for c in cells)
    solution_lines = _solution_lines()
    assert len(solution_lines) > 20
    for line in solution_lines:
        assert line not in released, line
    visible = {ln for c in _cells(SOURCE) for ln in _text(c).split("### BEGIN HIDDEN TESTS")[0]
               .splitlines()}
    hidden = {ln for block in _hidden_blocks() for ln in block.splitlines()
              if ln not in visible and any(ch.isdigit() for ch in ln) and len(ln) > 20}
    assert len(hidden) > 50
    for line in hidden:
        assert line not in released, line
    tests = {_meta(c)["grade_id"]: _meta(c)["points"] for c in cells
             if _meta(c).get("grade") and not _meta(c).get("solution")}
    assert tests == {c.grade_id: c.points for c in A.cells()}
    assert all(c.get("outputs", []) == [] for c in cells)
    nb = json.loads(text)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_release_command_reproduces_the_committed_file():
    first = release.generate(A.name)
    assert first == RELEASE.read_text(), "run: python -m autograder release"
    assert release.generate(A.name) == first


# --------------------------------------------------------------------------
# hidden tests against solutions.poisson


def _reference_em(x, pi0, lam0, max_iter=500, tol=1e-8):
    """What the hidden tests of em must expect, computed now by
    :mod:`solutions.poisson` (written here, not taken from autograder.reference)."""
    if tol == 0:
        run = poisson.fit(x, pi0, lam0, max_iter=max_iter, tol=0.0)
        return {"pi": run.params.pi, "lam": run.params.lam, "loglik_head": run.loglik,
                "loglik_final": run.loglik[-1], "n_iter": max_iter}
    mle = poisson.fit(x, pi0, lam0, max_iter=100_000, tol=1e-14, accelerate=True)
    return {"pi": mle.params.pi, "lam": mle.params.lam,
            "loglik_head": poisson.fit(x, pi0, lam0, max_iter=1, tol=0.0).loglik,
            "loglik_final": mle.loglik[-1], "n_iter": None}


def _same(embedded, now, what):
    """Equal to 1e-12 relative (the last bits depend on the machine's BLAS),
    infinities exactly where they are."""
    embedded, now = np.asarray(embedded, dtype=float), np.asarray(now, dtype=float)
    assert embedded.shape == now.shape, what
    assert np.array_equal(np.isinf(embedded), np.isinf(now)), what
    np.testing.assert_allclose(embedded, now, rtol=1e-12, atol=0, err_msg=what)


def test_embedded_reference_values_equal_solutions_poisson_today():
    recorded = []

    def recorder(name):
        def check(result, expected, **options):
            recorded.append((name, result, expected))
        return check

    ns = {
        "np": np,
        "log_poisson_pmf": poisson.log_poisson_pmf, "e_step": poisson.e_step,
        "m_step": lambda x, tau: tuple(poisson.m_step(x, tau)),
        "log_likelihood": poisson.log_likelihood, "em": _reference_em,
    }
    ns.update({f"check_{name}": recorder(name) for name in [f.name for f in A.functions]})
    for cell in _cells(SOURCE):
        if _meta(cell).get("grade") and not _meta(cell).get("solution"):
            exec(_text(cell), ns)
    assert len(recorded) == sum(len(c.cases) for c in A.cells())
    for function, now, embedded in recorded:
        if isinstance(embedded, dict):
            assert embedded.keys() == now.keys()
            for key in embedded:
                if embedded[key] is None:
                    assert now[key] is None
                else:
                    _same(embedded[key], now[key], f"{function}: {key}")
        elif isinstance(embedded, tuple):
            for a, b in zip(embedded, now, strict=True):
                _same(a, b, function)
        else:
            _same(embedded, now, function)


# --------------------------------------------------------------------------
# stock nbgrader on the same course


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ,
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
               JUPYTER_CONFIG_DIR=str(course / ".jupyter"),
               JUPYTER_DATA_DIR=str(course / ".jupyter-data"))
    return subprocess.run([sys.executable, "-m", "nbgrader", *args,
                           f"--CourseDirectory.root={course}"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_stock_nbgrader_validates_generates_and_autogrades(tmp_path):
    from autograder_corpus.build import NAIVE_E, NAIVE_LL, NAIVE_PMF, dumps, solved

    from autograder.kernelspec import ensure_python3_kernel

    ensure_python3_kernel()
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source", course / "source")
    proc = _nbgrader(course, "validate", str(course / "source/poisson_mixture/poisson_mixture.ipynb"))
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr
    proc = _nbgrader(course, "generate_assignment", "poisson_mixture")
    assert proc.returncode == 0, proc.stderr
    released = course / "release" / "poisson_mixture" / "poisson_mixture.ipynb"
    assert [_text(c) for c in _cells(released)] == [_text(c) for c in _cells(RELEASE)]
    naive = solved(log_poisson_pmf=NAIVE_PMF, e_step=NAIVE_E, log_likelihood=NAIVE_LL)
    # A student validating a naive (not log-space) solution is told so by the
    # visible cases of the extreme cells, numbers first (validate cuts lines).
    (tmp_path / "naive.ipynb").write_bytes(dumps(naive))
    proc = _nbgrader(course, "validate", str(tmp_path / "naive.ipynb"))
    assert "VALIDATION FAILED ON 3 CELL(S)!" in proc.stdout, proc.stdout + proc.stderr
    assert "AssertionError: log_poisson_pmf(x, lam)[2, 0] is -inf, expected -6605.775359" \
        in proc.stdout
    assert "AssertionError: e_step: tau[1, 0] is nan" in proc.stdout
    for student, nb in {"ref": solved(), "naive": naive}.items():
        folder = course / "submitted" / student / "poisson_mixture"
        folder.mkdir(parents=True)
        (folder / "poisson_mixture.ipynb").write_bytes(dumps(nb))
    proc = _nbgrader(course, "autograde", "poisson_mixture")
    assert proc.returncode == 0, proc.stderr

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {}
        for student in ("ref", "naive"):
            nb = gb.find_submission_notebook("poisson_mixture", "poisson_mixture", student)
            scores[student] = {g.name: g.score for g in nb.grades if g.max_score > 0}
    assert scores["ref"] == {c.grade_id: c.points for c in A.cells()}
    extreme = {"test_log_pmf_extreme", "test_e_step_extreme", "test_log_likelihood_extreme"}
    assert scores["naive"] == {c.grade_id: 0 if c.grade_id in extreme else c.points
                               for c in A.cells()}
