"""Reading a submitted notebook and deciding which code runs.

A submission is matched cell by cell against the instructor's source notebook
through nbgrader's ``grade_id``:

* test cells (nbgrader ``grade`` without ``solution``) are never run: the
  grader judges the functions itself from :mod:`autograder.spec`. A deleted,
  edited, retyped (code ↔ markdown) or duplicated test cell is therefore
  "restored" by construction; each is recorded for the status and the flags;
* read-only cells (``locked``, e.g. the imports) run in their source version;
  a deleted or edited one is restored the same way, except that import
  statements the student added to it run right after it (a student who adds
  ``from scipy.special import xlogy`` to the setup cell gets it);
* the student's solution cells and any cell the student added run as
  submitted, in notebook order;
* source cells whose metadata says ``"autograder": {"run": false}`` (the test
  helpers, the horse-kick part) are not run.

A test or read-only cell counts as edited when the code it executes changed:
both versions are compared as syntax trees (comments, blank lines and layout do
not count) whose numbers may differ in their last bits (a re-release computed
on another machine), so rewording a comment flags nothing while changing what
a test does still does.

Notebooks are read as UTF-8 (with or without a byte-order mark), UTF-16 or
UTF-32 (as Windows tools save them).

Nothing here runs student code; it only reads JSON.
"""

from __future__ import annotations

import ast
import codecs
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Numbers in a test cell that agree to this relative tolerance are the same.
NUMBER_RTOL = 1e-9


class InvalidNotebook(ValueError):
    """The bytes are not a usable notebook; the message is the status text."""


@dataclass(frozen=True)
class SourceCell:
    grade_id: str
    kind: str  # "test", "locked", "solution", "answer" or "other"
    cell_type: str
    source: str
    run: bool
    position: int
    nbgrader: dict[str, Any]


@dataclass(frozen=True)
class SourceNotebook:
    """The instructor's notebook, reduced to what the matching needs."""

    cells: tuple[SourceCell, ...]

    @property
    def by_id(self) -> dict[str, SourceCell]:
        return {c.grade_id: c for c in self.cells}


@dataclass(frozen=True)
class RunCell:
    """A cell of code to execute: its label (for messages) and source."""

    label: str
    source: str
    from_student: bool
    first_line: str


@dataclass
class Plan:
    """What to run, and what the matching found."""

    cells: list[RunCell] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cell_source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(str(s) for s in src)
    return str(src)


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata")
    if not isinstance(meta, dict):
        return {}
    nbg = meta.get("nbgrader")
    return nbg if isinstance(nbg, dict) else {}


def _kind(nbg: dict[str, Any], cell_type: str) -> str:
    if nbg.get("grade") and not nbg.get("solution"):
        return "test" if cell_type == "code" else "other"
    if nbg.get("solution"):
        return "solution" if cell_type == "code" else "answer"
    if nbg.get("locked"):
        return "locked"
    return "other"


