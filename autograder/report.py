"""The outputs of a grading run.

``OUT/grades.csv``
    ``student_id, score, max_score, status``, then one column per autograded
    test (points earned), one row per student sorted by id. ``score`` and
    ``max_score`` count the autograded points only. Then, when the assignment
    has written answers graded by hand (:class:`autograder.spec.ManualCell`),
    one empty column per such cell (its grade id, for the points given by
    hand) and ``to_grade_by_hand``: e.g. ``derivation_q (2 points);
    derivation_m_step (3 points)`` for every submission whose notebook was
    read, empty otherwise.
``OUT/flags.csv``
    ``student_id, reason``: one row per thing an instructor should look at
    (``category: details``; see :mod:`autograder.scan` for the categories, plus
    ``notebook structure``, ``timeout``, ``crash``, ``memory``,
    ``invalid submission``, ``grader``, ``roster`` and ``collection``).
``OUT/skipped.csv``
    ``file, reason``: every file of the last run's input that was not graded.
``OUT/similarity.csv``
    ``student_a, student_b, similarity, what``: pairs of nearly identical code
    in the whole class (see :mod:`autograder.similarity`).
``OUT/feedback/<name>.html``
    Per test: points, pass or fail, and a readable message; then what happened
    when the student's cells ran. ``<name>`` is :func:`feedback_name` of the id.
``OUT/summary.png``
    Score histogram and pass rate per test.
``OUT/results.json``
    Every student's result, machine-readable (and the feedback file name), so
    that grading a few students again updates their rows and keeps the others.

Every string a student controls (ids, file names, statuses, messages, their
tracebacks) goes through one cleaner per sink: :func:`csv_text`,
:func:`html_text` and :func:`feedback_name`. Lone surrogates become U+FFFD,
control and bidirectional-override characters go, lengths are capped, CSV
cells hold no line break and never start with a formula character.

All files are written to a staging folder next to ``OUT`` that then takes
``OUT``'s place in one step (see :func:`publish`), so a reader never sees the
new grades beside the old feedback, and a failure leaves ``OUT`` as it was.
Running the grader twice gives the same files: nothing depends on the time or
on the order in which the workers finished.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import errno
import hashlib
import html
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .collect import Skipped
from .notebook import SourceNotebook
from .results import CellLog, SubmissionResult, TestResult
from .similarity import Match, flag_copies, similarity_csv
from .spec import Assignment

if TYPE_CHECKING:
    from .late import LatePolicy

RESULTS_FORMAT = 1
#: The column of grades.csv listing the answers to grade by hand.
BY_HAND = "to_grade_by_hand"


def grade_columns(assignment: Assignment) -> tuple[str, ...]:
    """The header of ``grades.csv`` for ``assignment``."""
    manual = (*assignment.manual_ids, BY_HAND) if assignment.manual else ()
    return ("student_id", "score", "max_score", "status", *assignment.grade_ids, *manual)


def _points(n: int) -> str:
    return f"{n} point{'s' if n != 1 else ''}"


def to_grade_by_hand(r: SubmissionResult, assignment: Assignment) -> str:
    """The written answers of ``r`` an instructor grades by hand ("" when the
    notebook could not be read: there is nothing to grade)."""
    if not r.cells:
        return ""
    return "; ".join(f"{m.grade_id} ({_points(m.points)})" for m in assignment.manual)


def which(results: list[SubmissionResult],
          assignment: Assignment | str | None = None) -> Assignment:
    """The assignment of a report: given, else the one the results record,
    else the only registered one."""
    from . import assignments

    if assignment is not None:
        return assignments.resolve(assignment)
    recorded = {r.assignment for r in results if r.assignment}
    if len(recorded) == 1:
        return assignments.get(recorded.pop())
    if not recorded and len(assignments.names()) == 1:
        return assignments.get(assignments.names()[0])
    raise ValueError("which assignment is this report of? pass assignment=NAME")

#: Length caps (characters) of student-controlled text, by what it is.
CAP_ID = 200
CAP_SHORT = 300  # labels, first lines, file names in skipped.csv
CAP_STATUS = 2000  # statuses, flag reasons, test messages
CAP_LONG = 20_000  # tracebacks and error details in the feedback page

_SURROGATES = re.compile(r"[\ud800-\udfff]")
# Line breaks of every kind become "\n"; then the other C0 and C1 controls,
# DEL, and the bidirectional embeddings, overrides and isolates (they can
# make text read backwards) go. Tabs stay.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CELL_BREAKS = re.compile(r"[\t\n]+")
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_@+.-]{0,79}")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10))}


class OutputError(RuntimeError):
    """OUT cannot be written as asked (not an output folder, unreadable results)."""


# --------------------------------------------------------------------------
# cleaning student-controlled text, one function per sink


def clean(text: object, limit: int | None = None) -> str:
    """Text safe to encode and show: no surrogates, no controls but tab and newline.

    At most ``limit`` characters (the last one an ellipsis when cut).
    ``clean(clean(x)) == clean(x)``, so text stored cleaned in
    ``results.json`` gives the same cells and pages as the original.
    """
    s = _SURROGATES.sub("\ufffd", str(text))
    s = _CONTROLS.sub("", _LINE_BREAKS.sub("\n", s))
    return s if limit is None or len(s) <= limit else s[:limit - 1] + "\u2026"


def csv_text(text: object, limit: int = CAP_STATUS) -> str:
    """A CSV cell holding text: one line, and no formula (a leading ``= + - @`` is quoted)."""
    s = clean(_CELL_BREAKS.sub(" ", clean(text)), limit)
    if s.lstrip()[:1] in ("=", "+", "-", "@"):
        s = "'" + s
    return s


def html_text(text: object, limit: int = CAP_STATUS) -> str:
    """Text for an HTML page: cleaned and escaped."""
    return html.escape(clean(text, limit), quote=True)


def feedback_name(student_id: str) -> str:
    """A safe, injective, length-bounded file name for any student id.

    A plain id (lower-case letters, digits and ``_@+.-``, at most 80
    characters, not a Windows device name) is its own name; any other id
    gives a readable ASCII prefix, ``~`` and 20 hex digits of its SHA-256.
    Plain names never contain ``~`` and are lower case, so no two ids share a
    name, not even on a case-insensitive file system.
    """
    sid = str(student_id)
    if _PLAIN_NAME.fullmatch(sid) and not sid.endswith(".") \
            and sid.split(".")[0] not in _WINDOWS_RESERVED:
        return f"{sid}.html"
    digest = hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    ascii_ = unicodedata.normalize("NFKD", sid).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9_@+.-]+", "_", ascii_).strip("._-")[:40].rstrip("._-") or "id"
    return f"{slug}~{digest}.html"


# --------------------------------------------------------------------------
# the files


def grades_csv(results: list[SubmissionResult], assignment: Assignment) -> str:
    """One row per student; with a late policy, :data:`autograder.late.COLUMNS` follow."""
    from . import late

    policy = any(r.late for r in results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(grade_columns(assignment) + (late.COLUMNS if policy else ()))
    for r in sorted(results, key=lambda r: r.student_id):
        points = r.points
        manual = ([""] * len(assignment.manual) + [to_grade_by_hand(r, assignment)]
                  if assignment.manual else [])
        writer.writerow([csv_text(r.student_id, CAP_ID), int(r.score), int(r.max_score),
                         csv_text(r.status),
                         *(int(points.get(g, 0)) for g in assignment.grade_ids), *manual,
                         *(late.csv_cells(r.late) if policy else ())])
    return buf.getvalue()


def flags_csv(results: list[SubmissionResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("student_id", "reason"))
    for r in sorted(results, key=lambda r: r.student_id):
        for reason in r.flags:
            writer.writerow((csv_text(r.student_id, CAP_ID), csv_text(reason)))
    return buf.getvalue()


def skipped_csv(skipped: Iterable[Skipped]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("file", "reason"))
    for s in sorted(skipped, key=lambda s: (s.file, s.reason)):
        writer.writerow((csv_text(s.file, CAP_SHORT), csv_text(s.reason)))
    return buf.getvalue()


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
.score { font-size: 1.25rem; margin: .3rem 0 1rem; }
.status { padding: .5rem .8rem; border-radius: 4px; background: #f4f4f4; }
.status.problem { background: #fff4e0; border-left: 4px solid #e6a23c; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { background: #fafafa; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #c62828; font-weight: 600; }
.case { color: #555; font-size: .9em; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85em; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.muted { color: #666; }
"""


