"""The assignment ``gaussian_mixture``: EM for a d-dimensional Gaussian mixture
with full covariances.

Five graded functions (17 autograded points in ten grade cells) and four
written answers graded by hand (10 points). The test cases are in
:mod:`.cases`, the checks in :mod:`.checks`, the expected values in
:mod:`.reference` (from :mod:`solutions.gaussian`, ``covariance_type="full"``);
the notebook is ``autograder/source/gaussian_mixture/gaussian_mixture.ipynb``.
"""

from autograder.spec import Assignment, Function, ManualCell

from . import cases, checks, reference

_LOG_PDF = ("log_gaussian_pdf",)

ASSIGNMENT = Assignment(
    name="gaussian_mixture",
    title="EM for a mixture of Gaussians with full covariances",
    functions=(
        Function("log_gaussian_pdf", ("X", "mu", "cov"), checks.check_log_gaussian_pdf,
                 reference.log_gaussian_pdf),
        Function("e_step", ("X", "pi", "mu", "cov"), checks.check_e_step, reference.e_step,
                 helpers=_LOG_PDF),
        Function("m_step", ("X", "tau"), checks.check_m_step, reference.m_step,
                 outputs=checks.OUTPUTS["m_step"]),
        Function("log_likelihood", ("X", "pi", "mu", "cov"), checks.check_log_likelihood,
                 reference.log_likelihood, helpers=_LOG_PDF),
        Function("em", ("X", "pi0", "mu0", "cov0"), checks.check_em, reference.em,
                 outputs=checks.OUTPUTS["em"],
                 helpers=("log_gaussian_pdf", "e_step", "m_step", "log_likelihood")),
    ),
    build=cases.build,
    checks=checks,
    solutions="solutions.gaussian",
    manual=(
        ManualCell(
            "derivation_q", 2,
            "the complete-data log-likelihood and Q(θ, θ^q)",
            answer=r"""The complete data are the pairs $(x_i, z_i)$, with
$p(x_i, z_i = k \mid \theta) = \pi_k\, \mathcal N(x_i \mid \mu_k, \Sigma_k)$, so

$$
\log p(x_{1:n}, z_{1:n} \mid \theta) = \sum_{i=1}^n \sum_{k=1}^K \mathbb{I}(z_i = k)
\Big[\log \pi_k - \tfrac{d}{2} \log(2\pi) - \tfrac12 \log\det\Sigma_k
- \tfrac12 (x_i - \mu_k)^\top \Sigma_k^{-1} (x_i - \mu_k)\Big].
$$

It is linear in the indicators, so its expectation given $x_{1:n}$ under
$\theta^q$ replaces each $\mathbb{I}(z_i = k)$ by
$E[\mathbb{I}(z_i = k) \mid x_i, \theta^q] = p(z_i = k \mid x_i, \theta^q) = t_{ik}^q$
(the $z_i$ are independent given the data, and $z_i$ depends on $x_i$ only):

$$
Q(\theta, \theta^q) = \sum_{i=1}^n \sum_{k=1}^K t_{ik}^q
\Big[\log \pi_k - \tfrac{d}{2} \log(2\pi) - \tfrac12 \log\det\Sigma_k
- \tfrac12 (x_i - \mu_k)^\top \Sigma_k^{-1} (x_i - \mu_k)\Big].
$$""",
            rubric=(
                (1, "the complete-data log-likelihood with the indicators I(z_i = k) and the "
                    "Gaussian log-density (log det Σ_k and the quadratic form)"),
                (1, "Q(θ, θ^q) with t_ik^q in place of the indicators, justified by the "
                    "linearity of the expectation (E[I(z_i = k) | x, θ^q] = t_ik^q)"),
            ),
        ),
        ManualCell(
            "derivation_pi", 2,
            "the M-step for π, with a Lagrange multiplier ν",
            answer=r"""With $n_k = \sum_i t_{ik}^q$, the Lagrangian is
$\mathcal{L}(\pi, \nu) = \sum_k n_k \log \pi_k - \nu \big(\sum_k \pi_k - 1\big)$.
Then $\partial \mathcal{L} / \partial \pi_k = n_k / \pi_k - \nu = 0$ gives
$\pi_k = n_k / \nu$; summing over $k$ and using $\sum_k \pi_k = 1$,
$\nu = \sum_k n_k = \sum_i \sum_k t_{ik}^q = n$ (each row of $t$ sums to 1), so

$$
\pi_k^{q+1} = \frac{n_k}{n} = \frac{1}{n} \sum_{i=1}^n t_{ik}^q .
$$

The objective is concave in $\pi$ (a sum of logarithms with non-negative
weights) and the constraint is linear, so the stationary point is the global
maximum on the simplex; $\pi_k \ge 0$ holds automatically.""",
            rubric=(
                (1, "the Lagrangian with ν for Σ_k π_k = 1 and the stationarity condition "
                    "π_k = n_k / ν"),
                (1, "ν = n (rows of t sum to 1), hence π_k = n_k / n, and why it is the "
                    "maximum (concavity)"),
            ),
        ),
        ManualCell(
            "derivation_mu_cov", 4,
            "the M-step for μ_k and Σ_k, and when it fails",
            answer=r"""Up to a constant, the part of $Q$ that depends on component $k$ is
$Q_k = -\frac12 \sum_i t_{ik}^q \big[\log\det\Sigma_k + (x_i - \mu_k)^\top \Sigma_k^{-1} (x_i - \mu_k)\big]$.

*Means.* $\nabla_{\mu_k} Q_k = \sum_i t_{ik}^q\, \Sigma_k^{-1} (x_i - \mu_k)
= \Sigma_k^{-1} \big(\sum_i t_{ik}^q x_i - n_k \mu_k\big) = 0$, and
$\Sigma_k^{-1}$ is invertible, so $\mu_k^{q+1} = \frac{1}{n_k} \sum_i t_{ik}^q x_i$.
$Q_k$ is a concave quadratic in $\mu_k$ (Hessian $-n_k \Sigma_k^{-1}$), so
this is the maximiser whatever $\Sigma_k$ is, and we may plug it in.

*Covariances.* With $S_k = \sum_i t_{ik}^q (x_i - \mu_k^{q+1})(x_i - \mu_k^{q+1})^\top$
and the trace identity,
$Q_k = \frac12 \big[n_k \log\det\Lambda_k - \operatorname{tr}(\Lambda_k S_k)\big] + C$
in the precision $\Lambda_k = \Sigma_k^{-1}$. Then
$\partial Q_k / \partial \Lambda_k = \frac12 (n_k \Lambda_k^{-1} - S_k) = 0$ gives

$$
\Sigma_k^{q+1} = \frac{S_k}{n_k} = \frac{1}{n_k} \sum_{i=1}^n t_{ik}^q
(x_i - \mu_k^{q+1})(x_i - \mu_k^{q+1})^\top .
$$

*Maximum.* $\log\det\Lambda$ is strictly concave on positive definite
matrices and $\operatorname{tr}(\Lambda S_k)$ is linear, so $Q_k$ is strictly
concave in $\Lambda_k$ and the stationary point is its maximum, provided
$S_k$ is positive definite.

*Failure.* If the weight of component $k$ falls on fewer than $d + 1$
points (e.g. one point, or points on a line in the plane), $S_k$ is singular:
$\Sigma_k^{q+1}$ has no inverse, $\log\det\Sigma_k = -\infty$ and the
density is infinite at those points; the supremum of $Q_k$ (and of $\ell$) is
$+\infty$, not attained. This is why the code adds
$\varepsilon I$ (`reg_covar`), a regularisation that keeps the iteration
finite but is no longer the exact maximiser of $Q$.""",
            rubric=(
                (1, "μ_k^{q+1} = Σ_i t_ik x_i / n_k from the gradient, with Σ_k^{-1} invertible"),
                (1, "Q_k as a function of Λ_k (or Σ_k) with the trace and log det, and the "
                    "stationarity condition"),
                (1, "Σ_k^{q+1} = S_k / n_k (divisor n_k), and why it is a maximum "
                    "(concavity in Λ_k, S_k positive definite)"),
                (1, "fewer than d + 1 points: S_k singular, unbounded likelihood; reg_covar "
                    "regularises rather than maximises"),
            ),
        ),
        ManualCell(
            "bic_answer", 2,
            "K = 2 or K = 3 on Old Faithful: BIC",
            answer=r"""From the given starts: $K = 1$: $\ell = -1289.80$, $D = 5$,
BIC $= 2607.62$; $K = 2$: $\ell = -1130.26$, $D = 11$, BIC $= 2322.19$;
$K = 3$: $\ell = -1119.21$, $D = 17$, BIC $= 2333.73$. BIC chooses $K = 2$,
by about 11.5. The third component raises $\ell$ by about 11.05, which is
worth $-22.1$ in BIC, but its 6 extra parameters cost $6 \log 272 \approx 33.6$.
In the $K = 3$ fit the third component has a small weight ($\pi \approx 0.09$)
and sits between the two clusters, near (3.6 min, 70 min): it models the
few eruptions of medium length and the non-elliptical shape of the long-eruption
cluster, not a third kind of eruption. The largest log-likelihood cannot choose
$K$: a mixture with $K + 1$ components contains the one with $K$ (take
$\pi_{K+1} = 0$), so the best $\ell$ never decreases with $K$.""",
            rubric=(
                (1, "BIC values (or their difference) and the choice K = 2"),
                (1, "the log-likelihood gain vs the penalty 6 log n, the third component "
                    "described, and why the largest ℓ cannot choose K"),
            ),
        ),
    ),
    feedback_note=("The tests call your five functions one by one with fixed inputs and "
                   "compare the results with reference values (fitted mixtures up to a "
                   "permutation of the components); the cells of part 7 and the test cells "
                   "of your notebook are not run."),
)
