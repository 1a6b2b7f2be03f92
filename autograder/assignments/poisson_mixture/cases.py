"""The test cases of the Poisson mixture exercise: grade cells, points, inputs.

:func:`build` is the assignment's ``build(secret)``: the ten grade cells in
notebook order, their hidden cases drawn from the course secret with
:func:`autograder.spec.rng` (tags ``<grade id>/<index>``, kept from before the
engine so that the public default cases did not change).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.spec import Case, GradeCell
from autograder.spec import rng as _rng

HASSELBLAD_FREQUENCIES = (162, 267, 271, 185, 111, 61, 27, 8, 3, 1)
HASSELBLAD_CODE = f"np.repeat(np.arange(10), {list(HASSELBLAD_FREQUENCIES)})"


# --------------------------------------------------------------------------
# inputs


def _a(values, dtype=float) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def _round(values, digits: int = 2) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), digits)


def _counts(rs: np.random.RandomState, n: int, lam) -> np.ndarray:
    """``n`` counts from an equal-weight Poisson mixture with rates ``lam``."""
    z = rs.randint(len(lam), size=n)
    return rs.poisson(np.asarray(lam, dtype=float)[z]).astype(np.int64)


def _weights(rs: np.random.RandomState, k: int, low: float = 0.15) -> np.ndarray:
    """Readable weights (multiples of 0.01, each at least ``low``) summing to 1."""
    while True:
        pi = _round(rs.dirichlet(np.full(k, 4.0)))
        pi[-1] = round(1.0 - pi[:-1].sum(), 2)
        if pi.min() >= low:
            return pi


def _responsibilities(rs: np.random.RandomState, n: int, k: int) -> np.ndarray:
    """Rows of multiples of 0.001 summing to 1, readable in the notebook."""
    return rs.multinomial(1000, rs.dirichlet(np.ones(k)), size=n) / 1000.0


def _hard(groups: list[int]) -> np.ndarray:
    """Hard assignments: one row per count, a 1 in the column of its group."""
    return np.eye(max(groups) + 1)[groups]


def _mixture_sample(rs: np.random.RandomState, n: int, pi, lam) -> np.ndarray:
    z = rs.choice(len(pi), size=n, p=pi)
    return np.sort(rs.poisson(np.asarray(lam, dtype=float)[z])).astype(np.int64)


def _repeat_code(x: np.ndarray) -> str:
    freq = np.bincount(x)
    return f"np.repeat(np.arange({len(freq)}), {freq.tolist()})"


def _big(rs: np.random.RandomState) -> int:
    """A count near 1000: p(x | λ ≈ 0.5) underflows to 0 unless computed in log space."""
    return int(rs.randint(900, 1101))


def _half(rs: np.random.RandomState) -> float:
    """A rate near 0.5."""
    return round(float(rs.uniform(0.3, 0.7)), 2)


def _uneven(rs: np.random.RandomState) -> np.ndarray:
    """Weights (1 - ε, ε) with ε near 1e-12."""
    eps = float(f"{10 ** rs.uniform(-13, -11):.1e}")
    return _a([1 - eps, eps])


# --------------------------------------------------------------------------
# the grade cells


def build(secret: str | None = None) -> tuple[GradeCell, ...]:
    """The grade cells, with hidden cases drawn from ``secret`` (None: public default)."""

    def rng(grade_id: str, index: int) -> np.random.RandomState:
        return _rng(secret, f"{grade_id}/{index}")

    hb = np.repeat(np.arange(10), HASSELBLAD_FREQUENCIES).astype(np.int64)
    x_em = _mixture_sample(np.random.RandomState(2024), 300, [0.3, 0.4, 0.3], [2.0, 9.0, 20.0])
    return (
        GradeCell(
            "test_log_pmf_basic", "log_poisson_pmf", 1, "log_poisson_pmf: small counts",
            "random counts (n = 25, K = 3)",
            (
                Case((_a([0, 1, 2, 5], np.int64), _a([1.0, 3.0])),
                     "shape (n, K) and values for x = 0, 1, 2, 5", visible=True),
                _pmf_random(rng("test_log_pmf_basic", 1)),
            ),
        ),
        GradeCell(
            "test_log_pmf_extreme", "log_poisson_pmf", 1, "log_poisson_pmf: extreme counts",
            "x near 1000 with λ near 0.5, x > 170 (x! overflows), λ near 1e-3 and λ = 0, K = 1",
            (
                Case((_a([0, 2, 1000], np.int64), _a([0.5, 0.0])),
                     "x = 1000 with λ = 0.5 (p underflows to 0); λ = 0: log p(0 | 0) = 0 "
                     "and log p(x | 0) = -inf for x > 0", visible=True),
                *_pmf_extreme(lambda i: rng("test_log_pmf_extreme", i)),
            ),
        ),
        GradeCell(
            "test_e_step_basic", "e_step", 2, "e_step: responsibilities",
            "random counts (n = 40, K = 3)",
            (
                Case((_a([0, 1, 2, 8, 10], np.int64), _a([0.4, 0.6]), _a([1.0, 9.0])),
                     "a small two-component example", visible=True),
                _joint_random(rng("test_e_step_basic", 1), 40, 3),
            ),
        ),
        GradeCell(
            "test_e_step_extreme", "e_step", 2, "e_step: extreme cases",
            "x near 1000 with λ near 0.5, weights near 1e-12, K = 1, a component with λ_k = 0",
            (
                Case((_a([0, 1000], np.int64), _a([0.5, 0.5]), _a([0.5, 2.0])),
                     "x = 1000: every π_k p(x | λ_k) underflows to 0", visible=True),
                *_joint_extreme(lambda i: rng("test_e_step_extreme", i)),
            ),
        ),
        GradeCell(
            "test_m_step_basic", "m_step", 2, "m_step: weights and rates",
            "random responsibilities (n = 40, K = 3)",
            (
                Case((_a([0, 1, 2, 10, 12], np.int64), _hard([0, 0, 0, 1, 1])),
                     "hard assignments: π_k are the group fractions, λ_k the group means",
                     visible=True),
                _m_random(rng("test_m_step_basic", 1)),
            ),
        ),
        GradeCell(
            "test_m_step_edge", "m_step", 1, "m_step: edge cases",
            "K = 1; components whose counts are all zero (λ_k = 0)",
            (
                Case((_a([0, 0, 4, 6], np.int64), _hard([0, 0, 1, 1])),
                     "a component holding only zeros gets λ_k = 0", visible=True),
                *_m_edge(lambda i: rng("test_m_step_edge", i)),
            ),
        ),
        GradeCell(
            "test_log_likelihood_basic", "log_likelihood", 1, "log_likelihood: small counts",
            "random counts (n = 40, K = 2)",
            (
                Case((_a([0, 1, 2], np.int64), _a([0.5, 0.5]), _a([1.0, 4.0])),
                     "a three-point example", visible=True),
                _joint_random(rng("test_log_likelihood_basic", 1), 40, 2),
            ),
        ),
        GradeCell(
            "test_log_likelihood_extreme", "log_likelihood", 1, "log_likelihood: extreme cases",
            "x near 1000 with λ near 0.5, weights near 1e-12, K = 1, a component with λ_k = 0",
            (
                Case((_a([1000, 0], np.int64), _a([0.5, 0.5]), _a([0.5, 2.0])),
                     "x = 1000: every π_k p(x | λ_k) underflows to 0", visible=True),
                *_joint_extreme(lambda i: rng("test_log_likelihood_extreme", i)),
            ),
        ),
        GradeCell(
            "test_em_hasselblad", "em", 2, "em: Hasselblad (1969) data",
            "convergence to the maximum-likelihood estimate (ℓ = -1989.946)",
            (
                Case((hb, _a([0.3, 0.7]), _a([1.0, 2.5])),
                     "three iterations from θ^0 = (π = (0.3, 0.7), λ = (1, 2.5)) with tol = 0",
                     kwargs={"max_iter": 3, "tol": 0.0}, visible=True, reference="exact",
                     code={"x": HASSELBLAD_CODE}),
                _em_hasselblad(rng("test_em_hasselblad", 1), hb),
            ),
        ),
        GradeCell(
            "test_em_random", "em", 2, "em: simulated three-component data",
            "random three-component data and K = 1, compared up to a permutation",
            (
                Case((x_em, _a([1 / 3, 1 / 3, 1 / 3]), _a([1.0, 5.0, 15.0])),
                     "default max_iter and tol, three well-separated components",
                     visible=True, options={"param_rtol": 1e-2, "loglik_atol": 1e-3},
                     code={"x": _repeat_code(x_em)}),
                *_em_random(lambda i: rng("test_em_random", i)),
            ),
        ),
    )


def _pmf_random(rs: np.random.RandomState) -> Case:
    lam = _round([rs.uniform(0.5, 3), rs.uniform(4, 9), rs.uniform(10, 20)])
    return Case((_counts(rs, 25, lam), lam), "random counts, K = 3")


def _pmf_extreme(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs = rng(1)
    x = _a([0, 3, rs.randint(171, 201), rs.randint(400, 601), _big(rs)], np.int64)
    lam = _a([_half(rs), round(float(rs.uniform(500, 1500)), 1),
              float(f"{10 ** rs.uniform(-4, -2):.1e}")])
    rs2, rs3 = rng(2), rng(3)
    return (
        Case((x, lam), "x up to 1000 with λ near 0.5, 1000 and 1e-3 (x! overflows for x > 170)"),
        Case((_a([0, 2, _big(rs2)], np.int64), _a([_half(rs2)])), "K = 1 with x near 1000"),
        Case((_a([0, 0, rs3.randint(1, 6), _big(rs3)], np.int64),
              _a([0.0, round(float(rs3.uniform(1, 5)), 2)])),
             "a rate λ_k = 0: log p(0 | 0) = 0, log p(x | 0) = -inf for x > 0"),
    )


def _joint_random(rs: np.random.RandomState, n: int, k: int) -> Case:
    lam = np.sort(_round(rs.uniform(1, 16, size=k)))
    return Case((_counts(rs, n, lam), _weights(rs, k), lam), f"random counts, K = {k}")


def _joint_extreme(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4 = rng(1), rng(2), rng(3), rng(4)
    p = round(float(rs1.uniform(0.3, 0.7)), 2)
    big = Case((_a([_big(rs1), 0, rs1.randint(1, 6)], np.int64), _a([p, round(1 - p, 2)]),
                _a([_half(rs1), round(float(rs1.uniform(1.5, 3)), 2)])),
               "x near 1000 with λ near 0.5: p(x | λ) underflows to 0 unless in log space")
    lam = _a([round(float(rs2.uniform(0.5, 2)), 2), round(float(rs2.uniform(15, 25)), 2)])
    uneven = Case((_counts(rs2, 20, lam), _uneven(rs2), lam), "very uneven weights π = (1 - ε, ε)")
    one = Case((_a([0, rs3.randint(2, 9), _big(rs3)], np.int64), _a([1.0]),
                _a([round(float(rs3.uniform(2, 4)), 2)])),
               "K = 1 with x near 1000: every t_i1 is 1")
    p = round(float(rs4.uniform(0.2, 0.5)), 2)
    zero = np.concatenate([np.zeros(rs4.randint(2, 5), np.int64),
                           rs4.poisson(3.0, size=6).astype(np.int64) + 1])
    rate0 = Case((zero, _a([p, round(1 - p, 2)]), _a([0.0, round(float(rs4.uniform(1.5, 4)), 2)])),
                 "a component with λ_k = 0 (it explains the zeros only)")
    return big, uneven, one, rate0


def _m_random(rs: np.random.RandomState) -> Case:
    lam = _round([rs.uniform(0.5, 2), rs.uniform(4, 7), rs.uniform(10, 15)])
    return Case((_counts(rs, 40, lam), _responsibilities(rs, 40, 3)),
                "random responsibilities, K = 3")


def _m_edge(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3 = rng(1), rng(2), rng(3)
    x1 = _counts(rs1, 40, [round(float(rs1.uniform(2, 8)), 2)])
    n0, n1 = rs2.randint(2, 6), rs2.randint(2, 6)
    x2 = np.concatenate([np.zeros(n0, np.int64), rs2.poisson(4.0, size=n1) + 1])
    n3 = rs3.randint(3, 7)
    return (
        Case((x1, np.ones((40, 1))), "K = 1: π = (1,), λ = (mean of x,)",
             code={"tau": "np.ones((40, 1))"}),
        Case((x2, _hard([0] * n0 + [1] * n1)), "a component holding only zeros gets λ_k = 0"),
        Case((np.zeros(n3, np.int64), _responsibilities(rs3, n3, 2)), "all counts zero"),
    )


def _em_hasselblad(rs: np.random.RandomState, hb: np.ndarray) -> Case:
    p = round(float(rs.uniform(0.2, 0.45)), 2)
    lam0 = _round([rs.uniform(0.7, 1.2), rs.uniform(2.2, 3.5)])
    return Case((hb, _a([p, round(1 - p, 2)]), lam0),
                "convergence from another start to the maximum of ℓ, -1989.946",
                kwargs={"max_iter": 5000, "tol": 1e-9},
                options={"param_rtol": 3e-2, "loglik_atol": 1e-3},
                code={"x": HASSELBLAD_CODE})


def _em_random(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2 = rng(1), rng(2)
    lam = _round([rs1.uniform(1.5, 3), rs1.uniform(8, 11), rs1.uniform(18, 24)])
    x = _mixture_sample(rs1, 300, _weights(rs1, 3, low=0.25), lam)
    lam0 = _round(lam * rs1.uniform(0.6, 0.9, size=3))
    x1 = _mixture_sample(rs2, 60, [1.0], [round(float(rs2.uniform(2, 6)), 2)])
    return (
        Case((x, _a([1 / 3, 1 / 3, 1 / 3]), lam0),
             "three components with max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10},
             options={"param_rtol": 1e-3, "loglik_atol": 1e-4},
             code={"x": _repeat_code(x)}),
        Case((x1, _a([1.0]), _a([round(float(rs2.uniform(0.5, 2)), 2)])),
             "K = 1: one step gives λ = mean of x",
             kwargs={"max_iter": 100, "tol": 1e-10},
             options={"param_rtol": 1e-8, "loglik_atol": 1e-8},
             code={"x": _repeat_code(x1)}),
    )