def _e(text: object, limit: int = CAP_STATUS) -> str:
    return html_text(text, limit)


def feedback_html(r: SubmissionResult, assignment: Assignment) -> str:
    """The feedback page of one student (everything escaped: it quotes their code)."""
    from .late import describe

    problem = r.status != "ok"
    rows = []
    details = []
    for t in r.tests:
        verdict = '<span class="pass">passed</span>' if t.passed else '<span class="fail">failed</span>'
        case = ""
        if not t.passed and t.case:
            which = "visible test" if t.case_visible else "hidden test"
            case = f'<div class="case">{which}: {_e(t.case, CAP_SHORT)}</div>'
        rows.append(
            f"<tr><td><code>{_e(t.grade_id)}</code><div class=\"case\">{_e(t.title)}</div></td>"
            f"<td>{t.points} / {t.max_points}</td><td>{verdict}</td>"
            f"<td>{_e(t.message)}{case}</td></tr>"
        )
        if t.detail:
            details.append(f"<h3><code>{_e(t.grade_id)}</code></h3><pre>{_e(t.detail, CAP_LONG)}</pre>")
    cell_rows = []
    for c in r.cells:
        if c.outcome == "ok":
            continue
        tb = f"<pre>{_e(c.traceback, CAP_LONG)}</pre>" if c.traceback else ""
        cell_rows.append(
            f"<tr><td>{_e(c.label, CAP_SHORT)}</td><td><code>{_e(c.first_line, CAP_SHORT)}</code></td>"
            f"<td>{_e(c.message)}{tb}</td></tr>"
        )
    ran = sum(1 for c in r.cells if c.outcome == "ok")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {_e(r.student_id, CAP_ID)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(assignment.title)}</h1>",
        f'<p class="muted">Feedback for <strong>{_e(r.student_id, CAP_ID)}</strong></p>',
        f'<p class="score">Score: <strong>{r.score} / {r.max_score}</strong></p>',
        f'<p class="status{" problem" if problem else ""}">Status: {_e(r.status)}</p>',
        *([f'<p class="status">{_e(describe(r.late))}</p>'] if r.late else []),
        "<h2>Tests</h2>",
        "<table><tr><th>test</th><th>points</th><th>result</th><th>message</th></tr>",
        *rows,
        "</table>",
    ]
    by_hand = to_grade_by_hand(r, assignment)
    if by_hand:
        parts += [
            f"<h2>Written answers: to grade by hand ({_points(assignment.manual_points)})</h2>",
            "<p>Not part of the score above: an instructor grades them.</p>",
            "<table><tr><th>answer</th><th>points</th><th>question</th></tr>",
            *(f"<tr><td><code>{_e(m.grade_id)}</code></td><td>to grade by hand "
              f"({_points(m.points)})</td><td>{_e(m.title)}</td></tr>"
              for m in assignment.manual),
            "</table>",
        ]
    if details:
        parts += ["<h2>Errors raised by your functions</h2>", *details]
    if r.cells:
        parts.append("<h2>Running your notebook</h2>")
        if cell_rows:
            parts += [
                f"<p>{ran} of {len(r.cells)} code cells ran without error. These did not:</p>",
                "<table><tr><th>cell</th><th>first line</th><th>what happened</th></tr>",
                *cell_rows,
                "</table>",
            ]
        else:
            parts.append(f"<p>All {len(r.cells)} code cells ran without error.</p>")
    if r.notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{_e(n)}</li>" for n in r.notes), "</ul>"]
    parts.append(f'<p class="muted">{_e(assignment.feedback_note)}</p></body></html>')
    return "\n".join(parts) + "\n"


