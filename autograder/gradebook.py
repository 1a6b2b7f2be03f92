"""The results in nbgrader's gradebook, for the formgrader and ``nbgrader export``.

:func:`record` writes a graded class into an nbgrader gradebook
(:class:`nbgrader.api.Gradebook`, any database SQLAlchemy reaches: an SQLite
file, or PostgreSQL for a course shared by several graders) the way
``nbgrader generate_assignment`` and ``nbgrader autograde`` would:

* the assignment, its notebook, grade, solution and source cells: written by
  the preprocessors of nbgrader's own ``generate_assignment`` (with the
  course's configuration), run in this process on the source notebook against
  this database (once; again only when the cells changed), so the structure is
  exactly nbgrader's (a test compares it with ``nbgrader generate_assignment``); the due date of the late
  policy (:mod:`autograder.late`) becomes the assignment's ``duedate``;
* one student row per student, and per submission a submitted assignment (with
  its ``timestamp``), a submitted notebook, and one grade per grade cell:
  ``auto_score`` = the points of each autograded test cell (the same numbers as
  ``grades.csv``), the manually graded cells (nbgrader ``solution`` + ``grade``,
  e.g. written derivations) left with ``auto_score`` None and
  ``needs_manual_grade`` for the formgrader (0 points and nothing to grade when
  no notebook could be read); the late penalty of the autograded score as the
  notebook's ``late_submission_penalty``;
* a roster student without a submission gets a student row only (nbgrader
  export gives them 0).

Grading again updates these rows (never a second row) and keeps every manual
score a grader entered; as in nbgrader, an autograded cell that a grader
overrode is marked for review again.

The formgrader lists a submission for manual grading only when its
autograded notebook exists in the course: ``autograded/<student>/<assignment>/
<notebook>.ipynb``. :func:`write_autograded` (``--course DIR``) writes them:
the student's notebook as ``nbgrader autograde`` would leave it (outputs
cleared, read-only and test cells restored, the grader's verdict as each test
cell's output). Student ids that are not safe folder names get none.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import assignments, spec
from .late import LatePolicy, parse_time

PACKAGE = Path(__file__).resolve().parent

# nbgrader imports nbformat, which imports jsonschema, which builds a parser of
# IRI syntax at import time when ``rfc3987_syntax`` is installed: a second of
# every run that writes a gradebook, for the "iri" string formats that no
# notebook schema uses. It is an optional module of jsonschema: treated here as
# not installed (unless something imported it already).
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


class GradebookError(RuntimeError):
    """The gradebook cannot be written (unreachable, or it disagrees with the assignment)."""


@dataclass(frozen=True)
class AssignmentSource:
    """What the gradebook needs to know about one assignment.

    Attributes
    ----------
    name : str
        nbgrader's assignment id (the folder under ``source/``).
    notebook : str
        The notebook's name without ``.ipynb``.
    course : Path
        The nbgrader course root holding ``nbgrader_config.py`` and
        ``source/<name>/<notebook>.ipynb``.
    auto : dict of str to float
        Points of each autograded grade cell, by grade id.
    manual : dict of str to float
        Points of each manually graded cell (nbgrader ``solution`` and ``grade``).
    course_id : str
        ``CourseDirectory.course_id`` of the course's configuration.
    """

    name: str
    notebook: str
    course: Path
    auto: dict[str, float]
    manual: dict[str, float]
    course_id: str = "default_course"

    @property
    def source_notebook(self) -> Path:
        return self.course / "source" / self.name / f"{self.notebook}.ipynb"


def _course_config(course: Path):
    """The course's nbgrader configuration (empty without ``nbgrader_config.py``)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not (course / "nbgrader_config.py").is_file():
        return Config()
    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def _course_id(course: Path) -> str:
    try:
        config = _course_config(course)
    except Exception:  # an unreadable configuration: nbgrader's default
        return "default_course"
    return str(config.CourseDirectory.get("course_id", "") or "default_course")


