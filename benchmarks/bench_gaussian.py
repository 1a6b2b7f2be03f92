"""Gaussian mixtures: ``solutions.gaussian.fit`` against scikit-learn's ``GaussianMixture``.

Both sides get the same data, the same initial parameters (sklearn through
``weights_init``, ``means_init``, ``precisions_init``), ``tol=0`` (so exactly
``max_iter`` iterations), ``n_init=1`` and ``reg_covar=1e-6``, and run with the
same number of BLAS threads.

**Time per iteration.** A fit also has fixed costs that are not EM iterations:
input validation, our centring of the data, scikit-learn's initialisation (it
runs one M-step on a one-hot assignment even when every initial parameter is
given) and its final E-step. They are cancelled by timing fits with
``max_iter=m`` and ``max_iter=1``:

    ms per iteration = (T(m) - T(1)) / (m - 1)

with T the median over repeats, the repeats of both libraries interleaved
(small fits get one untimed warm-up round). ``max_iter=0`` would be cheaper,
but scikit-learn 1.9 fails on it when ``precisions_init`` is given. If noise
ever makes T(m) <= T(1), both sides are reported as T(m)/m instead and the
row says NOISY.

**Threads.** The grid runs with ``--threads`` BLAS threads on both sides
(default: every usable CPU); the target rows (full and diag, n = 1e5,
d = 10, K = 5) run twice, with one thread and with ``--threads``. Our fit
takes its number of worker threads from the BLAS limit (see
``solutions.gaussian._map_chunks``), so "one thread" means one thread on both
sides. Every row's notes record the load average (1 min) when it finished:
on a shared machine other jobs take cores from both sides alike, but
OpenBLAS's spinning threads suffer more from it than single-threaded code.

**Iterations and repeats per size.** At n = 1e6, d = 50, K = 10 one full
iteration is several seconds (about 1e11 flops), so the counts shrink with the
size: see :func:`schedule`. The grid takes 6-8 minutes on a 2-core machine,
with one BLAS thread or two alike: at these shapes memory traffic and page
faults on fresh arrays weigh as much as the matrix products.

**Log-likelihood check.** After ``m`` iterations both libraries hold
:math:`\\theta^m`; our ``loglik[-1]`` and scikit-learn's ``score(X) * n`` (both
:math:`\\log p(x_{1:n} \\mid \\theta^m)`, each computed by its own code) must
agree to a relative 1e-9.

**Targets.** ≥ 4× scikit-learn per iteration (same log-likelihood) on the
target rows, one thread and all threads; no grid row slower than
scikit-learn (ratio ≥ 1); at n = 1e6, d = 50, K = 10 (full) at least half the
GEMM rate below, with all threads.

**GFLOP/s.** Flops per iteration, counted the same way for both libraries:
``full``: 2·n·d²·K for the E-step products (x_i P_k) and 2·n·d²·K for the M-step
covariance products; ``diag``: 2·n·(2d)·K for the E-step and as many for the
M-step. They are compared with a plain matrix product of the E-step's shape,
(n' × d) @ (d × K·d) with n' = min(n, 1e5) rows (the rate no longer depends on
n' there, and the product of 1e6 rows would need 4 GB), and with a square
2000 × 2000 product, at the same thread count.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from solutions import gaussian

from ._common import (
    NOISY,
    Config,
    Row,
    blas_threads,
    load_average,
    log,
    median_time,
    paired_times,
    per_iteration,
    speedup,
)

NAME = "gaussian"
TARGET_SPEEDUP = 4.0
TARGET_GEMM_FRACTION = 0.5
RTOL_LOGLIK = 1e-9
REG_COVAR = 1e-6

GRID = {
    "n": (10_000, 100_000, 1_000_000),
    "d": (2, 10, 50),
    "K": (3, 10),
    "covariance_type": ("full", "diag"),
}
QUICK_GRID = {"n": (2_000,), "d": (2, 10), "K": (3,), "covariance_type": ("full", "diag")}


def schedule(n: int, d: int, covariance_type: str, quick: bool) -> tuple[int, int]:
    """(max_iter m, repeats) for a configuration.

    Fewer at large sizes, where one iteration costs seconds (n = 1e6, d = 50,
    K = 10, full: ~1e11 flops, sklearn ~10 s). ``diag`` iterations are about d
    times cheaper than ``full`` ones while the fixed costs are alike, so they
    get more iterations: T(m) - T(1) must stand well above the noise.
    """
    if quick:
        return 20, 2
    full = covariance_type == "full"
    if n <= 10_000:
        return (8, 3) if full and d >= 50 else (20, 5)
    if n <= 100_000:
        if full:
            return (3, 3) if d >= 50 else (5, 3)
        return 15, 3
    # n = 1e6: a single repeat, or the grid would not fit the run's ~15 minutes.
    # diag gets 8 iterations: our fixed cost there (centring X and building the
    # [X², X] features, 1.2 GB of fresh memory at d = 50) varies by ±0.5 s from
    # page faults, while one iteration costs ~0.1 s.
    return ((2, 1) if d >= 50 else (3, 1)) if full else (8, 1)


# The target shape: n = 1e5, d = 10, K = 5, full and diag, one
# thread and all threads.
TARGET = {"n": 100_000, "d": 10, "K": 5, "m": 10, "repeats": 5}
QUICK_TARGET = {"n": 10_000, "d": 10, "K": 5, "m": 6, "repeats": 2}
GEMM_ROWS = 100_000


def make_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Five elongated, overlapping clusters in d dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(5, d))
    scales = rng.uniform(0.5, 2.0, size=(5, d))
    z = rng.integers(0, 5, size=n)
    X = rng.standard_normal((n, d))
    X *= scales[z]
    X += centres[z]
    return X


def make_start(X: np.ndarray, K: int, covariance_type: str, seed: int = 1) -> dict[str, np.ndarray]:
    """θ⁰: equal weights, K distinct data points as means, the data's (co)variance."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    mu0 = X[rng.choice(n, size=K, replace=False)].copy()
    sample = X[rng.choice(n, size=min(n, 20_000), replace=False)]
    if covariance_type == "full":
        cov0 = np.repeat(np.cov(sample, rowvar=False)[None], K, axis=0)
        prec0 = np.linalg.inv(cov0)
        prec0 = 0.5 * (prec0 + prec0.transpose(0, 2, 1))
    else:
        cov0 = np.repeat(sample.var(axis=0)[None], K, axis=0)
        prec0 = 1.0 / cov0
    return {"pi0": np.full(K, 1.0 / K), "mu0": mu0, "cov0": cov0, "prec0": prec0}