def load_source(path: Path) -> SourceNotebook:
    """The source notebook's nbgrader cells."""
    nb = json.loads(Path(path).read_text())
    cells = []
    for position, cell in enumerate(nb["cells"]):
        nbg = _nbgrader(cell)
        gid = nbg.get("grade_id")
        if not gid:
            continue
        run = cell.get("metadata", {}).get("autograder", {}).get("run", True)
        cells.append(SourceCell(
            gid, _kind(nbg, cell["cell_type"]), cell["cell_type"], cell_source(cell),
            bool(run), position, dict(nbg),
        ))
    return SourceNotebook(tuple(cells))


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> str:
    """The text of a notebook file: UTF-8, UTF-16 or UTF-32, by its byte-order
    mark or, without one, by where the zero bytes of its first character are
    (JSON text starts with an ASCII character, RFC 8259)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    head = data[:4]
    if len(head) == 4 and head[:3] == b"\0\0\0":
        return data.decode("utf-32-be")
    if len(head) == 4 and head[1:] == b"\0\0\0":
        return data.decode("utf-32-le")
    if len(head) >= 2 and head[0] == 0:
        return data.decode("utf-16-be")
    if len(head) >= 2 and head[1] == 0:
        return data.decode("utf-16-le")
    return data.decode("utf-8")


def parse(data: bytes) -> dict[str, Any]:
    """The notebook in ``data`` as a dict with a list of cells.

    Raises :class:`InvalidNotebook` with a short readable reason. Notebooks in
    format 3 are converted with nbformat; format 4 is read leniently (only the
    cell type, the source and the metadata of each cell matter here).
    """
    try:
        text = decode(data)
    except UnicodeDecodeError:
        raise InvalidNotebook("invalid notebook: not text (UTF-8, UTF-16 or UTF-32)") from None
    if not text.strip():
        raise InvalidNotebook("invalid notebook: empty file")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotebook(
            f"invalid notebook: not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(nb, dict):
        raise InvalidNotebook("invalid notebook: not a Jupyter notebook")
    major = nb.get("nbformat")
    if major != 4 and "worksheets" in nb:
        try:
            import nbformat

            nb = json.loads(nbformat.writes(nbformat.reads(json.dumps(nb), as_version=4)))
        except Exception as exc:
            raise InvalidNotebook(f"invalid notebook: cannot convert format {major} ({exc})") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise InvalidNotebook("invalid notebook: not a Jupyter notebook (no list of cells)")
    clean = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebook("invalid notebook: a cell has no valid cell_type")
        clean.append(cell)
    nb["cells"] = clean
    return nb


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""


def _visible(text: str) -> list[str]:
    """The lines a student sees: without the hidden tests (as nbgrader's
    ClearHiddenTests removes them), without trailing blanks."""
    lines, hidden = [], False
    for line in text.splitlines():
        marker = line.strip()
        if marker == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif marker == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def python_source(text: str) -> str:
    """Notebook syntax (``%magic``, ``!cmd``) as plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(text)
    except Exception:
        return text


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(python_source(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def executed_code(text: str) -> tuple[str, list[Any]] | None:
    """What a cell executes: its syntax tree without comments and layout, with
    its numbers apart (compared with a tolerance); None if it does not parse."""
    tree = _parse("\n".join(_visible(text)))
    if tree is None:
        return None
    numbers: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
            numbers.append(node.value)
            node.value = 0
    try:
        return ast.dump(tree), numbers
    except (RecursionError, MemoryError):
        return None


def _same_number(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, complex) or isinstance(b, complex):
        return False
    return math.isclose(a, b, rel_tol=NUMBER_RTOL, abs_tol=0.0)


@functools.lru_cache(maxsize=256)
def _released_code(source: str) -> tuple[str, list[Any]] | None:
    # The source's cells are the same for the whole class: parsed once.
    return executed_code(source)


def _same(student: str, source: str) -> bool:
    """Whether a test or read-only cell executes the same code as released."""
    visible = _visible(student)
    if visible == _visible(source):  # untouched (the common case): same code, no parsing
        return True
    mine, theirs = executed_code(student), _released_code(source)
    if theirs is None:
        return _visible(student) == _visible(source)
    if mine is None or mine[0] != theirs[0] or len(mine[1]) != len(theirs[1]):
        return False
    return all(_same_number(a, b) for a, b in zip(mine[1], theirs[1], strict=True))


def added_imports(student: str, source: str) -> tuple[str, bool]:
    """The top-level import statements of ``student`` that ``source`` lacks,
    as code, and whether the rest of the two cells executes the same code."""
    mine, theirs = _parse(student), _parse(source)
    if mine is None or theirs is None:
        return "", False
    imports = (ast.Import, ast.ImportFrom)
    try:
        released = {ast.dump(node) for node in theirs.body if isinstance(node, imports)}
        added = [ast.unparse(node) for node in mine.body
                 if isinstance(node, imports) and not getattr(node, "level", 0)
                 and ast.dump(node) not in released]
        rest = [ast.dump(node) for node in mine.body if not isinstance(node, imports)]
        rest_released = [ast.dump(node) for node in theirs.body if not isinstance(node, imports)]
    except (RecursionError, MemoryError):
        return "", False
    return "\n".join(added), rest == rest_released


def plan(nb: dict[str, Any], source: SourceNotebook) -> Plan:
    """Match the submission against the source notebook; decide what runs."""
    out = Plan()
    by_id = source.by_id
    seen: dict[str, int] = {}
    edited: dict[str, list[str]] = {"test": [], "locked": []}
    retyped: dict[str, list[str]] = {"test": [], "locked": [], "solution": []}
    unknown: list[str] = []
    present = {
        _nbgrader(c).get("grade_id") for c in nb["cells"] if _nbgrader(c).get("grade_id") in by_id
    }
    missing = [c for c in source.cells if c.grade_id not in present]
    pending = sorted(missing, key=lambda c: c.position)

    def restore_before(position: int | None) -> None:
        while pending and (position is None or pending[0].position < position):
            src = pending.pop(0)
            if src.kind == "locked" and src.cell_type == "code" and src.run:
                out.cells.append(RunCell(f"restored cell {src.grade_id}", src.source, False,
                                         _first_line(src.source)))

    for index, cell in enumerate(nb["cells"], start=1):
        nbg = _nbgrader(cell)
        gid = nbg.get("grade_id")
        ctype = cell["cell_type"]
        text = cell_source(cell)
        label = f"cell {index}"
        src = by_id.get(gid) if isinstance(gid, str) else None
        if src is None:
            if gid and (nbg.get("grade") or nbg.get("solution") or nbg.get("locked")):
                unknown.append(str(gid))
            if ctype == "code":
                out.cells.append(RunCell(label, text, True, _first_line(text)))
            continue
        restore_before(src.position)
        seen[gid] = seen.get(gid, 0) + 1
        duplicate = seen[gid] > 1
        if src.kind in ("test", "locked"):
            imports, only_imports = "", False
            runs = src.kind == "locked" and src.cell_type == "code" and src.run
            if ctype != src.cell_type:
                if not duplicate:
                    retyped[src.kind].append(gid)
            elif not duplicate and not _same(text, src.source):
                if runs:
                    imports, only_imports = added_imports(text, src.source)
                if not only_imports:
                    edited[src.kind].append(gid)
            if not duplicate and runs:
                out.cells.append(RunCell(f"{label} ({gid}, as released)", src.source, False,
                                         _first_line(src.source)))
                if imports:
                    out.cells.append(RunCell(f"{label} ({gid}, your added imports)", imports,
                                             True, _first_line(imports)))
                    out.notes.append(f"The import statements you added to the read-only cell "
                                     f"{gid} ran after it: " + "; ".join(imports.splitlines()))
        elif src.kind == "solution":
            if ctype != "code":
                if not duplicate:
                    retyped["solution"].append(gid)
            elif src.run:
                out.cells.append(RunCell(f"{label} ({gid})", text, True, _first_line(text)))
        # answers (markdown) and other nbgrader cells run nothing
    restore_before(None)

    deleted_tests = [c.grade_id for c in missing if c.kind == "test"]
    deleted_locked = [c.grade_id for c in missing if c.kind == "locked"]
    deleted_solutions = [c.grade_id for c in missing if c.kind == "solution"]
    duplicates = sorted(gid for gid, n in seen.items() if n > 1)

    def report(ids: list[str], template: str) -> None:
        if ids:
            text = template.format(n=len(ids), s="s" if len(ids) != 1 else "",
                                   ids=", ".join(ids))
            out.status.append(text)
            out.flags.append(f"notebook structure: {text}")

    report(deleted_tests, "restored {n} deleted test cell{s} ({ids})")
    report(edited["test"], "restored {n} edited test cell{s} ({ids})")
    report(retyped["test"], "restored {n} retyped test cell{s} ({ids})")
    report(deleted_locked, "restored {n} deleted read-only cell{s} ({ids})")
    report(edited["locked"], "restored {n} edited read-only cell{s} ({ids})")
    report(retyped["locked"], "restored {n} retyped read-only cell{s} ({ids})")
    report(duplicates, "duplicated cell id{s} ({ids})")
    report(sorted(set(unknown)), "unknown nbgrader cell id{s} ({ids})")
    if retyped["solution"]:
        ids = ", ".join(retyped["solution"])
        out.status.append(f"solution cells changed to markdown, not run: {ids}")
    if deleted_solutions:
        out.notes.append(
            "These solution cells are not in your notebook (their code may be elsewhere): "
            + ", ".join(deleted_solutions)
        )
    return out