def summary_png(results: list[SubmissionResult], assignment: Assignment) -> bytes:
    """Score histogram and pass rate per test."""
    max_score = assignment.max_score
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    scores = [r.score for r in results]
    left.hist(scores, bins=[b - 0.5 for b in range(max_score + 2)], color="#4c72b0",
              edgecolor="white")
    left.set_xlim(-0.5, max_score + 0.5)
    left.set_xlabel(f"score (out of {max_score})")
    left.set_ylabel("students")
    mean = sum(scores) / len(scores) if scores else 0.0
    left.set_title(f"Scores of {len(results)} submissions (mean {mean:.1f})")
    left.yaxis.get_major_locator().set_params(integer=True)
    ids = list(assignment.grade_ids)
    rates = [
        100.0 * sum(1 for r in results if r.points.get(g, 0) > 0) / len(results) if results else 0
        for g in ids
    ]
    y = list(range(len(ids)))[::-1]
    right.barh(y, rates, color="#55a868")
    right.set_yticks(y, ids)
    right.set_xlim(0, 100)
    right.set_xlabel("students passing (%)")
    right.set_title("Pass rate per test")
    for yi, rate in zip(y, rates, strict=True):
        right.text(min(rate + 1, 88), yi, f"{rate:.0f}%", va="center", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------
# the class: machine-readable results, kept between runs


CAP_STORED = 1_000_000


def _clean_all(value: object) -> object:
    """JSON data of ``value`` (dataclasses as dicts, as :func:`dataclasses.asdict`
    gives them, in one pass and without copying), every string cleaned."""
    if isinstance(value, str):
        return clean(value, CAP_STORED)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean_all(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_clean_all(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_all(v) for k, v in value.items()}
    return value


def result_record(r: SubmissionResult) -> dict:
    """One student's result as JSON data, text cleaned, without the grading time (it varies)."""
    record = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)
              if f.name not in ("seconds", "fingerprint")}
    record = _clean_all(record)
    record["fingerprint"] = [int(x) for x in r.fingerprint]  # numbers: nothing to clean
    # The id stays exact (JSON escapes a lone surrogate of an undecodable folder
    # name): it is the key that a later run's results replace.
    record["student_id"] = r.student_id
    record["feedback"] = feedback_name(r.student_id)
    return record


