"""Final grades for the LMS (autograder.export): autograded + manual scores, late penalty.

The course here is the Poisson exercise with its written derivation worth 3
points (graded by hand), so that manual points count.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import export, grade, gradebook, late
from autograder.assignments import get

POISSON = get("poisson_mixture")

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "autograder"
POLICY = late.policy_from_table("poisson_mixture", {"due": "2026-03-02T00:00:00Z",
                                                    "penalty_per_day": 0.1})


def _result(sid: str, passed: int, timestamp: str | None) -> grade.SubmissionResult:
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points,
                              points=c.points if i < passed else 0, passed=i < passed)
             for i, c in enumerate(POISSON.cells())]
    return grade.SubmissionResult(sid, sum(t.points for t in tests), 15, "ok", tests,
                                  cells=[grade.CellLog("cell 2", "import numpy", "ok")],
                                  timestamp=timestamp)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course, its written answers worth 3 points (derivation_m_step; the others
    0); and a gradebook holding its assignment."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(COURSE / "nbgrader_config.py", root)
    shutil.copytree(COURSE / "source", root / "source")
    path = root / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "derivation_q":
            cell["metadata"]["nbgrader"]["points"] = 0
    path.write_text(json.dumps(nb))
    src = gradebook.assignment_source(POISSON, course=root)
    assert src.manual["derivation_m_step"] == 3.0 and sum(src.manual.values()) == 3.0
    template = root / "template.db"
    gradebook.ensure_assignment(gradebook.db_url(template), src)
    return src, template


@pytest.fixture
def db(course, tmp_path):
    """A graded class: ann (3 tests, 2 days late), ben (all, on time), 4242 (a Canvas
    user id), and eve on the roster without a submission."""
    from nbgrader.api import Gradebook

    src, template = course
    path = tmp_path / "gradebook.db"
    shutil.copy(template, path)
    results = [_result("ann", 3, "2026-03-03-12-00-00"), _result("ben", 10, "2026-03-01-12-00-00"),
               _result("4242", 5, "2026-03-01-12-00-00")]
    late.apply(results, POLICY)
    gradebook.record(results, str(path), POISSON, policy=POLICY, source=src)
    with Gradebook(gradebook.db_url(path)) as gb:
        gb.update_or_create_student("ann", first_name="Ann", last_name="Lee",
                                    email="ann@example.org", lms_user_id="777")
        gb.update_or_create_student("ben", first_name="=HYPERLINK(1)", last_name="Kim")
        gb.update_or_create_student("eve")
    return path


src_manual = ("derivation_q", "derivation_m_step", "horse_kicks_answer")


def _grade_by_hand(path: Path, scores: dict[str, float]) -> None:
    """What a grader does in the formgrader: a manual score for each derivation."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.db_url(path)) as gb:
        for sid, score in scores.items():
            nb = gb.find_submission_notebook("poisson_mixture", "poisson_mixture", sid)
            for g in nb.grades:
                if g.name in src_manual:
                    g.manual_score = score if g.name == "derivation_m_step" else 0.0
                    g.needs_manual_grade = False
        gb.db.commit()


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_refuses_while_answers_wait_for_manual_grading(db):
    with pytest.raises(export.ExportError, match=r"3 submission\(s\) still need manual grading"):
        export.export(str(db), "csv")
    text, _ = export.export(str(db), "csv", allow_ungraded=True)
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["ann"]["needs_manual_grade"] == "yes" and rows["eve"]["needs_manual_grade"] == "no"


