"""The results in nbgrader's gradebook (autograder.gradebook), on SQLite and PostgreSQL.

The PostgreSQL server is started here, in a temporary folder, from Debian's
``postgresql`` package (``.ci/system-deps`` installs it); its socket is a file
in that folder, so nothing listens on the network.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from autograder import grade, gradebook, late, report
from autograder.assignments import get

POISSON = get("poisson_mixture")

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
RELEASE = REPO / "autograder" / "release" / "poisson_mixture" / "poisson_mixture.ipynb"
#: The written answers (nbgrader "solution" + "grade" cells) and their points.
MANUAL_POINTS = {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
                 for c in json.loads(SOURCE.read_text())["cells"]
                 if c["metadata"].get("nbgrader", {}).get("grade")
                 and c["metadata"]["nbgrader"].get("solution")}
MANUAL = set(MANUAL_POINTS)


def _result(sid: str, passed: int, timestamp: str | None = None, status: str = "ok",
            read: bool = True) -> grade.SubmissionResult:
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points,
                              points=c.points if i < passed else 0, passed=i < passed)
             for i, c in enumerate(POISSON.cells())]
    cells = [grade.CellLog("cell 2", "import numpy as np", "ok")] if read else []
    return grade.SubmissionResult(sid, sum(t.points for t in tests), 15, status, tests,
                                  cells=cells, timestamp=timestamp)


CLASS = [_result("ann", 3, "2026-03-01-10-00-00"), _result("ben", 10, "2026-03-04-10-00-00"),
         _result("cat", 0, None, "invalid notebook: not valid JSON", read=False),
         _result("dan", 0, None, "no submission", read=False)]


# --------------------------------------------------------------------------
# databases


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL is not installed: run .ci/system-deps "
                    "(apt-get install postgresql)")
    return Path(initdb).parent


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of our own: (URL of a database, function making a new database)."""
    import psycopg2

    bindir = _pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sock = root / "data", root
    port = 54329
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(root / "log"), "-o", f"-k {sock} -p {port} -c listen_addresses=''",
                    "start"], check=True, capture_output=True)

    def url(name: str) -> str:
        return f"postgresql+psycopg2://postgres@/{name}?host={sock}&port={port}"

    def create(template: str | None = None) -> str:
        name = "gb_" + uuid.uuid4().hex[:12]
        conn = psycopg2.connect(dbname="postgres", user="postgres", host=str(sock), port=port)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        conn.close()
        return name

    try:
        template = create()
        gradebook.ensure_assignment(url(template), gradebook.assignment_source(POISSON))
        yield lambda: url(create(template))
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "gradebook.db"
    gradebook.ensure_assignment(gradebook.db_url(path), gradebook.assignment_source(POISSON))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A gradebook that already holds the assignment (generate_assignment ran once)."""
    if request.param == "sqlite":
        path = tmp_path / "gradebook.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return gradebook.db_url(path)
    return request.getfixturevalue("postgres")()


def _nbgrader_export(url: str, tmp_path: Path) -> dict[str, dict[str, str]]:
    """``nbgrader export`` (its CSV plugin) run on the database: rows by student."""
    dest = tmp_path / "nbgrader-export.csv"
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable),
                                                 os.environ["PATH"]]),
               JUPYTER_CONFIG_DIR=str(tmp_path / ".jupyter"))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export",
                           f"--CourseDirectory.db_url={url}", f"--to={dest}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with dest.open(newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _grades_csv(results) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in csv.DictReader(report.grades_csv(results, POISSON).splitlines())}


def _counts(url: str) -> tuple[int, ...]:
    from nbgrader.api import Grade, Gradebook, Student, SubmittedAssignment, SubmittedNotebook

    with Gradebook(url) as gb:
        return tuple(gb.db.query(t).count()
                     for t in (Student, SubmittedAssignment, SubmittedNotebook, Grade))


# --------------------------------------------------------------------------


def test_assignment_source_reads_the_notebook_metadata():
    src = gradebook.assignment_source(POISSON)
    assert src.name == "poisson_mixture" and src.notebook == "poisson_mixture"
    assert src.auto == {c.grade_id: float(c.points) for c in POISSON.cells()}
    assert set(src.manual) == MANUAL and MANUAL  # the written answers
    assert src.course_id == "em-mixtures"


def test_assignment_source_refuses_a_notebook_that_disagrees(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "poisson_mixture").mkdir(parents=True)
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "test_em_random":
            cell["metadata"]["nbgrader"]["points"] = 5
    (course / "source" / "poisson_mixture" / "poisson_mixture.ipynb").write_text(json.dumps(nb))
    with pytest.raises(gradebook.GradebookError, match="build-source"):
        gradebook.assignment_source(POISSON, course=course)


def test_the_structure_is_nbgraders(sqlite_template):
    """What generate_assignment made: grade cells with points and types, solution cells."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.db_url(sqlite_template)) as gb:
        nb = gb.find_notebook("poisson_mixture", "poisson_mixture")
        cells = {c.name: (c.max_score, c.cell_type) for c in nb.grade_cells}
        solutions = {c.name for c in nb.solution_cells}
        assert gb.find_assignment("poisson_mixture").course_id == "em-mixtures"
    assert cells == {**{c.grade_id: (c.points, "code") for c in POISSON.cells()},
                     **{m: (p, "markdown") for m, p in MANUAL_POINTS.items()}}
    assert {"log_poisson_pmf", "e_step", "m_step", "log_likelihood", "em"} | MANUAL <= solutions