def result_from_record(record: dict) -> SubmissionResult:
    """The inverse of :func:`result_record`; a TypeError or KeyError if it does not fit."""
    def build(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    data = dict(record)
    data["tests"] = [build(TestResult, t) for t in data["tests"]]
    data["cells"] = [build(CellLog, c) for c in data.get("cells", [])]
    return build(SubmissionResult, data)


def _dumps(value: object) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=True, default=str)


def results_json_chunks(results: list[SubmissionResult],
                        assignment: Assignment) -> Iterator[bytes]:
    """``results.json``, one student at a time: the same text as one
    ``json.dumps`` of the whole document, without holding it in memory."""
    head = {"format": RESULTS_FORMAT, "assignment": assignment.name,
            "grade_ids": list(assignment.grade_ids), "max_score": assignment.max_score,
            "manual": {m.grade_id: m.points for m in assignment.manual}}
    ordered = sorted(results, key=lambda r: r.student_id)
    # "results" sorts last among the keys: the head's text up to its closing brace.
    text = _dumps({**head, "results": []})
    if not ordered:
        yield (text + "\n").encode()
        return
    yield text[: text.rindex("[]")].encode() + b"[\n"
    for i, r in enumerate(ordered):
        # Two levels deep: JSON text holds no raw newline, so indenting every line is exact.
        record = "  " + _dumps(result_record(r)).replace("\n", "\n  ")
        yield (record + (",\n" if i < len(ordered) - 1 else "\n")).encode()
    yield b" ]\n}\n"


