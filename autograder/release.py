"""``python -m autograder release [NAME ...]``: the student version of the notebooks.

nbgrader's ``generate_assignment`` runs in a temporary copy of the course
(``nbgrader_config.py`` and ``source/<name>/``), so it writes its gradebook and
folders there; only the resulting notebook is copied to
``autograder/release/<name>/<name>.ipynb``. The output is
normalised (no outputs, no execution counts, sorted keys) so that running the
command again gives the identical file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import assignments

PACKAGE = Path(__file__).resolve().parent

# Metadata that editors add and that would make the release differ run to run.
VOLATILE_NB = ("widgets", "toc", "varInspector", "celltoolbar")
VOLATILE_CELL = ("execution", "collapsed", "scrolled", "ExecuteTime")


def _venv_path() -> str:
    """PATH with this Python's scripts first: nbgrader runs ``alembic`` from PATH."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def _normalise(nb: dict) -> dict:
    for key in VOLATILE_NB:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb["cells"]:
        for key in VOLATILE_CELL:
            cell.get("metadata", {}).pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def generate(name: str) -> str:
    """Run ``generate_assignment`` for ``name`` in a temporary course; the notebook as text."""
    assignment = assignments.get(name)
    ASSIGNMENT, NOTEBOOK = assignment.name, assignment.notebook
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        root = Path(tmp)
        shutil.copy(PACKAGE / "nbgrader_config.py", root / "nbgrader_config.py")
        shutil.copytree(PACKAGE / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
        # The instructor's own Jupyter configuration must not change the release.
        env = dict(os.environ, PATH=_venv_path(), JUPYTER_CONFIG_DIR=str(root / ".jupyter"))
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
               f"--CourseDirectory.root={root}", "--log-level=WARN"]
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        produced = root / "release" / ASSIGNMENT / NOTEBOOK
        if proc.returncode != 0 or not produced.is_file():
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{proc.stdout}{proc.stderr}")
        nb = _normalise(json.loads(produced.read_text()))
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(names: list[str] | None = None, check: bool = False) -> int:
    """Write the release notebooks of ``names`` (default: every assignment), or,
    with ``check``, compare them; 1 when one is out of date."""
    status = 0
    for name in names or assignments.names():
        path = assignments.get(name).release_notebook
        text = generate(name)
        current = path.read_text() if path.is_file() else None
        if text == current:
            print(f"{path} is up to date")
        elif check:
            print(f"{path} is out of date: run python -m autograder release {name}")
            status = 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    return status
