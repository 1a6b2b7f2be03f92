"""The book: a cold ``make book`` and a rebuild with nothing changed.

``make book`` runs ``jupyter-book build . -W -n --keep-going``. The benchmark
runs that command in a temporary copy of the repository (without ``.venv``,
``_build``, ``.git`` and caches), so the real ``_build`` and its notebook
cache are never touched:

* **cold**: no ``_build`` at all, so every chapter is executed and every page
  written (one run: see ``COLD_REPEATS``);
* **rebuild**: the same command again in a built copy, nothing changed
  (Sphinx re-reads nothing, myst-nb's cache holds every notebook's outputs).

A cold build executes every chapter (tens of seconds), so quick mode skips
this benchmark and says so in its row.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import REPO, Config, Row, log, median

NAME = "book"
IGNORE = (
    ".venv", "_build", ".git", ".pytest_cache", ".hypothesis", ".ruff_cache", "__pycache__",
    "*.pyc", ".ipynb_checkpoints", "results", ".work", "grades-out",
)  # fmt: skip
# A cold build executes every chapter: about 1.5 min of CPU, so a single one
# (the full run must fit in ~15 minutes); rebuilds are cheap, so three.
COLD_REPEATS, REBUILD_REPEATS = 1, 3
TARGET_REBUILD_S = 15.0


def copy_repo(dest: Path) -> Path:
    """A copy of the repository's sources (no venv, build output or caches) under dest."""
    root = dest / "repo"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(*IGNORE), symlinks=True)
    return root


def build(root: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of ``jupyter-book build . -W -n --keep-going`` in root."""
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        ".",
        "-W",
        "-n",
        "--keep-going",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc


def _failure(proc: subprocess.CompletedProcess) -> str:
    lines = [
        ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "rror" in ln
    ]
    return f"ERROR: build failed (exit {proc.returncode}): " + " / ".join(lines[-3:])[:300]


def run(cfg: Config) -> list[Row]:
    if cfg.quick:
        reason = "skipped in quick mode (a cold build executes every chapter: tens of seconds)"
        return [
            Row(NAME, "cold build (make book)", None, "s", check=reason),
            Row(NAME, "rebuild, nothing changed", None, "s", check=reason,
                target=f"< {TARGET_REBUILD_S:g} s"),
        ]  # fmt: skip
    cold, rebuild, errors = [], [], []
    with tempfile.TemporaryDirectory(prefix="em-book-bench-") as tmp:
        for i in range(COLD_REPEATS):
            root = copy_repo(Path(tmp) / f"copy{i}")
            log(f"book: cold build {i + 1}/{COLD_REPEATS}")
            t, proc = build(root)
            cold.append(t)
            if proc.returncode:
                errors.append(_failure(proc))
        for i in range(REBUILD_REPEATS):
            log(f"book: rebuild {i + 1}/{REBUILD_REPEATS}")
            t, proc = build(root)  # the last cold copy, built
            rebuild.append(t)
            if proc.returncode:
                errors.append(_failure(proc))
    check = errors[0] if errors else "builds succeed (exit 0)"
    t_cold, t_re = median(cold), median(rebuild)
    return [
        Row(NAME, "cold build (make book)", t_cold, "s", check=check,
            notes=f"{COLD_REPEATS} run(s), each in a fresh copy; times {[round(t, 1) for t in cold]}",
            extra={"times_s": cold}),
        Row(NAME, "rebuild, nothing changed", t_re, "s", check=check,
            target=f"< {TARGET_REBUILD_S:g} s", met=bool(not errors and t_re < TARGET_REBUILD_S),
            notes=f"{REBUILD_REPEATS} repeats; times {[round(t, 1) for t in rebuild]}",
            extra={"times_s": rebuild}),
    ]  # fmt: skip
