"""The test cases of the Bernoulli mixture assignment: grade cells, points, inputs.

:func:`build` is the assignment's ``build(secret)``: the eleven grade cells in
notebook order, their hidden cases drawn from the course secret with
:func:`autograder.spec.rng` (tags ``bernoulli_mixture/<grade id>/<index>``).

Binary data and long probability vectors are written into the notebook as
packed bytes (:func:`_bits_code`, :func:`_percent_code`), which keeps a
1000-pixel case to a few lines.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.spec import Case, GradeCell
from autograder.spec import rng as _rng

NAME = "bernoulli_mixture"
#: The range of ε in the "off" pixels μ_kj = ε: 24 contradicted pixels already
#: give ε^24 <= 1e-288, and 28 give 1e-336, which is 0 in double precision.
TINY = (1e-14, 1e-12)


# --------------------------------------------------------------------------
# inputs and how the notebook writes them


def _a(values, dtype=float) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def _hex_lines(data: bytes, indent: str = "    ") -> str:
    text = data.hex()
    return "\n".join(f'{indent}"{text[i:i + 80]}"' for i in range(0, len(text), 80))


def _bits_code(X: np.ndarray) -> str:
    """A 0/1 matrix as an expression: its bits packed into hexadecimal bytes."""
    n, d = X.shape
    packed = np.packbits(X.astype(np.uint8).ravel()).tobytes()
    return ("np.unpackbits(np.frombuffer(bytes.fromhex(\n" + _hex_lines(packed)
            + f"\n), dtype=np.uint8), count={n * d}).reshape({n}, {d}).astype(float)")


def _percent_code(mu: np.ndarray) -> str:
    """Probabilities that are multiples of 0.01 (strictly inside (0, 1)) as an expression."""
    k, d = mu.shape
    percents = np.rint(mu * 100).astype(np.uint8)
    assert np.allclose(percents / 100.0, mu, rtol=0, atol=1e-12)
    return ("np.frombuffer(bytes.fromhex(\n" + _hex_lines(percents.tobytes())
            + f"\n), dtype=np.uint8).reshape({k}, {d}) / 100")


def _percents(rs: np.random.RandomState, k: int, d: int, low: int = 5, high: int = 95) -> np.ndarray:
    """Probabilities that are multiples of 0.01 in [low, high] %."""
    return rs.randint(low, high + 1, size=(k, d)) / 100.0


def _weights(rs: np.random.RandomState, k: int, low: float = 0.15) -> np.ndarray:
    """Readable weights (multiples of 0.01, each at least ``low``) summing to 1."""
    while True:
        pi = np.round(rs.dirichlet(np.full(k, 4.0)), 2)
        pi[-1] = round(1.0 - pi[:-1].sum(), 2)
        if pi.min() >= low:
            return pi


def _uneven(rs: np.random.RandomState) -> np.ndarray:
    """Weights (1 - ε, ε) with ε near 1e-12."""
    eps = float(f"{10 ** rs.uniform(-13, -11):.1e}")
    return _a([1 - eps, eps])


def _responsibilities(rs: np.random.RandomState, n: int, k: int) -> np.ndarray:
    """Rows of multiples of 0.001 summing to 1, each column with a positive sum."""
    while True:
        tau = rs.multinomial(1000, rs.dirichlet(np.ones(k)), size=n) / 1000.0
        if tau.sum(axis=0).min() > 0:
            return tau


def _sample(rs: np.random.RandomState, n: int, pi, mu) -> np.ndarray:
    """``n`` rows of the mixture (π, μ), as floats 0.0 and 1.0."""
    mu = np.asarray(mu, dtype=float)
    z = rs.choice(len(pi), size=n, p=np.asarray(pi, dtype=float))
    return (rs.random_sample((n, mu.shape[1])) < mu[z]).astype(float)


def _coin_flips(rs: np.random.RandomState, n: int, d: int) -> np.ndarray:
    """Rows of fair coin flips. Against μ_kj spread over [0.05, 0.95] a pixel
    costs about 0.9 in log-probability on average, so with d = 1000 every
    p(x_i | μ_k) is near e^-900 < 1e-390, which is 0 in double precision
    (rows drawn from μ_k itself would cost only about 0.55 a pixel: e^-550)."""
    return (rs.random_sample((n, d)) < 0.5).astype(float)


def _hard(groups: list[int], k: int | None = None) -> np.ndarray:
    """Hard assignments: a 1 in the column of each row's group."""
    return np.eye(max(groups) + 1 if k is None else k)[groups]