def assignment_source(assignment: spec.Assignment | str,
                      course: Path = PACKAGE) -> AssignmentSource:
    """The assignment as the grader knows it: the source notebook's nbgrader
    metadata, checked against the declaration's grade cells
    (:mod:`autograder.assignments`).

    Raises
    ------
    GradebookError
        When the notebook's autograded cells or points differ from ``cells``.
    """
    declared = assignments.resolve(assignment)
    name = declared.name
    notebook = declared.notebook.removesuffix(".ipynb")
    path = Path(course) / "source" / name / f"{notebook}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    auto, manual = {}, {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        target = manual if meta.get("solution") else auto
        target[meta["grade_id"]] = float(meta.get("points", 0))
    expected = {c.grade_id: float(c.points) for c in declared.cells(None)}
    if auto != expected:
        raise GradebookError(f"the autograded cells of {path} ({auto}) are not those of the "
                             f"grader ({expected}): run python -m autograder build-source")
    return AssignmentSource(name, notebook, Path(course), auto, manual, _course_id(Path(course)))


def db_url(target: str | os.PathLike[str]) -> str:
    """A database URL: ``target`` itself if it is one, else an SQLite file's URL."""
    text = os.fspath(target)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).absolute()}"


def _naive_utc(value: datetime | None) -> datetime | None:
    """nbgrader stores times as naive UTC."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _cells_in_db(gb, src: AssignmentSource) -> dict[str, float] | None:
    from nbgrader.api import MissingEntry

    try:
        nb = gb.find_notebook(src.notebook, src.name)
    except MissingEntry:
        return None
    return {c.name: float(c.max_score) for c in nb.grade_cells}


def _alembic_head() -> str:
    """The schema revision nbgrader stamps on a new gradebook (nbgrader asks
    the ``alembic`` command for it; reading its migration scripts here gives
    the same answer without starting a process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return str(ScriptDirectory.from_config(config).get_current_head())


def _create_tables(url: str) -> None:
    """Create an empty gradebook as :class:`nbgrader.api.Gradebook` does (its
    tables, then the ``alembic_version`` table), unless the database has tables."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        head = _alembic_head()
        Base.metadata.create_all(bind=engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                         {"v": head})
    finally:
        engine.dispose()


def _generation_steps() -> list[type]:
    """nbgrader's ``generate_assignment`` preprocessors, up to the one that
    writes the gradebook (:class:`nbgrader.preprocessors.SaveCells`): the
    cells it saves are those the release is made of."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells

    steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    return steps[:steps.index(SaveCells) + 1]


def _generate(url: str, src: AssignmentSource) -> None:
    """Write the assignment's structure into the gradebook as
    ``nbgrader generate_assignment`` does, in this process: the assignment
    row, then nbgrader's own preprocessors (with the course's configuration)
    on the source notebook, the last of which saves its cells."""
    import nbformat

    try:
        config = _course_config(src.course)
        with connect(url, src.course_id) as gb:
            gb.update_or_create_assignment(src.name)
        nb = nbformat.read(src.source_notebook, as_version=nbformat.NO_CONVERT)
        resources = {
            "unique_key": src.notebook,
            "metadata": {"name": src.notebook, "path": str(src.source_notebook.parent)},
            "nbgrader": {"student": ".", "assignment": src.name, "notebook": src.notebook,
                         "db_url": url},
        }
        for step in _generation_steps():
            nb, resources = step(config=config).preprocess(nb, resources)
    except Exception as exc:
        raise GradebookError("could not write the assignment into the gradebook as nbgrader's "
                             f"generate_assignment does: {type(exc).__name__}: {exc}") from None


def connect(target: str | os.PathLike[str], course_id: str = "default_course"):
    """nbgrader's :class:`~nbgrader.api.Gradebook` at ``target`` (a database
    URL or an SQLite file), created first if the database has no tables."""
    from nbgrader.api import Gradebook

    url = db_url(target)
    _create_tables(url)
    return Gradebook(url, course_id)


def ensure_assignment(url: str, src: AssignmentSource, policy: LatePolicy | None = None) -> None:
    """Create (or bring up to date) the assignment's structure in the gradebook."""
    wanted = {**src.auto, **src.manual}
    with connect(url, src.course_id) as gb:
        have = _cells_in_db(gb, src)
    if have != wanted:
        _generate(url, src)
        with connect(url, src.course_id) as gb:
            have = _cells_in_db(gb, src)
        if have != wanted:
            raise GradebookError(f"the gradebook's grade cells of {src.name} ({have}) differ "
                                 f"from the source notebook's ({wanted})")
    if policy is not None:
        with connect(url, src.course_id) as gb:
            assignment = gb.find_assignment(src.name)
            assignment.duedate = _naive_utc(policy.due)
            gb.db.commit()


def check(target: str) -> None:
    """Open the gradebook once (creating it if needed): a :class:`GradebookError` if impossible."""
    try:
        with connect(target):
            pass
    except Exception as exc:
        raise GradebookError(f"cannot open the gradebook {target}: "
                             f"{type(exc).__name__}: {exc}") from None


NO_SUBMISSION = "no submission"  # the status of a roster student without one


def record(results: Iterable, target: str, assignment: spec.Assignment | str, *,
           policy: LatePolicy | None = None, source: AssignmentSource | None = None) -> None:
    """Write every result (a whole class) into the gradebook at ``target``.

    Parameters
    ----------
    results : iterable of SubmissionResult
        The class, as :func:`autograder.report.write_outputs` returns it.
    target : str
        A database URL (``sqlite:///...``, ``postgresql://...``) or an SQLite file.
    assignment : Assignment or str
        What the results are of.
    policy : LatePolicy, optional
        Its due date becomes the assignment's ``duedate``.
    source : AssignmentSource, optional
        Default: :func:`assignment_source`.
    """
    url = db_url(target)
    src = source or assignment_source(assignment)
    try:
        ensure_assignment(url, src, policy)
        with connect(url, src.course_id) as gb, warnings.catch_warnings():
            # nbgrader's add_submission builds its rows before adding them (harmless).
            warnings.filterwarnings("ignore", message=".*not in session.*")
            session = gb.db
            gb.db = _OneTransaction(session)
            try:
                for r in results:
                    _record_one(gb, src, r, policy)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                gb.db = session
    except GradebookError:
        raise
    except Exception as exc:
        raise GradebookError(f"cannot write the gradebook {target}: "
                             f"{type(exc).__name__}: {exc}") from None


class _OneTransaction:
    """A gradebook session whose ``commit`` only flushes: nbgrader's methods
    commit after each row, but a class lands in one transaction, all of it or
    nothing (a failure rolls every student back), without a disk sync and a
    reload of every object per student."""

    def __init__(self, session) -> None:
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name: str):
        return getattr(self._session, name)