def results_json(results: list[SubmissionResult], assignment: Assignment) -> str:
    return b"".join(results_json_chunks(results, assignment)).decode()


def _looks_like_output(folder: Path) -> bool:
    return (folder / "results.json").is_file() or (folder / "grades.csv").is_file()


def load_class(out: Path, replace: bool = False, assignment: Assignment | str | None = None,
               ) -> dict[str, tuple[SubmissionResult, bytes | None]]:
    """The class already in ``out``: id -> (result, its feedback page's bytes).

    ``out`` must hold the results of the same ``assignment`` (by default: the
    one it records), graded with the same tests.

    Raises :class:`OutputError` when ``out`` holds something else than the
    grader's outputs (it is never replaced then), or results this version
    cannot read (unless ``replace``, which drops them).
    """
    out = Path(out)
    if not os.path.lexists(out):
        return {}
    target = out.resolve()
    if not target.exists():  # a dangling symbolic link: its target will be created
        return {}
    if not target.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    if not entries:
        return {}
    if not _looks_like_output(target):
        raise OutputError(f"{out} is not empty and holds no grades.csv or results.json: "
                          "refusing to replace it (choose a new or empty folder)")
    if replace:
        return {}
    path = target / "results.json"
    if not path.is_file():
        raise OutputError(f"{out} holds grades from an older grader (no results.json), so its "
                          "students cannot be kept: grade the whole class with --replace")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != RESULTS_FORMAT:
            raise ValueError("written by another version of the grader")
        recorded = doc.get("assignment")
        if assignment is None:
            assignment = which([], recorded)
        declaration = which([], assignment)
        if recorded not in (None, declaration.name):
            raise ValueError(f"grades of the assignment {recorded}, not {declaration.name}")
        if doc.get("grade_ids") != list(declaration.grade_ids):
            raise ValueError("graded with other tests or by another version of the grader")
        old = {}
        for record in doc["results"]:
            r = result_from_record(record)
            page = target / "feedback" / feedback_name(r.student_id)
            old[r.student_id] = (r, page.read_bytes() if page.is_file() else None)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise OutputError(f"cannot keep the class in {out} ({path.name}: {exc}); "
                          "use --replace to grade it anew") from None
    return old


#: An output file's contents: bytes, or the chunks of bytes it is made of.
Contents = bytes | Iterable[bytes]


def render(results: list[SubmissionResult], skipped: Iterable[Skipped] = (),
           pages: dict[str, bytes | None] | None = None,
           matches: list[Match] = (), assignment: Assignment | str | None = None,
           ) -> Iterator[tuple[str, Contents]]:
    """Every output file, by its path relative to OUT, made one at a time as
    they are written (the grader never holds all of them at once)."""
    pages = pages or {}
    assignment = which(results, assignment)
    yield "grades.csv", grades_csv(results, assignment).encode()
    yield "flags.csv", flags_csv(results).encode()
    yield "similarity.csv", similarity_csv(list(matches),
                                           lambda sid: csv_text(sid, CAP_ID)).encode()
    yield "skipped.csv", skipped_csv(skipped).encode()
    yield "results.json", results_json_chunks(results, assignment)
    yield "summary.png", summary_png(results, assignment)
    for r in results:
        page = pages.get(r.student_id)
        yield (f"feedback/{feedback_name(r.student_id)}",
               page if page is not None else feedback_html(r, assignment).encode())


