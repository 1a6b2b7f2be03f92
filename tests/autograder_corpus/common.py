"""What every assignment's corpus shares: expectations and notebook surgery.

A corpus builder ``autograder_corpus/<name>/build.py`` defines
``build(dest) -> dict[str, Expected]``: it writes one folder per student under
``dest`` and says what each must get. The points come from the declaration
(:func:`full`, :func:`without`), never typed by hand.
"""

from __future__ import annotations

import copy
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.report import BY_HAND
from autograder.spec import Assignment


@dataclass
class Expected:
    """What one submission must get: points per grade cell, status, flag categories.

    ``read`` is False when the notebook cannot be read (nothing to grade by
    hand); by default, when the submission is flagged ``invalid submission``
    (what the grader flags exactly then).
    """

    points: dict[str, int]
    status: str = "ok"
    flags: set[str] = field(default_factory=set)
    read: bool | None = None

    def __post_init__(self) -> None:
        if self.read is None:
            self.read = "invalid submission" not in self.flags

    @property
    def score(self) -> int:
        return sum(self.points.values())


def full(assignment: Assignment) -> dict[str, int]:
    """Full marks: every grade cell's points."""
    return {c.grade_id: c.points for c in assignment.cells()}


def tests_of(assignment: Assignment) -> dict[str, tuple[str, ...]]:
    """The grade cells of each graded function."""
    return {f.name: tuple(c.grade_id for c in assignment.cells() if c.function == f.name)
            for f in assignment.functions}


def without(assignment: Assignment, *functions_or_tests: str) -> dict[str, int]:
    """Full marks except for the given functions (all their grade cells) or grade cells."""
    points, of = full(assignment), tests_of(assignment)
    for name in functions_or_tests:
        for test in of.get(name, (name,)):
            if test not in points:
                raise KeyError(f"{name} is neither a graded function nor a grade cell")
            points[test] = 0
    return points


def zero(assignment: Assignment) -> dict[str, int]:
    return dict.fromkeys(full(assignment), 0)


def expected_row(assignment: Assignment, student_id: str, exp: Expected) -> dict[str, str]:
    """The ``grades.csv`` row ``exp`` stands for."""
    row = {"student_id": student_id, "score": str(exp.score),
           "max_score": str(assignment.max_score), "status": exp.status,
           **{k: str(v) for k, v in exp.points.items()}}
    if assignment.manual:
        row.update(dict.fromkeys(assignment.manual_ids, ""))
        row[BY_HAND] = "; ".join(f"{m.grade_id} ({m.points} point{'s' if m.points != 1 else ''})"
                                 for m in assignment.manual) if exp.read else ""
    return row


# --------------------------------------------------------------------------
# notebooks


