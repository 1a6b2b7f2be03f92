"""Regenerate the generated cells of an assignment's source notebook from its declaration.

The instructor's notebook ``autograder/source/<name>/<name>.ipynb`` is written
by hand (prose, solutions between ``### BEGIN SOLUTION`` and ``### END
SOLUTION``), except three kinds of cells, found by their nbgrader
``grade_id``, that this module writes from the :class:`~autograder.spec.Assignment`:

* ``test_helpers``: the source of the engine's helpers (:mod:`autograder.checks`)
  followed by the assignment's ``checks.py`` (:func:`helpers_source`), so that
  the test cells run in a student's kernel, which has no course files;
* one test cell per grade cell (:meth:`~autograder.spec.Assignment.cells`):
  its visible cases, then its hidden cases between ``### BEGIN HIDDEN TESTS``
  and ``### END HIDDEN TESTS``, with the inputs and the expected values
  (computed by the assignment's reference) written out as literals, and its
  points in the cell's metadata;
* one markdown answer cell per written question
  (:class:`~autograder.spec.ManualCell`): nbgrader's manually graded answer
  (``grade`` and ``solution``, its points), holding the model answer and the
  rubric between ``### BEGIN SOLUTION`` and ``### END SOLUTION``.

The hidden blocks hold the public default cases; the grader draws its own from
the course secret.

``python -m autograder build-source [NAME ...]`` rewrites them; ``--check``
only reports whether the notebooks are up to date (a project test runs the
same check). The
embedded numbers are compared with a relative tolerance of :data:`RTOL`: on
another machine BLAS and SIMD may change their last bits, and a cell whose
only differences are such numbers keeps its current text.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import tokenize
from typing import Any

import numpy as np

from . import assignments
from .spec import PACKAGE, Assignment, Case, Function, GradeCell, ManualCell

HELPERS_ID = "test_helpers"
WIDTH = 92
#: Embedded numbers that agree to this relative tolerance are the same number
#: (far below the grading tolerance, 1e-6).
RTOL = 1e-12


def _module_body(text: str) -> str:
    """A checks module as notebook code: without its docstring, its ``import
    numpy as np`` (numpy comes from the notebook's setup cell; importing it twice
    upsets linters) and its imports from ``autograder`` (inlined before it)."""
    tree = ast.parse(text)
    drop: set[int] = set()
    for node in tree.body:
        docstring = (node is tree.body[0] and isinstance(node, ast.Expr)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
        numpy = isinstance(node, ast.Import) and [(a.name, a.asname) for a in node.names] == [
            ("numpy", "np")]
        ours = isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "autograder"
        if docstring or numpy or ours:
            drop.update(range(node.lineno, node.end_lineno + 1))
    lines = [ln for i, ln in enumerate(text.splitlines(), start=1) if i not in drop]
    body = "\n".join(lines).strip("\n")
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    # After the imports, one blank line before a statement, two before a definition.
    return re.sub(r"^((?:import|from) [^\n]*)\n\n\n(?!def |class |@)", r"\1\n\n", body,
                  flags=re.MULTILINE)


def helpers_source(assignment: Assignment) -> str:
    """The ``test_helpers`` cell: the engine's helpers (:mod:`autograder.checks`),
    then the assignment's checks, as one self-contained cell."""
    import inspect

    engine = _module_body((PACKAGE / "checks.py").read_text())
    own = _module_body(inspect.getsource(assignment.checks))
    return (
        "# Test helpers: the test cells below call check_<function>(result, expected).\n"
        "# Run this cell and leave it as it is.\n\n" + engine
        + f"\n\n\n# The checks of {assignment.name}.\n\n" + own
    )


