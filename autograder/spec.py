"""How an assignment is declared: the records the engine reads, and the secret.

An assignment (``autograder/assignments/<name>/``, see its README) declares
once, in one :class:`Assignment`:

* its graded functions (:class:`Function`): name, arguments, outputs, the
  check that judges a result (from the assignment's ``checks.py``), the
  reference that computes the expected result (from ``solutions``), the other
  graded functions it calls;
* its grade cells (:class:`GradeCell`): grade id, function, points, title, and
  the test cases (:class:`Case`), visible or hidden, drawn by a function of the
  course secret; the basic and the numerically extreme cases of a function are
  separate grade cells, so correct-but-naive code earns partial credit;
* its written questions (:class:`ManualCell`), graded by hand;
* its title and the texts of the feedback.

From it the engine derives the source notebook's test cells and
``test_helpers`` (:mod:`autograder.build_source`), the grader's calls and
judgement (:mod:`autograder.grade`), the reference values, the reports and the
collection of submissions. A grade cell earns its points when every one of its
cases passes, as in nbgrader. Each function is tested on its own with
reference inputs, and every grade cell has a small visible case, so that
``nbgrader validate`` already tells a naive solution apart.

**Hidden cases and the course secret.** The repository is public, so hidden
inputs fixed in it could be looked up. The hidden cases are drawn at random,
within ranges that keep their purpose (x near 1000 with λ near 0.5, weights
near 1e-12, ...), from streams :func:`rng` derives from a course secret that
is not in the repository: :func:`load_secret` reads ``--secret-file``, the
environment variable ``AUTOGRADER_SECRET`` or the file
``autograder/course_secret`` (ignored by git). Without a secret the public
default is used: the hidden tests that the committed source notebook embeds,
for stock nbgrader. The visible cases never change.

Random inputs come from ``numpy.random.RandomState``, whose streams numpy
keeps frozen (NEP 19), so the cases do not change with the numpy version.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

PACKAGE = Path(__file__).resolve().parent

SECRET_ENV = "AUTOGRADER_SECRET"
SECRET_FILE = PACKAGE / "course_secret"
NO_SECRET_WARNING = (
    f"no course secret (set {SECRET_ENV}, or write one into {SECRET_FILE} or pass "
    "--secret-file): the hidden tests use the PUBLIC default inputs, which anyone can "
    "look up in the repository"
)


class NoSecretWarning(UserWarning):
    """Grading without a course secret: the hidden inputs are public."""


@dataclass(frozen=True)
class Case:
    """One call of a graded function and how its result is judged.

    Attributes
    ----------
    args : tuple of ndarray
        Positional arguments, in the order of :attr:`Function.arguments`.
    description : str
        What the case tests, shown in the notebook and the feedback.
    kwargs : mapping
        Keyword arguments (e.g. ``em``'s ``max_iter`` and ``tol``).
    visible : bool
        Visible to the student in the release notebook.
    options : mapping
        Tolerances passed to the function's check.
    reference : str
        A tag for the function's reference (e.g. for ``em``: ``"exact"``,
        compare the whole run, or ``"mle"``, compare with the converged
        maximum-likelihood estimate); the engine passes it through.
    code : mapping
        Python expressions that render an argument more readably than its
        literal values in the notebook (e.g. ``np.repeat(...)``).
    """

    args: tuple[np.ndarray, ...]
    description: str
    kwargs: Mapping[str, float | int] = field(default_factory=dict)
    visible: bool = False
    options: Mapping[str, float] = field(default_factory=dict)
    reference: str = "mle"
    code: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Function:
    """A graded function: how it is called, what it returns, how it is judged.

    Attributes
    ----------
    name : str
        The name the student defines (and the ``grade_id`` of its solution cell).
    arguments : tuple of str
        Positional argument names, in call order.
    check : callable
        ``check(result, expected, **case.options)`` from the assignment's
        ``checks.py``: raises ``AssertionError`` (numbers first) unless the
        result is right. It says how results are compared (tolerances, up to
        a permutation of the components, ...). The notebook's test cells call
        it by its ``__name__``, so it must be a top-level function there.
    reference : callable
        ``reference(case)``: the expected result of a case, computed with
        ``solutions``; it is what ``check`` receives as ``expected``.
    outputs : tuple of str
        Names of the parts of a tuple result; empty for a single value.
    helpers : tuple of str
        The other graded functions it is expected to call. When one of them
        fails its own tests, this function's cases are rerun with the
        instructor's helpers standing in, so that each bug costs its points once.
    """

    name: str
    arguments: tuple[str, ...]
    check: Callable[..., None]
    reference: Callable[[Case], Any]
    outputs: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradeCell:
    """An nbgrader autograded test cell: all its cases must pass to earn ``points``.

    ``title`` heads the cell and the feedback row; ``hidden_summary`` tells the
    student what the hidden cases check.
    """

    grade_id: str
    function: str
    points: int
    title: str
    hidden_summary: str
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class ManualCell:
    """A written answer graded by hand: an nbgrader manually graded markdown cell.

    :mod:`autograder.build_source` writes the cell (``grade``, ``solution``,
    ``points``): ``answer`` (the model answer, markdown) and the ``rubric``
    between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, which the release
    replaces by nbgrader's "YOUR ANSWER HERE". The question itself is in the
    markdown cell before it, written by hand. Its points are not part of the
    autograded score; the grader lists the cell as "to grade by hand".

    Attributes
    ----------
    grade_id : str
        The cell's nbgrader id.
    points : int
        What the answer is worth.
    title : str
        What is asked, in a few words (feedback, ``grades.csv`` notes).
    answer : str
        The model answer (markdown, with ``$...$`` mathematics).
    rubric : tuple of (int, str)
        ``(points, criterion)`` pairs; their points add up to ``points``.
    """

    grade_id: str
    points: int
    title: str
    answer: str
    rubric: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Assignment:
    """An autograded assignment, declared once (``autograder/assignments/<name>/``).

    Attributes
    ----------
    name : str
        The nbgrader assignment name; the notebook is ``<name>.ipynb`` in
        ``autograder/source/<name>/`` and ``autograder/release/<name>/``.
    title : str
        Shown in the feedback and the command line.
    functions : tuple of Function
        The graded functions, in the order of the notebook.
    build : callable
        ``build(secret) -> tuple[GradeCell, ...]``: the grade cells in notebook
        order, their hidden cases drawn with :func:`rng` from ``secret``
        (``None``: the public default, which the source notebook embeds).
    checks : module
        The assignment's ``checks.py`` (inlined into ``test_helpers``).
    solutions : str
        The module of ``solutions`` with the reference implementation (e.g.
        ``"solutions.poisson"``): copies of it are flagged.
    manual : tuple of ManualCell
        The written questions, graded by hand, in notebook order.
    feedback_note : str
        The last paragraph of every feedback page (how the tests work).
    """

    name: str
    title: str
    functions: tuple[Function, ...]
    build: Callable[[str | None], tuple[GradeCell, ...]]
    checks: ModuleType
    solutions: str
    manual: tuple[ManualCell, ...] = ()
    feedback_note: str = ("The tests call your functions one by one with fixed inputs and "
                          "compare the results with reference values; the test cells of your "
                          "notebook are not run.")

    def __post_init__(self) -> None:
        names = [f.name for f in self.functions]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a graded function is declared twice")
        for cell in self.manual:
            if sum(p for p, _ in cell.rubric) != cell.points:
                raise ValueError(f"{self.name}: the rubric of {cell.grade_id} does not add "
                                 f"up to its {cell.points} points")

    # -- derived facts --------------------------------------------------------

    @property
    def notebook(self) -> str:
        """The notebook's file name, ``<name>.ipynb``."""
        return f"{self.name}.ipynb"

    @property
    def source_notebook(self) -> Path:
        return PACKAGE / "source" / self.name / self.notebook

    @property
    def release_notebook(self) -> Path:
        return PACKAGE / "release" / self.name / self.notebook

    def function(self, name: str) -> Function:
        """The graded function called ``name``."""
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

    def cells(self, secret: str | None = None) -> tuple[GradeCell, ...]:
        """The grade cells, hidden cases drawn from ``secret`` (None: public default)."""
        if secret is None:
            return _public_cells(self)
        return self._validated(self.build(secret))

    def _validated(self, cells: tuple[GradeCell, ...]) -> tuple[GradeCell, ...]:
        known = {f.name for f in self.functions}
        ids = [c.grade_id for c in cells] + [m.grade_id for m in self.manual]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.name}: a grade id is declared twice")
        for c in cells:
            if c.function not in known:
                raise ValueError(f"{self.name}: {c.grade_id} tests {c.function}, which is "
                                 "not a graded function")
        return tuple(cells)

    @property
    def grade_ids(self) -> tuple[str, ...]:
        """The autograded cells' ids, in notebook order (the columns of ``grades.csv``)."""
        return tuple(c.grade_id for c in self.cells())

    @property
    def max_score(self) -> int:
        """The autograded points (manual cells not included)."""
        return sum(c.points for c in self.cells())

    @property
    def manual_ids(self) -> tuple[str, ...]:
        return tuple(m.grade_id for m in self.manual)

    @property
    def manual_points(self) -> int:
        return sum(m.points for m in self.manual)

    def grade_cell(self, grade_id: str,
                   cells: tuple[GradeCell, ...] | None = None) -> GradeCell:
        """The grade cell called ``grade_id`` (of ``cells``, default the public ones)."""
        for cell in self.cells() if cells is None else cells:
            if cell.grade_id == grade_id:
                return cell
        raise KeyError(grade_id)

    def expected(self, cells: tuple[GradeCell, ...] | None = None) -> dict[str, list[Any]]:
        """``{grade_id: [expected result of each case]}`` (default: the public cells)."""
        cells = self.cells() if cells is None else cells
        with np.errstate(invalid="raise", over="raise"):
            return {cell.grade_id: [self.function(cell.function).reference(case)
                                    for case in cell.cases] for cell in cells}