def _tiny(rs: np.random.RandomState) -> float:
    return float(f"{10 ** rs.uniform(np.log10(TINY[0]), np.log10(TINY[1])):.1e}")


def _pattern_mu(rs: np.random.RandomState, k: int, d: int) -> np.ndarray:
    """Components whose pixels are 'on' (μ_kj = 0.9) or 'off' (μ_kj = ε, in :data:`TINY`),
    each with at least 28 pixels off. (ε, not 1 - ε: float32 keeps ε but rounds 1 - ε to 1.)"""
    eps = _tiny(rs)
    while True:
        off = rs.random_sample((k, d)) < 0.5
        if off.sum(axis=1).min() >= 28:
            return np.where(off, eps, 0.9)


def _mostly_on(rs: np.random.RandomState, n: int, d: int) -> np.ndarray:
    """Rows with every pixel on but 0 to 4: each contradicts at least 24 off pixels
    (μ_kj = ε) of every :func:`_pattern_mu` component, so p(x_i | μ_k) < 1e-336 = 0."""
    X = np.ones((n, d))
    for row in X:
        row[rs.choice(d, size=rs.randint(0, 5), replace=False)] = 0.0
    return X


def _boundary_mu(rs: np.random.RandomState, k: int, d: int) -> np.ndarray:
    """Probabilities (multiples of 0.05) with about a quarter of the entries exactly 0 or 1."""
    mu = rs.randint(1, 20, size=(k, d)) / 20.0
    edge = rs.random_sample((k, d)) < 0.25
    return np.where(edge, (rs.random_sample((k, d)) < 0.5).astype(float), mu)


def _possible(X: np.ndarray, mu: np.ndarray, pi: np.ndarray | None = None) -> np.ndarray:
    """The rows of X that some component (with π_k > 0) allows."""
    zero, one = mu == 0.0, mu == 1.0
    contradicts = (X @ zero.T.astype(float) + (1 - X) @ one.T.astype(float)) > 0
    allowed = ~contradicts if pi is None else ~contradicts & (np.asarray(pi) > 0)
    return X[allowed.any(axis=1)]


def _digit_like(rs: np.random.RandomState, k: int, d: int) -> np.ndarray:
    """Well-separated components: each pixel is 'on' (0.8-0.95) or 'off' (0.05-0.2)."""
    on = rs.random_sample((k, d)) < 0.5
    return np.round(np.where(on, rs.uniform(0.8, 0.95, (k, d)), rs.uniform(0.05, 0.2, (k, d))), 2)