def _record_one(gb, src: AssignmentSource, r, policy: LatePolicy | None) -> None:
    gb.update_or_create_student(r.student_id)
    if r.status == NO_SUBMISSION:
        return
    late = getattr(r, "late", None)
    when = parse_time(r.timestamp, policy.timezone if policy else "UTC")
    submission = gb.update_or_create_submission(src.name, r.student_id,
                                                timestamp=_naive_utc(when))
    notebook = next(nb for nb in submission.notebooks if nb.name == src.notebook)
    points = r.points
    unknown = set(points) - set(src.auto)
    if unknown:
        raise GradebookError(f"grade ids {sorted(unknown)} of {r.student_id!r} are not "
                             f"autograded cells of {src.name}")
    read = bool(r.cells)  # the notebook could be read (and its answers can be graded)
    for grade in notebook.grades:
        name = grade.cell.name
        if name in src.auto:
            grade.auto_score = float(points.get(name, 0))
            # As nbgrader's SaveAutoGrades: a grader's override is reviewed again.
            grade.needs_manual_grade = grade.manual_score is not None
        elif name in src.manual:
            if not read:
                grade.auto_score = 0.0
                grade.needs_manual_grade = False if grade.manual_score is None \
                    else grade.needs_manual_grade
            elif grade.manual_score is None:
                grade.auto_score = None
                grade.needs_manual_grade = True
    penalty = late.get("penalty", 0.0) if late else 0.0
    notebook.late_submission_penalty = penalty if penalty > 0 else None


