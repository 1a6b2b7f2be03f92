"""End to end, for every assignment: ``python -m autograder grade`` on its corpus.

Each assignment has a corpus builder ``tests/autograder_corpus/<name>/build.py``
whose ``build(dest)`` writes submissions and returns what each must get
(:class:`autograder_corpus.common.Expected`). Here the grader, run on the
folder without ``--assignment`` (the assignment is inferred from the file
names), must give exactly those rows and flag categories. The Poisson corpus
also has a longer test of its own (``tests/test_autograder_corpus.py``: zip
export, copies, a second run, unsandboxed cheats).
"""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from autograder_corpus.common import expected_row

from autograder import assignments
from autograder.report import grade_columns

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "autograder_corpus"
SECRET = "corpora test secret"


def test_every_assignment_has_a_corpus():
    for name in assignments.names():
        assert (CORPUS / name / "build.py").is_file(), f"{name} has no corpus"


@pytest.mark.parametrize("name", assignments.names())
def test_corpus_rows_and_flags_are_exactly_as_expected(name, tmp_path):
    a = assignments.get(name)
    builder = importlib.import_module(f"autograder_corpus.{name}.build")
    expected = builder.build(tmp_path / "corpus")
    assert expected, f"the corpus of {name} is empty"
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_SECRET"}
    env["AUTOGRADER_SECRET"] = SECRET
    timeout = str(getattr(builder, "TIMEOUT", 10))
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "corpus"), "--out",
         str(tmp_path / "out"), "-j", "2", "--timeout", timeout],
        cwd=REPO, capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"submissions of {name}" in proc.stderr
    with (tmp_path / "out" / "grades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(grade_columns(a))
    assert [r["student_id"] for r in rows] == sorted(expected)
    for row in rows:
        assert row == expected_row(a, row["student_id"], expected[row["student_id"]])
    flags: dict[str, set[str]] = {}
    with (tmp_path / "out" / "flags.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            category = row["reason"].split(":")[0]
            if category != "similarity":
                flags.setdefault(row["student_id"], set()).add(category)
    for sid, exp in expected.items():
        assert flags.get(sid, set()) == exp.flags, sid
