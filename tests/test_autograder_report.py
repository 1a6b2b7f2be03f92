"""Outputs (autograder/report.py): student text cleaned for each sink, safe
file names, OUT replaced in one step, and regrading part of a class.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import grade, report
from autograder.assignments.poisson_mixture import ASSIGNMENT as A
from autograder.collect import Skipped
from autograder.report import OutputError, csv_text, feedback_name, html_text

# Several assignments are registered: these outputs are Poisson's.
write_outputs = functools.partial(report.write_outputs, assignment="poisson_mixture")

REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO / "autograder" / "release" / "poisson_mixture" / "poisson_mixture.ipynb"
NB = "poisson_mixture.ipynb"
ZERO_POINTS = ["0"] * 10
CJK_ID = "学生" * 25  # 50 characters, 150 bytes in UTF-8
FORMULA_ID = '=HYPERLINK("evil.example?x=1","click")'  # a folder name: no /


# --------------------------------------------------------------------------
# one cleaner per sink


def test_csv_cells_are_one_line_without_formulas():
    assert csv_text(FORMULA_ID) == "'" + FORMULA_ID
    for lead in ("+1", "-1", "@SUM(A1)", " =1", "\t=1", "\r=1"):
        assert csv_text(lead).startswith("'"), lead
    assert csv_text("a\nb\r\nc\td\u2028e") == "a b c d e"
    assert csv_text("bad \ud800 text \udfff") == "bad \ufffd text \ufffd"
    assert csv_text("\x00\x1b[31mred\x7f\u202e\u2066") == "[31mred"
    long = csv_text("x" * 5000)
    assert len(long) == report.CAP_STATUS and long.endswith("\u2026")
    assert csv_text("ok") == "ok" and csv_text("jdoe") == "jdoe"


def test_html_text_is_escaped_and_encodable():
    assert html_text('<script>"\ud800"</script>') == \
        "&lt;script&gt;&quot;\ufffd&quot;&lt;/script&gt;"
    assert html_text("line 1\nline 2\r\n") == "line 1\nline 2\n"
    html_text("\udcff" * 10).encode("utf-8")  # would raise with a lone surrogate left


def test_feedback_names_are_safe_injective_and_bounded():
    ids = ["jdoe", "JDoe", "jDoe", "j doe", "j/doe", "../x", ".hidden", "", ".", "..", "con",
           "con.x", "a." , "é", "e\u0301", "a%2Fb", "\ud800", "\ud800\udc00", CJK_ID,
           FORMULA_ID, "x" * 300, "a~b", "id"]
    names = [feedback_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert len({n.lower() for n in names}) == len(ids)  # also on a case-insensitive disk
    for n in names:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_@+.~-]*\.html", n), n
        assert len(n.encode()) <= 100
    assert feedback_name("jdoe") == "jdoe.html"
    assert feedback_name("a01_reference") == "a01_reference.html"
    assert feedback_name(CJK_ID).startswith("id~")
    assert feedback_name("JDoe").startswith("jdoe~")


# --------------------------------------------------------------------------
# hostile text through a real run


def _notebook(raise_in_pmf: str | None = None, e_step_id: str | None = None) -> bytes:
    nb = json.loads(RELEASE.read_text())
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if raise_in_pmf and meta.get("grade_id") == "log_poisson_pmf":
            cell["source"] = f"def log_poisson_pmf(x, lam):\n    raise ValueError({raise_in_pmf})\n"
        if e_step_id and meta.get("grade_id") == "e_step":
            meta["grade_id"] = e_step_id
    return json.dumps(nb).encode()  # json escapes the lone surrogates as \ud800


def _grade(subs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out",
                           str(out), "-j", "2", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_hostile_text_and_ids_end_to_end(tmp_path):
    subs = tmp_path / "subs"
    for sid, data in [("ann", _notebook(raise_in_pmf='"\\ud800 =cmd|x\\n=1"',
                                        e_step_id="\ud800")),
                      (CJK_ID, b""), (FORMULA_ID, b"{oops")]:
        (subs / sid).mkdir(parents=True)
        (subs / sid / NB).write_bytes(data)
    # A previous class in OUT, to be dropped: its feedback must not survive.
    out = tmp_path / "out"
    write_outputs([_result("old", 3)], out)
    proc = _grade(subs, out, "--replace")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader((out / "grades.csv").open(encoding="utf-8")))
    assert rows[1:] == [
        ["'" + FORMULA_ID, "0", "15", "invalid notebook: not valid JSON (line 1, column 2)",
         *ZERO_POINTS, "", "", ""],
        ["ann", "0", "15", "unknown nbgrader cell id (\ufffd)", *ZERO_POINTS, "", "",
         "derivation_q (2 points); derivation_m_step (3 points)"],
        [CJK_ID, "0", "15", "invalid notebook: empty file", *ZERO_POINTS, "", "", ""],
    ]
    assert sorted(os.listdir(out / "feedback")) == sorted(
        feedback_name(s) for s in ("ann", CJK_ID, FORMULA_ID))
    page = (out / "feedback" / "ann.html").read_text(encoding="utf-8")
    assert "log_poisson_pmf raised ValueError: \ufffd =cmd|x" in page
    flags = (out / "flags.csv").read_text(encoding="utf-8")
    assert "ann,notebook structure: unknown nbgrader cell id (\ufffd)\n" in flags
    stored = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    assert [r["student_id"] for r in stored] == [FORMULA_ID, "ann", CJK_ID]
    assert stored[1]["status"] == "unknown nbgrader cell id (\ufffd)"
    assert stored[2]["feedback"] == feedback_name(CJK_ID)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


# --------------------------------------------------------------------------
# OUT replaced in one step


def _result(sid: str, passed: int = 0, status: str = "ok") -> grade.SubmissionResult:
    """A result in which the first ``passed`` tests passed."""
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points,
                              points=c.points if i < passed else 0, passed=i < passed,
                              message=f"message for {sid}")
             for i, c in enumerate(A.cells())]
    return grade.SubmissionResult(sid, sum(t.points for t in tests), 15, status, tests,
                                  flags=[f"timeout: {sid}"])


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


CLASS = [_result("ann", 3), _result("ben", 5), _result("cat", 10, "timeout in cell 9 (30 s)")]


def test_outputs_written_in_one_step(tmp_path):
    out = tmp_path / "out"
    write_outputs(CLASS, out, skipped=[Skipped("readme.txt", "matches no pattern")])
    assert sorted(os.listdir(out)) == ["feedback", "flags.csv", "grades.csv", "results.json",
                                       "similarity.csv", "skipped.csv", "summary.png"]
    assert sorted(os.listdir(out / "feedback")) == ["ann.html", "ben.html", "cat.html"]
    assert (out / "skipped.csv").read_text() == "file,reason\nreadme.txt,matches no pattern\n"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failure_leaves_out_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(CLASS, out)
    before = _files(out)

    def broken(results, assignment):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "summary_png", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs([_result("dan")], out, replace=True)
    assert _files(out) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


@pytest.mark.parametrize("mode", ["exchange", "two renames", "inside (mount point)"])
def test_replace_drops_the_old_class_in_every_swap_mode(tmp_path, monkeypatch, mode):
    out = tmp_path / "out"
    write_outputs(CLASS, out)
    if mode == "two renames":
        monkeypatch.setattr(report, "_exchange", lambda a, b: False)
    elif mode == "inside (mount point)":
        real = os.path.ismount
        monkeypatch.setattr(report.os.path, "ismount", lambda p: Path(p) == out or real(p))
    write_outputs([_result("dan", 2)], out, replace=True)
    assert sorted(os.listdir(out / "feedback")) == ["dan.html"]  # no old feedback left
    rows = list(csv.reader((out / "grades.csv").open()))
    assert [r[0] for r in rows[1:]] == ["dan"]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_symbolic_link_out_is_kept(tmp_path):
    target = tmp_path / "real-out"
    (tmp_path / "out").symlink_to(target)
    write_outputs(CLASS, tmp_path / "out")
    write_outputs([_result("dan")], tmp_path / "out", replace=True)
    assert (tmp_path / "out").is_symlink()
    assert sorted(os.listdir(target / "feedback")) == ["dan.html"]


def test_out_that_is_not_an_output_folder_is_never_replaced(tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    for replace in (False, True):
        with pytest.raises(OutputError, match=r"holds no grades\.csv or results\.json"):
            write_outputs(CLASS, mine, replace=replace)
    assert _files(mine) == {"thesis.tex": b"precious"}
    old = tmp_path / "old"
    old.mkdir()
    (old / "grades.csv").write_text("student_id,score\n")
    with pytest.raises(OutputError, match=r"no results\.json.*--replace"):
        write_outputs(CLASS, old)
    write_outputs(CLASS, old, replace=True)
    assert sorted(os.listdir(old / "feedback")) == ["ann.html", "ben.html", "cat.html"]


# --------------------------------------------------------------------------
# regrading part of a class


def test_regrading_one_student_keeps_the_class(tmp_path):
    out = tmp_path / "out"
    write_outputs(CLASS, out)
    before = _files(out)
    ben = _result("ben", 10, "restored 1 edited test cell (test_e_step_basic)")
    write_outputs([ben], out)
    after = _files(out)
    for name in ("feedback/ann.html", "feedback/cat.html"):
        assert after[name] == before[name]
    assert after["feedback/ben.html"] != before["feedback/ben.html"]
    old_rows = before["grades.csv"].decode().splitlines()
    new_rows = after["grades.csv"].decode().splitlines()
    assert new_rows[0] == old_rows[0] and new_rows[1] == old_rows[1] and new_rows[3] == old_rows[3]
    assert new_rows[2].startswith("ben,15,15,restored 1 edited test cell")
    # The same class graded at once gives the same files.
    fresh = tmp_path / "fresh"
    write_outputs([CLASS[0], ben, CLASS[2]], fresh)
    assert _files(fresh) == after


def test_regrade_matches_ids_exactly_even_undecodable_ones(tmp_path):
    """A folder name that is not UTF-8 arrives as a lone surrogate: still one row per id."""
    out = tmp_path / "out"
    odd = "caf\udce9"  # b"caf\xe9" decoded by os.fsdecode
    write_outputs([_result(odd, 1), _result("cafe", 2)], out)
    new = write_outputs([_result(odd, 3)], out)
    assert [(r.student_id, r.score) for r in new] == [("cafe", 2), (odd, 4)]
    rows = list(csv.reader((out / "grades.csv").open(encoding="utf-8")))
    assert [r[:2] for r in rows[1:]] == [["cafe", "2"], ["caf\ufffd", "4"]]


def test_a_roster_student_without_a_submission_keeps_an_older_grade(tmp_path):
    out = tmp_path / "out"
    write_outputs(CLASS, out)
    absent = grade.SubmissionResult("ann", 0, 15, "no submission", [])
    new = write_outputs([absent, _result("zed", 0, "no submission")], out,
                        absent={"ann", "zed"})
    assert [(r.student_id, r.score, r.status) for r in new] == [
        ("ann", 4, "ok"), ("ben", 8, "ok"), ("cat", 15, "timeout in cell 9 (30 s)"),
        ("zed", 0, "no submission")]


def test_regrade_end_to_end(tmp_path):
    def submit(folder: Path, files: dict[str, bytes]) -> Path:
        for sid, data in files.items():
            (folder / sid).mkdir(parents=True)
            (folder / sid / NB).write_bytes(data)
        return folder

    out = tmp_path / "out"
    first = submit(tmp_path / "all", {"ann": b"", "ben": b"[1]", "cat": b"{oops"})
    assert _grade(first, out).returncode == 0
    before = _files(out)
    again = submit(tmp_path / "ben-again", {"ben": b""})
    proc = _grade(again, out)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO((out / "grades.csv").read_text())))
    assert [r[:4] for r in rows[1:]] == [
        ["ann", "0", "15", "invalid notebook: empty file"],
        ["ben", "0", "15", "invalid notebook: empty file"],
        ["cat", "0", "15", "invalid notebook: not valid JSON (line 1, column 2)"]]
    after = _files(out)
    assert after["feedback/ann.html"] == before["feedback/ann.html"]
    assert after["feedback/cat.html"] == before["feedback/cat.html"]
    assert after["feedback/ben.html"] != before["feedback/ben.html"]
    proc = _grade(again, out, "--replace")
    assert [r[0] for r in csv.reader((out / "grades.csv").open())][1:] == ["ben"]


def test_copies_are_looked_for_in_the_whole_class_on_a_regrade(tmp_path):
    """A student regraded alone is compared with the class kept in OUT: the
    fingerprints travel in results.json, and stale similarity flags go."""
    from autograder import notebook, similarity

    source = notebook.load_source(A.source_notebook)
    code = ["def f(a, b):\n" + "".join(f"    a = a * {i} + b[{i}] - {i}\n" for i in range(30))
            + "    return a\n"]
    other = ["def g(x):\n" + "".join(f"    x = [x, {i}, {{'k': x}}]\n" for i in range(30))
             + "    return x\n"]
    ann, ben = _result("ann", 3), _result("ben", 5)
    ann.fingerprint = sorted(similarity.fingerprint(code))
    ben.fingerprint = sorted(similarity.fingerprint(other))
    assert len(ann.fingerprint) >= similarity.MIN_SIZE
    out = tmp_path / "out"
    write_outputs([ann, ben], out, source=source)
    assert _rows(out / "similarity.csv") == []
    cat = _result("cat", 1)  # regraded alone, with ann's code under other names
    cat.fingerprint = sorted(similarity.fingerprint([code[0].replace("a", "z")]))
    write_outputs([cat], out, source=source)
    assert _rows(out / "similarity.csv") == [
        {"student_a": "ann", "student_b": "cat", "similarity": "1.000", "what": "student"}]
    flags = {(r["student_id"], r["reason"]) for r in _rows(out / "flags.csv")}
    assert ("ann", "similarity: code 100% the same as student cat (see similarity.csv)") in flags
    ben.fingerprint = list(cat.fingerprint)  # ben now copies too; ann is regraded clean
    ann.fingerprint = sorted(similarity.fingerprint(["x = 1\n"]))
    write_outputs([ann, ben], out, source=source)
    assert _rows(out / "similarity.csv") == [
        {"student_a": "ben", "student_b": "cat", "similarity": "1.000", "what": "student"}]
    assert not any(f.startswith("similarity:") for f in json.loads(
        (out / "results.json").read_text())["results"][0]["flags"])


@pytest.mark.parametrize("n", [0, 1, 3])
def test_results_json_streamed_is_one_json_document(n):
    """results.json is written one student at a time: the same text as
    json.dumps of the whole document (hostile text included)."""
    results = [_result(f"s{i}\u202e\ud800\n", i) for i in range(n)]
    for r in results:
        r.notes = ["x\u0000y", "\"quoted\"\n{", "caf\u00e9"]
        r.fingerprint = [3, 1, 2]
    doc = {"format": report.RESULTS_FORMAT, "assignment": A.name,
           "grade_ids": list(A.grade_ids), "max_score": A.max_score,
           "manual": {m.grade_id: m.points for m in A.manual},
           "results": [report.result_record(r) for r in sorted(results, key=lambda r: r.student_id)]}
    text = b"".join(report.results_json_chunks(results, A)).decode()
    assert text == json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True, default=str) + "\n"
    assert len(json.loads(text)["results"]) == n
