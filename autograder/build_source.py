"""Regenerate the generated cells of the source notebook from the spec.

The instructor's notebook ``autograder/source/poisson_mixture/poisson_mixture.ipynb``
is written by hand (prose, solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION``), except two kinds of cells that this module writes:

* ``test_helpers``: the source of :mod:`autograder.checks`, so that the test
  cells run in a student's kernel, which has no course files;
* one test cell per entry of :data:`autograder.spec.SPEC`: its visible cases,
  then its hidden cases between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``, with the inputs and the expected values (computed by
  :mod:`solutions.poisson`) written out as literals.

The hidden blocks hold the public default cases (:data:`autograder.spec.SPEC`);
the grader draws its own from the course secret.

``python -m autograder build-source`` rewrites them; ``--check`` only reports
whether the notebook is up to date (a project test runs the same check). The
embedded numbers are compared with a relative tolerance of :data:`RTOL`: on
another machine BLAS and SIMD may change their last bits, and a cell whose
only differences are such numbers keeps its current text.
"""

from __future__ import annotations

import ast
import copy
import io
import tokenize
from typing import Any

import numpy as np

from .spec import ASSIGNMENT, NOTEBOOK, PACKAGE, SPEC, Case, GradeCell

SOURCE_NOTEBOOK = PACKAGE / "source" / ASSIGNMENT / NOTEBOOK
HELPERS_ID = "test_helpers"
WIDTH = 92
#: Embedded numbers that agree to this relative tolerance are the same number
#: (far below the grading tolerance, 1e-6).
RTOL = 1e-12


def helpers_source() -> str:
    """The ``test_helpers`` cell: :mod:`autograder.checks` without its docstring."""
    text = (PACKAGE / "checks.py").read_text()
    body_start = ast.parse(text).body[0].end_lineno  # the module docstring
    # numpy comes from the notebook's setup cell (importing it twice upsets linters).
    body = "\n".join(text.splitlines()[body_start:]).strip("\n")
    body = body.replace("import itertools\n\nimport numpy as np\n", "import itertools\n")
    return (
        "# Test helpers: the test cells below call check_<function>(result, expected).\n"
        "# Run this cell and leave it as it is.\n\n" + body
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


def case_source(cell: GradeCell, case: Case, expected: Any) -> str:
    """The lines of one test case: inputs, expected result, the call to the check."""
    names = cell.graded.arguments
    lines = [f"# {case.description}"]
    for name, arg in zip(names, case.args, strict=True):
        lines.append(f"{name} = {case.code.get(name) or array_literal(arg)}")
    call = ", ".join(names)
    if case.kwargs:
        call += ", " + ", ".join(f"{k}={_number(v)}" for k, v in case.kwargs.items())
    lines.append(f"expected = {_value_literal(expected)}")
    options = "".join(f", {k}={_number(v)}" for k, v in case.options.items())
    lines.append(f"{cell.graded.check.__name__}({cell.function}({call}), expected{options})")
    return "\n".join(lines)


def test_cell_source(cell: GradeCell, expected: list[Any]) -> str:
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
    parts += [case_source(cell, c, e) for c, e in visible]
    if hidden:
        block = "\n\n".join(case_source(cell, c, e) for c, e in hidden)
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


def render(nb: Any, expected: dict[str, list[Any]] | None = None) -> Any:
    """A copy of ``nb`` with its generated cells rewritten from the spec (a test
    cell whose only differences are numbers equal to :data:`RTOL` keeps its text)."""
    if expected is None:
        from .reference import all_expected

        expected = all_expected()
    out = copy.deepcopy(nb)
    by_id: dict[str, list[dict]] = {}
    for cell in out["cells"]:
        gid = _grade_id(cell)
        if gid:
            by_id.setdefault(gid, []).append(cell)
    problems = [f"{gid}: {len(cells)} cells" for gid, cells in by_id.items() if len(cells) > 1]
    for gid in (HELPERS_ID, *(c.grade_id for c in SPEC)):
        if gid not in by_id:
            problems.append(f"{gid}: missing")
    if problems:
        raise ValueError("source notebook: " + "; ".join(problems))
    by_id[HELPERS_ID][0]["source"] = helpers_source()
    for spec_cell in SPEC:
        cell = by_id[spec_cell.grade_id][0]
        meta = cell["metadata"]["nbgrader"]
        if cell["cell_type"] != "code" or not meta.get("grade") or meta.get("solution"):
            raise ValueError(f"source notebook: {spec_cell.grade_id} is not an autograded test cell")
        meta["points"] = spec_cell.points
        text = test_cell_source(spec_cell, expected[spec_cell.grade_id])
        if not same_up_to_numbers(cell["source"], text):
            cell["source"] = text
    return out


def main(check: bool = False) -> int:
    """Rewrite (or, with ``check``, compare) the source notebook; 1 when out of date."""
    import nbformat

    current = SOURCE_NOTEBOOK.read_text()
    nb = nbformat.reads(current, as_version=4)
    text = nbformat.writes(render(nb)) + "\n"
    if text == current:
        print(f"{SOURCE_NOTEBOOK} is up to date")
        return 0
    if check:
        print(f"{SOURCE_NOTEBOOK} is out of date: run python -m autograder build-source")
        return 1
    SOURCE_NOTEBOOK.write_text(text)
    print(f"wrote {SOURCE_NOTEBOOK}")
    return 0
