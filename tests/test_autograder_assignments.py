"""The engine and the registry: every assignment declared once, checked alike.

The tests parametrised by ``ASSIGNMENTS`` run for every assignment in
``autograder/assignments/`` (a new one is checked without a line here): its
declaration is consistent, its source notebook is generated from it, its
release holds the written answers as nbgrader manually graded cells, and its
instructor's solution earns full marks in the sandbox. The others test the
engine's parts that name no assignment: the registry, the command line,
inferring the assignment from file names, the child's reading of results.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import Executor, Future
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import assignments, build_source, checks, collect, grade, report, spec
from autograder.assignments.poisson_mixture import ASSIGNMENT as POISSON

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments.names()


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _text(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


# --------------------------------------------------------------------------
# the registry


def test_registry_lists_and_finds_the_assignments():
    assert "poisson_mixture" in ASSIGNMENTS and list(ASSIGNMENTS) == sorted(ASSIGNMENTS)
    folders = sorted(p.parent.name for p in (REPO / "autograder" / "assignments").glob(
        "*/__init__.py"))
    assert list(ASSIGNMENTS) == folders
    assert assignments.get("poisson_mixture") is POISSON
    assert assignments.resolve(POISSON) is POISSON
    with pytest.raises(ValueError, match="unknown assignment 'nope'; the assignments are: "):
        assignments.get("nope")
    with pytest.raises(ValueError, match="unknown assignment"):
        assignments.get("../poisson_mixture")


def test_poisson_declaration_keeps_its_contract():
    """15 autograded points in 10 grade cells; the written answers apart."""
    assert POISSON.max_score == 15 and len(POISSON.grade_ids) == 10
    assert POISSON.manual_ids == ("derivation_q", "derivation_m_step")
    assert POISSON.manual_points == 5
    assert POISSON.notebook == "poisson_mixture.ipynb"
    assert POISSON.solutions == "solutions.poisson"


# --------------------------------------------------------------------------
# every assignment


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_declaration_is_consistent(name):
    a = assignments.get(name)
    assert a.name == name and a.title
    cells = a.cells()
    names = [f.name for f in a.functions]
    # Each function is tested, in notebook order; helpers are judged before their callers.
    assert list(dict.fromkeys(c.function for c in cells)) == names
    for f in a.functions:
        assert f.check.__name__ == f"check_{f.name}"
        assert getattr(a.checks, f.check.__name__) is f.check
        assert f.check.__module__ == a.checks.__name__
        for helper in f.helpers:
            assert names.index(helper) < names.index(f.name)
        outputs = getattr(a.checks, "OUTPUTS", {})
        assert f.outputs == tuple(outputs.get(f.name, ()))
    for c in cells:
        assert c.points > 0
        assert any(case.visible for case in c.cases), f"{c.grade_id} has no visible case"
        assert any(not case.visible for case in c.cases), f"{c.grade_id} has no hidden case"
        for case in c.cases:
            assert len(case.args) == len(a.function(c.function).arguments)
    for m in a.manual:
        assert m.points == sum(p for p, _ in m.rubric) > 0 and m.answer.strip()
    ids = [*a.grade_ids, *a.manual_ids]
    assert len(set(ids)) == len(ids)
    assert a.max_score == sum(c.points for c in cells)  # the written answers apart


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_hidden_cases_depend_on_the_secret_and_visible_ones_do_not(name):
    a = assignments.get(name)

    def inputs(cells, visible):
        return [[[np.asarray(x).tolist() for x in case.args] for case in c.cases
                 if case.visible == visible] for c in cells]

    public, drawn = a.cells(), a.cells("a secret")
    assert [c.grade_id for c in drawn] == list(a.grade_ids)
    assert inputs(drawn, True) == inputs(public, True)
    assert inputs(drawn, False) != inputs(public, False)
    assert inputs(a.cells("a secret"), False) == inputs(drawn, False)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_is_generated_from_the_declaration(name):
    """``build-source`` is a fixed point, and the notebook's nbgrader cells are
    exactly the declaration's: solutions, tests with their points, answers."""
    a = assignments.get(name)
    text = a.source_notebook.read_text()
    nb = nbformat.reads(text, as_version=4)
    assert nbformat.writes(build_source.render(nb, a)) + "\n" == text, \
        f"run: python -m autograder build-source {name}"
    cells = json.loads(text)["cells"]
    tests = {_meta(c)["grade_id"]: _meta(c)["points"] for c in cells
             if _meta(c).get("grade") and not _meta(c).get("solution")}
    assert tests == {c.grade_id: c.points for c in a.cells()}
    solutions = [_meta(c)["grade_id"] for c in cells
                 if _meta(c).get("solution") and c["cell_type"] == "code"]
    assert solutions == [f.name for f in a.functions]
    answers = {_meta(c)["grade_id"]: c for c in cells
               if _meta(c).get("solution") and c["cell_type"] == "markdown"}
    for m in a.manual:
        cell = answers[m.grade_id]
        assert _meta(cell)["grade"] and _meta(cell)["points"] == m.points
        body = _text(cell)
        assert body.startswith("### BEGIN SOLUTION\n") and body.endswith("### END SOLUTION")
        assert m.answer.strip() in body and f"**Rubric ({m.points} point" in body
    # test_helpers: the engine's helpers and the assignment's checks, self-contained.
    helpers = next(c for c in cells if _meta(c).get("grade_id") == build_source.HELPERS_ID)
    assert _text(helpers) == build_source.helpers_source(a)
    ns = {"np": np}
    exec(_text(helpers), ns)  # no course file, no import of autograder
    for f in a.functions:
        assert callable(ns[f.check.__name__])
    assert "from autograder" not in _text(helpers)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_has_the_written_answers_to_grade_by_hand(name):
    a = assignments.get(name)
    cells = json.loads(a.release_notebook.read_text())["cells"]
    answers = {_meta(c)["grade_id"]: c for c in cells
               if _meta(c).get("solution") and c["cell_type"] == "markdown"}
    for m in a.manual:
        cell = answers[m.grade_id]
        assert _text(cell) == "YOUR ANSWER HERE"  # model answer and rubric removed
        assert _meta(cell)["grade"] and _meta(cell)["points"] == m.points
    release = a.release_notebook.read_text()
    assert "### BEGIN SOLUTION" not in release and "Rubric" not in release


