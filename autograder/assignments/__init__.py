"""The registry of assignments: one subpackage per assignment.

``autograder/assignments/<name>/__init__.py`` defines ``ASSIGNMENT``, an
:class:`autograder.spec.Assignment` whose ``name`` is ``<name>``. How to add
one: ``autograder/assignments/README.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from autograder.spec import Assignment

_HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def names() -> tuple[str, ...]:
    """The names of the assignments, sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(_HERE)])
                        if m.ispkg and _NAME.fullmatch(m.name)))


def get(name: str) -> Assignment:
    """The assignment called ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in names():
        raise ValueError(f"unknown assignment {name!r}; the assignments are: "
                         + ", ".join(names()))
    assignment = importlib.import_module(f"{__name__}.{name}").ASSIGNMENT
    if not isinstance(assignment, Assignment) or assignment.name != name:
        raise ValueError(f"autograder/assignments/{name}/__init__.py must define "
                         f"ASSIGNMENT = Assignment(name={name!r}, ...)")
    return assignment


def all_assignments() -> tuple[Assignment, ...]:
    """Every assignment, sorted by name."""
    return tuple(get(n) for n in names())


def resolve(assignment: Assignment | str) -> Assignment:
    """An :class:`Assignment` from itself or its name."""
    return assignment if isinstance(assignment, Assignment) else get(assignment)