def _start(rs: np.random.RandomState, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """θ^0: equal weights; μ^0 = k distinct rows of X pulled towards 1/2 (inside (0, 1))."""
    rows = X[rs.choice(len(X), size=k, replace=False)]
    return np.full(k, 1.0 / k), np.round(0.25 + 0.5 * rows, 2)


# --------------------------------------------------------------------------
# the grade cells


def build(secret: str | None = None) -> tuple[GradeCell, ...]:
    """The grade cells, hidden cases drawn from ``secret`` (None: public default)."""

    def rng(grade_id: str) -> Callable[[int], np.random.RandomState]:
        return lambda index: _rng(secret, f"{NAME}/{grade_id}/{index}")

    ones_alt = np.array([np.ones(64), np.arange(64) % 2])
    ones_alt_code = "np.array([np.ones(64), np.arange(64) % 2])"
    mu_tiny = np.array([np.full(64, 1e-12), np.full(64, 1e-9)])
    mu_tiny_code = "np.array([np.full(64, 1e-12), np.full(64, 1e-9)])"
    X_small = _a([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]])
    mu_small = _a([[0.9, 0.2, 0.6], [0.3, 0.5, 0.1]])
    X_em = _a([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0],
               [0, 0, 1, 1, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0]])
    em_two = _sample(np.random.RandomState(2024), 120, [0.4, 0.6],
                     [[0.9, 0.9, 0.8, 0.9, 0.1, 0.2, 0.1, 0.1],
                      [0.1, 0.2, 0.1, 0.1, 0.9, 0.8, 0.9, 0.9]])
    return (
        GradeCell(
            "test_log_bernoulli_basic", "log_bernoulli", 1, "log_bernoulli: small examples",
            "random data (n = 20, d = 8, K = 3)",
            (
                Case((X_small, mu_small), "shape (n, K) and values for d = 3, K = 2",
                     visible=True),
                _log_random(rng("test_log_bernoulli_basic")(1)),
            ),
        ),
        GradeCell(
            "test_log_bernoulli_underflow", "log_bernoulli", 1,
            "log_bernoulli: products that underflow",
            "d = 64 with μ_kj = 0.9 or near 1e-12, d = 1000, K = 1",
            (
                Case((ones_alt, mu_tiny),
                     "d = 64 with μ_kj = 1e-12 and 1e-9: p(x_1 | μ_k) = 1e-768 and 1e-576 underflow to 0",
                     visible=True, code={"X": ones_alt_code, "mu": mu_tiny_code}),
                *_log_underflow(rng("test_log_bernoulli_underflow")),
            ),
        ),
        GradeCell(
            "test_log_bernoulli_boundary", "log_bernoulli", 1,
            "log_bernoulli: probabilities 0 and 1",
            "random μ with about a quarter of the entries exactly 0 or 1 (d = 10, K = 3)",
            (
                Case((_a([[1, 0, 1], [0, 0, 1], [1, 1, 0]]), _a([[1.0, 0.0, 0.5], [0.5, 0.0, 1.0]])),
                     "μ_kj in {0, 1}: log 1 = 0 where x_ij agrees, -inf where it contradicts",
                     visible=True),
                _log_boundary(rng("test_log_bernoulli_boundary")(1)),
            ),
        ),
        GradeCell(
            "test_e_step_basic", "e_step", 2, "e_step: responsibilities",
            "random data (n = 30, d = 10, K = 3)",
            (
                Case((X_small, _a([0.3, 0.7]), mu_small), "a small two-component example",
                     visible=True),
                _joint_random(rng("test_e_step_basic")(1), 30, 10, 3),
            ),
        ),
        GradeCell(
            "test_e_step_extreme", "e_step", 2, "e_step: extreme cases",
            "d = 64 with μ_kj near 1e-12, d = 1000, weights near 1e-12, K = 1, μ_kj exactly 0 or 1",
            (
                Case((ones_alt, _a([0.5, 0.5]), mu_tiny),
                     "d = 64: π_k p(x_1 | μ_k) underflows to 0 for both k", visible=True,
                     code={"X": ones_alt_code, "mu": mu_tiny_code}),
                *_joint_extreme(rng("test_e_step_extreme")),
            ),
        ),
        GradeCell(
            "test_m_step_basic", "m_step", 2, "m_step: maximum likelihood (α = β = 1)",
            "random responsibilities (n = 30, d = 6, K = 3)",
            (
                Case((X_small, _hard([0, 1, 0, 1])),
                     "hard assignments: π_k are the group fractions, μ_k the group means",
                     visible=True),
                _m_random(rng("test_m_step_basic")(1)),
            ),
        ),
        GradeCell(
            "test_m_step_prior", "m_step", 1, "m_step: Beta(α, β) prior",
            "random responsibilities with α, β between 1 and 4, α ≠ β",
            (
                Case((X_small, _hard([0, 1, 0, 1])),
                     "α = β = 2 (add-one smoothing): μ_kj = (Σ_i t_ik x_ij + 1) / (n_k + 2)",
                     kwargs={"alpha": 2.0, "beta": 2.0}, visible=True),
                *_m_prior(rng("test_m_step_prior")),
            ),
        ),
        GradeCell(
            "test_m_step_edge", "m_step", 1, "m_step: edge cases",
            "K = 1; an empty component with α = β = 1 (μ_k = mean of the rows) and with a prior "
            "(its mode); responsibilities that give μ_kj = 0 and 1",
            (
                Case((X_small, _hard([0, 0, 0, 0], 2)),
                     "an empty component (Σ_i t_ik = 0) with α = β = 1: π_k = 0, "
                     "μ_k = the mean of the rows", visible=True),
                *_m_edge(rng("test_m_step_edge")),
            ),
        ),
        GradeCell(
            "test_log_likelihood_basic", "log_likelihood", 1, "log_likelihood: small examples",
            "random data (n = 30, d = 10, K = 2)",
            (
                Case((X_small, _a([0.3, 0.7]), mu_small), "a four-row example", visible=True),
                _joint_random(rng("test_log_likelihood_basic")(1), 30, 10, 2),
            ),
        ),
        GradeCell(
            "test_log_likelihood_extreme", "log_likelihood", 1, "log_likelihood: extreme cases",
            "d = 64 with μ_kj near 1e-12, d = 1000, weights near 1e-12, K = 1, μ_kj exactly 0 or 1",
            (
                Case((ones_alt, _a([0.5, 0.5]), mu_tiny),
                     "d = 64: π_k p(x_1 | μ_k) underflows to 0 for both k", visible=True,
                     code={"X": ones_alt_code, "mu": mu_tiny_code}),
                *_joint_extreme(rng("test_log_likelihood_extreme")),
            ),
        ),
        GradeCell(
            "test_em_exact", "em", 2, "em: the first iterations",
            "a few iterations with tol = 0 on random data (d = 16, K = 3), without and with a prior",
            (
                Case((X_em, _a([0.5, 0.5]), _a([[0.6, 0.6, 0.4, 0.4, 0.3], [0.4, 0.4, 0.6, 0.6, 0.3]])),
                     "three iterations with tol = 0 (the last pixel is always 0: μ_k5 = 0 after "
                     "one iteration)", kwargs={"max_iter": 3, "tol": 0.0}, visible=True,
                     reference="exact"),
                *_em_exact(rng("test_em_exact")),
            ),
        ),
        GradeCell(
            "test_em_converged", "em", 2, "em: convergence",
            "random data (d = 64, K = 3) with and without a prior, K = 1; compared up to a "
            "permutation of the components",
            (
                Case((em_two, _a([0.5, 0.5]), _a([[0.6] * 4 + [0.4] * 4, [0.4] * 4 + [0.6] * 4])),
                     "default max_iter and tol, two well-separated components (d = 8)",
                     visible=True, options={"param_rtol": 1e-3, "param_atol": 1e-4,
                                            "final_atol": 1e-4},
                     code={"X": _bits_code(em_two)}),
                *_em_converged(rng("test_em_converged")),
            ),
        ),
    )


