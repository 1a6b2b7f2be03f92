"""Copy detection: submissions whose code is nearly the same as other code.

Each submission's student-written code (its solution cells and added cells,
with the code of ``%%writefile`` cells, without the cells left as released) is
reduced to the shape of its syntax trees: names, comments, docstrings, string
contents and layout are dropped, so renaming variables or rewording comments
changes nothing. Its fingerprint is the set of hashed runs of
:data:`K` consecutive nodes. Two fingerprints are compared by the fraction of
the smaller one found in the other, so copying a solution into a longer
notebook still shows.

Each submission is compared with every other, with the instructor's solution
(the source notebook's solution cells) and with the public reference
implementation in ``solutions/`` (the assignment's ``solutions`` module). A pair at or above :data:`THRESHOLD`
becomes a row of ``OUT/similarity.csv`` (``student_a, student_b, similarity,
what``: ``student_b`` is the other student's id, or ``instructor solution`` or
``solutions/``, which ``what`` names: ``student``, ``instructor solution`` or
``solutions/``) and a flag ``similarity: ...`` of each student involved.
Flags never change grades: an honest solution of a short exercise can be close
to the instructor's, so each row is something to look at, not a verdict.
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import notebook, scan
from .spec import PACKAGE

#: Nodes per shingle.
K = 6
#: Flag pairs whose similarity reaches this.
THRESHOLD = 0.9
#: Submissions with fewer shingles than this (almost no code of their own) are
#: not compared: any two of them look alike.
MIN_SIZE = 60
COLUMNS = ("student_a", "student_b", "similarity", "what")
INSTRUCTOR = "instructor solution"
SOLUTIONS = "solutions/"


@dataclass(frozen=True)
class Match:
    student_a: str
    student_b: str
    similarity: float
    what: str


def _labels(tree: ast.AST) -> list[str]:
    """Pre-order node labels without names, docstrings and string contents
    (an explicit stack: student code may nest deeper than the recursion limit)."""
    out: list[str] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        label = type(node).__name__
        if isinstance(node, ast.Constant):
            value = node.value
            label += ":" + (repr(value) if type(value) in (int, float, bool) or value is None
                            else type(value).__name__)
        elif isinstance(node, ast.Attribute):
            label += "." + node.attr  # the API used (np.log), not a student's name
        elif isinstance(node, ast.keyword):
            label += ":" + str(node.arg)
        out.append(label)
        children = list(ast.iter_child_nodes(node))
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            children = [c for c in children if c is not body[0]]  # the docstring
        stack.extend(reversed(children))
        stack.extend(reversed(scan.magic_bodies(node)))
    return out


def fingerprint(sources: Iterable[str]) -> frozenset[int]:
    """The hashed K-node runs of some Python sources (unparsable ones skipped)."""
    shingles: set[int] = set()
    for source in sources:
        try:
            labels = _labels(ast.parse(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for i in range(max(len(labels) - K + 1, 0)):
            run = "\0".join(labels[i:i + K]).encode()
            shingles.add(int.from_bytes(hashlib.blake2b(run, digest_size=8).digest(), "big"))
    return frozenset(shingles)


def score(a: frozenset[int], b: frozenset[int]) -> float:
    """The fraction of the smaller fingerprint found in the other one."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


@functools.lru_cache(maxsize=16)
def released_sources(assignment: str) -> frozenset[str]:
    """The cells of ``assignment``'s release notebook (what students start from)."""
    path = PACKAGE / "release" / assignment / f"{assignment}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(notebook.cell_source(c).strip() for c in nb["cells"])


def solutions_file(module: str) -> str:
    """``solutions.poisson`` -> ``solutions/poisson.py`` (relative to the repository)."""
    return module.replace(".", "/") + ".py"


def plan_code(cells: Iterable[notebook.RunCell], released: frozenset[str]) -> list[str]:
    """The code a student wrote, from a submission's plan: what runs of theirs,
    minus the cells left as released (:func:`released_sources`)."""
    return [notebook.python_source(c.source) for c in cells
            if c.from_student and c.source.strip() not in released]


def student_code(data: bytes, source: notebook.SourceNotebook,
                 released: frozenset[str]) -> list[str]:
    """:func:`plan_code` of a notebook's bytes (nothing for an unreadable one)."""
    try:
        cells = notebook.plan(notebook.parse(data), source).cells
    except (notebook.InvalidNotebook, RecursionError, MemoryError):
        return []
    return plan_code(cells, released)


