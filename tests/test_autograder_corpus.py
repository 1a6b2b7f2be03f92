"""End to end: ``python -m autograder grade`` on the corpus of submissions.

The corpus (tests/autograder_corpus/poisson_mixture/build.py) holds the reference solution,
the release stubs, typical mistakes, a numerically naive solution, broken
notebooks, faults (infinite loop, ``os._exit``, an 8 GiB allocation, edited
test cells...) and cheats, each with the exact points it must get per test,
its status and the categories of its flags.

The grader runs from a copy of the repository, so that "it writes nothing in
the source tree" is checked on a tree nobody else touches meanwhile.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from autograder_corpus.common import expected_row
from autograder_corpus.poisson_mixture.build import POINTS, TIMEOUT, build, build_zip

from autograder.assignments.poisson_mixture import ASSIGNMENT
from autograder.report import feedback_name, grade_columns

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["student_id", "score", "max_score", "status", *POINTS, "derivation_q",
           "derivation_m_step", "to_grade_by_hand"]
CHEATS_READING_FILES = ("c04_read_source", "c05_glob", "c07_syspath")
#: The course secret of the corpus run (the hidden inputs differ from the public ones).
SECRET = "corpus test secret"
#: Copies of the instructor's solution (as a whole, or renamed, or re-encoded).
COPIES = ("a01_reference", "b05_renamed", "d04_utf16", "d05_utf8_bom", "d07_renamed_copy")
#: Code of their own (a different float32 solution, stubs, a lookup table).
NOT_COPIES = ("a02_stubs", "c09_lookup_table", "d01_float32")


def _copy_repo(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _snapshot(tree: Path) -> dict[str, str]:
    """Every file but Python's bytecode caches (git ignores them), with its hash."""
    return {
        str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _grade(tree: Path, submissions: Path, out: Path, *extra: str,
           secret: str | None = SECRET, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
           "-j", "2", "--timeout", str(TIMEOUT), *extra]
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_SECRET"}
    if secret is not None:
        env["AUTOGRADER_SECRET"] = secret
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=600, env=env)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("autograder")
    tree = _copy_repo(root / "tree")
    expected = build(root / "corpus")
    before = _snapshot(tree)
    out = root / "out"
    first = _grade(tree, root / "corpus", out)
    files = {name: (out / name).read_bytes() for name in ("grades.csv", "flags.csv")}
    feedback = {p.name: p.read_bytes() for p in (out / "feedback").iterdir()}
    second = _grade(tree, root / "corpus", out)
    zip_path, zip_expected = build_zip(root)
    no_secret = _grade(tree, zip_path, root / "out-zip", secret=None)
    for sid in CHEATS_READING_FILES:
        shutil.copytree(root / "corpus" / sid, root / "cheats" / sid)
    unsandboxed = _grade(tree, root / "cheats", root / "out-unsandboxed", "--isolation", "none",
                         check=False)
    return {
        "root": root, "tree": tree, "out": out, "expected": expected, "before": before,
        "after": _snapshot(tree), "first": files, "feedback": feedback, "stderr": first.stderr,
        "second_stderr": second.stderr, "zip_out": root / "out-zip",
        "zip_expected": zip_expected, "unsandboxed": root / "out-unsandboxed",
        "no_secret_stderr": no_secret.stderr,
        "unsandboxed_run": unsandboxed,
    }


def _check_rows(rows: list[dict[str, str]], expected: dict) -> None:
    assert [r["student_id"] for r in rows] == sorted(expected)
    for row in rows:
        exp = expected[row["student_id"]]
        assert row == expected_row(ASSIGNMENT, row["student_id"], exp), row["student_id"]


def test_every_row_is_exactly_as_expected(run):
    rows = _rows(run["out"] / "grades.csv")
    assert list(rows[0]) == COLUMNS == list(grade_columns(ASSIGNMENT))
    assert rows[0]["max_score"] == "15"
    _check_rows(rows, run["expected"])


def test_flags_are_exactly_the_expected_categories(run):
    """Every category but ``similarity`` (tested below: most of the corpus is
    made from the instructor's solution)."""
    flags: dict[str, set[str]] = {}
    for row in _rows(run["out"] / "flags.csv"):
        assert list(row) == ["student_id", "reason"]
        category = row["reason"].split(":")[0]
        if category != "similarity":
            flags.setdefault(row["student_id"], set()).add(category)
    for sid, exp in run["expected"].items():
        assert flags.get(sid, set()) == exp.flags, sid


