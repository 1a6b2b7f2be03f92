"""Collecting submissions (autograder/collect.py): LMS zips read in place,
folders without following links, size caps, roster.

Most tests look at what collection finds and what the worker reads
(``Task.load``), which needs no sandbox; the end-to-end tests run
``python -m autograder grade`` on small synthetic inputs.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import collect, grade
from autograder.collect import CollectError, collect_zip, find_submissions

REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO / "autograder" / "release" / "poisson_mixture" / "poisson_mixture.ipynb"
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
NB = "poisson_mixture.ipynb"
ZERO_POINTS = ["0"] * 10
#: The written answers (empty, to grade by hand) and what to grade: nothing, unread.
UNREAD = ["", "", ""]
BY_HAND = ["", "", "derivation_q (2 points); derivation_m_step (3 points)"]


def solved() -> bytes:
    """The release notebook with the instructor's solutions (15 points)."""
    nb = json.loads(RELEASE.read_text())
    code = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
            for c in json.loads(SOURCE.read_text())["cells"]
            if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in code:
            cell["source"] = code[gid]
    return json.dumps(nb).encode()


def stubs() -> bytes:
    """The release notebook as students download it (0 points, status ok)."""
    return RELEASE.read_bytes()


def make_zip(path: Path, files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def by_id(subs) -> dict[str, collect.Submission]:
    return {s.student_id: s for s in subs}


def skipped(subs) -> dict[str, str]:
    return {s.file: s.reason for s in subs.skipped}


def load(sub: collect.Submission) -> tuple[bytes | None, str | None]:
    return grade.make_task(sub).load()


def nbg(sid: str, ts: str, name: str = NB) -> str:
    return f"poisson_mixture_{sid}_attempt_{ts}_{name}"


# --------------------------------------------------------------------------
# file names in an LMS zip


MALLORY = nbg("mallory", "2024-03-01-11-00-00",
              "x_jdoe_attempt_2099-12-31-23-59-59_poisson_mixture.ipynb")


def test_a_student_cannot_choose_the_id_by_naming_the_file(tmp_path):
    jdoe = nbg("jdoe", "2024-03-01-10-00-00")
    subs = collect_zip(make_zip(tmp_path / "x.zip", {jdoe: b"jdoe's", MALLORY: b"mallory's"}))
    found = by_id(subs)
    assert sorted(found) == ["jdoe", "mallory"]
    assert load(found["jdoe"]) == (b"jdoe's", None)
    assert load(found["mallory"]) == (b"mallory's", None)
    assert found["mallory"].note == ("graded 'x_jdoe_attempt_2099-12-31-23-59-59_"
                                     "poisson_mixture.ipynb' (expected poisson_mixture.ipynb)")
    assert found["mallory"].flags == (
        "collection: the uploaded file name imitates the LMS naming "
        "('x_jdoe_attempt_2099-12-31-23-59-59_poisson_mixture.ipynb')",)
    assert found["jdoe"].note is None and found["jdoe"].flags == ()
    assert subs.skipped == []


def test_student_ids_may_contain_underscores(tmp_path):
    subs = collect_zip(make_zip(tmp_path / "x.zip", {
        nbg("j_doe", "2024-03-01-10-00-00"): b"j", nbg("a_doe", "2024-03-01-10-00-00"): b"a"}))
    assert [s.student_id for s in subs] == ["a_doe", "j_doe"]
    assert [load(s)[0] for s in subs] == [b"a", b"j"]


def test_strict_timestamps_and_the_latest_attempt(tmp_path):
    files = {
        nbg("ann", "2024-03-01-10-00-59"): b"latest",  # seconds 59 (nbgrader read 'HH-MM-SS' wrongly)
        nbg("ann", "2024-03-01-10-00-05"): b"older",
        nbg("ann", "2023-12-31-23-59-59"): b"oldest",
        nbg("ben", "2024-02-30-10-00-00"): b"no such day",
        nbg("ben", "2024-03-01-24-00-00"): b"no such hour",
        nbg("cat", "2024-03-01-09-00-00"): b"cat",
    }
    subs = collect_zip(make_zip(tmp_path / "x.zip", files))
    assert [s.student_id for s in subs] == ["ann", "cat"]
    assert load(by_id(subs)["ann"]) == (b"latest", None)
    assert skipped(subs) == {
        nbg("ann", "2024-03-01-10-00-05"): "older attempt of 'ann'",
        nbg("ann", "2023-12-31-23-59-59"): "older attempt of 'ann'",
        nbg("ben", "2024-02-30-10-00-00"): "invalid timestamp '2024-02-30-10-00-00' "
                                           "(nbgrader file name)",
        nbg("ben", "2024-03-01-24-00-00"): "invalid timestamp '2024-03-01-24-00-00' "
                                           "(nbgrader file name)",
    }


def test_the_latest_attempt_counts_even_under_another_name(tmp_path):
    files = {nbg("ann", "2024-03-01-10-00-00"): b"first",
             nbg("ann", "2024-03-02-10-00-00", "poisson_mixture (1).ipynb"): b"second",
             nbg("ann", "2024-03-02-10-00-00", "notes.pdf"): b"%PDF"}
    subs = collect_zip(make_zip(tmp_path / "x.zip", files))
    assert load(subs[0]) == (b"second", None)
    assert subs[0].note == "graded 'poisson_mixture (1).ipynb' (expected poisson_mixture.ipynb)"
    assert skipped(subs) == {nbg("ann", "2024-03-01-10-00-00"): "older attempt of 'ann'",
                             nbg("ann", "2024-03-02-10-00-00", "notes.pdf"):
                                 "not a notebook (.ipynb)"}


def test_canvas_export(tmp_path):
    """Names as canvas-lms's ContentZipper writes them: <name>[_LATE]_<user id>_<file id>_<file>."""
    files = {
        "doejohn_1234_5001_poisson_mixture.ipynb": b"john, first upload",
        "doejohn_1234_5007_poisson_mixture.ipynb": b"john, later upload",
        "doejohn_1234_5008_notes.txt": b"notes",
        "smithann_LATE_98_5003_poisson_mixture-1.ipynb": b"ann, late",
        "LATE_anon_x7Kq2_5004_poisson_mixture.ipynb": b"anonymous",
        "o_brien_77_5005_poisson_mixture.ipynb": b"name with an underscore",
    }
    subs = collect_zip(make_zip(tmp_path / "submissions.zip", files))
    found = by_id(subs)
    assert sorted(found) == ["1234", "77", "98", "anon_x7Kq2"]
    assert {sid: load(s)[0] for sid, s in found.items()} == {
        "1234": b"john, later upload", "98": b"ann, late", "anon_x7Kq2": b"anonymous",
        "77": b"name with an underscore"}
    assert found["98"].note == "graded 'poisson_mixture-1.ipynb' (expected poisson_mixture.ipynb)"
    assert skipped(subs) == {"doejohn_1234_5001_poisson_mixture.ipynb": "older attempt of '1234'",
                             "doejohn_1234_5008_notes.txt": "not a notebook (.ipynb)"}


def test_zipped_folders_and_what_is_skipped(tmp_path):
    files = {
        f"ann/{NB}": b"ann", f"ben/poisson_mixture/{NB}": b"ben", "cat/answers.txt": b"-",
        "deep/a/b/c.ipynb": b"-", "__MACOSX/._x": b"-", ".DS_Store": b"-",
        "readme.txt": b"exported by the LMS", "inner.zip": b"PK...",
        nbg("dan", "2024-03-01-10-00-00", "work.tar.gz"): b"-",
    }
    subs = collect_zip(make_zip(tmp_path / "x.zip", files))
    found = by_id(subs)
    assert sorted(found) == ["ann", "ben", "cat"]
    assert (load(found["ann"])[0], load(found["ben"])[0]) == (b"ann", b"ben")
    assert found["cat"].problem == "no notebook submitted"
    assert skipped(subs) == {
        "cat/answers.txt": "not a notebook (.ipynb)",
        "deep/a/b/c.ipynb": "not in the layout <student id>/poisson_mixture.ipynb",
        "__MACOSX/._x": "system or hidden file", ".DS_Store": "system or hidden file",
        "readme.txt": "file name matches no submission pattern (nbgrader, canvas)",
        "inner.zip": "nested archive (not opened)",
        nbg("dan", "2024-03-01-10-00-00", "work.tar.gz"): "nested archive (not opened)",
    }


def test_same_attempt_time_is_reported_and_zipped_folders_prefer_the_direct_notebook(tmp_path):
    ts = "2024-03-01-10-00-00"
    subs = collect_zip(make_zip(tmp_path / "x.zip", {
        nbg("ann", ts): b"first", f"ANN/../{nbg('ann', ts)}": b"-",
        f"ben/{NB}": b"direct", f"ben/poisson_mixture/{NB}": b"nested", "ben/x.ipynb": b"-"}))
    found = by_id(subs)
    assert load(found["ben"]) == (b"direct", None) and found["ben"].flags == ()
    assert load(found["ann"]) == (b"first", None)
    assert skipped(subs) == {f"ANN/../{nbg('ann', ts)}": "unsafe path in the zip",
                             f"ben/poisson_mixture/{NB}": "not the graded notebook of that attempt",
                             "ben/x.ipynb": "not the graded notebook of that attempt"}
    dup = tmp_path / "dup.zip"
    with zipfile.ZipFile(dup, "w") as z:
        z.writestr(nbg("cat", ts), b"one")
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr(nbg("cat", ts, "poisson_mixture.ipynb"), b"two")  # the same name again
        z.writestr(nbg("cat", ts, "Poisson_Mixture.ipynb"), b"three")
    subs = collect_zip(dup)
    assert load(subs[0]) == (b"one", None)
    assert subs.skipped == [
        collect.Skipped(nbg("cat", ts), "duplicate name in the zip"),
        collect.Skipped(nbg("cat", ts, "Poisson_Mixture.ipynb"),
                        "not the graded notebook of that attempt")]


def test_a_nested_zip_is_reported_and_never_opened(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {nbg("eve", "2024-03-01-10-00-00"): b"inner"})
    outer = make_zip(tmp_path / "outer.zip", {
        nbg("ann", "2024-03-01-10-00-00"): b"ann",
        nbg("eve", "2024-03-01-10-00-00", "everyone.zip"): inner.read_bytes()})
    subs = collect_zip(outer)
    assert [s.student_id for s in subs] == ["ann"]
    assert skipped(subs) == {nbg("eve", "2024-03-01-10-00-00", "everyone.zip"):
                             "nested archive (not opened)"}


def test_named_regexp_is_anchored_and_validated(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {f"hw3-jdoe-{NB}": b"j", f"xhw3-evil-{NB}": b"-"})
    # "-" before the notebook name: the assignment is not told by the names.
    subs = collect_zip(archive, r"hw3-(?P<student_id>[a-z]+)-(?P<file_id>.+)",
                       assignment="poisson_mixture")
    assert [s.student_id for s in subs] == ["jdoe"]
    assert load(subs[0]) == (b"j", None) and subs[0].note is None
    assert skipped(subs) == {f"xhw3-evil-{NB}": "file name matches no submission pattern "
                                               "(--named-regexp)"}
    with pytest.raises(CollectError, match=r"lacks the named group\(s\) \(\?P<file_id>\.\.\.\)"):
        collect_zip(archive, r"(?P<student_id>.+)", assignment="poisson_mixture")
    with pytest.raises(CollectError, match="invalid --named-regexp"):
        collect_zip(archive, r"(?P<student_id>", assignment="poisson_mixture")


def test_member_count_cap_and_bad_zip(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {f"s{i}/{NB}": b"-" for i in range(5)})
    with pytest.raises(CollectError, match="declares 5 files; the limit is 3"):
        collect_zip(archive, max_members=3)
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CollectError, match=r"bad\.zip is not a readable zip file"):
        find_submissions(tmp_path / "bad.zip")