def write_outputs(results: list[SubmissionResult], out: Path, *,
                  skipped: Iterable[Skipped] = (), replace: bool = False,
                  absent: Iterable[str] = (),
                  source: SourceNotebook | None = None,
                  assignment: Assignment | str | None = None,
                  policy: LatePolicy | None = None) -> list[SubmissionResult]:
    """Write ``out`` in one step: this run's results merged into the class there.

    A student graded now replaces their old row and feedback; every other
    student of the class in ``out`` keeps theirs, byte for byte (``replace``
    drops them). A roster student ``absent`` from this run's input keeps an
    older result if there is one. A late ``policy``
    (:class:`autograder.late.LatePolicy`) is applied to the whole class; the
    gradebook ``gradebook.db`` of ``out``, if any, is kept (same file).
    Returns the whole class, sorted by id.
    """
    out = Path(out).absolute()
    assignment = which(results, assignment)
    old = load_class(out, replace, assignment)
    absent = set(absent)
    merged = dict(old)
    for r in results:
        if r.student_id in absent and r.student_id in old:
            continue
        merged[r.student_id] = (r, None)
    ids = sorted(merged)
    final = [merged[i][0] for i in ids]
    from .late import apply

    stale = apply(final, policy)  # their old feedback pages show another verdict
    matches = flag_copies(final, source, assignment.solutions) if source is not None else []
    pages = {i: None if i in stale else merged[i][1] for i in ids}
    publish(out, render(final, skipped, pages, matches, assignment), keep=KEEP)
    return final


# --------------------------------------------------------------------------
# replacing OUT in one step

RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fill(folder: Path, files: Mapping[str, Contents] | Iterable[tuple[str, Contents]]) -> None:
    items = files.items() if isinstance(files, Mapping) else files
    for rel, data in items:
        path = folder / rel
        if path.parent != folder:
            path.parent.mkdir(mode=0o755, exist_ok=True)
        with open(path, "wb") as f:
            if isinstance(data, bytes | bytearray):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
        os.chmod(path, 0o644)
    os.chmod(folder, 0o755)


#: Files of OUT that a new run keeps as they are (the same file, hard-linked):
#: the default nbgrader gradebook, which instructors write to by hand.
KEEP = ("gradebook.db", "gradebook.db-journal", "gradebook.db-wal")


def _carry(out: Path, staging: Path, keep: tuple[str, ...]) -> None:
    for name in keep:
        old = out / name
        if old.is_file() and not old.is_symlink() and not (staging / name).exists():
            try:
                os.link(old, staging / name)  # same inode: writers keep writing to it
            except OSError:
                shutil.copy2(old, staging / name)


def publish(out: Path, files: Mapping[str, Contents] | Iterable[tuple[str, Contents]],
            keep: tuple[str, ...] = ()) -> None:
    """Make ``out`` hold exactly ``files`` (a mapping, or pairs made as they
    are written: path relative to ``out``, contents), replacing it in one step.

    The files are written to a hidden staging folder beside ``out``, which
    then takes its place: swapped with it by ``renameat2(RENAME_EXCHANGE)``
    where Linux allows, else by two renames (``out`` is missing for an
    instant, but never half old, half new). A symbolic link ``out`` is kept
    and its target replaced. A mount point cannot be renamed, nor can a folder
    whose parent is not writable: then the contents are swapped inside it
    (old entries moved aside first, new ones moved in, ``grades.csv`` last),
    which is as close to atomic as such a folder allows. The files named in
    ``keep`` that ``out`` holds are carried over as they are.
    """
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and os.path.ismount(out):
        _publish_inside(out, files, keep)
        return
    try:
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    except OSError:
        if out.is_dir():
            _publish_inside(out, files, keep)
            return
        raise
    try:
        _fill(staging, files)
        if out.is_dir():
            _carry(out, staging, keep)
        if not out.exists():
            os.rename(staging, out)
            return
        if _exchange(staging, out):
            shutil.rmtree(staging)  # now the old outputs
            return
        trash = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.rename(out, trash / "out")
        os.rename(staging, out)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _publish_inside(out: Path, files: Mapping[str, Contents] | Iterable[tuple[str, Contents]],
                    keep: tuple[str, ...] = ()) -> None:
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".staging-"))
    trash = Path(tempfile.mkdtemp(dir=out, prefix=".old-"))
    try:
        _fill(staging, files)
        for entry in sorted(out.iterdir()):
            if entry not in (staging, trash) and entry.name not in keep:
                os.rename(entry, trash / entry.name)
        names = sorted(p.name for p in staging.iterdir())
        names.sort(key=lambda n: n == "grades.csv")  # the grades appear last
        for name in names:
            os.rename(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
