"""Run the benchmarks and write one table: ``python -m benchmarks [--quick] [--only NAME]``.

Outputs, in ``benchmarks/results/``:

* full run: ``results.json`` and ``results.md``;
* ``--quick``: ``results-quick.json`` / ``.md`` (never overwrites the full results);
* ``--only NAME``: ``results[-quick]-NAME.json`` / ``.md``, so running one
  benchmark never replaces the complete table.

The exit status is 1 when a benchmark raised (its row then says ERROR) or a
correctness check failed (e.g. the Gaussian log-likelihoods disagree).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from . import BENCHMARKS
from ._common import (
    RESULTS,
    Config,
    Row,
    load_average,
    log,
    machine_info,
    machine_line,
    markdown_table,
    notes_list,
    text_table,
    to_json,
    write_atomic,
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, 1-2 repeats")
    p.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    p.add_argument(
        "--threads",
        type=int,
        default=cpus,
        help="BLAS threads on both sides of each comparison (default: usable CPUs, %(default)s); "
        "the issue's target rows always use 1",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="folder for the JSON and Markdown results (default: %(default)s)",
    )
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def output_stem(quick: bool, only: list[str] | None) -> str:
    """``results``, ``results-quick``, ``results-poisson``, ``results-quick-poisson``..."""
    return "results" + ("-quick" if quick else "") + ("-" + "-".join(only) if only else "")


def _run_one(name: str, cfg: Config) -> tuple[list[Row], float]:
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        rows = module.run(cfg)
    except Exception as exc:  # a broken benchmark must not hide the others' results
        traceback.print_exc()
        rows = [Row(name, "(benchmark failed)", None, "", check=f"ERROR: {exc!r}"[:300])]
    return rows, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = Config(quick=args.quick, threads=args.threads)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    info = machine_info()
    log(f"machine: {machine_line(info)}; load average {load_average()}")

    rows: list[Row] = []
    durations: dict[str, float] = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    load_before = load_average()
    for name in names:
        log(f"{name} ...")
        new, durations[name] = _run_one(name, cfg)
        rows += new
        log(f"{name} done in {durations[name]:.1f} s")

    meta = {
        "mode": "quick" if cfg.quick else "full",
        "benchmarks": names,
        "threads": cfg.threads,
        "started": started,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "seconds_per_benchmark": {k: round(v, 1) for k, v in durations.items()},
        "command": " ".join(
            ["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": info,
    }
    stem = args.out / output_stem(cfg.quick, args.only)
    header = (
        f"Machine: {machine_line(info)}. Python {info['versions']['python']}, "
        f"numpy {info['versions']['numpy']}, scipy {info['versions']['scipy']}, "
        f"scikit-learn {info['versions']['scikit-learn']}, nbgrader {info['versions']['nbgrader']}, "
        f"jupyter-book {info['versions']['jupyter-book']}. "
        f"Mode: {meta['mode']}; BLAS threads {cfg.threads} (target rows: 1); "
        f"load average before/after {load_before} / {meta['load_average_after']}; "
        f"started {started}; commit {info['git_commit']}{' (dirty)' if info['git_dirty'] else ''}."
    )
    durations_text = ", ".join(f"{k} {v:.0f} s" for k, v in durations.items())
    md = (
        f"# Benchmark results ({meta['mode']})\n\n{header}\n\n"
        f"Reproduce: `{meta['command']}` from the repository root (`make bench`, "
        f"`make bench-quick`). Wall time per benchmark: {durations_text}.\n\n"
        "Medians of repeats; ratio > 1 means ours is better (faster or higher throughput).\n\n"
        f"{markdown_table(rows)}\n\n## Notes\n\n{notes_list(rows)}\n"
    )
    write_atomic(stem.with_suffix(".json"), to_json(rows, meta))
    write_atomic(stem.with_suffix(".md"), md)

    print(header)
    print()
    print(text_table(rows))
    notes = notes_list(rows)
    if notes:
        print("\nNotes:\n" + notes.replace("**", ""))
    print(f"\nWritten: {stem}.json and {stem}.md")
    failed = [r for r in rows if r.check.startswith(("ERROR", "MISMATCH"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