# --------------------------------------------------------------------------
# size caps and zip bombs: refused before reading


def _patch_size(archive: Path, name: str, size: int) -> None:
    """Make the zip declare ``size`` bytes for ``name`` (local and central headers)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    offset = info.header_offset
    data[offset + 22:offset + 26] = size.to_bytes(4, "little")
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + int.from_bytes(data[central + 28:central + 30],
                                                           "little")] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = size.to_bytes(4, "little")
    archive.write_bytes(bytes(data))


def test_zip_bombs_get_a_status_and_the_batch_goes_on(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {
        nbg("big", "2024-03-01-10-00-00"): bytes(100 * 2**20),  # 100 MiB of zeros: ~100 KiB
        nbg("bomb", "2024-03-01-10-00-00"): bytes(5 * 2**20),  # under the cap, ratio ~1000:1
        nbg("liar", "2024-03-01-10-00-00"): b"{" + bytes(3 * 2**20),  # will declare 1000 bytes
        nbg("ok", "2024-03-01-10-00-00"): b"fine",
    })
    assert archive.stat().st_size < 200_000
    _patch_size(archive, nbg("liar", "2024-03-01-10-00-00"), 1000)
    found = by_id(collect_zip(archive))
    assert load(found["big"]) == (None, "not graded: the notebook is too large (100 MiB; "
                                        "the limit is 20 MiB)")
    data, status = load(found["bomb"])
    assert data is None and status.startswith(
        "not graded: the zip entry looks like a zip bomb (compression ratio ")
    data, status = load(found["liar"])
    assert data is None and status == ("not graded: the notebook could not be read from the zip "
                                       "(BadZipFile: Bad CRC-32 for file "
                                       f"'{nbg('liar', '2024-03-01-10-00-00')}')")
    assert load(found["ok"]) == (b"fine", None)
    small = by_id(collect_zip(archive, max_notebook_mb=0.0005))
    assert load(small["ok"]) == (b"fine", None)
    assert load(small["liar"])[1] == ("not graded: the notebook is too large (1000 bytes; "
                                      "the limit is 524 bytes)")


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def test_a_30_gib_sparse_notebook_is_not_read(tmp_path):
    _sparse(tmp_path / "subs" / "huge" / NB, 30 * 2**30)
    subs = find_submissions(tmp_path / "subs")
    assert load(by_id(subs)["huge"]) == (None, "not graded: the notebook is too large "
                                               "(30720 MiB; the limit is 20 MiB)")


def test_sparse_file_end_to_end_with_small_memory(tmp_path):
    """The CLI grades the rest of the batch; its peak memory stays far below the file."""
    _sparse(tmp_path / "subs" / "huge" / NB, 30 * 2**30)
    (tmp_path / "subs" / "broken").mkdir()
    (tmp_path / "subs" / "broken" / NB).write_bytes(b"{oops")
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"), "--out",
         str(tmp_path / "out"), "-j", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    stderr = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert os.waitstatus_to_exitcode(status) == 0, stderr
    assert usage.ru_maxrss < 1024 * 1024  # KiB: under 1 GiB, for a 30 GiB file
    rows = list(csv.reader((tmp_path / "out" / "grades.csv").open()))
    assert rows[1:] == [
        ["broken", "0", "15", "invalid notebook: not valid JSON (line 1, column 2)", *ZERO_POINTS,
         *UNREAD],
        ["huge", "0", "15", "not graded: the notebook is too large (30720 MiB; the limit is "
                            "20 MiB)", *ZERO_POINTS, *UNREAD]]


# --------------------------------------------------------------------------
# folders: symbolic links are never followed


def test_symbolic_links_are_not_followed(tmp_path):
    subs_dir = tmp_path / "subs"
    (subs_dir / "ann").mkdir(parents=True)
    (subs_dir / "ann" / NB).write_bytes(b"ann's")
    (subs_dir / "eve").mkdir()
    (subs_dir / "eve" / NB).symlink_to(SOURCE)  # the instructor's notebook
    (subs_dir / "mal").mkdir()
    (subs_dir / "mal" / NB).symlink_to(subs_dir / "ann" / NB)  # a classmate's
    (subs_dir / "sam").symlink_to(subs_dir / "ann")  # a whole folder
    (subs_dir / "ted" / "poisson_mixture").mkdir(parents=True)
    (subs_dir / "ted" / "poisson_mixture" / "x.ipynb").write_bytes(b"-")
    (subs_dir / "uma").mkdir()
    (subs_dir / "uma" / "poisson_mixture").symlink_to(subs_dir / "ann")
    subs = find_submissions(subs_dir)
    found = by_id(subs)
    assert sorted(found) == ["ann", "eve", "mal", "sam", "ted", "uma"]
    assert load(found["ann"]) == (b"ann's", None)
    for sid in ("eve", "mal", "uma"):
        assert load(found[sid]) == (None, "not graded: the notebook is a symbolic link"), sid
    assert load(found["sam"]) == (None, "not graded: the student folder is a symbolic link")
    assert skipped(subs) == {"eve/poisson_mixture.ipynb": "symbolic link (not followed)",
                             "mal/poisson_mixture.ipynb": "symbolic link (not followed)",
                             "sam": "symbolic link (not followed)",
                             "uma/poisson_mixture": "symbolic link (not followed)"}


def test_the_worker_refuses_a_link_made_after_collection(tmp_path):
    """O_NOFOLLOW at every component: swapping in a link later reads nothing outside."""
    (tmp_path / "subs" / "ann" / "poisson_mixture").mkdir(parents=True)
    target = tmp_path / "subs" / "ann" / "poisson_mixture" / NB
    target.write_bytes(b"x")
    sub = by_id(find_submissions(tmp_path / "subs"))["ann"]
    target.unlink()
    target.symlink_to(SOURCE)
    assert load(sub) == (None, "not graded: the notebook is a symbolic link")
    target.unlink()
    (tmp_path / "subs" / "ann" / "poisson_mixture").rmdir()
    (tmp_path / "subs" / "ann" / "poisson_mixture").symlink_to(SOURCE.parent)
    assert load(sub) == (None, "not graded: the notebook is a symbolic link")
    (tmp_path / "subs" / "ann" / "poisson_mixture").unlink()
    (tmp_path / "subs" / "ann" / "poisson_mixture").mkdir()
    os.mkfifo(target)
    assert load(sub) == (None, "not graded: the notebook is not a regular file")


def test_the_submissions_folder_itself_may_be_reached_through_a_link(tmp_path):
    (tmp_path / "real" / "ann").mkdir(parents=True)
    (tmp_path / "real" / "ann" / NB).write_bytes(b"ann's")
    (tmp_path / "results").mkdir()
    (tmp_path / "real" / "out").symlink_to(tmp_path / "results")  # OUT inside SUBS, a link
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    subs = find_submissions(link, exclude=(link / "out",))
    assert [s.student_id for s in subs] == ["ann"] and subs.skipped == []
    assert load(subs[0]) == (b"ann's", None)


def test_folder_layouts_are_kept(tmp_path):
    """The layouts of the earlier collector still work (a renamed notebook, nbgrader's)."""
    for sid, name in [("ann", NB), ("ben", f"poisson_mixture/{NB}"),
                      ("cat", "poisson_mixture (2).ipynb"), ("dan", "a.ipynb"), ("dan", "b.ipynb"),
                      ("eve", "notes.txt")]:
        (tmp_path / sid / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / sid / name).write_text("{}")
    (tmp_path / "stray.ipynb").write_text("{}")
    subs = find_submissions(tmp_path)
    found = by_id(subs)
    assert sorted(found) == ["ann", "ben", "cat", "dan", "eve"]
    assert found["cat"].note == "graded 'poisson_mixture (2).ipynb' (expected poisson_mixture.ipynb)"
    assert found["dan"].problem == "no poisson_mixture.ipynb (found a.ipynb, b.ipynb)"
    assert found["eve"].problem == "no notebook submitted"
    assert skipped(subs) == {"stray.ipynb": "not in a student folder",
                             "dan/a.ipynb": "several notebooks, none named poisson_mixture.ipynb",
                             "dan/b.ipynb": "several notebooks, none named poisson_mixture.ipynb"}


# --------------------------------------------------------------------------
# roster


@pytest.mark.parametrize("text", ["student_id,name\nann,Ann A\nben,Ben B\nzed,Zed Z\n",
                                  "# class of 2026\nann\n\nben\nzed\n"])
def test_read_roster_formats(tmp_path, text):
    (tmp_path / "roster").write_text(text)
    assert collect.read_roster(tmp_path / "roster") == ["ann", "ben", "zed"]


def test_roster_flags_strangers_and_adds_missing_students(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / NB).write_bytes(b"{oops")
    (tmp_path / "xyz").mkdir()
    (tmp_path / "xyz" / NB).write_bytes(b"")
    subs = find_submissions(tmp_path, roster=["ann", "zed"])
    results = grade.grade_submissions(subs, jobs=1)
    assert [(r.student_id, r.score, r.status, r.flags) for r in results] == [
        ("ann", 0, "invalid notebook: not valid JSON (line 1, column 2)",
         ["invalid submission: invalid notebook: not valid JSON (line 1, column 2)"]),
        ("xyz", 0, "invalid notebook: empty file",
         ["roster: student id not on the roster", "invalid submission: invalid notebook: "
                                                  "empty file"]),
        ("zed", 0, "no submission", []),
    ]
    assert [t.message for t in results[2].tests] == ["not graded: no submission"] * 10


# --------------------------------------------------------------------------
# end to end: an LMS export through the command line


def test_lms_zip_end_to_end(tmp_path):
    files = {
        nbg("jdoe", "2024-03-01-10-00-00"): solved(),
        MALLORY: stubs(),
        nbg("j_doe", "2024-03-01-10-00-59"): b"{oops",
        nbg("j_doe", "2024-03-01-10-00-05"): solved(),
        nbg("a_doe", "2024-13-01-10-00-00"): solved(),
        "readme.txt": b"exported by the LMS",
    }
    archive = make_zip(tmp_path / "export.zip", files)
    (tmp_path / "roster.csv").write_text("student_id\njdoe\nj_doe\na_doe\n")
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(archive), "--out", str(tmp_path / "out"),
         "-j", "2", "--roster", str(tmp_path / "roster.csv")],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    rows = list(csv.reader((out / "grades.csv").open()))
    assert rows[1:] == [
        ["a_doe", "0", "15", "no submission", *ZERO_POINTS, *UNREAD],
        ["j_doe", "0", "15", "invalid notebook: not valid JSON (line 1, column 2)", *ZERO_POINTS,
         *UNREAD],
        ["jdoe", "15", "15", "ok", "1", "1", "2", "2", "2", "1", "1", "1", "2", "2", *BY_HAND],
        ["mallory", "0", "15", "graded 'x_jdoe_attempt_2099-12-31-23-59-59_poisson_mixture.ipynb' "
                               "(expected poisson_mixture.ipynb)", *ZERO_POINTS, *BY_HAND],
    ]
    flags = list(csv.reader((out / "flags.csv").open()))
    assert ["mallory", "roster: student id not on the roster"] in flags
    assert ["mallory", "collection: the uploaded file name imitates the LMS naming "
                       "('x_jdoe_attempt_2099-12-31-23-59-59_poisson_mixture.ipynb')"] in flags
    assert not any(row[0] == "a_doe" for row in flags)
    assert list(csv.reader((out / "skipped.csv").open())) == [
        ["file", "reason"],
        [nbg("a_doe", "2024-13-01-10-00-00"), "invalid timestamp '2024-13-01-10-00-00' "
                                              "(nbgrader file name)"],
        [nbg("j_doe", "2024-03-01-10-00-05"), "older attempt of 'j_doe'"],
        ["readme.txt", "file name matches no submission pattern (nbgrader, canvas)"],
    ]
    assert f"skipped 3 file(s) of the input, each with the reason in {out / 'skipped.csv'}" \
        in proc.stderr
    assert sorted(os.listdir(out / "feedback")) == ["a_doe.html", "j_doe.html", "jdoe.html",
                                                    "mallory.html"]