def test_similarity_csv_lists_copies_and_flags_them(run):
    rows = _rows(run["out"] / "similarity.csv")
    assert rows and list(rows[0]) == ["student_a", "student_b", "similarity", "what"]
    instructor = {r["student_a"]: float(r["similarity"]) for r in rows
                  if r["what"] == "instructor solution"}
    for sid in COPIES:
        assert instructor.get(sid) == 1.0, sid
    pairs = {(r["student_a"], r["student_b"]) for r in rows if r["what"] == "student"}
    assert ("a01_reference", "d07_renamed_copy") in pairs
    involved = {r["student_a"] for r in rows} | {r["student_b"] for r in rows}
    assert not involved & set(NOT_COPIES)
    assert all(0.9 <= float(r["similarity"]) <= 1.0 for r in rows)
    flags = {(r["student_id"], r["reason"]) for r in _rows(run["out"] / "flags.csv")}
    assert ("d07_renamed_copy", "similarity: code 100% the same as the instructor solution "
            "(see similarity.csv)") in flags
    # Flags never change grades: the copies got what their code earns.
    assert all(run["expected"][sid].score == 15 for sid in COPIES)


def test_the_secret_is_reported(run):
    assert "hidden tests drawn from the course secret" in run["stderr"]
    assert "warning: no course secret" in run["no_secret_stderr"]
    assert "hidden tests: PUBLIC default inputs" in run["no_secret_stderr"]


def test_feedback_pages(run):
    feedback = run["out"] / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == sorted(
        feedback_name(s) for s in run["expected"])
    for sid, exp in run["expected"].items():
        page = (feedback / feedback_name(sid)).read_text()
        assert f"Score: <strong>{exp.score} / 15</strong>" in page
        assert all(gid in page for gid in POINTS)
    naive = (feedback / "a04_naive.html").read_text()
    assert "Compute log p(x | λ) = x log λ - λ - log x! directly" in naive
    wrong = (feedback / "a06_wrong_e_step.html").read_text()
    assert re.search(r"e_step: tau\[\d+\] sums to [-+.e\d]+, not 1", wrong)
    for sid, helper in [("a08_wrong_log_likelihood", "log_likelihood"),
                        ("a07_wrong_m_step", "m_step"), ("a05_wrong_log_pmf", "log_poisson_pmf")]:
        page = (feedback / f"{sid}.html").read_text()
        assert f"em passes when the reference {helper} stands in: fix {helper} first" in page
    setup = (feedback / "d03_import_in_setup_cell.html").read_text()
    assert "from scipy.special import xlogy" in setup
    died = (feedback / "b07_os_exit.html").read_text()
    assert "the Python process died while running e_step (exit code 1)" in died
    stubs = (feedback / "a02_stubs.html").read_text()
    assert "e_step raised NotImplementedError" in stubs


def test_summary_figure(run):
    data = (run["out"] / "summary.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 300


def test_running_twice_gives_identical_outputs(run):
    for name, data in run["first"].items():
        assert (run["out"] / name).read_bytes() == data, name
    assert {p.name: p.read_bytes() for p in (run["out"] / "feedback").iterdir()} == run["feedback"]
    assert len(_rows(run["out"] / "grades.csv")) == len(run["expected"])


def test_nothing_written_in_the_source_tree(run):
    assert run["after"] == run["before"]


def _readable_by_everyone(path: str) -> bool:
    current = Path(path).resolve()
    return all(d.stat().st_mode & 0o001 for d in [current, *current.parents])


def test_sandbox_was_used_and_the_cheats_would_work_without_it(run):
    """The cheats that read the course files are real: without the jail they
    get full marks; with it (the corpus run) they get nothing for what they fake.

    Without the jail (``--isolation none``) a grader running as root runs the
    student's code as an unprivileged user id; where that user cannot read
    the Python installation (a pyenv under /root), the grader refuses instead.
    """
    assert "isolation: root" in run["stderr"] or "isolation: userns" in run["stderr"]
    sandboxed = {r["student_id"]: int(r["score"]) for r in _rows(run["out"] / "grades.csv")}
    assert all(sandboxed[sid] < 15 for sid in CHEATS_READING_FILES)
    proc = run["unsandboxed_run"]
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    if os.geteuid() == 0 and not all(map(_readable_by_everyone, python)):
        assert proc.returncode == 2
        assert "isolation 'none' as root runs the student's code as an unprivileged user id, " \
               "which cannot read the Python installation" in proc.stderr
        assert not run["unsandboxed"].exists()
        return
    assert proc.returncode == 0, proc.stderr
    rows = _rows(run["unsandboxed"] / "grades.csv")
    assert {r["student_id"]: r["score"] for r in rows} == dict.fromkeys(CHEATS_READING_FILES, "15")


def test_lms_zip_through_zip_collect(run):
    _check_rows(_rows(run["zip_out"] / "grades.csv"), run["zip_expected"])
    flags = {r["student_id"]: r["reason"] for r in _rows(run["zip_out"] / "flags.csv")
             if not r["reason"].startswith("similarity:")}
    assert flags == {"bbroken": "invalid submission: invalid notebook: not valid JSON "
                                "(line 1, column 2)"}