def _log_random(rs: np.random.RandomState) -> Case:
    mu = _percents(rs, 3, 8)
    return Case((_sample(rs, 20, [1 / 3] * 3, mu), mu), "random data, d = 8, K = 3")


def _log_underflow(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3 = rng(1), rng(2), rng(3)
    mu1 = _pattern_mu(rs1, 2, 64)
    X1 = _mostly_on(rs1, 4, 64)
    mu2 = _percents(rs2, 2, 1000)
    X2 = _coin_flips(rs2, 4, 1000)
    mu3 = _percents(rs3, 1, 1000)
    X3 = _coin_flips(rs3, 3, 1000)
    return (
        Case((X1, mu1), "d = 64, μ_kj = 0.9 or ε near 1e-12, rows with almost every pixel on",
             code={"X": _bits_code(X1)}),
        Case((X2, mu2), "d = 1000, random μ: every product underflows",
             code={"X": _bits_code(X2), "mu": _percent_code(mu2)}),
        Case((X3, mu3), "K = 1, d = 1000", code={"X": _bits_code(X3), "mu": _percent_code(mu3)}),
    )


def _log_boundary(rs: np.random.RandomState) -> Case:
    mu = _boundary_mu(rs, 3, 10)
    X = np.concatenate([_sample(rs, 8, [1 / 3] * 3, mu), (rs.random_sample((4, 10)) < 0.5)])
    return Case((X.astype(float), mu), "μ_kj exactly 0 or 1: rows drawn from the components "
                "and random rows (-inf where a row contradicts them)")


def _joint_random(rs: np.random.RandomState, n: int, d: int, k: int) -> Case:
    mu = _percents(rs, k, d)
    pi = _weights(rs, k)
    return Case((_sample(rs, n, pi, mu), pi, mu), f"random data, d = {d}, K = {k}")


def _joint_extreme(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4, rs5 = (rng(i) for i in range(1, 6))
    mu1 = _pattern_mu(rs1, 3, 64)
    X1 = _mostly_on(rs1, 5, 64)
    p = round(float(rs1.uniform(0.2, 0.4)), 2)
    pi1 = _a([p, round(0.5 - p / 2, 3), round(0.5 - p / 2, 3)])
    pi1[-1] = 1.0 - pi1[:-1].sum()
    big = Case((X1, pi1, mu1), "d = 64, μ_kj = 0.9 or ε near 1e-12, rows with almost every "
               "pixel on: every π_k p(x_i | μ_k) underflows", code={"X": _bits_code(X1)})
    mu2 = _percents(rs2, 2, 1000)
    X2 = _coin_flips(rs2, 4, 1000)
    wide = Case((X2, _a([0.5, 0.5]), mu2), "d = 1000: every product underflows",
                code={"X": _bits_code(X2), "mu": _percent_code(mu2)})
    mu3 = _digit_like(rs3, 2, 64)
    X3 = _sample(rs3, 12, [0.5, 0.5], mu3)
    uneven = Case((X3, _uneven(rs3), mu3), "very uneven weights π = (1 - ε, ε), d = 64",
                  code={"X": _bits_code(X3)})
    mu4 = _percents(rs4, 1, 1000)
    X4 = _coin_flips(rs4, 3, 1000)
    one = Case((X4, _a([1.0]), mu4), "K = 1 with d = 1000: every t_i1 is 1",
               code={"X": _bits_code(X4), "mu": _percent_code(mu4)})
    mu5 = _boundary_mu(rs5, 3, 10)
    X5 = _possible(np.concatenate([_sample(rs5, 10, [1 / 3] * 3, mu5),
                                   (rs5.random_sample((6, 10)) < 0.5)]).astype(float), mu5)
    boundary = Case((X5, _weights(rs5, 3), mu5),
                    "μ_kj exactly 0 or 1: a component a row contradicts gets t_ik = 0")
    return big, wide, uneven, one, boundary


def _m_random(rs: np.random.RandomState) -> Case:
    mu = _percents(rs, 3, 6)
    return Case((_sample(rs, 30, [1 / 3] * 3, mu), _responsibilities(rs, 30, 3)),
                "random responsibilities, d = 6, K = 3")


def _prior(rs: np.random.RandomState) -> dict[str, float]:
    while True:
        a, b = (round(float(v), 1) for v in rs.uniform(1.0, 4.0, size=2))
        if a != b:
            return {"alpha": a, "beta": b}


def _m_prior(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2 = rng(1), rng(2)
    mu = _percents(rs1, 3, 6)
    X2 = _sample(rs2, 12, [0.5, 0.5], _percents(rs2, 2, 5))
    return (
        Case((_sample(rs1, 30, [1 / 3] * 3, mu), _responsibilities(rs1, 30, 3)),
             "random responsibilities, d = 6, K = 3, Beta(α, β) with α ≠ β",
             kwargs=_prior(rs1)),
        Case((X2, _hard(list(rs2.randint(2, size=12)), 2)),
             "hard assignments, Beta(1, β): μ_kj = Σ_i t_ik x_ij / (n_k + β - 1)",
             kwargs={"alpha": 1.0, "beta": round(float(rs2.uniform(1.5, 4)), 1)}),
    )


def _m_edge(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4 = (rng(i) for i in range(1, 5))
    X1 = _sample(rs1, 15, [1.0], _percents(rs1, 1, 6))
    n2 = int(rs2.randint(6, 10))
    X2 = _sample(rs2, n2, [0.5, 0.5], _percents(rs2, 2, 5))
    groups2 = [int(g) for g in rs2.choice([0, 2], size=n2)]
    groups2[:2] = [0, 2]
    X3 = _sample(rs3, 8, [1.0], _percents(rs3, 1, 5))
    X4 = _a(rs4.randint(2, size=(6, 5)))
    X4[:3, 0], X4[3:, 0], X4[:, 1] = 1, 0, 1  # pixel 0 separates the groups; pixel 1 always on
    return (
        Case((X1, np.ones((15, 1))), "K = 1: π = (1,), μ = the mean of the rows",
             code={"tau": "np.ones((15, 1))"}),
        Case((X2, _hard(groups2, 3)), "an empty middle component with α = β = 1: π_2 = 0, "
             "μ_2 = the mean of the rows"),
        Case((X3, _hard([0] * 8, 2)), "an empty component under a Beta(α, β) prior: "
             "μ_2j = (α - 1) / (α + β - 2), the mode of the prior", kwargs=_prior(rs3)),
        Case((X4, _hard([0, 0, 0, 1, 1, 1])), "μ_kj = 0 and 1 exactly (pixels constant "
             "within a group)"),
    )


def _em_exact(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2 = rng(1), rng(2)
    mu1 = _digit_like(rs1, 3, 16)
    mu1[:, -2:] = 0.0  # two pixels never on: μ_kj = 0 after one iteration
    X1 = _sample(rs1, 60, _weights(rs1, 3, low=0.25), mu1)
    pi01, mu01 = _start(rs1, X1, 3)
    X2 = _sample(rs2, 60, _weights(rs2, 3, low=0.25), _digit_like(rs2, 3, 16))
    pi02, mu02 = _start(rs2, X2, 3)
    return (
        Case((X1, pi01, mu01), "five iterations with tol = 0, maximum likelihood; two pixels "
             "always 0", kwargs={"max_iter": 5, "tol": 0.0}, reference="exact",
             code={"X": _bits_code(X1)}),
        Case((X2, pi02, mu02), "five iterations with tol = 0 under a Beta(α, β) prior",
             kwargs={"max_iter": 5, "tol": 0.0, **_prior(rs2)}, reference="exact",
             code={"X": _bits_code(X2)}),
    )


def _em_converged(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3 = rng(1), rng(2), rng(3)
    X1 = _sample(rs1, 150, _weights(rs1, 3, low=0.25), _digit_like(rs1, 3, 64))
    pi01, mu01 = _start(rs1, X1, 3)
    X2 = _sample(rs2, 150, _weights(rs2, 3, low=0.25), _digit_like(rs2, 3, 64))
    pi02, mu02 = _start(rs2, X2, 3)
    X3 = _sample(rs3, 40, [1.0], _percents(rs3, 1, 20))
    tolerances = {"param_rtol": 1e-4, "param_atol": 1e-6, "final_atol": 1e-5}
    return (
        Case((X1, pi01, mu01), "d = 64, K = 3, maximum likelihood, max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10}, options=tolerances,
             code={"X": _bits_code(X1)}),
        Case((X2, pi02, mu02), "d = 64, K = 3, Beta(2, 2) prior (add-one smoothing), "
             "max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10, "alpha": 2.0, "beta": 2.0},
             options=tolerances, code={"X": _bits_code(X2)}),
        Case((X3, _a([1.0]), _percents(rs3, 1, 20)), "K = 1: one step gives μ = the mean of "
             "the rows", kwargs={"max_iter": 100, "tol": 1e-10},
             options={"param_rtol": 1e-8, "param_atol": 1e-10, "final_atol": 1e-8},
             code={"X": _bits_code(X3)}),
    )
