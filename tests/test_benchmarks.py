"""The benchmark suite: its quick mode runs end to end and writes complete results.

No timing is asserted (the machine may be busy); what is checked is that every
benchmark produced its rows with numeric medians, that the output files parse,
and that the correctness checks carried by the rows hold (identical Gaussian and
Bernoulli log-likelihoods, the Hasselblad MLE).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.__main__ import output_stem
from benchmarks._common import Row, fmt, markdown_table, paired_times, speedup, to_json

REPO = Path(__file__).resolve().parent.parent
SKIPPED = "skipped in quick mode"


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--threads", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((out / "results-quick.json").read_text(encoding="utf-8"))
    return {
        "proc": proc,
        "data": data,
        "md": (out / "results-quick.md").read_text(encoding="utf-8"),
        "rows": data["rows"],
    }


@pytest.mark.slow
def test_quick_run_writes_only_the_quick_files(quick: dict) -> None:
    assert quick["data"]["meta"]["mode"] == "quick"
    assert quick["data"]["meta"]["benchmarks"] == list(BENCHMARKS)
    # The full results are never overwritten by a quick run.
    assert output_stem(True, None) == "results-quick"
    assert output_stem(False, None) == "results"
    assert output_stem(True, ["book"]) == "results-quick-book"


@pytest.mark.slow
def test_machine_and_versions_are_recorded(quick: dict) -> None:
    machine = quick["data"]["meta"]["machine"]
    assert machine["cpu"]
    assert machine["logical_cpus"] >= 1
    assert machine["memory_gib"] > 0
    blas = [p for p in machine["threadpools"] if p["user_api"] == "blas"]
    assert blas and all(p["internal_api"] and p["threading_layer"] for p in blas)
    versions = machine["versions"]
    for lib in ("python", "numpy", "scipy", "scikit-learn", "nbgrader", "jupyter-book"):
        assert versions[lib], lib


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_has_rows_with_numeric_medians(quick: dict, name: str) -> None:
    rows = [r for r in quick["rows"] if r["benchmark"] == name]
    assert rows, f"no rows for {name}"
    for r in rows:
        assert not r["check"].startswith(("ERROR", "MISMATCH")), r
        assert "INCOMPLETE" not in r["check"], r
        if SKIPPED in r["check"]:
            # Only the book may be skipped in quick mode, and it says so.
            assert name == "book"
            assert r["ours"] is None
            continue
        assert _number(r["ours"]), r
        if r["baseline_name"]:
            assert _number(r["baseline"]) and _number(r["ratio"]), r
            # ratio > 1 means ours is better: higher rate, or shorter time.
            rate = r["unit"].endswith("/s")
            expected = r["ours"] / r["baseline"] if rate else r["baseline"] / r["ours"]
            assert r["ratio"] == pytest.approx(expected), r
        assert r["case"] in quick["md"]
    assert quick["md"].count(f"| {name} |") == len(rows)


@pytest.mark.slow
def test_gaussian_logliks_agree_with_sklearn(quick: dict) -> None:
    rows = [
        r for r in quick["rows"] if r["benchmark"] == "gaussian" and "loglik_agree" in r["extra"]
    ]
    cases = {r["case"].split()[0] + " " + r["case"].split()[1] for r in rows}
    assert {"TARGET full", "TARGET diag"} <= cases
    assert any(r["case"].startswith("full") for r in rows)
    assert any(r["case"].startswith("diag") for r in rows)
    for r in rows:
        assert r["extra"]["loglik_agree"] is True, r
        ours, theirs = r["extra"]["loglik_ours"], r["extra"]["loglik_sklearn"]
        assert abs(ours - theirs) <= 1e-9 * abs(theirs)
    targets = [r for r in rows if r["case"].startswith("TARGET")]
    assert all(r["target"] and r["met"] in (True, False) for r in targets)


@pytest.mark.slow
def test_bernoulli_and_poisson_checks(quick: dict) -> None:
    bern = [r for r in quick["rows"] if r["benchmark"] == "bernoulli"]
    assert bern and all(r["extra"]["loglik_agree"] is True for r in bern)
    hassel = [r for r in quick["rows"] if "Hasselblad" in r["case"]]
    assert len(hassel) == 1
    # Published MLE log-likelihood (Varadhan & Roland 2008).
    assert round(hassel[0]["extra"]["best_loglik"], 3) == -1989.946


@pytest.mark.slow
def test_stdout_shows_the_table(quick: dict) -> None:
    out = quick["proc"].stdout
    assert "benchmark" in out and "target" in out and "met" in out
    for name in BENCHMARKS:
        assert name in out


# --------------------------------------------------------------------------
# the helpers, without running any benchmark


def test_paired_times_interleaves_the_repeats() -> None:
    calls: list[str] = []
    times = paired_times(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1
    )
    assert calls == ["a", "b"] * 4
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for v in times.values() for t in v)
    with pytest.raises(ValueError, match="repeats"):
        paired_times({"a": lambda: None}, repeats=0)


def test_speedup_and_formatting() -> None:
    assert speedup(2.0, 5.0) == 2.5
    assert speedup(None, 5.0) is None
    assert speedup(0.0, 5.0) is None
    assert fmt(None) == "—"
    assert fmt(1234.5678) == "1,235"
    assert fmt(0.012345) == "0.0123"
    assert fmt(3.2e-7) == "3.20e-07"


def test_json_has_no_nan_and_table_escapes_pipes() -> None:
    row = Row("x", "a | b", float("nan"), "s", extra={"v": [float("inf"), 1.0]})
    parsed = json.loads(to_json([row], {"mode": "quick"}))
    assert parsed["rows"][0]["ours"] == "nan"
    assert parsed["rows"][0]["extra"]["v"] == ["inf", 1.0]
    table = markdown_table([row])
    assert "a \\| b" in table
    assert len(table.splitlines()) == 3
