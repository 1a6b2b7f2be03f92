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
(seconds) twice, the median is reported. The run on all 40 runs
once: its time is dominated by the infinite loop's 30 s timeout.

**Throughput (the target row).** A whole run costs a fixed start (starting
Python, the sandbox template, the self-check, writing the outputs and the
gradebook) plus a cost per submission; a class of hundreds pays the second.
As for the Gaussian per-iteration times, the fixed costs are cancelled by
timing two sizes on each side: ours on the head-to-head set and on
``MARGINAL_COPIES`` copies of it (same notebooks under new ids), nbgrader on
one submission and on the head-to-head set; seconds per submission =
(T(large) − T(small)) / (n_large − n_small). The whole-run rows are reported
too.

**Synthetic class.** ``SYNTHETIC_N`` (1,000) submissions copied from the
corpus in the proportions of ``SYNTHETIC_MIX`` (about 60 % correct, 30 %
buggy, 10 % broken or faulty, including two infinite loops), written to a
temporary folder, graded with ``-j 2``: the wall time, and the grader's
resident memory (``VmRSS`` of its process, sampled every 0.25 s) in the
first and the last quarter of the run, to show that it stays flat.

**Dask.** The ordinary submissions (copied to ``DASK_N``, then to
``DASK_LARGE`` times as many) graded with ``--scheduler`` on a
``distributed.LocalCluster`` of 1, then 2 worker processes with 1 thread
each (the cluster is started before the timed runs, which include the
client's start and every worker's self-check). Whole-run scaling efficiency
= T(1 worker) / (2 · T(2 workers)) on ``DASK_N``; the target row takes the
per-submission times, (T(large) − T(small)) / (n_large − n_small), so that
the client's fixed costs (its start, the outputs, the gradebook) cancel.

Every row records the load average before and after its runs: the machine
is shared, and other jobs slow both sides.

Quick mode grades 2 submissions (one correct, one wrong) once per side, a
synthetic class of 20 and a Dask run on 4.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ._common import REPO, Config, Row, load_average, log, median

NAME = "autograde"
ASSIGNMENT = "poisson_mixture"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
N_SUBMISSIONS = 40
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
    # nbformat reads notebooks as UTF-8 without a BOM (ours decodes both).
    "d04_utf16": "UTF-16 notebook (nbgrader cannot read it)",
    "d05_utf8_bom": "UTF-8 notebook with a BOM (nbgrader cannot read it)",
}
TARGET_PER_SECOND = 10.0
TARGET_VS_NBGRADER = 25.0
SYNTHETIC_N = 1000
SYNTHETIC_TARGET_S = 180.0
#: Corpus submissions of the synthetic class, by kind, and the share of each kind.
SYNTHETIC_MIX = {
    "correct": (
        0.60,
        (
            "a01_reference",
            "a03_chatty",
            "d01_float32",
            "d02_writefile_module",
            "d03_import_in_setup_cell",
            "d06_long_code",
            "d07_renamed_copy",
        ),
    ),
    "buggy": (
        0.30,
        (
            "a02_stubs",
            "a04_naive",
            "a05_wrong_log_pmf",
            "a06_wrong_e_step",
            "a07_wrong_m_step",
            "a08_wrong_log_likelihood",
            "a09_em_without_initial",
        ),
    ),
    "faulty": (
        0.098,
        (
            "b01_invalid_json",
            "b02_empty_file",
            "b04_no_notebook",
            "b07_os_exit",
            "b08_memory_hog",
            "b09_deleted_tests",
            "c01_allclose",
            "c04_read_source",
        ),
    ),
    "infinite loop": (0.002, ("b06_infinite_loop",)),
}
#: The large run of the throughput row: this many copies of the head-to-head set.
MARGINAL_COPIES = 4
DASK_N = 40
#: The large Dask run: this many times DASK_N submissions.
DASK_LARGE = 3
TARGET_EFFICIENCY = 0.8
QUICK_SUBMISSIONS = ("a01_reference", "a05_wrong_log_pmf")


def build_submissions(dest: Path, quick: bool) -> list[str]:
    """The corpus plus copies of its ordinary submissions; the student ids."""
    # The corpus is made by its own command (the benchmark imports no test code).
    corpus = dest.parent / "corpus"
    cmd = [sys.executable, "-m", "tests.autograder_corpus.poisson_mixture.build", str(corpus)]
    _, output, rc = _run(cmd, REPO)
    if rc != 0:
        raise RuntimeError(f"building the corpus failed (exit {rc}): {output[-1500:]}")
    ids = sorted(p.name for p in corpus.iterdir() if p.is_dir())
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


