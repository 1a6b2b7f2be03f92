"""The test cases of the univariate Gaussian mixture exercise: grade cells, inputs.

:func:`build` is the assignment's ``build(secret)``: the ten grade cells in
notebook order, their hidden cases drawn from the course secret with
:func:`autograder.spec.rng` (tags ``gaussian_mixture_1d/<grade id>/<index>``). Every hidden case
is drawn within ranges that keep its purpose: a point tens of standard
deviations from every mean (every density underflows), a component on one
point, a floor above one weighted variance and below another.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.spec import Case, GradeCell
from autograder.spec import rng as _rng

Rng = Callable[[int], np.random.RandomState]


# --------------------------------------------------------------------------
# inputs


def _a(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _round(values, digits: int = 2) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), digits) + 0.0  # no -0.0


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


def _hard(groups: list[int], k: int | None = None) -> np.ndarray:
    """Hard assignments: one row per value, a 1 in the column of its group."""
    return np.eye(max(groups) + 1 if k is None else k)[groups]


def _means(rs: np.random.RandomState, k: int, gap: float = 3.0) -> np.ndarray:
    """``k`` increasing readable means, consecutive ones at least ``gap`` apart."""
    steps = rs.uniform(gap, 2 * gap, size=k)
    return _round(rs.uniform(-5, 5) + np.cumsum(steps) - steps[0], 1)


def _variances(rs: np.random.RandomState, k: int, low: float = 0.5, high: float = 3.0):
    return _round(rs.uniform(low, high, size=k))


def _sample(rs: np.random.RandomState, n: int, pi, mu, var, digits: int = 2) -> np.ndarray:
    """``n`` readable values (rounded) from the mixture, in random order."""
    z = rs.choice(len(pi), size=n, p=np.asarray(pi) / np.sum(pi))
    return _round(rs.normal(np.asarray(mu)[z], np.sqrt(np.asarray(var)[z])), digits)


def _joint(rs: np.random.RandomState, n: int, k: int) -> tuple[np.ndarray, ...]:
    """(x, pi, mu, var): data from a random mixture, evaluated at nearby parameters."""
    pi, mu, var = _weights(rs, k), _means(rs, k), _variances(rs, k)
    x = _sample(rs, n, pi, mu, var)
    return x, pi, _round(mu + rs.uniform(-1, 1, size=k), 1), _round(var * rs.uniform(0.7, 1.5, k))


def _far(rs: np.random.RandomState) -> float:
    """A distance of 40-200 standard deviations: exp(-d²/2) underflows (d > 38.6)."""
    return round(float(rs.uniform(40, 200)), 1)


def _uneven(rs: np.random.RandomState) -> np.ndarray:
    """Weights (1 - ε, ε) with ε near 1e-12."""
    eps = float(f"{10 ** rs.uniform(-13, -11):.1e}")
    return _a([1 - eps, eps])


# --------------------------------------------------------------------------
# the grade cells


def build(secret: str | None = None) -> tuple[GradeCell, ...]:
    """The grade cells, with hidden cases drawn from ``secret`` (None: public default)."""

    def rng(grade_id: str) -> Rng:
        return lambda index: _rng(secret, f"gaussian_mixture_1d/{grade_id}/{index}")

    x_small = _a([-0.8, 0.3, 1.1, 4.2, 5.0, 6.1])
    x_far = np.concatenate([_round(np.random.RandomState(7).normal(0, 1, 20)),
                            _round(np.random.RandomState(8).normal(100, 1, 20))])
    x_em = _round(np.random.RandomState(2025).normal([0.0] * 15 + [5.0] * 15, 1.0))
    return (
        GradeCell(
            "test_log_pdf_basic", "log_normal_pdf", 1, "log_normal_pdf: moderate values",
            "random data (n = 25, K = 3)",
            (
                Case((_a([-1.0, 0.0, 0.5, 2.0]), _a([0.0, 1.0]), _a([1.0, 4.0])),
                     "shape (n, K) and values", visible=True),
                _pdf_random(rng("test_log_pdf_basic")(1)),
            ),
        ),
        GradeCell(
            "test_log_pdf_extreme", "log_normal_pdf", 1, "log_normal_pdf: extreme values",
            "x hundreds of standard deviations from μ, σ² near 1e-8 and near 1e6, K = 1",
            (
                Case((_a([0.0, 40.0, 1000.0]), _a([0.0, 1000.5]), _a([1.0, 1e-4])),
                     "p(x | μ, σ²) underflows to 0 for x = 40 and x = 1000 (μ = 0, σ² = 1) and "
                     "for every x under σ² = 1e-4: its log is finite", visible=True),
                *_pdf_extreme(rng("test_log_pdf_extreme")),
            ),
        ),
        GradeCell(
            "test_e_step_basic", "e_step", 2, "e_step: responsibilities",
            "random data (n = 40, K = 3)",
            (
                Case((x_small, _a([0.4, 0.6]), _a([0.0, 5.0]), _a([1.0, 2.0])),
                     "a small two-component example", visible=True),
                Case(_joint(rng("test_e_step_basic")(1), 40, 3), "random data, K = 3"),
            ),
        ),
        GradeCell(
            "test_e_step_extreme", "e_step", 2, "e_step: extreme cases",
            "a point 40-200 standard deviations from every mean, weights near 1e-12, "
            "a weight π_k = 0, K = 1, a component collapsed on one point (σ² = 1e-6)",
            (
                Case((_a([0.0, 60.0]), _a([0.5, 0.5]), _a([-1.0, 1.0]), _a([1.0, 1.0])),
                     "x = 60: every π_k p(x | μ_k, σ_k²) underflows to 0", visible=True),
                *_joint_extreme(rng("test_e_step_extreme")),
            ),
        ),
        GradeCell(
            "test_m_step_basic", "m_step", 2, "m_step: weights, means and variances",
            "random responsibilities (n = 40, K = 3)",
            (
                Case((_a([0.0, 3.0, 6.0, 20.0, 26.0]), _hard([0, 0, 0, 1, 1])),
                     "hard assignments: π_k, μ_k and σ_k² are the group fractions, means and "
                     "variances (divisor n_k)", visible=True),
                _m_random(rng("test_m_step_basic")(1)),
            ),
        ),
        GradeCell(
            "test_m_step_floor", "m_step", 1, "m_step: the variance floor and edge cases",
            "a component on one point, a var_floor between two weighted variances, K = 1",
            (
                Case((_a([1.0, 2.0, 3.0, 7.0]), _hard([0, 0, 0, 1])),
                     "a component holding one point: S_2 = 0, so σ_2² = var_floor = 1e-6",
                     visible=True),
                Case((_a([0.0, 0.2, 0.4, 5.0, 7.0, 9.0]), _hard([0, 0, 0, 1, 1, 1])),
                     "var_floor = 0.5: S_1 = 0.0267 is raised to 0.5, S_2 = 2.67 is kept",
                     kwargs={"var_floor": 0.5}, visible=True),
                *_m_floor(rng("test_m_step_floor")),
            ),
        ),
        GradeCell(
            "test_log_likelihood_basic", "log_likelihood", 1, "log_likelihood: moderate values",
            "random data (n = 40, K = 2)",
            (
                Case((_a([-1.0, 0.0, 2.5]), _a([0.5, 0.5]), _a([0.0, 2.0]), _a([1.0, 0.5])),
                     "a three-point example", visible=True),
                Case(_joint(rng("test_log_likelihood_basic")(1), 40, 2), "random data, K = 2"),
            ),
        ),
        GradeCell(
            "test_log_likelihood_extreme", "log_likelihood", 1, "log_likelihood: extreme cases",
            "a point 40-200 standard deviations from every mean, weights near 1e-12, "
            "a weight π_k = 0, K = 1, a component collapsed on one point (σ² = 1e-6)",
            (
                Case((_a([60.0, 0.0]), _a([0.5, 0.5]), _a([-1.0, 1.0]), _a([1.0, 1.0])),
                     "x = 60: every π_k p(x | μ_k, σ_k²) underflows to 0", visible=True),
                *_joint_extreme(rng("test_log_likelihood_extreme")),
            ),
        ),
        GradeCell(
            "test_em_iterations", "em", 2, "em: iterations and convergence",
            "another start run exactly 5 iterations (tol = 0), and convergence on random "
            "three-component data",
            (
                Case((x_em, _a([0.5, 0.5]), _a([-1.0, 1.0]), _a([1.0, 1.0])),
                     "three iterations from θ^0 with tol = 0",
                     kwargs={"max_iter": 3, "tol": 0.0}, visible=True, reference="exact"),
                *_em_iterations(rng("test_em_iterations")),
            ),
        ),
        GradeCell(
            "test_em_extreme", "em", 2, "em: underflow and collapse",
            "far-apart clusters from a start near one of them, and a component collapsing "
            "on an isolated point (σ² stops at var_floor)",
            (
                Case((x_far, _a([0.5, 0.5]), _a([-1.0, 1.0]), _a([1.0, 1.0])),
                     "clusters near 0 and 100, both components start near 0: at θ^0 every "
                     "density of the points near 100 underflows",
                     visible=True, options={"param_rtol": 1e-4, "loglik_atol": 1e-3}),
                *_em_extreme(rng("test_em_extreme")),
            ),
        ),
    )


def _pdf_random(rs: np.random.RandomState) -> Case:
    k = 3
    mu, var = _means(rs, k), _variances(rs, k)
    return Case((_sample(rs, 25, np.ones(k), mu, var), mu, var), "random data, K = 3")


def _pdf_extreme(rng: Rng) -> tuple[Case, ...]:
    rs = rng(1)
    d = _far(rs)
    tiny = float(f"{10 ** rs.uniform(-9, -7):.1e}")
    huge = float(f"{10 ** rs.uniform(5.5, 6.5):.1e}")
    x = _a([0.0, d, -10 * d, 0.001, 3000.0])
    far = Case((x, _a([0.0, 0.0, 1.0]), _a([1.0, tiny, huge])),
               "x far from μ under σ² = 1 and under a tiny σ²; a huge σ²")
    rs = rng(2)
    mu = round(float(rs.uniform(-3, 3)), 1)
    one = Case((_a([mu - _far(rs), mu, mu + 0.5, mu + _far(rs)]), _a([mu]),
                _a([round(float(rs.uniform(0.5, 2)), 2)])), "K = 1 with points far on both sides")
    return far, one


def _joint_extreme(rng: Rng) -> tuple[Case, ...]:
    rs = rng(1)
    mu = _a([-1.0, round(float(rs.uniform(0.5, 3)), 1)])
    var = _round(rs.uniform(0.5, 2, size=2))
    sd = float(np.sqrt(var.max()))  # 40-200 of the widest component's sd from every mean
    x = _a([0.0, round(mu.max() + _far(rs) * sd, 2), round(mu.min() - _far(rs) * sd, 2)])
    far = Case((x, _weights(rs, 2), mu, var),
               "points far from every mean: every π_k p(x | μ_k, σ_k²) underflows")
    rs = rng(2)
    mu = _means(rs, 2, gap=6.0)
    uneven = Case((_sample(rs, 20, [0.5, 0.5], mu, [1.0, 1.0]), _uneven(rs), mu, _a([1.0, 1.0])),
                  "very uneven weights π = (1 - ε, ε)")
    rs = rng(3)
    x, pi, mu, var = _joint(rs, 10, 3)
    pi = _a([pi[0] + pi[1], 0.0, pi[2]])
    zero = Case((x, pi, mu, var), "a weight π_2 = 0: t_i2 = 0 for every i")
    rs = rng(4)
    one = Case((_a([0.0, round(float(rs.uniform(1, 5)), 2), 10 * _far(rs)]), _a([1.0]),
                _a([round(float(rs.uniform(-1, 1)), 2)]), _a([round(float(rs.uniform(0.5, 2)), 2)])),
               "K = 1 with a far point: every t_i1 is 1")
    rs = rng(5)
    x = _sample(rs, 8, [1.0], [0.0], [1.0])
    spike = x[int(rs.randint(8))]
    collapsed = Case((x, _a([0.8, 0.2]), _a([0.0, spike]), _a([1.0, 1e-6])),
                     "a component collapsed on one data point (σ_2² = 1e-6)")
    return far, uneven, zero, one, collapsed


def _m_random(rs: np.random.RandomState) -> Case:
    k = 3
    x = _sample(rs, 40, _weights(rs, k), _means(rs, k), _variances(rs, k))
    return Case((x, _responsibilities(rs, 40, k)), "random responsibilities, K = 3")


def _m_floor(rng: Rng) -> tuple[Case, ...]:
    rs = rng(1)
    n = 12
    x = _sample(rs, n, [1.0], [0.0], [4.0])
    groups = [0] * n
    groups[int(rs.randint(n))] = 1
    tau = _hard(groups)
    one_point = Case((x, tau), "a component holding one point: σ_2² = var_floor (1e-6)")
    rs = rng(2)
    floor = round(float(rs.uniform(0.3, 1.0)), 2)
    while True:  # S_1 near 0.01, S_2 at least twice the floor
        x = np.concatenate([_sample(rs, 5, [1.0], [0.0], [0.01]),
                            _sample(rs, 5, [1.0], [8.0], [4.0])])
        if x[:5].var() < floor / 2 and x[5:].var() > 2 * floor:
            break
    between = Case((x, _hard([0] * 5 + [1] * 5)),
                   f"var_floor = {floor}: one weighted variance below it, one above",
                   kwargs={"var_floor": floor})
    rs = rng(3)
    x = _sample(rs, 15, [1.0], [round(float(rs.uniform(-3, 3)), 1)], [2.0])
    k1 = Case((x, np.ones((15, 1))), "K = 1: the sample mean and variance (divisor n)")
    return one_point, between, k1


def _em_iterations(rng: Rng) -> tuple[Case, ...]:
    rs = rng(1)
    x = _sample(rs, 40, [0.5, 0.5], [0.0, round(float(rs.uniform(3, 6)), 1)], [1.0, 1.0])
    exact = Case((x, _a([0.5, 0.5]), _round(np.add(rs.uniform(-1, 1, 2), [0.0, 2.0]), 1),
                  _a([1.0, 1.0])), "five iterations from another start with tol = 0",
                 kwargs={"max_iter": 5, "tol": 0.0}, reference="exact")
    rs = rng(2)
    mu = _means(rs, 3, gap=5.0)
    x = _sample(rs, 150, [1 / 3] * 3, mu, [1.0, 1.0, 1.0])
    start = _round(mu + rs.uniform(-1.5, 1.5, 3), 1)
    converge = Case((x, _a([1 / 3] * 3), start, _a([2.0, 2.0, 2.0])),
                    "three well-separated components, default max_iter and tol",
                    options={"param_rtol": 1e-3, "loglik_atol": 1e-3})
    return exact, converge


def _em_extreme(rng: Rng) -> tuple[Case, ...]:
    rs = rng(1)
    gap = round(float(rs.uniform(80, 300)), 0)
    x = np.concatenate([_sample(rs, 15, [1.0], [0.0], [1.0]),
                        _sample(rs, 15, [1.0], [gap], [1.0])])
    far = Case((x, _a([0.5, 0.5]), _a([-1.0, 1.0]), _a([1.0, 1.0])),
               "clusters far apart, both components start near the first: every density "
               "of the second cluster underflows at θ^0",
               options={"param_rtol": 1e-4, "loglik_atol": 1e-3})
    rs = rng(2)
    x = _sample(rs, 20, [1.0], [0.0], [1.0])
    outlier = round(float(rs.uniform(8, 15)), 2)
    x = np.append(x, outlier)
    collapse = Case((x, _a([0.9, 0.1]), _a([0.0, outlier]), _a([1.0, 0.01])),
                    "a component starting on an isolated point collapses on it: σ_2² stops at "
                    "var_floor = 1e-4", kwargs={"var_floor": 1e-4},
                    options={"param_rtol": 1e-4, "loglik_atol": 1e-3})
    return far, collapse
