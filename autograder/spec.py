"""The graded tests, defined once: grade ids, points, test cases.

Both the notebook's test cells (written by :mod:`autograder.build_source`) and
the grader (:mod:`autograder.grade`) are generated from :data:`SPEC`. A grade
cell earns its points when every one of its cases passes, as in nbgrader.

Each function is tested on its own with reference inputs (the M-step gets
reference responsibilities, not the student's E-step), and the basic and the
numerically extreme cases are separate grade cells, so correct-but-naive code
earns partial credit.

Random inputs come from ``numpy.random.RandomState``, whose streams numpy
keeps frozen (NEP 19), so the cases do not change with the numpy version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

ASSIGNMENT = "poisson_mixture"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

#: Positional argument names of the graded functions, in call order.
ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "log_poisson_pmf": ("x", "lam"),
    "e_step": ("x", "pi", "lam"),
    "m_step": ("x", "tau"),
    "log_likelihood": ("x", "pi", "lam"),
    "em": ("x", "pi0", "lam0"),
}

HASSELBLAD_FREQUENCIES = (162, 267, 271, 185, 111, 61, 27, 8, 3, 1)
HASSELBLAD_CODE = f"np.repeat(np.arange(10), {list(HASSELBLAD_FREQUENCIES)})"


@dataclass(frozen=True)
class Case:
    """One call of a graded function and how its result is judged.

    Attributes
    ----------
    args : tuple of ndarray
        Positional arguments, in the order of :data:`ARGUMENTS`.
    description : str
        What the case tests, shown in the notebook and the feedback.
    kwargs : mapping
        Keyword arguments (``em``'s ``max_iter`` and ``tol``).
    visible : bool
        Visible to the student in the release notebook.
    options : mapping
        Tolerances passed to :func:`autograder.checks.check_result`.
    reference : str
        For ``em``: ``"exact"`` (compare the whole run, ``tol=0``) or ``"mle"``
        (compare with the converged maximum-likelihood estimate).
    code : mapping
        Python expressions that render an argument more readably than its
        literal values (e.g. ``np.repeat`` for the Hasselblad counts).
    """

    args: tuple[np.ndarray, ...]
    description: str
    kwargs: Mapping[str, float | int] = field(default_factory=dict)
    visible: bool = False
    options: Mapping[str, float] = field(default_factory=dict)
    reference: str = "mle"
    code: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GradeCell:
    """An nbgrader test cell: all its cases must pass to earn ``points``."""

    grade_id: str
    function: str
    points: int
    title: str
    hidden_summary: str
    cases: tuple[Case, ...]


def _a(values, dtype=float) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def _counts(seed: int, n: int, lam) -> np.ndarray:
    """``n`` counts from an equal-weight Poisson mixture with rates ``lam``."""
    rs = np.random.RandomState(seed)
    z = rs.randint(len(lam), size=n)
    return rs.poisson(np.asarray(lam, dtype=float)[z]).astype(np.int64)


def _responsibilities(seed: int, n: int, k: int) -> np.ndarray:
    """Rows of multiples of 0.001 summing to 1, readable in the notebook."""
    rs = np.random.RandomState(seed)
    return rs.multinomial(1000, rs.dirichlet(np.ones(k)), size=n) / 1000.0


def _mixture_sample(seed: int, n: int, pi, lam) -> np.ndarray:
    rs = np.random.RandomState(seed)
    z = rs.choice(len(pi), size=n, p=pi)
    return np.sort(rs.poisson(np.asarray(lam, dtype=float)[z])).astype(np.int64)


def _repeat_code(x: np.ndarray) -> str:
    freq = np.bincount(x)
    return f"np.repeat(np.arange({len(freq)}), {freq.tolist()})"


def _build() -> tuple[GradeCell, ...]:
    x_small = _a([0, 1, 2, 5], np.int64)
    x_rand = _counts(1, 25, [1.5, 6.0, 14.0])
    x_e = _counts(2, 40, [2.0, 7.0, 15.0])
    x_m = _counts(3, 40, [1.0, 5.0, 12.0])
    x_ll = _counts(4, 40, [2.5, 9.0])
    x_uneven = _counts(5, 20, [1.0, 20.0])
    x_em = _mixture_sample(2024, 300, [0.3, 0.4, 0.3], [2.0, 9.0, 20.0])
    x_em1 = _mixture_sample(7, 60, [1.0], [3.5])
    x_hb = np.repeat(np.arange(10), HASSELBLAD_FREQUENCIES).astype(np.int64)
    big = "x = 1000 with λ = 0.5: p(x | λ) underflows to 0 unless computed in log space"

    return (
        GradeCell(
            "test_log_pmf_basic", "log_poisson_pmf", 1, "log_poisson_pmf: small counts",
            "seeded random counts (n = 25, K = 3)",
            (
                Case((x_small, _a([1.0, 3.0])), "shape (n, K) and values for x = 0, 1, 2, 5",
                     visible=True),
                Case((x_rand, _a([1.5, 6.0, 14.0])), "seeded random counts, K = 3"),
            ),
        ),
        GradeCell(
            "test_log_pmf_extreme", "log_poisson_pmf", 1, "log_poisson_pmf: extreme counts",
            "x = 1000 with λ = 0.5, x = 171 (171! overflows), λ = 1e-3, K = 1",
            (
                Case((_a([0, 3, 171, 500, 1000], np.int64), _a([0.5, 1000.0, 1e-3])),
                     "x up to 1000 with λ = 0.5, 1000, 1e-3 (171! overflows a float)"),
                Case((_a([0, 2, 1000], np.int64), _a([0.5])), "K = 1 with x = 1000, λ = 0.5"),
            ),
        ),
        GradeCell(
            "test_e_step_basic", "e_step", 2, "e_step: responsibilities",
            "seeded random counts (n = 40, K = 3)",
            (
                Case((_a([0, 1, 2, 8, 10], np.int64), _a([0.4, 0.6]), _a([1.0, 9.0])),
                     "a small two-component example", visible=True),
                Case((x_e, _a([0.2, 0.5, 0.3]), _a([2.2, 6.5, 15.5])),
                     "seeded random counts, K = 3"),
            ),
        ),
        GradeCell(
            "test_e_step_extreme", "e_step", 2, "e_step: extreme cases",
            "x = 1000 with λ = 0.5, weights like 1e-12, K = 1",
            (
                Case((_a([1000, 0, 3], np.int64), _a([0.5, 0.5]), _a([0.5, 2.0])), big),
                Case((x_uneven, _a([1 - 1e-12, 1e-12]), _a([1.0, 20.0])),
                     "very uneven weights π = (1 - 1e-12, 1e-12)"),
                Case((_a([0, 5, 1000], np.int64), _a([1.0]), _a([3.0])),
                     "K = 1 with x = 1000: every t_i1 is 1"),
            ),
        ),
        GradeCell(
            "test_m_step_basic", "m_step", 2, "m_step: weights and rates",
            "seeded random responsibilities (n = 40, K = 3)",
            (
                Case((_a([0, 1, 2, 10, 12], np.int64),
                      _a([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]])),
                     "hard assignments: π_k are the group fractions, λ_k the group means",
                     visible=True),
                Case((x_m, _responsibilities(3, 40, 3)), "seeded random responsibilities, K = 3"),
            ),
        ),
        GradeCell(
            "test_m_step_edge", "m_step", 1, "m_step: edge cases",
            "K = 1; components whose counts are all zero (λ_k = 0)",
            (
                Case((x_m, np.ones((40, 1))), "K = 1: π = (1,), λ = (mean of x,)"),
                Case((_a([0, 0, 0, 4, 6], np.int64),
                      _a([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]])),
                     "a component holding only zeros gets λ_k = 0"),
                Case((_a([0, 0, 0, 0], np.int64),
                      _a([[0.25, 0.75], [0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])),
                     "all counts zero"),
            ),
        ),
        GradeCell(
            "test_log_likelihood_basic", "log_likelihood", 1, "log_likelihood: small counts",
            "seeded random counts (n = 40, K = 2)",
            (
                Case((_a([0, 1, 2], np.int64), _a([0.5, 0.5]), _a([1.0, 4.0])),
                     "a three-point example", visible=True),
                Case((x_ll, _a([0.35, 0.65]), _a([2.0, 8.0])), "seeded random counts, K = 2"),
            ),
        ),
        GradeCell(
            "test_log_likelihood_extreme", "log_likelihood", 1, "log_likelihood: extreme cases",
            "x = 1000 with λ = 0.5, weights like 1e-12, K = 1",
            (
                Case((_a([1000, 0, 2], np.int64), _a([0.3, 0.7]), _a([0.5, 2.0])), big),
                Case((x_uneven, _a([1 - 1e-12, 1e-12]), _a([1.0, 20.0])),
                     "very uneven weights π = (1 - 1e-12, 1e-12)"),
                Case((_a([1000], np.int64), _a([1.0]), _a([0.5])), "K = 1 with x = 1000, λ = 0.5"),
            ),
        ),
        GradeCell(
            "test_em_hasselblad", "em", 2, "em: Hasselblad (1969) data",
            "convergence to the maximum-likelihood estimate (ℓ = -1989.946)",
            (
                Case((x_hb, _a([0.3, 0.7]), _a([1.0, 2.5])),
                     "three iterations from θ^0 = (π = (0.3, 0.7), λ = (1, 2.5)) with tol = 0",
                     kwargs={"max_iter": 3, "tol": 0.0}, visible=True, reference="exact",
                     code={"x": HASSELBLAD_CODE}),
                Case((x_hb, _a([0.3, 0.7]), _a([1.0, 2.5])),
                     "convergence from the same start to the maximum of ℓ, -1989.946",
                     kwargs={"max_iter": 5000, "tol": 1e-9},
                     options={"param_rtol": 3e-2, "loglik_atol": 1e-3},
                     code={"x": HASSELBLAD_CODE}),
            ),
        ),
        GradeCell(
            "test_em_random", "em", 2, "em: simulated three-component data",
            "seeded three-component data and K = 1, compared up to a permutation",
            (
                Case((x_em, _a([1 / 3, 1 / 3, 1 / 3]), _a([1.0, 5.0, 15.0])),
                     "default max_iter and tol, three well-separated components",
                     visible=True, options={"param_rtol": 1e-2, "loglik_atol": 1e-3},
                     code={"x": _repeat_code(x_em)}),
                Case((x_em, _a([1 / 3, 1 / 3, 1 / 3]), _a([1.0, 5.0, 15.0])),
                     "three components with max_iter = 1000, tol = 1e-10",
                     kwargs={"max_iter": 1000, "tol": 1e-10},
                     options={"param_rtol": 1e-3, "loglik_atol": 1e-4},
                     code={"x": _repeat_code(x_em)}),
                Case((x_em1, _a([1.0]), _a([1.0])), "K = 1: one step gives λ = mean of x",
                     kwargs={"max_iter": 100, "tol": 1e-10},
                     options={"param_rtol": 1e-8, "loglik_atol": 1e-8},
                     code={"x": _repeat_code(x_em1)}),
            ),
        ),
    )


SPEC: tuple[GradeCell, ...] = _build()
GRADE_IDS: tuple[str, ...] = tuple(cell.grade_id for cell in SPEC)
MAX_SCORE: int = sum(cell.points for cell in SPEC)


def grade_cell(grade_id: str) -> GradeCell:
    """The grade cell called ``grade_id``."""
    for cell in SPEC:
        if cell.grade_id == grade_id:
            return cell
    raise KeyError(grade_id)