def _structure(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, without the random ids that link them."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        out = {}
        with engine.connect() as conn:
            for table in inspect(engine).get_table_names():
                cols = [c["name"] for c in inspect(engine).get_columns(table)
                        if c["name"] != "id" and not (c["name"].endswith("_id")
                                                      and c["name"] != "course_id")]
                rows = conn.execute(text(f"SELECT {', '.join(cols) or 'COUNT(*)'} FROM {table}"))
                out[table] = sorted(tuple(map(str, r)) for r in rows)
        return out
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["poisson_mixture", "gaussian_mixture"])
def test_in_process_generation_equals_nbgrader_generate_assignment(name, tmp_path):
    """The gradebook made in this process (no subprocess, no alembic command)
    holds exactly what ``nbgrader generate_assignment`` writes."""
    src = gradebook.assignment_source(get(name))
    ours = gradebook.db_url(tmp_path / "ours.db")
    gradebook.ensure_assignment(ours, src)

    course = tmp_path / "course"
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", course.mkdir() or course)
    shutil.copytree(REPO / "autograder" / "source" / name, course / "source" / name)
    theirs = gradebook.db_url(tmp_path / "theirs.db")
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable),
                                                 os.environ["PATH"]]),
               JUPYTER_CONFIG_DIR=str(tmp_path / ".jupyter"))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name,
                           "--force", f"--CourseDirectory.root={course}",
                           f"--CourseDirectory.db_url={theirs}"],
                          cwd=course, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    mine, stock = _structure(ours), _structure(theirs)
    assert mine["source_cell"] and mine["grade_cells"] and mine["alembic_version"]
    assert mine == stock


def test_scores_equal_grades_csv(url, tmp_path):
    from nbgrader.api import Gradebook

    gradebook.record(CLASS, url, POISSON)
    exported = _nbgrader_export(url, tmp_path)
    expected = _grades_csv(CLASS)
    assert set(exported) == set(expected)
    for sid, row in expected.items():
        assert float(exported[sid]["raw_score"]) == pytest.approx(float(row["score"])), sid
        assert float(exported[sid]["score"]) == pytest.approx(float(row["score"])), sid
        # nbgrader's maximum counts the written answers too (graded by hand).
        assert float(exported[sid]["max_score"]) == pytest.approx(
            POISSON.max_score + sum(MANUAL_POINTS.values()))
    assert exported["ann"]["timestamp"] == "2026-03-01 10:00:00"  # UTC (no policy: UTC)
    assert exported["dan"]["timestamp"] == ""  # no submission: no submitted assignment
    with Gradebook(url) as gb:
        for r in CLASS[:3]:
            nb = gb.find_submission_notebook("poisson_mixture", "poisson_mixture", r.student_id)
            grades = {g.name: g for g in nb.grades}
            assert {n: grades[n].auto_score for n in r.points} == {
                n: float(p) for n, p in r.points.items()}
            assert not any(grades[n].needs_manual_grade for n in r.points)
            for m in MANUAL:  # the written answers wait for the formgrader
                g = grades[m]
                assert g.manual_score is None
                if r.cells:
                    assert g.auto_score is None and g.needs_manual_grade
                else:  # nothing could be read: nothing to grade
                    assert g.auto_score == 0 and not g.needs_manual_grade
        with pytest.raises(Exception, match="No such submission"):
            gb.find_submission("poisson_mixture", "dan")
        assert gb.find_student("dan").id == "dan"