@functools.cache
def _public_cells(assignment: Assignment) -> tuple[GradeCell, ...]:
    return assignment._validated(assignment.build(None))


# --------------------------------------------------------------------------
# the course secret


def load_secret(path: str | os.PathLike[str] | None = None) -> str | None:
    """The course secret: ``path`` if given, else ``$AUTOGRADER_SECRET``, else
    ``autograder/course_secret``; None when there is none.

    Raises ``ValueError`` when ``path`` is given but unreadable or empty.
    """
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the secret file {path}: {exc}") from None
        if not text:
            raise ValueError(f"the secret file {path} is empty")
        return text
    text = os.environ.get(SECRET_ENV, "").strip()
    if text:
        return text
    try:
        text = SECRET_FILE.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def rng(secret: str | None, tag: str) -> np.random.RandomState:
    """The random stream of one hidden case; ``secret=None`` is the public default.

    ``tag`` names the case, e.g. ``"<grade id>/<index>"``; a new assignment
    starts its tags with its name, so that no two assignments share a stream.
    """
    key = "public default" if secret is None else "secret:" + secret
    digest = hashlib.sha256(f"{key}\0{tag}".encode()).digest()
    return np.random.RandomState(int.from_bytes(digest[:4], "big"))


_rng = rng  # the name used before the engine
