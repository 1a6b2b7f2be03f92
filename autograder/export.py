"""``python -m autograder export``: final grades for the LMS, from the gradebook.

The final score of a student in an assignment is what nbgrader's gradebook
holds (:mod:`autograder.gradebook`): the autograded points plus the points a
grader gave by hand in the formgrader (a manual score replaces the autograded
one of its cell, as in nbgrader), less the late penalty. With a late policy
(:mod:`autograder.late`) the penalty is the policy's fraction of that whole
score; without one, the penalty stored in the gradebook (of the autograded part).

Formats
-------
``csv``
    One row per student and assignment: ``student_id, first_name, last_name,
    email, assignment, duedate, submitted, auto_score, manual_score, penalty,
    score, max_score, needs_manual_grade``.
``canvas``
    Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID,
    Section``, then one column per assignment, ``<name>`` or
    ``<name> (<Canvas assignment id>)`` (``--canvas-id NAME=ID``: Canvas
    matches the column to that assignment, else by title or as a new one),
    then a ``Points Possible`` row. Canvas finds each student by ``ID`` (its
    numeric user id: nbgrader's ``lms_user_id``, or a numeric student id such
    as the ids of a Canvas zip), else by ``SIS Login ID`` (the student id).
``moodle``
    Moodle's "Import grades from CSV file": ``Username, Email address``, then
    one grade column per assignment; map ``Username`` (or ``Email address``)
    to the user field and each grade column to its grade item when importing.

A student in the gradebook without a submission gets 0. Exporting refuses
(exit code 2) while any submission still needs manual grading, unless
``--allow-ungraded``: its score would be incomplete.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from .late import LatePolicy, iso, points
from .report import csv_text

FORMATS = ("csv", "canvas", "moodle")
CSV_COLUMNS = ("student_id", "first_name", "last_name", "email", "assignment", "duedate",
               "submitted", "auto_score", "manual_score", "penalty", "score", "max_score",
               "needs_manual_grade")
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_STUDENT_COLUMNS = ("Username", "Email address")


class ExportError(RuntimeError):
    """The grades cannot be exported as asked."""


@dataclass(frozen=True)
class Final:
    """One student's final grade in one assignment."""

    student_id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    assignment: str
    duedate: str
    submitted: str
    auto_score: float
    manual_score: float
    penalty: float
    score: float
    max_score: float
    needs_manual_grade: bool


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _aware(value):
    return None if value is None else value.replace(tzinfo=UTC)


def final_grades(gb, assignments: Iterable[str] | None = None,
                 policies: dict[str, LatePolicy] | None = None) -> list[Final]:
    """Every student's final grade in every (chosen) assignment of the gradebook ``gb``."""
    from nbgrader.api import MissingEntry

    policies = policies or {}
    wanted = None if assignments is None else list(assignments)
    names = [a.name for a in gb.assignments]
    for name in wanted or ():
        if name not in names:
            raise ExportError(f"no assignment {name!r} in the gradebook "
                              f"(it has: {', '.join(names) or 'none'})")
    out = []
    for assignment in gb.assignments:
        if wanted is not None and assignment.name not in wanted:
            continue
        policy = policies.get(assignment.name)
        for student in sorted(gb.students, key=lambda s: s.id):
            row = dict(student_id=student.id, first_name=student.first_name or "",
                       last_name=student.last_name or "", email=student.email or "",
                       lms_user_id=student.lms_user_id or "", assignment=assignment.name,
                       duedate=iso(_aware(assignment.duedate)),
                       max_score=float(assignment.max_score))
            try:
                sub = gb.find_submission(assignment.name, student.id)
            except MissingEntry:
                out.append(Final(**row, submitted="", auto_score=0.0, manual_score=0.0,
                                 penalty=0.0, score=0.0, needs_manual_grade=False))
                continue
            auto = manual = 0.0
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.manual_score is not None:
                        manual += g.manual_score + (g.extra_credit or 0.0)
                    elif g.auto_score is not None:
                        auto += g.auto_score + (g.extra_credit or 0.0)
            raw = auto + manual
            submitted = _aware(sub.timestamp)
            if policy is not None and submitted is not None:
                penalty = points(policy.fraction(submitted) * raw)
            else:
                penalty = float(sub.late_submission_penalty or 0.0)
            out.append(Final(**row, submitted=iso(submitted), auto_score=points(auto),
                             manual_score=points(manual), penalty=penalty,
                             score=points(max(0.0, raw - penalty)),
                             needs_manual_grade=bool(sub.needs_manual_grade)))
    return out