def grade_ours(
    subs: Path, ids: list[str], out: Path, jobs: int, scheduler: str | None = None
) -> tuple[float, int]:
    """Wall time of ``python -m autograder grade`` on ``ids``; how many got a grade row."""
    folder = out.with_name(out.name + "-in")
    folder.mkdir()
    for sid in ids:
        shutil.copytree(subs / sid, folder / sid)
    cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out),
           "-j", str(jobs), "--no-progress"]  # fmt: skip
    if scheduler:
        cmd += ["--scheduler", scheduler]
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
        load_before = load_average()
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
        load_h2h = [load_before, load_average()]
        marginal = marginal_row(subs, h2h, tmp_path, repeats, cfg.quick,
                                runs["ours_j2"], runs["nbgrader"][0])
        extra_rows = [
            synthetic_row(tmp_path / "corpus", tmp_path, 20 if cfg.quick else SYNTHETIC_N)
        ]
        ordinary = [s for s in ids if s.startswith("a")]  # correct, naive and wrong ones
        extra_rows += dask_rows(subs, ordinary, tmp_path, 4 if cfg.quick else DASK_N)

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
        complete = graded[key] == len(h2h) and graded["nbgrader"] == len(h2h)
        rows.append(
            Row(NAME, f"head-to-head {len(h2h)} submissions, whole run, ours -j {jobs}",
                per[key], "s/submission", per["nbgrader"], "nbgrader", ratio,
                check=graded_note + ("" if complete else " (INCOMPLETE)"),
                notes=f"{1 / per[key]:.2f} submissions/s; {excluded_note}; totals: ours "
                      f"{median(runs[key]):.1f} s (median of {len(runs[key])}), nbgrader "
                      f"{median(runs['nbgrader']):.1f} s ({len(runs['nbgrader'])} run); "
                      f"load average before {load_h2h[0]}, after {load_h2h[1]}",
                extra={"times_s": {key: runs[key], "nbgrader": runs["nbgrader"]},
                       "n": len(h2h), "excluded": {s: NOT_HEAD_TO_HEAD[s] for s in excluded}})
        )  # fmt: skip
    return [*rows, marginal, *extra_rows]


def marginal_row(subs: Path, h2h: list[str], tmp: Path, repeats: int, quick: bool,
                 ours_small: list[float], nbgrader_large: float) -> Row:
    """Seconds per submission with the fixed costs cancelled, both sides (see
    the module's docstring): the target row."""
    copies = 2 if quick else MARGINAL_COPIES
    large = list(h2h)
    for c in range(1, copies):
        for sid in h2h:
            shutil.copytree(subs / sid, subs / f"{sid}_copy{c}")
            large.append(f"{sid}_copy{c}")
    load_before = load_average()
    ours_large = []
    for r in range(repeats):
        log(f"autograde: ours -j 2 on {len(large)} ({r + 1}/{repeats})")
        t, graded = grade_ours(subs, large, tmp / f"large_{r}", 2)
        if graded != len(large):
            raise RuntimeError(f"ours graded {graded} of {len(large)}")
        ours_large.append(t)
    log("autograde: nbgrader on 1")
    nb_small, nb_graded, nb_error = grade_nbgrader(subs, h2h[:1], tmp / "course-1")
    if nb_graded != 1:
        raise RuntimeError(f"nbgrader did not grade one submission: {nb_error}")
    ours = (median(ours_large) - median(ours_small)) / (len(large) - len(h2h))
    theirs = (nbgrader_large - nb_small) / (len(h2h) - 1)
    noisy = ours <= 0 or theirs <= 0
    if noisy:  # noise larger than the difference (tiny quick-mode classes): whole runs
        ours, theirs = median(ours_large) / len(large), nbgrader_large / len(h2h)
    ratio = theirs / ours
    met = 1 / ours >= TARGET_PER_SECOND and ratio >= TARGET_VS_NBGRADER
    return Row(
        NAME, f"throughput, fixed costs cancelled, ours -j 2 ({len(h2h)} → {len(large)})",
        ours, "s/submission", theirs, f"nbgrader (1 → {len(h2h)})", ratio,
        check=f"ours {1 / ours:.1f} submissions/s, nbgrader {1 / theirs:.2f}/s"
              + ("; NOISY: T(large) <= T(small), whole runs given" if noisy else ""),
        target=f"≥ {TARGET_PER_SECOND:g} submissions/s and ≥ {TARGET_VS_NBGRADER:g}× "
               "nbgrader's throughput",
        met=bool(met),
        notes=f"ours: T({len(large)}) = {median(ours_large):.1f} s (median of "
              f"{len(ours_large)}), T({len(h2h)}) = {median(ours_small):.1f} s; nbgrader: "
              f"T({len(h2h)}) = {nbgrader_large:.1f} s, T(1) = {nb_small:.1f} s; "
              f"load average before {load_before}, after {load_average()}",
        extra={"ours_large_s": ours_large, "ours_small_s": ours_small,
               "nbgrader_large_s": nbgrader_large, "nbgrader_small_s": nb_small,
               "n_large": len(large), "n_small": len(h2h)},
    )