def cell_text(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def release(assignment: Assignment) -> dict:
    """The student notebook, as students download it."""
    return json.loads(assignment.release_notebook.read_text())


def index_of(nb: dict, gid: str) -> int:
    """0-based position of the cell ``gid``."""
    for i, cell in enumerate(nb["cells"]):
        if grade_id(cell) == gid:
            return i
    raise KeyError(gid)


def reference_code(assignment: Assignment) -> dict[str, str]:
    """The instructor's solution of each solution code cell, markers removed."""
    nb = json.loads(assignment.source_notebook.read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            lines = cell_text(cell).splitlines()
            out[meta["grade_id"]] = "\n".join(
                ln for ln in lines if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            )
    return out


def fill(nb: dict, codes: dict[str, str]) -> dict:
    """Put ``codes[grade_id]`` in the cells named by ``grade_id``."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if gid in codes:
            cell["source"] = codes[gid]
    return nb


def new_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": "student-added",
            "metadata": {}, "outputs": [], "source": source}


def insert_after(nb: dict, gid: str, source: str) -> tuple[dict, int]:
    """A copy with a new code cell after ``gid``; returns its 1-based number."""
    nb = copy.deepcopy(nb)
    position = index_of(nb, gid) + 1
    nb["cells"].insert(position, new_cell(source))
    return nb, position + 1


def solved(assignment: Assignment, **overrides: str) -> dict:
    """The release with the instructor's solution, except ``overrides`` (by grade id)."""
    codes = reference_code(assignment)
    codes.update({k: textwrap.dedent(v).strip("\n") for k, v in overrides.items()})
    return fill(release(assignment), codes)


def stub(name: str, args: str) -> str:
    """A solution cell as released: the function ``name(args)`` not written yet."""
    return f"def {name}({args}):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def dumps(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


# --------------------------------------------------------------------------
# writing a corpus, and cheats every assignment's corpus has


def write(dest: Path, student_id: str, nb: dict | bytes | None, name: str) -> None:
    """One submission: ``dest/<student_id>/<name>`` (no file when ``nb`` is None)."""
    folder = Path(dest) / student_id
    folder.mkdir(parents=True)
    if nb is not None:
        (folder / name).write_bytes(dumps(nb) if isinstance(nb, dict) else nb)


def main(build: Callable[[Path], dict[str, Expected]], module: str,
         argv: list[str] | None = None) -> int:
    """``python -m <module> DEST``: write the corpus, print what each must get."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(f"usage: python -m {module} DEST", file=sys.stderr)
        return 2
    for sid, exp in build(Path(argv[0])).items():
        print(f"{sid}: {exp.score}  {exp.status}  {sorted(exp.flags)}")
    return 0


def cheat_read_source(assignment: Assignment, grade_ids: tuple[str, ...]) -> str:
    """A cell that looks for the instructor's source notebook (its path in the
    repository, and where it sits relative to an nbgrader course's submission
    folders) and executes its solution cells ``grade_ids``."""
    name = assignment.name
    paths = [str(assignment.source_notebook),
             *(f"{up}source/{name}/{assignment.notebook}" for up in ("../../../", "../../", "../"))]
    return f"""
import json, os

for path in {paths!r}:
    if os.path.exists(path):
        with open(path) as f:
            for cell in json.load(f)["cells"]:
                meta = cell["metadata"].get("nbgrader", {{}})
                if meta.get("grade_id") in {tuple(grade_ids)!r}:
                    exec("".join(cell["source"]), globals())
        break
"""


def lookup_table_cheat(assignment: Assignment) -> tuple[str, dict[str, str]]:
    """A cell holding the public default answer of every case (visible and
    hidden), which anyone can compute from the repository (the declaration and
    ``solutions/``), keyed by function and arguments; and for each graded
    function a stub that answers from it."""
    cells = assignment.cells(None)
    expected = assignment.expected(cells)
    table = {}
    for cell in cells:
        outputs = assignment.function(cell.function).outputs
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            key = json.dumps([cell.function, [np.asarray(a).tolist() for a in case.args],
                              sorted(case.kwargs.items())])
            if cell.function == "em":  # its parameters, then the objective's trace
                *params, trace = outputs
                values = list(want[f"{trace}_head"])
                if want["n_iter"] is None:
                    values.append(want[f"{trace}_final"])
                value = [np.asarray(want[p]).tolist() for p in params] + [values]
            elif isinstance(want, tuple):
                value = [np.asarray(w).tolist() for w in want]
            else:
                value = np.asarray(want).tolist()
            table[key] = value
    source = ("import json\n\nTABLE = json.loads(" + repr(json.dumps(table)) + ")\n\n\n"
              "def lookup(name, *args, **kwargs):\n"
              "    key = json.dumps([name, [np.asarray(a).tolist() for a in args], "
              "sorted(kwargs.items())])\n"
              "    return TABLE[key]\n")
    stubs = {}
    for f in assignment.functions:
        args = ", ".join(f.arguments)
        answer = f"lookup({f.name!r}, {args}, **kwargs)"
        body = f"tuple(np.array(v) for v in {answer})" if f.outputs else f"np.array({answer})"
        stubs[f.name] = f"def {f.name}({args}, **kwargs):\n    return {body}\n"
    return source, stubs