def test_csv_combines_autograded_and_manual_scores(db):
    _grade_by_hand(db, {"ann": 2.0, "ben": 3.0, "4242": 1.5})
    text, _ = export.export(str(db), "csv", policies={"poisson_mixture": POLICY})
    rows = _rows(text)
    assert tuple(rows[0]) == export.CSV_COLUMNS
    got = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    auto = {"ann": 4.0, "ben": 15.0, "4242": 8.0}
    manual = {"ann": 2.0, "ben": 3.0, "4242": 1.5}
    fraction = {"ann": 0.2, "ben": 0.0, "4242": 0.0}  # ann: 1 day 12 hours late, 2 started days
    for sid in auto:
        raw = auto[sid] + manual[sid]
        assert float(got[sid]["auto_score"]) == pytest.approx(auto[sid])
        assert float(got[sid]["manual_score"]) == pytest.approx(manual[sid])
        assert float(got[sid]["penalty"]) == pytest.approx(fraction[sid] * raw)
        assert float(got[sid]["score"]) == pytest.approx((1 - fraction[sid]) * raw)
        assert got[sid]["max_score"] == "18" and got[sid]["needs_manual_grade"] == "no"
    assert got["ann"]["submitted"] == "2026-03-03T12:00:00Z"
    assert got["ann"]["duedate"] == "2026-03-02T00:00:00Z"
    assert (got["eve"]["submitted"], got["eve"]["score"]) == ("", "0")
    assert got["ben"]["first_name"] == "'=HYPERLINK(1)"  # no formula reaches a spreadsheet
    # Without the policy, the penalty stored at grading time (of the autograded part).
    text, _ = export.export(str(db), "csv")
    got = {r[0]: dict(zip(export.CSV_COLUMNS, r, strict=True)) for r in _rows(text)[1:]}
    assert float(got["ann"]["penalty"]) == pytest.approx(0.2 * 4.0)


def test_canvas_gradebook_import_layout(db):
    _grade_by_hand(db, {"ann": 2.0, "ben": 3.0, "4242": 1.5})
    text, _ = export.export(str(db), "canvas", policies={"poisson_mixture": POLICY},
                            canvas_ids={"poisson_mixture": "1234"})
    rows = _rows(text)
    # Canvas's importer: Student, ID, then SIS User ID and SIS Login ID, then Section,
    # then one column per assignment, "Title (assignment id)".
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "poisson_mixture (1234)"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5] == "18"
    body = {r[3] or r[1]: r for r in rows[2:]}
    assert body["ann"] == ["Lee, Ann", "777", "", "ann", "", "4.8"]  # lms_user_id as the ID
    assert body["4242"] == ["4242", "4242", "", "", "", "9.5"]       # a Canvas user id
    assert body["ben"][0] == "Kim, =HYPERLINK(1)" and body["ben"][5] == "18"
    assert body["eve"][5] == "0"
    assert len(rows) == 2 + 4 and all(len(r) == 6 for r in rows)


def test_moodle_grade_import_layout(db):
    _grade_by_hand(db, {"ann": 2.0, "ben": 3.0, "4242": 1.5})
    text, _ = export.export(str(db), "moodle", policies={"poisson_mixture": POLICY})
    rows = _rows(text)
    assert rows[0] == ["Username", "Email address", "poisson_mixture"]
    assert rows[1:] == [["4242", "", "9.5"], ["ann", "ann@example.org", "4.8"],
                        ["ben", "", "18"], ["eve", "", "0"]]


def test_unknown_assignment_or_gradebook(db, tmp_path):
    with pytest.raises(export.ExportError, match="no assignment 'ps9'"):
        export.export(str(db), "csv", assignments=["ps9"], allow_ungraded=True)
    with pytest.raises(export.ExportError, match="no gradebook"):
        export.export(str(tmp_path / "none.db"), "csv")
    with pytest.raises(export.ExportError, match="unknown format"):
        export.export(str(db), "xlsx")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable),
                                                 os.environ["PATH"]]))
    return subprocess.run([sys.executable, "-m", "autograder", "export", *args], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=300)


def test_command_line(db, tmp_path):
    out = tmp_path / "lms" / "moodle.csv"
    proc = _cli("--db", str(db), "--out", str(out), "--format", "moodle")
    assert proc.returncode == 2 and "need manual grading" in proc.stderr and not out.exists()
    _grade_by_hand(db, {"ann": 2.0, "ben": 3.0, "4242": 1.5})
    policy = tmp_path / "late.toml"
    policy.write_text('[poisson_mixture]\ndue = 2026-03-02T00:00:00Z\npenalty_per_day = 0.1\n')
    proc = _cli("--db", str(db), "--out", str(out), "--format", "canvas", "--policy",
                str(policy), "--canvas-id", "poisson_mixture=1234")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0].endswith(",poisson_mixture (1234)")
    assert "exported 4 grade(s)" in proc.stderr
    proc = _cli("--db", str(db), "--out", str(out), "--canvas-id", "poisson_mixture")
    assert proc.returncode == 2 and "NAME=NUMBER" in proc.stderr
