"""Bernoulli mixtures: ``solutions.bernoulli`` against a plain two-product EM iteration.

The baseline, written out below, is the textbook E-step

    log p(x_i | μ_k) = x_i · log μ_k + (1 − x_i) · log(1 − μ_k)

as two matrix products ``X @ log(μ).T + (1 − X) @ log(1 − μ).T`` (with
``1 − X`` formed inside the E-step, as the formula reads), the same
log-sum-exp normalisation and the same M-step. ``solutions.bernoulli`` needs one
product, ``X @ logit(μ).T`` plus a row vector. A second baseline row forms
``1 − X`` once, outside the loop: the best a two-product E-step can do.

Both run with smoothing s = 1 (Beta(2, 2) prior, μ_kj = (Σ_i t_ik x_ij + 1) /
(Σ_i t_ik + 2)): without it, a pixel that is 0 in every image of a component
gives μ_kj = 0, and the two-product formula computes 0 · log 0 = NaN (ours
handles that case exactly, but the baseline could not run on the digits).

Time per iteration, as for the Gaussian benchmark, is (T(m) − T(1)) / (m − 1)
from fits of m and 1 iterations, which cancels fixed costs (our input checks);
both sides start with an E-step at θ⁰, then alternate M- and E-steps.
Both log-likelihoods after m iterations must agree to a relative 1e-9.
"""

from __future__ import annotations

import numpy as np

from solutions import bernoulli, datasets

from ._common import NOISY, Config, Row, blas_threads, log, paired_times, per_iteration, speedup

NAME = "bernoulli"
SMOOTHING = 1.0
RTOL_LOGLIK = 1e-9


def baseline_fit(
    X: np.ndarray,
    pi: np.ndarray,
    mu: np.ndarray,
    max_iter: int,
    one_minus_X: np.ndarray | None = None,
    s: float = SMOOTHING,
) -> float:
    """The plain EM loop; returns log p(x | θ^max_iter)."""
    n = X.shape[0]

    def e_step(pi, mu):
        omx = 1.0 - X if one_minus_X is None else one_minus_X
        log_joint = X @ np.log(mu).T + omx @ np.log(1.0 - mu).T + np.log(pi)
        top = log_joint.max(axis=1, keepdims=True)
        tau = np.exp(log_joint - top)
        norm = tau.sum(axis=1, keepdims=True)
        tau /= norm
        return tau, float((top + np.log(norm)).sum())

    tau, loglik = e_step(pi, mu)
    for _ in range(max_iter):
        nk = tau.sum(axis=0)
        pi = nk / n
        mu = (tau.T @ X + s) / (nk[:, None] + 2.0 * s)
        tau, loglik = e_step(pi, mu)
    return loglik


def simulated(n: int, d: int, K: int, seed: int = 0) -> np.ndarray:
    """n binary vectors from K random prototypes (float64 0/1, like the fit uses)."""
    rng = np.random.default_rng(seed)
    mu = rng.beta(0.5, 0.5, size=(K, d))
    z = rng.integers(0, K, size=n)
    return (rng.random((n, d)) < mu[z]).astype(float)


def compare(case: str, X: np.ndarray, K: int, m: int, repeats: int, threads: int) -> list[Row]:
    log(f"bernoulli {case}: {m} iterations x {repeats} repeats")
    rng = np.random.default_rng(1)
    pi0 = np.full(K, 1.0 / K)
    mu0 = (X[rng.choice(X.shape[0], size=K, replace=False)] + 1.0) / 3.0  # 1/3 or 2/3
    one_minus_X = 1.0 - X
    ll = {}

    def ours(max_iter):
        res = bernoulli.fit(X, pi0, mu0, max_iter=max_iter, tol=0.0, smoothing=SMOOTHING)
        ll["ours", max_iter] = float(res.loglik[-1])

    def plain(max_iter):
        ll["plain", max_iter] = baseline_fit(X, pi0, mu0, max_iter)

    def plain_pre(max_iter):
        ll["plain_pre", max_iter] = baseline_fit(X, pi0, mu0, max_iter, one_minus_X)

    fns = {"ours": ours, "plain": plain, "plain_pre": plain_pre}
    with blas_threads(threads):
        times = paired_times(
            {
                f"{k}_{label}": (lambda f=f, it=it: f(it))
                for k, f in fns.items()
                for label, it in (("m", m), ("1", 1))
            },
            repeats,
            warmup=int(X.size < 1_000_000),
        )
    seconds, cancelled = per_iteration(times, tuple(fns), m)
    ms = {k: 1e3 * v for k, v in seconds.items()}
    rows = []
    for k, label, target in (
        ("plain", "two products", "≥ 2× the two-product iteration"),
        ("plain_pre", "two products, 1−X precomputed", ""),
    ):
        # The log-likelihoods at θ^m.
        rel = abs(ll["ours", m] - ll[k, m]) / abs(ll[k, m])
        agree = rel <= RTOL_LOGLIK
        ratio = speedup(ms["ours"], ms[k])
        check = ("" if agree else "MISMATCH: ") + f"loglik rel diff {rel:.1e}"
        check += "" if cancelled else NOISY
        met = bool(agree and ratio is not None and ratio >= 2.0) if target else None
        rows.append(
            Row(
                NAME, f"{case} vs {label}", ms["ours"], "ms/iter", ms[k], "plain", ratio,
                check, target, met,
                notes=f"{m} iterations, {repeats} repeats, {threads} BLAS thread(s), smoothing {SMOOTHING}",
                extra={"loglik_ours": ll["ours", m], "loglik_baseline": ll[k, m], "loglik_rel_diff": rel,
                       "loglik_agree": agree, "max_iter": m, "repeats": repeats, "times_s": times},
            )
        )  # fmt: skip
    return rows


def run(cfg: Config) -> list[Row]:
    digits, _ = datasets.binarized_digits()
    rows = compare(
        "digits 1797×64 K=10", digits.astype(float), 10, 20 if cfg.quick else 50,
        2 if cfg.quick else 5, cfg.threads,
    )  # fmt: skip
    # At n = 1e5 one iteration is ~0.3-1 s per side: 4 iterations, 2 repeats.
    n = 2_000 if cfg.quick else 100_000
    X = simulated(n, 784, 20)
    rows += compare(f"simulated {n}×784 K=20", X, 20, 4, 2, cfg.threads)
    return rows