def flops_per_iteration(n: int, d: int, K: int, covariance_type: str) -> float:
    if covariance_type == "full":
        return 2 * (2.0 * n * d * d * K)
    return 2 * (2.0 * n * (2 * d) * K)


def compare(
    X: np.ndarray, K: int, covariance_type: str, m: int, repeats: int, threads: int
) -> dict[str, object]:
    """Per-iteration times of both libraries and their log-likelihoods after m iterations."""
    n, d = X.shape
    s = make_start(X, K, covariance_type)
    last: dict[str, object] = {}

    def ours(max_iter: int) -> None:
        res = gaussian.fit(
            X, s["pi0"], s["mu0"], s["cov0"], covariance_type=covariance_type,
            max_iter=max_iter, tol=0.0, reg_covar=REG_COVAR,
        )  # fmt: skip
        last[f"ours{max_iter}"] = res

    def sklearn(max_iter: int) -> None:
        gm = GaussianMixture(
            K, covariance_type=covariance_type, tol=0.0, max_iter=max_iter, n_init=1,
            reg_covar=REG_COVAR, weights_init=s["pi0"], means_init=s["mu0"],
            precisions_init=s["prec0"], init_params="random_from_data", random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        last[f"sk{max_iter}"] = gm

    with blas_threads(threads):
        times = paired_times(
            {
                "ours_m": lambda: ours(m),
                "sk_m": lambda: sklearn(m),
                "ours_1": lambda: ours(1),
                "sk_1": lambda: sklearn(1),
            },
            repeats,
            warmup=int(n * d * K <= 500_000),  # first calls of small fits are slower
        )
        ll_ours = float(last[f"ours{m}"].loglik[-1])
        ll_sk = float(last[f"sk{m}"].score(X) * n)
    t, cancelled = per_iteration(times, ("ours", "sk"), m)
    t_ours, t_sk = t["ours"], t["sk"]
    rel = abs(ll_ours - ll_sk) / abs(ll_sk)
    flops = flops_per_iteration(n, d, K, covariance_type)
    return {
        "ms_ours": 1e3 * t_ours,
        "ms_sklearn": 1e3 * t_sk,
        "fixed_costs_cancelled": cancelled,
        "loglik_ours": ll_ours,
        "loglik_sklearn": ll_sk,
        "loglik_rel_diff": rel,
        "loglik_agree": bool(rel <= RTOL_LOGLIK),
        "gflops_ours": flops / t_ours / 1e9,
        "gflops_sklearn": flops / t_sk / 1e9,
        "flops_per_iteration": flops,
        "max_iter": m,
        "repeats": repeats,
        "threads": threads,
        "times_s": times,
        "load_average": load_average(),
    }


def gemm_gflops(rows: int, inner: int, cols: int, threads: int, repeats: int = 3) -> float:
    """GFLOP/s of a plain (rows × inner) @ (inner × cols) product."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((rows, inner))
    B = rng.standard_normal((inner, cols))
    out = np.empty((rows, cols))
    with blas_threads(threads):
        t, _ = median_time(lambda: np.matmul(A, B, out=out), repeats, warmup=1)
    return 2.0 * rows * inner * cols / t / 1e9


def _case(covariance_type: str, n: int, d: int, K: int) -> str:
    return f"{covariance_type} n={n:.0e} d={d} K={K}".replace("e+0", "e")


def _row(case: str, r: dict[str, object], target: str = "", need: float | None = None) -> Row:
    ratio = speedup(r["ms_ours"], r["ms_sklearn"])
    agree = r["loglik_agree"]
    check = f"loglik rel diff {r['loglik_rel_diff']:.1e}"
    if not agree:
        check = "MISMATCH: " + check
    if not r["fixed_costs_cancelled"]:
        check += NOISY
    met = None if need is None else bool(agree and ratio is not None and ratio >= need)
    notes = (
        f"{r['max_iter']} iterations, {r['repeats']} repeats, {r['threads']} BLAS thread(s); "
        f"GFLOP/s ours {_g(r['gflops_ours'])}, sklearn {_g(r['gflops_sklearn'])}; "
        f"load average {r['load_average'][0] if r['load_average'] else '?'}"
    )
    return Row(
        NAME, case, r["ms_ours"], "ms/iter", r["ms_sklearn"], "sklearn", ratio,
        check, target, met, notes, extra=r,
    )  # fmt: skip


def _g(x: float) -> str:
    return f"{x:.1f}"


def run(cfg: Config) -> list[Row]:
    grid = QUICK_GRID if cfg.quick else GRID
    target = QUICK_TARGET if cfg.quick else TARGET
    rows: list[Row] = []

    # The target rows first: full and diag, one thread and all threads.
    X = make_data(target["n"], target["d"])
    for threads in sorted({1, cfg.threads}):
        for ct in ("full", "diag"):
            log(f"gaussian target {ct}, {threads} thread(s)")
            r = compare(X, target["K"], ct, target["m"], target["repeats"], threads=threads)
            case = (
                "TARGET "
                + _case(ct, target["n"], target["d"], target["K"])
                + f" ({threads} thread{'s' if threads > 1 else ''})"
            )
            rows.append(
                _row(case, r, f"≥ {TARGET_SPEEDUP:g}× sklearn, same loglik", need=TARGET_SPEEDUP)
            )

    results = {}
    for n in grid["n"]:
        for d in grid["d"]:
            X = make_data(n, d)
            for K in grid["K"]:
                for ct in grid["covariance_type"]:
                    m, repeats = schedule(n, d, ct, cfg.quick)
                    log(f"gaussian {_case(ct, n, d, K)}: {m} iterations x {repeats} repeats")
                    r = compare(X, K, ct, m, repeats, cfg.threads)
                    results[(n, d, K, ct)] = r
                    rows.append(_row(_case(ct, n, d, K), r, "≥ 1× sklearn", need=1.0))
            del X

    # Achieved rate against the practical limit, full covariance at the largest n.
    n, d = max(grid["n"]), max(grid["d"])
    square = gemm_gflops(2000, 2000, 2000, cfg.threads)
    rows.append(
        Row(NAME, "GEMM 2000×2000 @ 2000×2000 (reference)", square, "GFLOP/s",
            notes=f"{cfg.threads} BLAS thread(s)")
    )  # fmt: skip
    for K in grid["K"]:
        r = results[(n, d, K, "full")]
        limit = gemm_gflops(min(n, GEMM_ROWS), d, K * d, cfg.threads)
        ours = r["gflops_ours"]
        frac = ours / limit
        # The target is for large n and K = 10; quick mode's sizes only
        # exercise the code.
        large = n >= 1_000_000 and K == 10
        rows.append(
            Row(
                NAME, f"GFLOP/s {_case('full', n, d, K)}", ours, "GFLOP/s", limit,
                f"GEMM ({min(n, GEMM_ROWS)}×{d})@({d}×{K * d})", frac,
                f"sklearn {_g(r['gflops_sklearn'])} GFLOP/s; square GEMM {square:.1f}",
                f"≥ {TARGET_GEMM_FRACTION:g} of GEMM" if large else "",
                bool(frac >= TARGET_GEMM_FRACTION) if large else None,
                "ratio = our GFLOP/s / GEMM GFLOP/s (the fraction of the limit reached)"
                + ("" if large else "; the target applies at n = 1e6, K = 10, not checked here")
                + f"; load average {load_average()}",
                extra={
                    "gemm_gflops": limit,
                    "square_gemm_gflops": square,
                    "load_average": load_average(),
                },
            )
        )  # fmt: skip
    return rows