def references(source: notebook.SourceNotebook,
               solutions: str | None = None) -> dict[str, frozenset[int]]:
    """Fingerprints of the instructor's solution and of the ``solutions`` module
    (e.g. ``"solutions.poisson"``) when given."""
    refs = {INSTRUCTOR: fingerprint(c.source for c in source.cells if c.kind == "solution"
                                    and c.cell_type == "code")}
    module = PACKAGE.parent / solutions_file(solutions) if solutions else None
    if module is not None and module.is_file():
        refs[SOLUTIONS] = fingerprint([module.read_text(encoding="utf-8")])
    return refs


def find_prints(prints: dict[str, frozenset[int]], refs: dict[str, frozenset[int]],
                threshold: float = THRESHOLD) -> list[Match]:
    """Pairs at or above ``threshold``: each student's fingerprint against the
    references and against every other student's, sorted.

    Students with the very same fingerprint (copies, or the same untouched
    code) are scored once per group: a class where many hand in the same
    code costs as many scores as it has distinct fingerprints, squared.
    """
    prints = {sid: fp for sid, fp in prints.items() if len(fp) >= MIN_SIZE}
    groups: dict[frozenset[int], list[str]] = {}
    for sid in sorted(prints):
        groups.setdefault(prints[sid], []).append(sid)
    distinct = list(groups)
    # Scores between distinct fingerprints (and with itself: 1 for a group's members).
    close: dict[frozenset[int], list[tuple[frozenset[int], float]]] = {
        fp: [(fp, 1.0)] if 1.0 >= threshold else [] for fp in distinct}
    for i, a in enumerate(distinct):
        for b in distinct[i + 1:]:
            s = score(a, b)
            if s >= threshold:
                close[a].append((b, s))
                close[b].append((a, s))
    matches = []
    for fp, members in groups.items():
        for name, ref in refs.items():
            s = score(fp, ref)
            if s >= threshold:
                matches += [Match(a, name, s, name) for a in members]
        for other, s in close[fp]:
            matches += [Match(a, b, s, "student") for a in members for b in groups[other]
                        if a < b]
    return sorted(matches, key=lambda m: (m.student_a, m.what != "student", m.student_b))


def find(codes: dict[str, list[str]], refs: dict[str, frozenset[int]],
         threshold: float = THRESHOLD) -> list[Match]:
    """:func:`find_prints` of each student's code."""
    return find_prints({sid: fingerprint(code) for sid, code in codes.items()}, refs,
                       threshold)


def similarity_csv(matches: list[Match], cell: Callable[[str], str] = str) -> str:
    """``similarity.csv``; ``cell`` cleans the student ids for a CSV cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in matches:
        writer.writerow((cell(m.student_a), cell(m.student_b), f"{m.similarity:.3f}", m.what))
    return buf.getvalue()


FLAG = "similarity:"
#: Similarity flags per student, the closest first; a last flag counts the rest
#: (all pairs stay in similarity.csv): a class that shares one solution would
#: otherwise give every student a flag per classmate.
MAX_FLAGS = 5


def _flag(match: Match, other: str, solutions: str | None) -> str:
    whom = f"student {other}" if match.what == "student" else f"the {match.what}"
    if match.what == SOLUTIONS and solutions:
        whom = solutions_file(solutions)
    return f"{FLAG} code {match.similarity:.0%} the same as {whom} (see similarity.csv)"


def flag_copies(results: list[Any], source: notebook.SourceNotebook,
                solutions: str | None = None) -> list[Match]:
    """Compare the whole class (each result's stored ``fingerprint``), replace
    every ``similarity`` flag by this comparison's, and return the matches.

    Each student gets a flag for the references their code matches, then for
    the closest classmates, :data:`MAX_FLAGS` in all, and one flag saying how
    many more there are. Run on the merged class, so a regrade of one student
    is compared with everyone, and flags of a pair that no longer matches
    disappear.
    """
    prints = {r.student_id: frozenset(r.fingerprint) for r in results}
    matches = find_prints(prints, references(source, solutions))
    found: dict[str, list[tuple[Match, str]]] = {}
    for m in matches:
        found.setdefault(m.student_a, []).append((m, m.student_b))
        if m.what == "student":
            found.setdefault(m.student_b, []).append((m, m.student_a))
    for r in results:
        r.flags = [f for f in r.flags if not f.startswith(FLAG)]
        mine = sorted(found.get(r.student_id, ()),
                      key=lambda x: (x[0].what == "student", -x[0].similarity, x[1]))
        r.flags += [_flag(m, other, solutions) for m, other in mine[:MAX_FLAGS]]
        if len(mine) > MAX_FLAGS:
            r.flags.append(f"{FLAG} and {len(mine) - MAX_FLAGS} more students at or above "
                           f"{THRESHOLD:.0%} (see similarity.csv)")
    return matches