# --------------------------------------------------------------------------
# a synthetic class, and Dask


def synthetic_class(corpus: Path, dest: Path, n: int) -> dict[str, int]:
    """``n`` submissions copied from ``corpus`` in the proportions of
    ``SYNTHETIC_MIX`` (cycling through each kind's notebooks); the count per kind."""
    counts = {kind: round(share * n) for kind, (share, _) in SYNTHETIC_MIX.items()}
    counts["correct"] += n - sum(counts.values())
    i = 0
    for kind, (_, sources) in SYNTHETIC_MIX.items():
        for j in range(counts[kind]):
            src = sources[j % len(sources)]
            shutil.copytree(corpus / src, dest / f"s{i:04d}_{src}")
            i += 1
    return counts


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def grade_sampled(
    folder: Path, out: Path, jobs: int, n: int
) -> tuple[float, int, list[tuple[float, float]], float | None]:
    """Like :func:`grade_ours` on a whole folder of ``n``, sampling the
    grader's RSS: wall time, rows graded, (seconds, MiB) samples, and when
    the progress bar reached ``n`` (grading over; the outputs follow)."""
    cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out),
           "-j", str(jobs), "--progress"]  # fmt: skip
    samples: list[tuple[float, float]] = []
    done: list[float] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = bytearray()

    def read() -> None:
        mark = f"{n}/{n}".encode()
        while chunk := os.read(proc.stderr.fileno(), 1 << 16):
            err.extend(chunk)
            if not done and mark in err[-4096:]:
                done.append(time.perf_counter() - t0)
            del err[: max(0, len(err) - (1 << 16))]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        rss = _rss_mib(proc.pid)
        if rss is not None:
            samples.append((round(time.perf_counter() - t0, 2), round(rss, 1)))
        time.sleep(0.25)
    seconds = time.perf_counter() - t0
    reader.join()
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-1500:]
        raise RuntimeError(f"autograder grade failed (exit {proc.returncode}): {tail}")
    with (out / "grades.csv").open(newline="", encoding="utf-8") as f:
        graded = sum(1 for _ in csv.DictReader(f))
    return seconds, graded, samples, done[0] if done else None


def _quarters(samples: list[tuple[float, float]], end: float) -> tuple[float, float]:
    """Peak RSS of the first and of the last quarter of [0, end] (MiB)."""
    samples = [x for x in samples if x[0] <= end] or samples
    first = [m for t, m in samples if t <= end / 4] or [samples[0][1]]
    last = [m for t, m in samples if t >= 3 * end / 4] or [samples[-1][1]]
    return max(first), max(last)