class SerialExecutor(Executor):
    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_instructor_solution_earns_full_marks_in_the_sandbox(name, monkeypatch):
    monkeypatch.setenv(spec.SECRET_ENV, "engine test secret")
    a = assignments.get(name)
    kit = grade.make_kit(grade.GradeConfig(timeout=60), a)
    result = grade.self_check(SerialExecutor(), kit)
    assert (result.score, result.max_score, result.status) == (a.max_score, a.max_score, "ok")
    assert result.assignment == name


# --------------------------------------------------------------------------
# the child reads any result without knowing the assignment


def test_child_normalise_keeps_the_shape_of_the_result():
    one = checks.normalise("f", [[1, 2], [3, 4]])
    assert isinstance(one, np.ndarray) and one.shape == (2, 2) and one.dtype == np.float64
    parts = checks.normalise("f", [np.ones(2), np.ones(3)])
    assert isinstance(parts, tuple) and [p.shape for p in parts] == [(2,), (3,)]
    parts = checks.normalise("f", (np.ones(2), 3.0))
    assert isinstance(parts, tuple) and parts[1].shape == ()
    assert checks.normalise("f", 2.5).shape == ()
    with pytest.raises(AssertionError, match="f returned a value that is not a numeric array"):
        checks.normalise("f", "tau")
    with pytest.raises(AssertionError, match="value 1 of the result is not a numeric array"):
        checks.normalise("f", (np.ones(2), None))


def test_grader_reads_the_childs_arrays_against_the_contract():
    """A one-array reply for a tuple contract is split as a live result would be."""
    check = POISSON.function("m_step").check
    pi, lam = np.array([0.5, 0.5]), np.array([1.0, 2.0])
    check(grade._assemble([np.stack([pi, lam])]), (pi, lam))  # a 2 x K array: (pi, lam)
    check(grade._assemble([pi, lam]), (pi, lam))
    with pytest.raises(AssertionError, match=r"must return the tuple \(pi, lam\)"):
        check(grade._assemble([np.ones(3)]), (pi, lam))


# --------------------------------------------------------------------------
# which assignment a batch is


@pytest.fixture
def three(monkeypatch):
    """Three registered names, two of them prefixes of one another."""
    monkeypatch.setattr(assignments, "names",
                        lambda: ("gaussian_mixture", "gaussian_mixture_1d", "poisson_mixture"))