def to_csv(grades: list[Final]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for g in grades:
        w.writerow([csv_text(g.student_id), csv_text(g.first_name), csv_text(g.last_name),
                    csv_text(g.email), csv_text(g.assignment), g.duedate, g.submitted,
                    _num(g.auto_score), _num(g.manual_score), _num(g.penalty), _num(g.score),
                    _num(g.max_score), "yes" if g.needs_manual_grade else "no"])
    return buf.getvalue()


def _by_student(grades: list[Final]) -> tuple[list[str], dict[str, dict[str, Final]]]:
    assignments = list(dict.fromkeys(g.assignment for g in grades))
    table: dict[str, dict[str, Final]] = {}
    for g in grades:
        table.setdefault(g.student_id, {})[g.assignment] = g
    return assignments, table


def to_canvas(grades: list[Final], canvas_ids: dict[str, str] | None = None) -> str:
    canvas_ids = canvas_ids or {}
    assignments, table = _by_student(grades)
    titles = [f"{a} ({canvas_ids[a]})" if a in canvas_ids else a for a in assignments]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CANVAS_STUDENT_COLUMNS, *(csv_text(t) for t in titles)])
    first = next(iter(table.values()), {})
    w.writerow(["    Points Possible", "", "", "", "",
                *(_num(first[a].max_score) if a in first else "" for a in assignments)])
    for sid in sorted(table):
        row = table[sid]
        any_ = next(iter(row.values()))
        name = ", ".join(p for p in (any_.last_name, any_.first_name) if p) or sid
        canvas_id = any_.lms_user_id or (sid if sid.isascii() and sid.isdigit() else "")
        login = "" if canvas_id == sid else sid
        w.writerow([csv_text(name), csv_text(canvas_id), "", csv_text(login), "",
                    *(_num(row[a].score) if a in row else "" for a in assignments)])
    return buf.getvalue()


def to_moodle(grades: list[Final]) -> str:
    assignments, table = _by_student(grades)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*MOODLE_STUDENT_COLUMNS, *(csv_text(a) for a in assignments)])
    for sid in sorted(table):
        row = table[sid]
        any_ = next(iter(row.values()))
        w.writerow([csv_text(sid), csv_text(any_.email),
                    *(_num(row[a].score) if a in row else "" for a in assignments)])
    return buf.getvalue()


def export(target: str, fmt: str, *, assignments: Iterable[str] | None = None,
           policies: dict[str, LatePolicy] | None = None,
           canvas_ids: dict[str, str] | None = None,
           allow_ungraded: bool = False) -> tuple[str, list[Final]]:
    """The export file's text, and the grades in it.

    Raises :class:`ExportError` for an unknown format or assignment, and while
    a submission needs manual grading (unless ``allow_ungraded``).
    """
    from .gradebook import connect

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if "://" not in str(target) and not Path(target).is_file():
        raise ExportError(f"no gradebook at {target}")
    with connect(target) as gb:
        grades = final_grades(gb, assignments, policies)
    pending = sorted({f"{g.student_id} ({g.assignment})" for g in grades
                      if g.needs_manual_grade})
    if pending and not allow_ungraded:
        shown = ", ".join(pending[:10]) + (" ..." if len(pending) > 10 else "")
        raise ExportError(f"{len(pending)} submission(s) still need manual grading in the "
                          f"formgrader: {shown} (--allow-ungraded exports them anyway)")
    if fmt == "csv":
        return to_csv(grades), grades
    if fmt == "canvas":
        return to_canvas(grades, canvas_ids), grades
    return to_moodle(grades), grades
