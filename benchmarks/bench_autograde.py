"""Autograding: ``python -m autograder grade`` against stock ``nbgrader autograde``.

**Submissions.** The autograder's test corpus (``tests/autograder_corpus/poisson_mixture/build.py``:
correct, naive, wrong, broken and cheating notebooks, 30 in all) plus copies of
its ten ordinary submissions (correct, naive and wrong ones, ``a01``–``a10``)
under new student ids: 40 submissions.

**Runs.** ``python -m autograder grade SUBMISSIONS --out OUT -j 2`` on all 40,
then, on the head-to-head set, ``-j 2``, ``-j 1`` and stock nbgrader:
a temporary course with the course's ``nbgrader_config.py`` (30 s cell
timeout), ``source/poisson_mixture/``, ``nbgrader generate_assignment`` (not
timed) and the submissions in ``submitted/<student>/poisson_mixture/``, then
``nbgrader autograde poisson_mixture`` (sequential), timed. Each run is a
fresh process, timed from start to exit, so start-up costs count on both sides.

**Head-to-head set.** Stock nbgrader cannot grade some submissions, or
cannot survive them without harm; they are left out of the comparison (both
sides grade the same remaining set) and the table says how many and why:
see ``NOT_HEAD_TO_HEAD``.

Repeats: nbgrader's sequential run takes minutes, so it runs once; ours
(tens of seconds) twice, the median is reported. The run on all 40 runs
once: its time is dominated by the infinite loop's 30 s timeout.

Quick mode grades 2 submissions (one correct, one wrong) once per side.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import REPO, Config, Row, log, median

NAME = "autograde"
ASSIGNMENT = "poisson_mixture"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
N_SUBMISSIONS = 40
TARGET_SPEEDUP = 1.8
OUR_REPEATS = 2

# Corpus submissions left out of the head-to-head comparison, by reason.
NOT_HEAD_TO_HEAD = {
    "b01_invalid_json": "no readable notebook",
    "b02_empty_file": "no readable notebook",
    "b03_not_a_notebook": "no readable notebook",
    "b04_no_notebook": "no readable notebook",
    "b05_renamed": "notebook under another name (nbgrader sees none)",
    "b06_infinite_loop": "infinite loop (nbgrader waits out its 30 s timeout)",
    "b07_os_exit": "os._exit kills nbgrader's kernel",
    "b08_memory_hog": "allocates 8 GiB (nbgrader has no memory limit)",
    # nbgrader 0.9.6 stops the whole run at it ("old version of the nbgrader
    # metadata format"): no later submission would be graded.
    "b10_duplicated_cells": "duplicated cell ids (nbgrader aborts the whole run)",
}
QUICK_SUBMISSIONS = ("a01_reference", "a05_wrong_log_pmf")


def build_submissions(dest: Path, quick: bool) -> list[str]:
    """The corpus plus copies of its ordinary submissions; the student ids."""
    from tests.autograder_corpus.poisson_mixture.build import build

    corpus = dest.parent / "corpus"
    ids = sorted(build(corpus))
    if quick:
        ids = list(QUICK_SUBMISSIONS)
    extra = [s for s in ids if s.startswith("a")]
    chosen = [(s, s) for s in ids]
    i = 0
    while not quick and len(chosen) < N_SUBMISSIONS:
        src = extra[i % len(extra)]
        chosen.append((src, f"d{len(chosen) + 1:02d}_copy_of_{src}"))
        i += 1
    for src, sid in chosen:
        shutil.copytree(corpus / src, dest / sid)
    return [sid for _, sid in chosen]


def _env(root: Path) -> dict[str, str]:
    # nbgrader runs alembic from PATH; the instructor's Jupyter config must not interfere.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, JUPYTER_CONFIG_DIR=str(root / ".jupyter"))


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc.stdout + proc.stderr, proc.returncode


def grade_ours(subs: Path, ids: list[str], out: Path, jobs: int) -> tuple[float, int]:
    """Wall time of ``python -m autograder grade`` on ``ids``; how many got a grade row."""
    folder = out.with_name(out.name + "-in")
    folder.mkdir()
    for sid in ids:
        shutil.copytree(subs / sid, folder / sid)
    cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out),
           "-j", str(jobs), "--no-progress"]  # fmt: skip
    seconds, output, rc = _run(cmd, REPO)
    if rc != 0:
        raise RuntimeError(f"autograder grade failed (exit {rc}): {output[-1500:]}")
    with (out / "grades.csv").open(newline="", encoding="utf-8") as f:
        graded = sum(1 for _ in csv.DictReader(f))
    return seconds, graded


def nbgrader_course(root: Path) -> dict[str, str]:
    """A course like the autograder's: config, source, generated assignment."""
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "autograder" / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    env = _env(root)
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
           f"--CourseDirectory.root={root}", "--log-level=WARN"]  # fmt: skip
    _, output, rc = _run(cmd, root, env)
    if rc != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed: {output[-1500:]}")
    return env


