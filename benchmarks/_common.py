"""Timing, machine description and table rendering shared by the benchmarks.

Every figure in the table is a median over repeats. When two implementations
are compared, their repeats are interleaved (ours, baseline, ours, baseline,
...) so that a change in the machine's load during the run hits both sides
alike, and BLAS runs with the same number of threads on both sides
(:func:`blas_threads`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------
# timing


def median_time(
    fn: Callable[[], object], repeats: int, warmup: int = 0
) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` in seconds, and every repeat's time.

    ``warmup`` untimed calls come first (caches, lazy imports, page faults).
    """
    times = paired_times({"fn": fn}, repeats, warmup)["fn"]
    return statistics.median(times), times


def paired_times(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 0
) -> dict[str, list[float]]:
    """Wall times of several callables, repeats interleaved: a, b, a, b, ...

    Returns each callable's list of ``repeats`` times in seconds.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def median(times: list[float]) -> float:
    return statistics.median(times)


def per_iteration(
    times: dict[str, list[float]], names: tuple[str, ...], m: int
) -> tuple[dict[str, float], bool]:
    """Seconds per iteration of each implementation, fixed costs cancelled.

    ``times[f"{name}_m"]`` and ``times[f"{name}_1"]`` are the repeat times of
    fits with ``m`` and with 1 iteration; (T(m) − T(1)) / (m − 1) cancels what
    a fit costs besides its iterations (input checks, set-up, a final E-step).
    When noise makes T(m) <= T(1) for any of them, all fall back to T(m) / m,
    an upper bound that includes the fixed costs; the flag returned is then
    False and the row must say so.
    """
    dt = {k: median(times[f"{k}_m"]) - median(times[f"{k}_1"]) for k in names}
    if min(dt.values()) > 0:
        return {k: dt[k] / (m - 1) for k in names}, True
    return {k: median(times[f"{k}_m"]) / m for k in names}, False


NOISY = "; NOISY: T(m) <= T(1), all sides given as T(m)/m"


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Pin every BLAS library loaded in this process (numpy's and scipy's
    OpenBLAS, MKL, ...) to ``n`` threads, and OpenMP too (scikit-learn's)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


# --------------------------------------------------------------------------
# results


@dataclass
class Row:
    """One line of the results table.

    ``ours`` and ``baseline`` are medians in ``unit``; ``ratio`` is how many
    times better ours is (baseline time / our time, or our throughput /
    baseline throughput), so > 1 means ours wins. ``met`` is ``None`` for rows
    without a target. ``extra`` keeps raw repeat times and the like for the
    JSON file only.
    """

    benchmark: str
    case: str
    ours: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    check: str = ""
    target: str = ""
    met: bool | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def speedup(ours: float | None, baseline: float | None) -> float | None:
    """baseline / ours for times (> 1: ours is faster); None if either is missing."""
    if ours is None or baseline is None or ours <= 0:
        return None
    return baseline / ours


def fmt(x: float | None, digits: int = 3) -> str:
    """A number in a table cell: 3 significant digits, no exponent for usual sizes."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag >= 6 or mag < -3:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


COLUMNS = ("benchmark", "case", "ours", "baseline", "unit", "ratio", "check", "target", "met")


def _cells(row: Row) -> list[str]:
    met = {None: "", True: "yes", False: "**no**"}[row.met]
    baseline = fmt(row.baseline)
    if row.baseline is not None and row.baseline_name:
        baseline = f"{baseline} ({row.baseline_name})"
    ratio = "" if row.ratio is None else f"{fmt(row.ratio)}×"
    return [
        row.benchmark,
        row.case,
        fmt(row.ours),
        baseline,
        row.unit,
        ratio,
        row.check,
        row.target,
        met,
    ]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(rows: list[Row]) -> str:
    """The same table for a terminal: aligned columns, no Markdown escapes."""
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    cells = [[c.replace("**", "") for c in line] for line in cells]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = []
    for j, line in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def notes_list(rows: list[Row]) -> str:
    """Per-row notes, numbered by benchmark and case, for the Markdown file."""
    return "\n".join(f"- **{r.benchmark} / {r.case}**: {r.notes}" for r in rows if r.notes)


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so an interrupted run leaves
    the previous results intact (``*.tmp`` is git-ignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def to_json(rows: list[Row], meta: dict[str, Any]) -> str:
    def clean(obj: Any) -> Any:
        # JSON has no NaN/inf: store them as strings rather than invalid JSON.
        if isinstance(obj, float) and not math.isfinite(obj):
            return str(obj)
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [clean(v) for v in obj]
        return obj

    return json.dumps(clean({"meta": meta, "rows": [asdict(r) for r in rows]}), indent=1) + "\n"


# --------------------------------------------------------------------------
# the machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, BLAS (from threadpoolctl) and library versions."""
    # threadpoolctl only sees libraries already loaded.
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_info

    pools = [
        {
            k: p.get(k)
            for k in (
                "user_api",
                "internal_api",
                "version",
                "threading_layer",
                "architecture",
                "num_threads",
                "prefix",
            )
        }
        for p in threadpool_info()
    ]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    status = _git("status", "--porcelain")
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "threadpools": pools,
        "versions": {
            "python": platform.python_version(),
            **{
                name: _version(name)
                for name in (
                    "numpy",
                    "scipy",
                    "scikit-learn",
                    "threadpoolctl",
                    "nbgrader",
                    "nbconvert",
                    "nbclient",
                    "ipykernel",
                    "jupyter-book",
                    "sphinx",
                    "myst-nb",
                )
            },
        },
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "python_executable": sys.executable,
    }


def blas_summary(info: dict[str, Any]) -> str:
    """e.g. 'openblas 0.3.31 (pthreads, Haswell)' for each distinct BLAS."""
    seen = []
    for p in info["threadpools"]:
        if p["user_api"] != "blas":
            continue
        s = f"{p['internal_api']} {p['version']} ({p['threading_layer']}, {p['architecture']})"
        if s not in seen:
            seen.append(s)
    return "; ".join(seen) or "none found"


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} logical CPUs, "
        f"{info['memory_gib']} GiB; BLAS: {blas_summary(info)}"
    )


@dataclass(frozen=True)
class Config:
    """What the runner passes to every benchmark's ``run``.

    ``threads`` is the BLAS thread count used on both sides of a comparison
    (the issue's target rows pin their own, 1 thread).
    """

    quick: bool
    threads: int


def log(msg: str) -> None:
    """Progress on stderr, so stdout keeps only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