def test_regrade_updates_rows_and_keeps_manual_scores(url, tmp_path):
    from nbgrader.api import Gradebook

    gradebook.record(CLASS, url, POISSON)
    counts = _counts(url)
    with Gradebook(url) as gb:  # what a grader does in the formgrader
        grades = {g.name: g for g in gb.find_submission_notebook(
            "poisson_mixture", "poisson_mixture", "ann").grades}
        for m in MANUAL:
            grades[m].manual_score = 0.0
            grades[m].needs_manual_grade = False
        grades["test_em_random"].manual_score = 1.0  # an override of an autograded cell
        grades["test_em_random"].needs_manual_grade = False
        gb.db.commit()
    again = [_result("ann", 5, "2026-03-02-10-00-00"), *CLASS[1:]]
    gradebook.record(again, url, POISSON)
    gradebook.record(again, url, POISSON)
    assert _counts(url) == counts  # updated, never duplicated
    with Gradebook(url) as gb:
        sub = gb.find_submission("poisson_mixture", "ann")
        grades = {g.name: g for g in sub.notebooks[0].grades}
        assert str(sub.timestamp) == "2026-03-02 10:00:00"
        assert grades["test_m_step_basic"].auto_score == 2.0  # the fifth test now passes
        assert all(grades[m].manual_score == 0.0 and not grades[m].needs_manual_grade
                   for m in MANUAL)
        assert grades["test_em_random"].manual_score == 1.0
        assert grades["test_em_random"].needs_manual_grade  # reviewed again, as in nbgrader
        assert sub.score == pytest.approx(again[0].score + 1.0)


def test_due_date_and_late_penalty(url, tmp_path):
    from nbgrader.api import Gradebook

    policy = late.policy_from_table("poisson_mixture", {"due": "2026-03-02T00:00:00Z",
                                                        "penalty_per_day": 0.25})
    results = [_result(r.student_id, sum(t.passed for t in r.tests), r.timestamp, r.status,
                       bool(r.cells)) for r in CLASS]
    late.apply(results, policy)
    gradebook.record(results, url, POISSON, policy=policy)
    exported = _nbgrader_export(url, tmp_path)
    expected = _grades_csv(results)
    assert expected["ben"]["penalty"] == "11.25"  # 3 started days: 75 % of 15
    for sid in ("ann", "ben", "cat"):
        assert exported[sid]["duedate"] == "2026-03-02 00:00:00"
        assert float(exported[sid]["late_submission_penalty"]) == pytest.approx(
            float(expected[sid]["penalty"]))
        assert float(exported[sid]["score"]) == pytest.approx(float(expected[sid]["final_score"]))
    with Gradebook(url) as gb:
        assert gb.find_submission("poisson_mixture", "ben").total_seconds_late == 2 * 86400 + 36000


def test_a_class_lands_in_one_transaction(url):
    """A student who cannot be recorded rolls the whole class back: the
    gradebook holds all of this run or none of it, never a part."""
    from nbgrader.api import Gradebook

    gradebook.record(CLASS[:1], url, POISSON)
    before = _counts(url)
    with Gradebook(url) as gb:
        score = gb.find_submission("poisson_mixture", "ann").score
    assert score == CLASS[0].score < 15
    bad = _result("zed", 2)
    bad.tests[0].grade_id = "not_a_cell"
    with pytest.raises(gradebook.GradebookError, match="not_a_cell"):
        gradebook.record([_result("ann", 15), _result("ben", 5), bad], url, POISSON)
    assert _counts(url) == before
    with Gradebook(url) as gb:
        assert gb.find_submission("poisson_mixture", "ann").score == score  # not 15


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    with pytest.raises(gradebook.GradebookError, match="cannot open the gradebook"):
        gradebook.check(f"sqlite:///{tmp_path}/missing/folder/gradebook.db")


# --------------------------------------------------------------------------
# end to end: python -m autograder grade, then nbgrader's tools