def synthetic_row(corpus: Path, tmp: Path, n: int) -> Row:
    folder = tmp / "synthetic"
    folder.mkdir()
    counts = synthetic_class(corpus, folder, n)
    load_before = load_average()
    log(f"autograde: ours -j 2 on a synthetic class of {n} ({counts})")
    seconds, graded, samples, writing = grade_sampled(folder, tmp / "synthetic-out", 2, n)
    grading = writing if writing is not None else seconds
    first, last = _quarters(samples, grading)
    flat = last <= 1.15 * first + 20
    peak_out = max([m for t, m in samples if t >= grading] or [0.0])
    met = seconds < SYNTHETIC_TARGET_S and graded == n and flat
    step = max(1, len(samples) // 200)
    return Row(
        NAME,
        f"synthetic class of {n}, ours -j 2",
        seconds,
        "s",
        check=f"graded {graded}/{n}; grader RSS while grading: peak {first:.0f} MiB in the "
        f"first quarter, {last:.0f} MiB in the last ({'flat' if flat else 'GROWS'}); "
        f"{peak_out:.0f} MiB while writing the outputs ({seconds - grading:.0f} s)",
        target=f"< {SYNTHETIC_TARGET_S:g} s, memory flat",
        met=met,
        notes=f"{n / seconds:.1f} submissions/s; "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"; load average before {load_before}, after {load_average()}",
        extra={
            "kinds": counts,
            "rss_mib": samples[::step],
            "grading_s": grading,
            "n": n,
            "load_average": [load_before, load_average()],
        },
    )


def dask_rows(subs: Path, ordinary: list[str], tmp: Path, n: int) -> list[Row]:
    """Grading time on a LocalCluster of 1 and of 2 worker processes, for
    ``n`` and ``DASK_LARGE * n`` submissions: the scaling efficiency of whole
    runs, and that of the cost per submission (fixed costs cancelled, as in
    the throughput row), which is the target row."""
    try:
        from distributed import LocalCluster
    except ImportError:
        return [Row(NAME, "dask 1 -> 2 workers", None, "", notes="distributed not installed")]
    sizes = (n, DASK_LARGE * n)
    folders = {}
    for size in sizes:
        folder = folders[size] = tmp / f"dask-subs-{size}"
        folder.mkdir()
        for i in range(size):
            sid = ordinary[i % len(ordinary)]
            shutil.copytree(subs / sid, folder / f"k{i:03d}_{sid}")
    times: dict[tuple[int, int], float] = {}
    graded: dict[tuple[int, int], int] = {}
    load_before = load_average()
    for workers in (1, 2):
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster:
            for size in sizes:
                log(f"autograde: ours --scheduler, {workers} worker(s), {size} submissions")
                names = sorted(p.name for p in folders[size].iterdir())
                key = (workers, size)
                times[key], graded[key] = grade_ours(
                    folders[size], names, tmp / f"dask{workers}-{size}", 1,
                    scheduler=cluster.scheduler_address,
                )  # fmt: skip
    complete = all(graded[k] == k[1] for k in graded)
    small, large = sizes
    whole = times[(1, small)] / (2 * times[(2, small)])
    per = {w: (times[(w, large)] - times[(w, small)]) / (large - small) for w in (1, 2)}
    noisy = min(per.values()) <= 0
    if noisy:  # noise larger than the difference (tiny quick-mode classes): whole runs
        per = {w: times[(w, large)] / large for w in (1, 2)}
    marginal = per[1] / (2 * per[2])
    timing = ", ".join(f"{w} worker{'s' if w > 1 else ''}: T({small}) {times[(w, small)]:.1f} s, "
                       f"T({large}) {times[(w, large)]:.1f} s" for w in (1, 2))
    load = f"load average before {load_before}, after {load_average()}"
    extra = {"times_s": {f"{w} workers, {size}": t for (w, size), t in times.items()}}
    return [
        Row(NAME, f"dask LocalCluster, {small} ordinary submissions, 1 -> 2 workers, whole run",
            whole, "efficiency", check=f"graded {graded[(1, small)]}/{small} and "
                                      f"{graded[(2, small)]}/{small}",
            notes=f"{timing}; 1 thread each; whole runs include the client's start, every "
                  f"worker's self-check and the outputs; {load}", extra=extra),
        Row(NAME, f"dask LocalCluster, 1 -> 2 workers, per submission ({small} → {large})",
            marginal, "efficiency",
            check=f"{1 / per[1]:.2f}/s with 1 worker, {1 / per[2]:.2f}/s with 2"
                  + ("; NOISY: T(large) <= T(small), whole runs given" if noisy else "")
                  + ("" if complete else " (INCOMPLETE)"),
            target=f"≥ {TARGET_EFFICIENCY:.0%} scaling efficiency",
            met=bool(marginal >= TARGET_EFFICIENCY and complete),
            notes=f"efficiency = per-submission time with 1 worker / (2 × with 2 workers), "
                  f"each (T({large}) − T({small})) / {large - small}; {timing}; {load}",
            extra=extra),
    ]  # fmt: skip