def _number(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("booleans are not test inputs")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if np.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    if np.isnan(f):
        raise ValueError("cannot embed NaN")
    return repr(f)


def _wrap(items: list[str], indent: str) -> str:
    lines, line = [], ""
    for item in items:
        piece = item + ","
        if line and len(indent) + len(line) + 1 + len(piece) > WIDTH:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\n".join(indent + ln for ln in lines)


def array_literal(a: np.ndarray, indent: str = "") -> str:
    """``np.array([...])`` that evaluates to exactly ``a`` (values and dtype kind;
    infinities as ``np.inf``)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _number(a[()])
    if a.ndim == 1:
        flat = "np.array([" + ", ".join(_number(v) for v in a) + "])"
        if len(indent) + len(flat) <= WIDTH:
            return flat
        return "np.array([\n" + _wrap([_number(v) for v in a], indent + "    ") + f"\n{indent}])"
    if a.ndim == 2:
        rows = ["[" + ", ".join(_number(v) for v in row) + "]" for row in a]
        return "np.array([\n" + "\n".join(f"{indent}    {r}," for r in rows) + f"\n{indent}])"
    if a.ndim == 3:  # e.g. covariance matrices (K, d, d): one block per matrix
        blocks = []
        for matrix in a:
            rows = "\n".join(f"{indent}        [" + ", ".join(_number(v) for v in row) + "],"
                             for row in matrix)
            blocks.append(f"{indent}    [\n{rows}\n{indent}    ],")
        return "np.array([\n" + "\n".join(blocks) + f"\n{indent}])"
    raise ValueError(f"cannot render an array with {a.ndim} dimensions")


def _value_literal(value: Any) -> str:
    if isinstance(value, dict):
        items = []
        for key, v in value.items():
            rendered = "None" if v is None else (
                array_literal(v, "    ") if isinstance(v, np.ndarray) else _number(v)
            )
            items.append(f"    {key!r}: {rendered},")
        return "{\n" + "\n".join(items) + "\n}"
    if isinstance(value, tuple):
        return "(\n" + "\n".join(f"    {array_literal(v, '    ')}," for v in value) + "\n)"
    if isinstance(value, np.ndarray):
        return array_literal(value)
    return _number(value)


def case_source(cell: GradeCell, case: Case, expected: Any, graded: Function) -> str:
    """The lines of one test case: inputs, expected result, the call to the check."""
    names = graded.arguments
    lines = [f"# {case.description}"]
    for name, arg in zip(names, case.args, strict=True):
        lines.append(f"{name} = {case.code.get(name) or array_literal(arg)}")
    call = ", ".join(names)
    if case.kwargs:
        call += ", " + ", ".join(f"{k}={_number(v)}" for k, v in case.kwargs.items())
    lines.append(f"expected = {_value_literal(expected)}")
    options = "".join(f", {k}={_number(v)}" for k, v in case.options.items())
    lines.append(f"{graded.check.__name__}({cell.function}({call}), expected{options})")
    return "\n".join(lines)


def test_cell_source(cell: GradeCell, expected: list[Any], graded: Function) -> str:
    """The whole test cell of ``cell`` (visible cases, then the hidden block)."""
    plural = "s" if cell.points != 1 else ""
    head = [f"# Tests of {cell.title} ({cell.points} point{plural})."]
    visible = [(c, e) for c, e in zip(cell.cases, expected, strict=True) if c.visible]
    hidden = [(c, e) for c, e in zip(cell.cases, expected, strict=True) if not c.visible]
    if visible:
        head.append(f"# Hidden tests also check: {cell.hidden_summary}.")
    else:
        head.append(f"# All the tests of this cell are hidden: {cell.hidden_summary}.")
    parts = ["\n".join(head)]
    parts += [case_source(cell, c, e, graded) for c, e in visible]
    if hidden:
        block = "\n\n".join(case_source(cell, c, e, graded) for c, e in hidden)
        parts.append(f"### BEGIN HIDDEN TESTS\n{block}\n### END HIDDEN TESTS")
    return "\n\n".join(parts)


def _tokens(text: str) -> list[tuple[int, str]] | None:
    try:
        return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)]
    except (tokenize.TokenError, SyntaxError):
        return None


def _close(a: str, b: str, rtol: float) -> bool:
    x, y = float(ast.literal_eval(a)), float(ast.literal_eval(b))
    return x == y or abs(x - y) <= rtol * max(abs(x), abs(y))


def same_up_to_numbers(old: str, new: str, rtol: float = RTOL) -> bool:
    """Whether ``old`` and ``new`` are the same text except for numbers that
    agree to ``rtol`` (the last bits that BLAS and SIMD change)."""
    if old == new:
        return True
    a, b = _tokens(old), _tokens(new)
    if a is None or b is None or len(a) != len(b):
        return False
    return all(
        s == t or (kind == other == tokenize.NUMBER and _close(s, t, rtol))
        for (kind, s), (other, t) in zip(a, b, strict=True)
    )


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def manual_cell_source(cell: ManualCell) -> str:
    """A written answer's cell: the model answer and the rubric, both removed
    from the release (nbgrader puts "YOUR ANSWER HERE" in their place)."""
    rubric = "\n".join(f"- {p} point{'s' if p != 1 else ''}: {text}" for p, text in cell.rubric)
    plural = "s" if cell.points != 1 else ""
    return (f"### BEGIN SOLUTION\n{cell.answer.strip()}\n\n"
            f"**Rubric ({cell.points} point{plural}, graded by hand).**\n\n{rubric}\n"
            "### END SOLUTION")


def render(nb: Any, assignment: Assignment | str,
           expected: dict[str, list[Any]] | None = None) -> Any:
    """A copy of ``nb`` with its generated cells rewritten from the declaration
    (a test cell whose only differences are numbers equal to :data:`RTOL` keeps
    its text)."""
    assignment = assignments.resolve(assignment)
    cells = assignment.cells()
    if expected is None:
        expected = assignment.expected(cells)
    out = copy.deepcopy(nb)
    by_id: dict[str, list[dict]] = {}
    for cell in out["cells"]:
        gid = _grade_id(cell)
        if gid:
            by_id.setdefault(gid, []).append(cell)
    problems = [f"{gid}: {len(cells)} cells" for gid, cells in by_id.items() if len(cells) > 1]
    for gid in (HELPERS_ID, *(c.grade_id for c in cells), *assignment.manual_ids):
        if gid not in by_id:
            problems.append(f"{gid}: missing")
    if problems:
        raise ValueError(f"source notebook of {assignment.name}: " + "; ".join(problems))
    by_id[HELPERS_ID][0]["source"] = helpers_source(assignment)
    for spec_cell in cells:
        cell = by_id[spec_cell.grade_id][0]
        meta = cell["metadata"]["nbgrader"]
        if cell["cell_type"] != "code" or not meta.get("grade") or meta.get("solution"):
            raise ValueError(f"source notebook of {assignment.name}: {spec_cell.grade_id} is "
                             "not an autograded test cell")
        meta["points"] = spec_cell.points
        text = test_cell_source(spec_cell, expected[spec_cell.grade_id],
                                assignment.function(spec_cell.function))
        if not same_up_to_numbers(cell["source"], text):
            cell["source"] = text
    for manual in assignment.manual:
        cell = by_id[manual.grade_id][0]
        if cell["cell_type"] != "markdown":
            raise ValueError(f"source notebook of {assignment.name}: {manual.grade_id} is not "
                             "a markdown cell")
        cell["metadata"]["nbgrader"] = {
            "grade": True, "grade_id": manual.grade_id, "locked": False,
            "points": manual.points, "schema_version": 3, "solution": True, "task": False,
        }
        cell["source"] = manual_cell_source(manual)
    return out


def main(names: list[str] | None = None, check: bool = False) -> int:
    """Rewrite (or, with ``check``, compare) the source notebooks of ``names``
    (default: every assignment); 1 when one is out of date."""
    import nbformat

    status = 0
    for name in names or assignments.names():
        assignment = assignments.get(name)
        path = assignment.source_notebook
        current = path.read_text()
        nb = nbformat.reads(current, as_version=4)
        text = nbformat.writes(render(nb, assignment)) + "\n"
        if text == current:
            print(f"{path} is up to date")
        elif check:
            print(f"{path} is out of date: run python -m autograder build-source {name}")
            status = 1
        else:
            path.write_text(text)
            print(f"wrote {path}")
    return status
