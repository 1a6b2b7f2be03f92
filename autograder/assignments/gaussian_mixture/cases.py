"""The test cases of the Gaussian mixture exercise: visible ones fixed, hidden
ones drawn from the course secret within ranges that keep their purpose.

Data are always (n, d) arrays, also for d = 1; parameters are ``pi`` (K,),
``mu`` (K, d) and ``cov`` (K, d, d). Inputs are rounded (data to 2 decimals,
covariances to 3) so that the notebook shows them readably; a rounded
covariance stays positive definite because its eigenvalues are kept far from 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.spec import Case, GradeCell
from autograder.spec import rng as _rng
from solutions import datasets

NAME = "gaussian_mixture"
#: How the notebook shows the Old Faithful data (a locked cell defines it).
FAITHFUL_CODE = "faithful"


def _a(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _spd(rs: np.random.RandomState, d: int, low: float, high: float) -> np.ndarray:
    """A covariance with eigenvalues in [low, high] and random axes, rounded to 3
    decimals (``low`` well above 1e-3 keeps it positive definite)."""
    q, _ = np.linalg.qr(rs.standard_normal((d, d)))
    c = (q * rs.uniform(low, high, size=d)) @ q.T
    c = np.round((c + c.T) / 2, 3)
    assert np.linalg.eigvalsh(c).min() > 0.5 * low
    return c


def _covs(rs: np.random.RandomState, k: int, d: int, low: float = 0.3,
          high: float = 2.0) -> np.ndarray:
    return np.stack([_spd(rs, d, low, high) for _ in range(k)])


def _means(rs: np.random.RandomState, k: int, d: int, spread: float = 4.0) -> np.ndarray:
    return np.round(rs.uniform(-spread, spread, size=(k, d)), 2)


def _weights(rs: np.random.RandomState, k: int, low: float = 0.15) -> np.ndarray:
    """Readable weights (multiples of 0.01, each at least ``low``) summing to 1."""
    while True:
        pi = np.round(rs.dirichlet(np.full(k, 4.0)), 2)
        pi[-1] = round(1.0 - pi[:-1].sum(), 2)
        if pi.min() >= low:
            return pi


def _sample(rs: np.random.RandomState, n: int, pi, mu, cov) -> np.ndarray:
    """``n`` points of the mixture, rounded to 2 decimals, sorted by component."""
    mu, cov = _a(mu), _a(cov)
    z = np.sort(rs.choice(len(pi), size=n, p=pi))
    noise = rs.standard_normal((n, mu.shape[1]))
    chol = np.linalg.cholesky(cov)
    return np.round(mu[z] + np.einsum("ijk,ik->ij", chol[z], noise), 2)


def _responsibilities(rs: np.random.RandomState, n: int, k: int) -> np.ndarray:
    """Rows of multiples of 0.001 summing to 1, readable in the notebook."""
    return rs.multinomial(1000, rs.dirichlet(np.ones(k)), size=n) / 1000.0


def _hard(groups: list[int]) -> np.ndarray:
    """Hard assignments: one row per point, a 1 in the column of its group."""
    return np.eye(max(groups) + 1)[groups]


def _far(rs: np.random.RandomState, d: int) -> np.ndarray:
    """A point some 60-120 units from the origin: with unit-scale components
    its densities are below e^-1800, 0 in double precision."""
    direction = rs.standard_normal(d)
    return np.round(direction / np.linalg.norm(direction) * rs.uniform(60, 120), 2)


def _thin(rs: np.random.RandomState) -> np.ndarray:
    """A nearly singular 2-D covariance: variances 1 and about 1e-8 along random axes."""
    angle = rs.uniform(0, np.pi)
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-u[1], u[0]])
    small = float(f"{10 ** rs.uniform(-9, -7):.1e}")
    return np.outer(u, u) + small * np.outer(v, v)


def _uneven(rs: np.random.RandomState) -> np.ndarray:
    """Weights (1 - ε, ε) with ε near 1e-12."""
    eps = float(f"{10 ** rs.uniform(-13, -11):.1e}")
    return _a([1 - eps, eps])


# --------------------------------------------------------------------------
# the grade cells


def build(secret: str | None = None) -> tuple[GradeCell, ...]:
    """The grade cells, with hidden cases drawn from ``secret`` (None: public default)."""

    def rng(grade_id: str, index: int) -> np.random.RandomState:
        return _rng(secret, f"{NAME}/{grade_id}/{index}")

    def rngs(grade_id: str) -> Callable[[int], np.random.RandomState]:
        return lambda index: rng(grade_id, index)

    faithful = datasets.old_faithful()
    eye = np.eye(2)
    # Visible simulated data: three well-separated 2-D clusters.
    vis = np.random.RandomState(2025)
    mu_vis = _a([[-4.0, 0.0], [0.0, 4.0], [4.0, -1.0]])
    cov_vis = _a([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.0]], [[0.8, 0.0], [0.0, 0.8]]])
    x_vis = _sample(vis, 90, [0.3, 0.4, 0.3], mu_vis, cov_vis)
    return (
        GradeCell(
            "test_log_pdf_basic", "log_gaussian_pdf", 2, "log_gaussian_pdf: small cases",
            "random data in d = 2 (K = 3) and d = 3 (K = 2)",
            (
                Case((_a([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]]), _a([[0.0, 0.0], [1.0, 1.0]]),
                      _a([eye, [[2.0, 0.5], [0.5, 1.0]]])),
                     "three points, K = 2, d = 2", visible=True),
                *_pdf_random(rngs("test_log_pdf_basic")),
            ),
        ),
        GradeCell(
            "test_log_pdf_extreme", "log_gaussian_pdf", 2, "log_gaussian_pdf: extreme cases",
            "points 60-120 standard deviations away, a nearly singular covariance, "
            "d = 1, d = 5, K = 1",
            (
                Case((_a([[0.0, 0.0], [60.0, -40.0]]), _a([[0.0, 0.0], [1.0, 1.0]]),
                      _a([eye, [[2.0, 0.5], [0.5, 1.0]]])),
                     "a far point: N(x | μ_k, Σ_k) underflows to 0, its log does not",
                     visible=True),
                *_pdf_extreme(rngs("test_log_pdf_extreme")),
            ),
        ),
        GradeCell(
            "test_e_step_basic", "e_step", 2, "e_step: responsibilities",
            "random data (n = 30, d = 2, K = 3)",
            (
                Case((_a([[0.0, 0.0], [0.5, 0.2], [2.0, 2.0], [3.0, 2.5], [1.2, 1.0]]),
                      _a([0.4, 0.6]), _a([[0.0, 0.0], [2.5, 2.0]]),
                      _a([eye, [[1.0, 0.4], [0.4, 0.8]]])),
                     "a small two-component example", visible=True),
                _joint_random(rng("test_e_step_basic", 1), 30, 2, 3),
            ),
        ),
        GradeCell(
            "test_e_step_extreme", "e_step", 2, "e_step: extreme cases",
            "far-apart clusters where every density underflows, weights near 1e-12, "
            "K = 1, d = 1, d = 5",
            (
                Case((_a([[0.0, 0.0], [80.0, 60.0]]), _a([0.5, 0.5]),
                      _a([[0.0, 0.0], [2.0, 1.0]]), _a([eye, eye])),
                     "x = (80, 60): every π_k N(x | μ_k, Σ_k) underflows to 0", visible=True),
                *_joint_extreme(rngs("test_e_step_extreme")),
            ),
        ),
        GradeCell(
            "test_m_step_basic", "m_step", 2, "m_step: weights, means and covariances",
            "random responsibilities (n = 30, d = 2, K = 3 and d = 3, K = 2) with the "
            "default reg_covar",
            (
                Case((_a([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0], [7.0, 4.0],
                          [6.0, 6.0]]), _hard([0, 0, 0, 1, 1, 1])),
                     "hard assignments, reg_covar = 0: group fractions, means and "
                     "covariances (divisor n_k)", kwargs={"reg_covar": 0.0}, visible=True),
                *_m_random(rngs("test_m_step_basic")),
            ),
        ),
        GradeCell(
            "test_m_step_edge", "m_step", 1, "m_step: reg_covar and edge cases",
            "a component on one point (Σ_k = reg_covar I), collinear points, K = 1, d = 1, "
            "d = 5, a component with a tiny n_k",
            (
                Case((_a([[0.0, 0.0], [1.0, 2.0], [3.0, 3.0], [4.0, 1.0], [5.0, 4.0]]),
                      _hard([0, 0, 1, 1, 1])),
                     "component 0 holds two points: its scatter matrix is singular, "
                     "reg_covar = 1e-6 (the default) makes Σ_0 positive definite",
                     visible=True),
                *_m_edge(rngs("test_m_step_edge")),
            ),
        ),
        GradeCell(
            "test_log_likelihood_basic", "log_likelihood", 1, "log_likelihood: small cases",
            "random data (n = 30, d = 2, K = 2)",
            (
                Case((_a([[0.0, 0.0], [1.0, 1.0], [3.0, 2.0]]), _a([0.5, 0.5]),
                      _a([[0.0, 0.0], [3.0, 2.0]]), _a([eye, [[1.0, 0.4], [0.4, 0.8]]])),
                     "a three-point example", visible=True),
                _joint_random(rng("test_log_likelihood_basic", 1), 30, 2, 2),
            ),
        ),
        GradeCell(
            "test_log_likelihood_extreme", "log_likelihood", 1, "log_likelihood: extreme cases",
            "far-apart clusters where every density underflows, weights near 1e-12, "
            "K = 1, d = 1, d = 5",
            (
                Case((_a([[80.0, 60.0], [0.0, 0.0]]), _a([0.5, 0.5]),
                      _a([[0.0, 0.0], [2.0, 1.0]]), _a([eye, eye])),
                     "x = (80, 60): every π_k N(x | μ_k, Σ_k) underflows to 0", visible=True),
                *_joint_extreme(rngs("test_log_likelihood_extreme")),
            ),
        ),
        GradeCell(
            "test_em_faithful", "em", 2, "em: Old Faithful",
            "convergence from another start, compared up to a permutation of the components",
            (
                Case((faithful, _a([0.5, 0.5]), _a([[2.0, 55.0], [4.5, 80.0]]),
                      _a([[[1.0, 0.0], [0.0, 30.0]], [[1.0, 0.0], [0.0, 30.0]]])),
                     "three iterations from θ^0 (means (2, 55) and (4.5, 80)) with tol = 0",
                     kwargs={"max_iter": 3, "tol": 0.0}, visible=True, reference="exact",
                     code={"X": FAITHFUL_CODE}),
                _em_faithful(rng("test_em_faithful", 1), faithful),
            ),
        ),
        GradeCell(
            "test_em_random", "em", 2, "em: simulated data",
            "random data with K = 3 in d = 2, K = 2 in d = 1 and d = 5, K = 1, compared up "
            "to a permutation of the components",
            (
                Case((x_vis, _a([1 / 3, 1 / 3, 1 / 3]),
                      _a([[-3.0, 1.0], [1.0, 3.0], [3.0, 0.0]]), _a([eye, eye, eye])),
                     "default max_iter, tol and reg_covar, three well-separated clusters",
                     visible=True, reference="limit",
                     options={"param_rtol": 1e-3, "loglik_atol": 1e-3}),
                *_em_random(rngs("test_em_random")),
            ),
        ),
    )


def _pdf_random(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2 = rng(1), rng(2)
    mu1, cov1 = _means(rs1, 3, 2), _covs(rs1, 3, 2)
    mu2, cov2 = _means(rs2, 2, 3), _covs(rs2, 2, 3)
    return (
        Case((_sample(rs1, 20, [0.3, 0.3, 0.4], mu1, cov1), mu1, cov1), "random data, d = 2, K = 3"),
        Case((_sample(rs2, 15, [0.5, 0.5], mu2, cov2), mu2, cov2), "random data, d = 3, K = 2"),
    )


def _pdf_extreme(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4, rs5 = (rng(i) for i in range(1, 6))
    mu1, cov1 = _means(rs1, 2, 2), _covs(rs1, 2, 2)
    x1 = np.vstack([_sample(rs1, 4, [0.5, 0.5], mu1, cov1), _far(rs1, 2), _far(rs1, 2)])
    thin = _thin(rs2)
    mu2 = _means(rs2, 2, 2, spread=1.0)
    # Points along the long axis of the thin component, and off it.
    u = np.linalg.eigh(thin)[1][:, 1]
    x2 = np.round(mu2[0] + np.outer(rs2.uniform(-2, 2, size=3), u), 2)
    x2 = np.vstack([x2, mu2[0] + 0.01, mu2[1]])
    cov2 = np.stack([thin, _spd(rs2, 2, 0.5, 1.5)])
    mu3, cov3 = _means(rs3, 2, 1), _covs(rs3, 2, 1, 0.2, 3.0)
    x3 = np.vstack([_sample(rs3, 5, [0.5, 0.5], mu3, cov3), [[round(rs3.uniform(80, 150), 2)]]])
    mu4, cov4 = _means(rs4, 2, 5), _covs(rs4, 2, 5, 0.5, 2.0)
    x4 = np.vstack([_sample(rs4, 6, [0.5, 0.5], mu4, cov4), _far(rs4, 5)])
    mu5, cov5 = _means(rs5, 1, 3), _covs(rs5, 1, 3)
    x5 = np.vstack([_sample(rs5, 4, [1.0], mu5, cov5), _far(rs5, 3)])
    return (
        Case((x1, mu1, cov1), "points 60-120 away from unit-scale components, d = 2"),
        Case((x2, mu2, cov2), "a nearly singular covariance (variances 1 and ~1e-8)"),
        Case((x3, mu3, cov3), "d = 1 (X of shape (n, 1)), a point far out"),
        Case((x4, mu4, cov4), "d = 5, a point far out"),
        Case((x5, mu5, cov5), "K = 1, d = 3, a point far out"),
    )


def _joint_random(rs: np.random.RandomState, n: int, d: int, k: int) -> Case:
    mu, cov, pi = _means(rs, k, d), _covs(rs, k, d), _weights(rs, k)
    return Case((_sample(rs, n, pi, mu, cov), pi, mu, cov), f"random data, d = {d}, K = {k}")


def _joint_extreme(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4, rs5 = (rng(i) for i in range(1, 6))
    # Two tight clusters 200 apart, and points between and beyond them.
    mu1 = np.round(np.array([[0.0, 0.0], [200.0, 0.0]]) + rs1.uniform(-5, 5, size=(2, 2)), 2)
    cov1 = _covs(rs1, 2, 2, 0.5, 1.5)
    x1 = np.vstack([_sample(rs1, 6, [0.5, 0.5], mu1, cov1),
                    np.round(mu1.mean(axis=0), 2), mu1[1] + _far(rs1, 2)])
    pi1 = _a([0.5, 0.5])
    mu2, cov2 = _means(rs2, 2, 2), _covs(rs2, 2, 2)
    x2 = _sample(rs2, 12, [0.5, 0.5], mu2, cov2)
    mu3, cov3 = _means(rs3, 1, 2), _covs(rs3, 1, 2)
    x3 = np.vstack([_sample(rs3, 4, [1.0], mu3, cov3), _far(rs3, 2)])
    mu4, cov4 = _means(rs4, 2, 1), _covs(rs4, 2, 1, 0.2, 2.0)
    x4 = np.vstack([_sample(rs4, 8, [0.5, 0.5], mu4, cov4), [[round(rs4.uniform(-150, -80), 2)]]])
    mu5, cov5, pi5 = _means(rs5, 2, 5), _covs(rs5, 2, 5, 0.5, 2.0), _weights(rs5, 2)
    x5 = np.vstack([_sample(rs5, 10, pi5, mu5, cov5), _far(rs5, 5)])
    return (
        Case((x1, pi1, mu1, cov1), "two clusters 200 apart, points between and beyond them: "
             "every density of those points underflows"),
        Case((x2, _uneven(rs2), mu2, cov2), "very uneven weights π = (1 - ε, ε)"),
        Case((x3, _a([1.0]), mu3, cov3), "K = 1 with a far point: every t_i1 is 1"),
        Case((x4, _weights(rs4, 2), mu4, cov4), "d = 1 (X of shape (n, 1)), a point far out"),
        Case((x5, pi5, mu5, cov5), "d = 5, a point far out"),
    )


def _m_random(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2 = rng(1), rng(2)
    mu1, cov1 = _means(rs1, 3, 2), _covs(rs1, 3, 2)
    mu2, cov2 = _means(rs2, 2, 3), _covs(rs2, 2, 3)
    return (
        Case((_sample(rs1, 30, [0.3, 0.3, 0.4], mu1, cov1), _responsibilities(rs1, 30, 3)),
             "random responsibilities, d = 2, K = 3, default reg_covar"),
        Case((_sample(rs2, 20, [0.5, 0.5], mu2, cov2), _responsibilities(rs2, 20, 2)),
             "random responsibilities, d = 3, K = 2, default reg_covar"),
    )


def _m_edge(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4, rs5, rs6 = (rng(i) for i in range(1, 7))
    # Component 0 holds exactly one point: its covariance is reg_covar * I.
    mu1, cov1 = _means(rs1, 1, 2), _covs(rs1, 1, 2)
    x1 = np.vstack([np.round(rs1.uniform(10, 20, size=(1, 2)), 2),
                    _sample(rs1, 6, [1.0], mu1, cov1)])
    reg1 = float(f"{10 ** rs1.uniform(-5, -3):.1e}")
    # Component 1 holds points on a line: a singular scatter matrix.
    n2 = rs2.randint(4, 7)
    t = np.round(rs2.uniform(-3, 3, size=n2), 1)  # slope * t exact in 2 decimals
    slope, icpt = round(float(rs2.uniform(-2, 2)), 1), round(float(rs2.uniform(-1, 1)), 1)
    line = np.column_stack([t, np.round(slope * t + icpt, 2)])
    mu2, cov2 = _means(rs2, 1, 2), _covs(rs2, 1, 2)
    x2 = np.vstack([_sample(rs2, 5, [1.0], mu2 + 8, cov2), line])
    tau2 = _hard([0] * 5 + [1] * n2)
    mu3, cov3 = _means(rs3, 1, 3), _covs(rs3, 1, 3)
    x3 = _sample(rs3, 15, [1.0], mu3, cov3)
    mu4, cov4 = _means(rs4, 2, 1), _covs(rs4, 2, 1, 0.2, 2.0)
    x4 = _sample(rs4, 12, [0.5, 0.5], mu4, cov4)
    mu5, cov5 = _means(rs5, 2, 5), _covs(rs5, 2, 5, 0.5, 2.0)
    x5 = _sample(rs5, 20, [0.5, 0.5], mu5, cov5)
    mu6, cov6 = _means(rs6, 2, 2), _covs(rs6, 2, 2)
    x6 = _sample(rs6, 15, [0.5, 0.5], mu6, cov6)
    tau6 = np.zeros((15, 2))
    tau6[:, 1] = np.round(rs6.uniform(1e-4, 1e-3, size=15), 6)
    tau6[:, 0] = 1.0 - tau6[:, 1]
    return (
        Case((x1, _hard([0] + [1] * 6)), "component 0 holds one point: Σ_0 = reg_covar I",
             kwargs={"reg_covar": reg1}),
        Case((x2, tau2), "component 1 holds collinear points (singular scatter matrix), "
             "default reg_covar"),
        Case((x3, np.ones((15, 1))), "K = 1, d = 3: the sample mean and covariance "
             "(divisor n) plus reg_covar I", code={"tau": "np.ones((15, 1))"}),
        Case((x4, _responsibilities(rs4, 12, 2)), "d = 1 (X of shape (n, 1))"),
        Case((x5, _responsibilities(rs5, 20, 2)), "d = 5"),
        Case((x6, tau6), "a component with n_k near 0.01"),
    )


def _em_faithful(rs: np.random.RandomState, faithful: np.ndarray) -> Case:
    mu0 = np.round([[rs.uniform(1.5, 2.5), rs.uniform(45, 60)],
                    [rs.uniform(3.8, 4.8), rs.uniform(72, 88)]], 1)
    p = round(float(rs.uniform(0.3, 0.7)), 2)
    return Case((faithful, _a([p, round(1 - p, 2)]), mu0,
                 _a([[[1.0, 0.0], [0.0, 30.0]], [[1.0, 0.0], [0.0, 30.0]]])),
                "convergence from another start (ℓ = -1130.264)",
                kwargs={"max_iter": 1000, "tol": 1e-10}, reference="limit",
                options={"param_rtol": 1e-4, "loglik_atol": 1e-4},
                code={"X": FAITHFUL_CODE})


def _em_random(rng: Callable[[int], np.random.RandomState]) -> tuple[Case, ...]:
    rs1, rs2, rs3, rs4 = (rng(i) for i in range(1, 5))
    offsets = _a([[-5.0, 0.0], [0.0, 5.0], [5.0, -1.0]])
    mu1 = np.round(offsets + rs1.uniform(-1, 1, size=(3, 2)), 2)
    cov1 = _covs(rs1, 3, 2, 0.3, 1.2)
    x1 = _sample(rs1, 150, _weights(rs1, 3, low=0.25), mu1, cov1)
    mu1_0 = np.round(mu1 + rs1.uniform(-1, 1, size=(3, 2)), 1)
    mu2 = _a([[round(float(rs2.uniform(-4, -2)), 2)], [round(float(rs2.uniform(2, 4)), 2)]])
    cov2 = _covs(rs2, 2, 1, 0.4, 1.5)
    x2 = _sample(rs2, 120, [0.4, 0.6], mu2, cov2)
    mu3 = np.round(np.vstack([np.zeros(5), np.full(5, 3.0)]) + rs3.uniform(-0.5, 0.5, (2, 5)), 2)
    cov3 = _covs(rs3, 2, 5, 0.5, 1.5)
    x3 = _sample(rs3, 150, [0.5, 0.5], mu3, cov3)
    mu4, cov4 = _means(rs4, 1, 3), _covs(rs4, 1, 3)
    x4 = _sample(rs4, 40, [1.0], mu4, cov4)
    return (
        Case((x1, _a([1 / 3, 1 / 3, 1 / 3]), mu1_0, np.stack([np.eye(2)] * 3)),
             "three clusters in d = 2 with max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10}, reference="limit",
             options={"param_rtol": 1e-4, "loglik_atol": 1e-4}),
        Case((x2, _a([0.5, 0.5]), _a([[-1.0], [1.0]]), _a([[[1.0]], [[1.0]]])),
             "d = 1 (X of shape (n, 1)), K = 2, max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10}, reference="limit",
             options={"param_rtol": 1e-4, "loglik_atol": 1e-4}),
        Case((x3, _a([0.5, 0.5]), np.round(mu3 + rs3.uniform(-0.5, 0.5, (2, 5)), 1),
              np.stack([np.eye(5)] * 2)),
             "d = 5, K = 2, max_iter = 1000, tol = 1e-10",
             kwargs={"max_iter": 1000, "tol": 1e-10}, reference="limit",
             options={"param_rtol": 1e-4, "loglik_atol": 1e-4}),
        Case((x4, _a([1.0]), np.zeros((1, 3)), np.eye(3)[None]),
             "K = 1, d = 3: one step gives the sample mean and covariance (plus reg_covar I)",
             kwargs={"max_iter": 100, "tol": 1e-10, "reg_covar": 1e-3}, reference="limit",
             options={"param_rtol": 1e-8, "loglik_atol": 1e-8}),
    )