# --------------------------------------------------------------------------
# the autograded notebooks, where the formgrader looks for them

#: A student id that is also a safe folder name (else no autograded notebook is written).
_SAFE_ID = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}")


def autograded_notebook(data: bytes, src: AssignmentSource, result) -> dict:
    """The notebook the formgrader shows: as ``nbgrader autograde`` leaves it.

    The student's cells with their outputs cleared; read-only and test cells
    restored from the source notebook with its nbgrader metadata (as nbgrader's
    OverwriteCells), a grade id kept on its first cell only (DeduplicateIds);
    each test cell shows the grader's verdict as its output; a deleted answer
    or test cell is appended as released, so that it can be graded.
    """
    from .notebook import parse

    source = json.loads(src.source_notebook.read_text(encoding="utf-8"))
    release_path = src.course / "release" / src.name / f"{src.notebook}.ipynb"
    released = json.loads(release_path.read_text(encoding="utf-8")) \
        if release_path.is_file() else source
    by_id = {c["metadata"]["nbgrader"]["grade_id"]: c for c in source["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
    stubs = {c["metadata"]["nbgrader"]["grade_id"]: c for c in released["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
    tests = {t.grade_id: t for t in result.tests}
    nb = parse(data)
    cells, seen = [], set()
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        gid = nbg.get("grade_id")
        out = {"cell_type": cell["cell_type"], "metadata": {},
               "source": cell.get("source", "")}
        if isinstance(gid, str) and gid in by_id and gid not in seen:
            seen.add(gid)
            original = by_id[gid]
            out["metadata"]["nbgrader"] = dict(original["metadata"]["nbgrader"])
            if not out["metadata"]["nbgrader"].get("solution"):  # locked or test: restored
                out["cell_type"], out["source"] = original["cell_type"], original["source"]
        cells.append(out)
    for gid, original in by_id.items():
        nbg = original["metadata"]["nbgrader"]
        if gid not in seen and (nbg.get("grade") or nbg.get("locked")):
            cells.append({"cell_type": original["cell_type"], "metadata": {"nbgrader": nbg},
                          "source": stubs.get(gid, original)["source"]})
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if gid in tests:
                t = tests[gid]
                verdict = "passed" if t.passed else "failed"
                text = f"autograder: {t.points} / {t.max_points} points, {verdict}"
                if not t.passed and t.message:
                    text += f": {t.message}"
                cell["outputs"] = [{"output_type": "stream", "name": "stdout",
                                    "text": text + "\n"}]
    return {"cells": cells, "metadata": {"kernelspec": source["metadata"].get("kernelspec", {})},
            "nbformat": 4, "nbformat_minor": 5}


def write_autograded(course: Path, submissions: Iterable, results: Iterable,
                     assignment: spec.Assignment | str,
                     src: AssignmentSource | None = None) -> list[str]:
    """Write ``course/autograded/<student>/<assignment>/<notebook>.ipynb`` for each
    submission graded now; the reasons some were not written."""
    from .collect import make_task

    src = src or assignment_source(assignment)
    by_id = {r.student_id: r for r in results}
    problems = []
    for sub in submissions:
        r = by_id.get(sub.student_id)
        if r is None or not r.cells:
            continue
        if not _SAFE_ID.fullmatch(sub.student_id) or sub.student_id.endswith("."):
            problems.append(f"{sub.student_id!r}: not a safe folder name")
            continue
        data, problem = make_task(sub).load()
        if data is None:
            problems.append(f"{sub.student_id}: {problem}")
            continue
        try:
            nb = autograded_notebook(data, src, r)
        except ValueError as exc:
            problems.append(f"{sub.student_id}: {exc}")
            continue
        folder = Path(course) / "autograded" / sub.student_id / src.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{src.notebook}.ipynb"
        tmp = path.with_suffix(".ipynb.tmp")
        tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return problems