def test_infer_assignment_from_file_names(three):
    infer = collect.infer_assignment
    assert infer(["ann/poisson_mixture.ipynb", "ben/poisson_mixture.ipynb"]) == "poisson_mixture"
    assert infer(["ann/gaussian_mixture_1d.ipynb"]) == "gaussian_mixture_1d"
    assert infer(["gaussian_mixture_1d_jdoe_attempt_2024-03-01-10-00-00_gaussian_mixture_1d"
                  ".ipynb", "readme.txt"]) == "gaussian_mixture_1d"
    assert infer(["smith_123_456_gaussian_mixture.ipynb"]) == "gaussian_mixture"
    # A renamed download counts only when no notebook is named exactly.
    assert infer(["ann/poisson_mixture (1).ipynb", "ben/notes.ipynb"]) == "poisson_mixture"
    assert infer(["ann/poisson_mixture (1).ipynb",
                  "ben/gaussian_mixture.ipynb"]) == "gaussian_mixture"
    assert infer(["readme.txt"]) is None
    with pytest.raises(collect.CollectError,
                       match=r"several assignments: gaussian_mixture \(1 notebook\), "
                             r"poisson_mixture \(2 notebooks\); grade one at a time with "
                             r"--assignment NAME"):
        infer(["a/poisson_mixture.ipynb", "b/poisson_mixture.ipynb", "c/gaussian_mixture.ipynb"])
    with pytest.raises(collect.CollectError, match="none is named after one of "
                                                   "gaussian_mixture, gaussian_mixture_1d, "
                                                   "poisson_mixture; pass --assignment NAME"):
        infer(["ann/homework.ipynb"])


def test_a_single_assignment_is_always_inferred(monkeypatch):
    monkeypatch.setattr(assignments, "names", lambda: ("poisson_mixture",))
    assert collect.infer_assignment(["ann/homework.ipynb"]) == "poisson_mixture"
    assert collect.infer_assignment([]) == "poisson_mixture"


def test_collection_knows_its_assignment(three, tmp_path):
    for sid, name in [("ann", "poisson_mixture"), ("ben", "poisson_mixture"),
                      ("cat", "gaussian_mixture")]:
        (tmp_path / "subs" / sid).mkdir(parents=True)
        (tmp_path / "subs" / sid / f"{name}.ipynb").write_text("{}")
    with pytest.raises(collect.CollectError, match="several assignments"):
        collect.find_submissions(tmp_path / "subs")
    subs = collect.find_submissions(tmp_path / "subs", assignment="poisson_mixture")
    assert subs.assignment == "poisson_mixture"
    by_id = {s.student_id: s for s in subs}
    assert by_id["ann"].problem is None and by_id["ann"].note is None
    # As for any renamed notebook: graded, and the status says so.
    assert by_id["cat"].note == "graded 'gaussian_mixture.ipynb' (expected poisson_mixture.ipynb)"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("gaussian_mixture_jdoe_attempt_2024-03-01-10-00-00_gaussian_mixture.ipynb",
                   "{}")
    subs = collect.find_submissions(archive)
    assert subs.assignment == "gaussian_mixture" and [s.student_id for s in subs] == ["jdoe"]


# --------------------------------------------------------------------------
# the command line and the reports


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_list_and_unknown_names(tmp_path):
    proc = _cli("list", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.splitlines() == list(ASSIGNMENTS)
    proc = _cli("release", "nope", "--check")
    assert proc.returncode == 2 and "unknown assignment(s) nope" in proc.stderr
    proc = _cli("build-source", "nope")
    assert proc.returncode == 2 and "unknown assignment(s) nope" in proc.stderr
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    proc = _cli("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                "--assignment", "nope")
    assert proc.returncode == 2 and "unknown assignment 'nope'" in proc.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "subs" / "ann" / "poisson_mixture.ipynb").write_bytes(b"{oops")
    proc = _cli("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                "--assignment", "poisson_mixture")
    assert proc.returncode == 0, proc.stderr
    assert "graded 1 submissions of poisson_mixture" in proc.stderr
    header = (tmp_path / "out" / "grades.csv").read_text().splitlines()[0].split(",")
    assert header == list(report.grade_columns(POISSON))


def test_build_source_check_names_each_assignment():
    proc = _cli("build-source", "--check", *ASSIGNMENTS)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("is up to date") == len(ASSIGNMENTS)


def _result(sid: str, a: spec.Assignment) -> grade.SubmissionResult:
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points) for c in a.cells()]
    return grade.SubmissionResult(sid, 0, a.max_score, "ok", tests, assignment=a.name)


def test_results_record_the_assignment_and_out_keeps_one(tmp_path):
    out = tmp_path / "out"
    report.write_outputs([_result("ann", POISSON)], out)
    doc = json.loads((out / "results.json").read_text())
    assert doc["assignment"] == "poisson_mixture" and doc["max_score"] == 15
    assert doc["manual"] == {"derivation_q": 2, "derivation_m_step": 3}
    assert doc["results"][0]["assignment"] == "poisson_mixture"
    other = spec.Assignment("other_mixture", "Other", POISSON.functions, POISSON.build,
                            POISSON.checks, POISSON.solutions)
    with pytest.raises(report.OutputError, match="grades of the assignment poisson_mixture, "
                                                 "not other_mixture"):
        report.load_class(out, assignment=other)
    assert list(report.load_class(out, assignment=POISSON)) == ["ann"]
    assert report.load_class(out, replace=True, assignment=other) == {}
