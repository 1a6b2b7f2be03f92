"""The outputs of a grading run.

``OUT/grades.csv``
    ``student_id, score, max_score, status``, then one column per graded test
    (points earned), one row per student sorted by id.
``OUT/flags.csv``
    ``student_id, reason``: one row per thing an instructor should look at
    (``category: details``; see :mod:`autograder.scan` for the categories, plus
    ``notebook structure``, ``timeout``, ``crash``, ``memory``,
    ``invalid submission`` and ``grader``).
``OUT/feedback/<student_id>.html``
    Per test: points, pass or fail, and a readable message; then what happened
    when the student's cells ran.
``OUT/summary.png``
    Score histogram and pass rate per test.

Each file is replaced whole (written next to its destination, then renamed),
so running the grader twice gives the same files, never appended rows. Nothing
in them depends on the time or on the order in which the workers finished.
"""

from __future__ import annotations

import csv
import html
import io
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from .grade import SubmissionResult
from .spec import GRADE_IDS, MAX_SCORE, SPEC

GRADE_COLUMNS = ("student_id", "score", "max_score", "status", *GRADE_IDS)


def feedback_name(student_id: str) -> str:
    """A safe, injective file name for a student id."""
    name = quote(student_id, safe="@+-_.")
    if name.startswith("."):
        name = "%2E" + name[1:]
    return f"{name}.html"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def grades_csv(results: list[SubmissionResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(GRADE_COLUMNS)
    for r in sorted(results, key=lambda r: r.student_id):
        points = r.points
        writer.writerow([r.student_id, r.score, r.max_score, r.status,
                         *(points.get(g, 0) for g in GRADE_IDS)])
    return buf.getvalue()


def flags_csv(results: list[SubmissionResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("student_id", "reason"))
    for r in sorted(results, key=lambda r: r.student_id):
        for reason in r.flags:
            writer.writerow((r.student_id, reason))
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


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def feedback_html(r: SubmissionResult) -> str:
    """The feedback page of one student (everything escaped: it quotes their code)."""
    problem = r.status != "ok"
    rows = []
    details = []
    for t in r.tests:
        verdict = '<span class="pass">passed</span>' if t.passed else '<span class="fail">failed</span>'
        case = ""
        if not t.passed and t.case:
            which = "visible test" if t.case_visible else "hidden test"
            case = f'<div class="case">{which}: {_e(t.case)}</div>'
        rows.append(
            f"<tr><td><code>{_e(t.grade_id)}</code><div class=\"case\">{_e(t.title)}</div></td>"
            f"<td>{t.points} / {t.max_points}</td><td>{verdict}</td>"
            f"<td>{_e(t.message)}{case}</td></tr>"
        )
        if t.detail:
            details.append(f"<h3><code>{_e(t.grade_id)}</code></h3><pre>{_e(t.detail)}</pre>")
    cell_rows = []
    for c in r.cells:
        if c.outcome == "ok":
            continue
        tb = f"<pre>{_e(c.traceback)}</pre>" if c.traceback else ""
        cell_rows.append(
            f"<tr><td>{_e(c.label)}</td><td><code>{_e(c.first_line)}</code></td>"
            f"<td>{_e(c.message)}{tb}</td></tr>"
        )
    ran = sum(1 for c in r.cells if c.outcome == "ok")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {_e(r.student_id)}</title><style>{CSS}</style></head><body>",
        "<h1>EM for a mixture of Poisson distributions</h1>",
        f'<p class="muted">Feedback for <strong>{_e(r.student_id)}</strong></p>',
        f'<p class="score">Score: <strong>{r.score} / {r.max_score}</strong></p>',
        f'<p class="status{" problem" if problem else ""}">Status: {_e(r.status)}</p>',
        "<h2>Tests</h2>",
        "<table><tr><th>test</th><th>points</th><th>result</th><th>message</th></tr>",
        *rows,
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
    parts.append(
        '<p class="muted">The tests call your five functions one by one with fixed inputs '
        "and compare the results with reference values; the cells of part 7 and the test "
        "cells of your notebook are not run.</p></body></html>"
    )
    return "\n".join(parts) + "\n"


def summary_png(results: list[SubmissionResult]) -> bytes:
    """Score histogram and pass rate per test."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    scores = [r.score for r in results]
    left.hist(scores, bins=[b - 0.5 for b in range(MAX_SCORE + 2)], color="#4c72b0",
              edgecolor="white")
    left.set_xlim(-0.5, MAX_SCORE + 0.5)
    left.set_xlabel(f"score (out of {MAX_SCORE})")
    left.set_ylabel("students")
    mean = sum(scores) / len(scores) if scores else 0.0
    left.set_title(f"Scores of {len(results)} submissions (mean {mean:.1f})")
    left.yaxis.get_major_locator().set_params(integer=True)
    ids = [c.grade_id for c in SPEC]
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


def write_outputs(results: list[SubmissionResult], out: Path) -> None:
    """Write (replace) every output file in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "grades.csv", grades_csv(results).encode())
    _atomic_write(out / "flags.csv", flags_csv(results).encode())
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".feedback-"))
    try:
        for r in results:
            (staging / feedback_name(r.student_id)).write_text(feedback_html(r), encoding="utf-8")
        staging.chmod(0o755)
        old = out / "feedback"
        if old.exists():
            trash = Path(tempfile.mkdtemp(dir=out, prefix=".old-feedback-"))
            os.replace(old, trash / "feedback")
            shutil.rmtree(trash)
        os.replace(staging, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _atomic_write(out / "summary.png", summary_png(results))