def grade_nbgrader(subs: Path, ids: list[str], root: Path) -> tuple[float, int, str]:
    """Wall time of ``nbgrader autograde`` on ``ids``, how many it graded, its last error."""
    root.mkdir()
    env = nbgrader_course(root)
    for sid in ids:
        folder = root / "submitted" / sid / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(subs / sid / NOTEBOOK, folder / NOTEBOOK)
    cmd = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT,
           f"--CourseDirectory.root={root}", "--log-level=WARN"]  # fmt: skip
    seconds, output, _ = _run(cmd, root, env)
    graded = sum(1 for sid in ids if (root / "autograded" / sid / ASSIGNMENT / NOTEBOOK).is_file())
    errors = [line for line in output.splitlines() if "ERROR" in line]
    return seconds, graded, errors[-1][:200] if errors else ""


def run(cfg: Config) -> list[Row]:
    # nbgrader grades the head-to-head set sequentially in minutes: one run (its
    # figure is already an average over 31 submissions); our runs take tens of
    # seconds, so two each, interleaved -j 2, -j 1.
    repeats = 1 if cfg.quick else OUR_REPEATS
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="em-autograde-bench-") as tmp:
        tmp_path = Path(tmp)
        subs = tmp_path / "submissions"
        subs.mkdir()
        ids = build_submissions(subs, cfg.quick)
        h2h = [s for s in ids if s not in NOT_HEAD_TO_HEAD]
        excluded = [s for s in ids if s in NOT_HEAD_TO_HEAD]
        runs = {"ours_all_j2": [], "ours_j2": [], "ours_j1": [], "nbgrader": []}
        graded = {}
        if not cfg.quick:
            log(f"autograde: ours -j 2 on all {len(ids)}")
            t, graded["ours_all_j2"] = grade_ours(subs, ids, tmp_path / "all", 2)
            runs["ours_all_j2"].append(t)
        log(f"autograde: nbgrader on {len(h2h)}")
        t, graded["nbgrader"], nb_error = grade_nbgrader(subs, h2h, tmp_path / "course")
        runs["nbgrader"].append(t)
        for r in range(repeats):
            for jobs in (2, 1):
                log(f"autograde: ours -j {jobs} on {len(h2h)} ({r + 1}/{repeats})")
                t, graded[f"ours_j{jobs}"] = grade_ours(subs, h2h, tmp_path / f"h{jobs}_{r}", jobs)
                runs[f"ours_j{jobs}"].append(t)

    per = {
        k: median(v) / (len(ids) if k == "ours_all_j2" else len(h2h)) for k, v in runs.items() if v
    }
    reasons: dict[str, int] = {}
    for s in excluded:
        reasons[NOT_HEAD_TO_HEAD[s]] = reasons.get(NOT_HEAD_TO_HEAD[s], 0) + 1
    why = "; ".join(f"{n}× {reason}" for reason, n in reasons.items())
    excluded_note = (
        f"{len(excluded)} of {len(ids)} left out ({why})" if excluded else "none left out"
    )
    graded_note = (
        f"nbgrader graded {graded['nbgrader']}/{len(h2h)}, ours {graded['ours_j2']}/{len(h2h)}"
    )
    if graded["nbgrader"] < len(h2h) and nb_error:
        graded_note += f" (nbgrader: {nb_error})"
    if "ours_all_j2" in per:
        rows.append(
            Row(NAME, f"all {len(ids)} submissions, ours -j 2", per["ours_all_j2"], "s/submission",
                check=f"graded {graded['ours_all_j2']}/{len(ids)}",
                notes=f"total {median(runs['ours_all_j2']):.1f} s, including the pathological ones",
                extra={"times_s": runs["ours_all_j2"], "n": len(ids)})
        )  # fmt: skip
    for jobs in (2, 1):
        key = f"ours_j{jobs}"
        ratio = per["nbgrader"] / per[key]
        target = f"≥ {TARGET_SPEEDUP}× nbgrader's throughput" if jobs == 2 else ""
        complete = graded[key] == len(h2h) and graded["nbgrader"] == len(h2h)
        rows.append(
            Row(NAME, f"head-to-head {len(h2h)} submissions, ours -j {jobs}", per[key],
                "s/submission", per["nbgrader"], "nbgrader", ratio,
                check=graded_note + ("" if complete else " (INCOMPLETE)"),
                target=target, met=bool(ratio >= TARGET_SPEEDUP and complete) if target else None,
                notes=f"{excluded_note}; totals: ours {median(runs[key]):.1f} s "
                      f"(median of {len(runs[key])}), nbgrader {median(runs['nbgrader']):.1f} s "
                      f"({len(runs['nbgrader'])} run)",
                extra={"times_s": {key: runs[key], "nbgrader": runs["nbgrader"]},
                       "n": len(h2h), "excluded": {s: NOT_HEAD_TO_HEAD[s] for s in excluded}})
        )  # fmt: skip
    return rows
