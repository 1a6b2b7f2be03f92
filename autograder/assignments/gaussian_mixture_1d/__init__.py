"""The assignment ``gaussian_mixture_1d``: EM for a mixture of univariate Gaussians.

Five graded functions (15 autograded points in ten grade cells) and three
written answers graded by hand. The contract's variance rule is a floor,
:math:`\\sigma_k^2 = \\max(S_k, \\varepsilon)` with ``var_floor`` :math:`=
\\varepsilon` (default :math:`10^{-6}`): the exact M-step under the constraint
:math:`\\sigma_k^2 \\ge \\varepsilon` (see :mod:`solutions.gaussian1d`). The test
cases are in :mod:`.cases`, the checks in :mod:`.checks`, the expected values
in :mod:`.reference`; the notebook is
``autograder/source/gaussian_mixture_1d/gaussian_mixture_1d.ipynb``.
"""

from autograder.spec import Assignment, Function, ManualCell

from . import cases, checks, reference

ASSIGNMENT = Assignment(
    name="gaussian_mixture_1d",
    title="EM for a mixture of univariate Gaussians",
    functions=(
        Function("log_normal_pdf", ("x", "mu", "var"), checks.check_log_normal_pdf,
                 reference.log_normal_pdf),
        Function("e_step", ("x", "pi", "mu", "var"), checks.check_e_step, reference.e_step,
                 helpers=("log_normal_pdf",)),
        Function("m_step", ("x", "tau"), checks.check_m_step, reference.m_step,
                 outputs=checks.OUTPUTS["m_step"]),
        Function("log_likelihood", ("x", "pi", "mu", "var"), checks.check_log_likelihood,
                 reference.log_likelihood, helpers=("log_normal_pdf",)),
        Function("em", ("x", "pi0", "mu0", "var0"), checks.check_em, reference.em,
                 outputs=checks.OUTPUTS["em"],
                 helpers=("log_normal_pdf", "e_step", "m_step", "log_likelihood")),
    ),
    build=cases.build,
    checks=checks,
    solutions="solutions.gaussian1d",
    manual=(
        ManualCell(
            "derivation_q", 2,
            "the complete-data log-likelihood and Q(θ, θ^q)",
            answer=r"""With the indicators $z_{ik} = \mathbb{I}(z_i = k)$, the pairs $(x_i, z_i)$ being
independent and $p(x_i, z_i = k \mid \theta) = \pi_k p_k(x_i)$,

$$
\log p(x_{1:n}, z_{1:n} \mid \theta) = \sum_{i=1}^n \sum_{k=1}^K z_{ik}
\Big[\log \pi_k - \tfrac12 \log(2\pi\sigma_k^2) - \frac{(x_i - \mu_k)^2}{2\sigma_k^2}\Big].
$$

It is linear in the $z_{ik}$, so its expectation given $x_{1:n}$ and $\theta^q$
replaces $z_{ik}$ by $t_{ik}^q = p(z_i = k \mid x_i, \theta^q)$:

$$
Q(\theta, \theta^q) = \sum_{i=1}^n \sum_{k=1}^K t_{ik}^q
\Big[\log \pi_k - \tfrac12 \log(2\pi\sigma_k^2) - \frac{(x_i - \mu_k)^2}{2\sigma_k^2}\Big].
$$""",
            rubric=(
                (1, "the complete-data log-likelihood, a double sum with the indicators z_ik "
                    "and no logarithm of a sum"),
                (1, "Q(θ, θ^q): z_ik replaced by t_ik^q (the expectation of an indicator is a "
                    "probability), as an explicit function of π, μ, σ²"),
            ),
        ),
        ManualCell(
            "derivation_m_step", 4,
            "the M-step: π with a Lagrange multiplier ν, μ_k, and σ_k² under the floor",
            answer=r"""With $n_k = \sum_i t_{ik}^q$, $Q = \sum_k n_k \log \pi_k + \sum_k Q_k(\mu_k, \sigma_k^2)$:
the weights and each component's $(\mu_k, \sigma_k^2)$ are maximised separately.

*Weights.* The Lagrangian $\mathcal L = \sum_k n_k \log \pi_k - \nu(\sum_k \pi_k - 1)$
gives $n_k / \pi_k = \nu$, so $\pi_k = n_k / \nu$; summing over $k$,
$\nu = \sum_k n_k = n$ and $\pi_k^{q+1} = n_k / n$. The objective is concave
and the constraint linear, so this is the maximum (and $\pi_k \ge 0$ holds).

*Means.* $\partial Q_k / \partial \mu_k = \sum_i t_{ik}^q (x_i - \mu_k) / \sigma_k^2 = 0$
gives $\mu_k^{q+1} = \frac{1}{n_k} \sum_i t_{ik}^q x_i$, whatever $\sigma_k^2$
($Q_k$ is a concave quadratic in $\mu_k$).

*Variances.* With $v = \sigma_k^2$ and $S_k = \frac{1}{n_k}\sum_i t_{ik}^q (x_i - \mu_k^{q+1})^2$,
$Q_k(\mu_k^{q+1}, v) = -\frac{n_k}{2} \log(2\pi v) - \frac{n_k S_k}{2 v}$ and
$\partial Q_k / \partial v = \frac{n_k}{2 v^2}(S_k - v)$: $Q_k$ increases on
$(0, S_k]$ and decreases on $[S_k, \infty)$. Its maximum over $v \ge \varepsilon$
is therefore at $v = S_k$ if $S_k \ge \varepsilon$, and at the boundary
$v = \varepsilon$ otherwise: $\sigma_k^{2,q+1} = \max(S_k, \varepsilon)$. (Adding
$\varepsilon$, $S_k + \varepsilon$, maximises nothing.) Without the floor, a
component on one point has $S_k = 0$ and $Q_k \to +\infty$ as $v \to 0$: no maximum.""",
            rubric=(
                (1, "the Lagrangian with ν for Σ_k π_k = 1 and its stationarity condition "
                    "π_k = n_k / ν"),
                (1, "ν = n, hence π_k^{q+1} = n_k / n, and why it is the maximum"),
                (1, "μ_k^{q+1}, the t-weighted mean (derivative set to 0)"),
                (1, "σ_k² = max(S_k, ε): Q_k increases up to S_k and decreases after, so the "
                    "constrained maximum is on the boundary when S_k < ε"),
            ),
        ),
        ManualCell(
            "old_faithful_answer", 2,
            "Old Faithful: K = 1, K = 2 and a collapsed third component",
            answer=r"""1. $K = 2$ gains $-1034.002 - (-1095.289) = 61.3$ in log-likelihood for 3
   more parameters: the waiting times are clearly bimodal (short waits near
   54.6 min, 36% of eruptions; long waits near 80.1 min, 64%; both with
   standard deviation about 5.87 min). BIC, $-2\ell + p \log n$, is
   $2201.8$ for $K = 1$ ($p = 2$) and $2096.0$ for $K = 2$ ($p = 5$).
2. The third component sits on the single waiting time 96 with
   $\sigma_3^2 = \varepsilon$: $\ell = -1027.705$, higher than the $K = 2$
   maximum, yet it is not a better model: its term for $x = 96$ contains
   $-\tfrac12 \log(2\pi\varepsilon)$, which grows without bound as
   $\varepsilon \to 0$ (dividing $\varepsilon$ by 100 adds
   $\tfrac12 \log 100 = 2.303$ to $\ell$). The likelihood of a Gaussian mixture
   is unbounded; the floor makes it bounded, and the larger value is an
   artefact of the floor, not evidence. Report the $K = 2$ fit; a component
   whose variance sits at the floor (or that holds about one point,
   $\pi_3 \approx 1/n$) is a degenerate solution to discard.""",
            rubric=(
                (1, "K = 2 against K = 1: the gain in ℓ (about 61) with the parameters "
                    "interpreted (two groups of eruptions)"),
                (1, "the collapsed component: its ℓ is higher but grows as var_floor -> 0 "
                    "(unbounded likelihood), so it is a degenerate fit, not a better one"),
            ),
        ),
    ),
    feedback_note=("The tests call your five functions one by one with fixed inputs and "
                   "compare the results with reference values; the cells of part 7 and the "
                   "test cells of your notebook are not run."),
)
