"""Finding the submissions: a folder of student folders, or an LMS zip.

A folder ``SUBMISSIONS`` holds one sub-folder per student id, containing
``poisson_mixture.ipynb`` directly or in a ``poisson_mixture/`` folder (the
layout of nbgrader's ``submitted/`` directory). When the notebook is missing
but the folder holds exactly one other notebook (a renamed download such as
``poisson_mixture (1).ipynb``), that one is graded and the status says so.

A ``.zip`` file is what a learning management system exports. It goes
through nbgrader's own ``zip_collect`` (in a temporary course directory), whose
``FileNameCollectorPlugin`` takes the student id and the notebook name from
each file name with a regular expression. The default is the one of
nbgrader's documentation, for files named like
``poisson_mixture_jdoe_attempt_2024-03-01-10-00-00_poisson_mixture.ipynb``::

    .*_(?P<student_id>\\w+)_attempt_(?P<timestamp>[0-9\\-]+)_(?P<file_id>.*)

(``--named-regexp`` sets another one; it must define the groups
``student_id`` and ``file_id``). When a student submitted several times,
``zip_collect`` keeps the file with the latest timestamp.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .release import _venv_path
from .spec import ASSIGNMENT, NOTEBOOK

DEFAULT_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.*)"
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Submission:
    """Where one student's notebook is (``path`` is None when there is none)."""

    student_id: str
    path: Path | None
    problem: str | None = None
    note: str | None = None


def _notebooks(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.ipynb")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def find_in_folder(root: Path, exclude: tuple[Path, ...] = ()) -> list[Submission]:
    """One :class:`Submission` per student folder of ``root``, sorted by id.

    Folders in ``exclude`` (e.g. the output folder, if it was put there) and
    hidden folders are skipped.
    """
    skip = {Path(p).resolve() for p in exclude}
    found = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        sid = folder.name
        if sid.startswith((".", "__")) or folder.resolve() in skip:
            continue
        for candidate in (folder / NOTEBOOK, folder / ASSIGNMENT / NOTEBOOK):
            if candidate.is_file():
                found.append(Submission(sid, candidate))
                break
        else:
            others = _notebooks(folder)
            if len(others) == 1:
                name = others[0].relative_to(folder)
                found.append(Submission(sid, others[0],
                                        note=f"graded {str(name)!r} (expected {NOTEBOOK})"))
            elif others:
                names = ", ".join(str(p.relative_to(folder)) for p in others)
                found.append(Submission(sid, None, problem=f"no {NOTEBOOK} (found {names})"))
            else:
                found.append(Submission(sid, None, problem="no notebook submitted"))
    return found


def collect_zip(archive: Path, workdir: Path, named_regexp: str = DEFAULT_REGEXP) -> Path:
    """Run ``nbgrader zip_collect`` on ``archive``; returns the ``submitted`` folder.

    ``workdir`` becomes a throw-away nbgrader course directory.
    """
    course = Path(workdir)
    archive_dir = course / "downloaded" / ASSIGNMENT / "archive"
    archive_dir.mkdir(parents=True)
    shutil.copy(archive, archive_dir / Path(archive).name)
    release = course / "release" / ASSIGNMENT
    release.mkdir(parents=True)
    shutil.copy(PACKAGE / "release" / ASSIGNMENT / NOTEBOOK, release / NOTEBOOK)
    shutil.copy(PACKAGE / "nbgrader_config.py", course / "nbgrader_config.py")
    env = dict(os.environ, PATH=_venv_path(), JUPYTER_CONFIG_DIR=str(course / ".jupyter"))
    cmd = [
        sys.executable, "-m", "nbgrader", "zip_collect", ASSIGNMENT, "--force",
        f"--CourseDirectory.root={course}",
        f"--FileNameCollectorPlugin.named_regexp={named_regexp}",
    ]
    proc = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader zip_collect failed:\n{proc.stdout}{proc.stderr}")
    submitted = course / "submitted"
    if not submitted.is_dir() or not any(submitted.iterdir()):
        skipped = [ln for ln in proc.stderr.splitlines() if "Skipped" in ln or "match" in ln]
        raise RuntimeError(
            f"no submission in {archive} matched the file-name pattern {named_regexp!r} "
            "(set another one with --named-regexp).\n" + "\n".join(skipped[:10])
        )
    return submitted


def find_submissions(path: Path, named_regexp: str = DEFAULT_REGEXP,
                     workdir: Path | None = None,
                     exclude: tuple[Path, ...] = ()) -> list[Submission]:
    """Submissions from a folder or from a zip file (extracted under ``workdir``)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        workdir = Path(workdir or tempfile.mkdtemp(prefix="autograder-zip-"))
        return find_in_folder(collect_zip(path, workdir / "course", named_regexp))
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a folder of submissions nor a .zip file")
    return find_in_folder(path, exclude)