def _solved_release() -> dict:
    nb = json.loads(RELEASE.read_text())
    src = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
           for c in json.loads(SOURCE.read_text())["cells"]
           if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in src:
            cell["source"] = src[gid]
    return nb


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUTOGRADER_SECRET="gradebook test secret")
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow  # two real grading runs
def test_grade_writes_the_gradebook_in_out(tmp_path):
    subs = tmp_path / "subs"
    for sid, nb in {"ok": _solved_release(), "stub": json.loads(RELEASE.read_text())}.items():
        (subs / sid / "poisson_mixture").mkdir(parents=True)
        (subs / sid / "poisson_mixture" / "poisson_mixture.ipynb").write_text(json.dumps(nb))
    (subs / "ok" / "poisson_mixture" / "timestamp.txt").write_text(
        "2026-03-03 12:00:00.000000 UTC")
    out = tmp_path / "out"
    proc = _cli("grade", str(subs), "--out", str(out), "-j", "2", "--timeout", "20")
    assert proc.returncode == 0, proc.stderr
    db = out / "gradebook.db"
    url = gradebook.db_url(db)
    grades = {r["student_id"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert {s: r["score"] for s, r in grades.items()} == {"ok": "15", "stub": "0"}
    exported = _nbgrader_export(url, tmp_path)
    assert {s: float(r["raw_score"]) for s, r in exported.items()} == {"ok": 15.0, "stub": 0.0}
    assert exported["ok"]["timestamp"] == "2026-03-03 12:00:00"
    inode = db.stat().st_ino
    # Grading again with a late policy: the same database file (the formgrader may hold it
    # open), no new rows, the penalty in grades.csv and in the gradebook.
    policy = tmp_path / "late.toml"
    policy.write_text('[poisson_mixture]\ndue = 2026-03-02T12:00:00Z\npenalty_per_day = 0.1\n')
    counts = _counts(url)
    proc = _cli("grade", str(subs), "--out", str(out), "-j", "2", "--timeout", "20",
                "--policy", str(policy))
    assert proc.returncode == 0, proc.stderr
    assert db.stat().st_ino == inode and _counts(url) == counts
    grades = {r["student_id"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert (grades["ok"]["penalty"], grades["ok"]["final_score"]) == ("1.5", "13.5")
    exported = _nbgrader_export(url, tmp_path)
    assert float(exported["ok"]["score"]) == pytest.approx(13.5)
    assert exported["ok"]["duedate"] == "2026-03-02 12:00:00"
    # Without the policy, a regrade would silently drop the penalties: refused at once.
    proc = _cli("grade", str(subs), "--out", str(out))
    assert proc.returncode == 2 and "late policy" in proc.stderr


def test_autograded_notebooks_where_the_formgrader_looks(sqlite_template, tmp_path):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder import collect

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(sqlite_template, course / "gradebook.db")
    url = gradebook.db_url(course / "gradebook.db")
    nb = _solved_release()
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid == "derivation_m_step":
            cell["source"] = "My derivation: λ_k = Σ t_ik x_i / Σ t_ik."
        elif gid == "test_em_random":
            cell["source"] = "pass  # tampered"
            cell["metadata"]["nbgrader"]["points"] = 100
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"text/html": "<script>steal()</script>"}}]
    for sid in ("ann", "bad id"):
        (tmp_path / "subs" / sid).mkdir(parents=True)
        (tmp_path / "subs" / sid / "poisson_mixture.ipynb").write_text(json.dumps(nb))
    subs = collect.find_submissions(tmp_path / "subs")
    results = [_result("ann", 9), _result("bad id", 9)]
    gradebook.record(results, url, POISSON)
    problems = gradebook.write_autograded(course, subs, results, POISSON)
    assert problems == ["'bad id': not a safe folder name"]
    written = course / "autograded" / "ann" / "poisson_mixture" / "poisson_mixture.ipynb"
    out = json.loads(written.read_text())
    cells = {c["metadata"]["nbgrader"]["grade_id"]: c for c in out["cells"]
             if "nbgrader" in c["metadata"]}
    source = {c["metadata"]["nbgrader"]["grade_id"]: c for c in json.loads(SOURCE.read_text())[
        "cells"] if "nbgrader" in c["metadata"]}
    assert cells["derivation_m_step"]["source"] == "My derivation: λ_k = Σ t_ik x_i / Σ t_ik."
    assert cells["test_em_random"]["source"] == source["test_em_random"]["source"]
    assert cells["test_em_random"]["metadata"]["nbgrader"]["points"] == 2
    assert cells["test_em_random"]["outputs"][0]["text"].startswith("autograder: 0 / 2 points")
    assert cells["test_em_hasselblad"]["outputs"][0]["text"] == \
        "autograder: 2 / 2 points, passed\n"
    assert "steal()" not in written.read_text()
    # What the formgrader's manual grading lists: ann's notebook, waiting for a grader.
    coursedir = CourseDirectory(root=str(course))
    coursedir.db_url = url
    api = NbGraderAPI(coursedir=coursedir)
    listed = api.get_notebook_submissions("poisson_mixture", "poisson_mixture")
    assert [(s["student"], s["needs_manual_grade"]) for s in listed] == [("ann", True)]
