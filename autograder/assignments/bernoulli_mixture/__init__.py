"""The assignment ``bernoulli_mixture``: EM for a mixture of multivariate Bernoullis.

Five graded functions (17 autograded points in twelve grade cells) and three
written derivations graded by hand (7 points). The test cases are in
:mod:`.cases`, the checks in :mod:`.checks`, the expected values in
:mod:`.reference` (from :mod:`solutions.bernoulli`); the notebook is
``autograder/source/bernoulli_mixture/bernoulli_mixture.ipynb``.
"""

from autograder.spec import Assignment, Function, ManualCell

from . import cases, checks, reference

ASSIGNMENT = Assignment(
    name="bernoulli_mixture",
    title="EM for a mixture of multivariate Bernoulli distributions",
    functions=(
        Function("log_bernoulli", ("X", "mu"), checks.check_log_bernoulli,
                 reference.log_bernoulli),
        Function("e_step", ("X", "pi", "mu"), checks.check_e_step, reference.e_step,
                 helpers=("log_bernoulli",)),
        Function("m_step", ("X", "tau"), checks.check_m_step, reference.m_step,
                 outputs=checks.OUTPUTS["m_step"]),
        Function("log_likelihood", ("X", "pi", "mu"), checks.check_log_likelihood,
                 reference.log_likelihood, helpers=("log_bernoulli",)),
        Function("em", ("X", "pi0", "mu0"), checks.check_em, reference.em,
                 outputs=checks.OUTPUTS["em"],
                 helpers=("log_bernoulli", "e_step", "m_step", "log_likelihood")),
    ),
    build=cases.build,
    checks=checks,
    solutions="solutions.bernoulli",
    manual=(
        ManualCell(
            "derivation_q", 2,
            "the complete-data log-likelihood and Q(θ, θ^q)",
            answer=r"""With the labels $z_{ik} = 1$ when $z_i = k$ (else 0), the complete-data
log-likelihood is

$$
\log p(x, z \mid \theta) = \sum_{i=1}^n \sum_{k=1}^K z_{ik}
\Big(\log \pi_k + \sum_{j=1}^d \big[x_{ij} \log \mu_{kj} + (1 - x_{ij}) \log(1 - \mu_{kj})\big]\Big).
$$

It is linear in the $z_{ik}$, so its expectation given $x$ and $\theta^q$
replaces $z_{ik}$ by $E[z_{ik} \mid x_i, \theta^q] = P(z_i = k \mid x_i, \theta^q) = t_{ik}^q$.
With $n_k^q = \sum_i t_{ik}^q$,

$$
Q(\theta, \theta^q) = \sum_{k=1}^K n_k^q \log \pi_k
+ \sum_{k=1}^K \sum_{j=1}^d \Big[\Big(\sum_{i} t_{ik}^q x_{ij}\Big) \log \mu_{kj}
+ \Big(n_k^q - \sum_{i} t_{ik}^q x_{ij}\Big) \log(1 - \mu_{kj})\Big].
$$""",
            rubric=(
                (1, "the complete-data log-likelihood with the indicators z_ik and the sum "
                    "over the d pixels (the pixels are independent given z_i)"),
                (1, "Q(θ, θ^q): z_ik replaced by t_ik^q (why: linear in z_ik), as an explicit "
                    "function of π and μ"),
            ),
        ),
        ManualCell(
            "derivation_m_step", 3,
            "the M-step, with a Lagrange multiplier ν",
            answer=r"""Write $s_{kj} = \sum_i t_{ik}^q x_{ij}$, so $0 \le s_{kj} \le n_k^q$.

*Probabilities.* $Q$ is a sum of terms
$s_{kj} \log \mu_{kj} + (n_k^q - s_{kj}) \log(1 - \mu_{kj})$, one per $(k, j)$.
Setting the derivative $s_{kj} / \mu_{kj} - (n_k^q - s_{kj}) / (1 - \mu_{kj})$ to 0 gives

$$
\mu_{kj}^{q+1} = \frac{s_{kj}}{n_k^q} = \frac{\sum_i t_{ik}^q x_{ij}}{\sum_i t_{ik}^q},
$$

the responsibility-weighted mean of pixel $j$. Each term is concave in
$\mu_{kj}$ (second derivative $-s_{kj}/\mu_{kj}^2 - (n_k^q - s_{kj})/(1-\mu_{kj})^2 < 0$),
so this is the maximum. When $s_{kj} = 0$ the term $n_k^q \log(1 - \mu_{kj})$
decreases in $\mu_{kj}$ and the maximum over $[0, 1]$ is at $\mu_{kj} = 0$
(likewise $\mu_{kj} = 1$ when $s_{kj} = n_k^q$): the formula still holds.

*Weights.* The Lagrangian $\sum_k n_k^q \log \pi_k + \nu (1 - \sum_k \pi_k)$
gives $n_k^q / \pi_k = \nu$, so $\pi_k = n_k^q / \nu$; summing over $k$,
$\nu = \sum_k n_k^q = n$ (the rows of $t$ sum to 1) and
$\pi_k^{q+1} = \frac{1}{n} \sum_i t_{ik}^q$. The objective is concave in
$\pi$ on the simplex, so this is the maximum.""",
            rubric=(
                (1, "μ_kj^{q+1} = Σ_i t_ik x_ij / Σ_i t_ik from the derivative, shown to be a "
                    "maximum (concavity), boundary values 0 and 1 discussed"),
                (1, "the Lagrangian with ν for Σ_k π_k = 1 and its stationarity condition"),
                (1, "ν = n, hence π_k^{q+1} = n_k / n, and why it is the maximum"),
            ),
        ),
        ManualCell(
            "derivation_map", 2,
            "the MAP M-step under a Beta(α, β) prior",
            answer=r"""With independent priors $\mu_{kj} \sim \mathrm{Beta}(\alpha, \beta)$, density
$\propto \mu^{\alpha - 1} (1 - \mu)^{\beta - 1}$ (and a flat prior on $\pi$),
the M-step maximises $Q(\theta, \theta^q) + \log p(\theta)$, whose $(k, j)$ term is

$$
(s_{kj} + \alpha - 1) \log \mu_{kj} + (n_k^q - s_{kj} + \beta - 1) \log(1 - \mu_{kj}):
$$

the prior acts as $\alpha - 1$ extra ones and $\beta - 1$ extra zeros. As above,

$$
\mu_{kj}^{q+1} = \frac{\sum_i t_{ik}^q x_{ij} + \alpha - 1}{\sum_i t_{ik}^q + \alpha + \beta - 2},
$$

a maximum for $\alpha, \beta \ge 1$ (both coefficients are $\ge 0$); the weights
do not change, $\pi_k^{q+1} = n_k^q / n$. $\alpha = \beta = 1$ (the uniform
prior) gives the maximum-likelihood M-step back. With $\alpha, \beta > 1$,
$\mu_{kj}^{q+1}$ lies strictly inside $(0, 1)$, so no pixel is declared
impossible for a component (no $\log 0$), and an empty component
($n_k^q = 0$) gets the prior's mode $(\alpha - 1)/(\alpha + \beta - 2)$
instead of $0/0$. $\alpha = \beta = 2$ is Laplace's add-one smoothing.""",
            rubric=(
                (1, "the log-prior added to Q and the MAP formula μ_kj = (Σ_i t_ik x_ij + α - 1) / "
                    "(Σ_i t_ik + α + β - 2), π unchanged"),
                (1, "α = β = 1 gives the MLE back; with α, β > 1 μ_kj stays inside (0, 1) and an "
                    "empty component gets the prior mode"),
            ),
        ),
    ),
    feedback_note=("The tests call your five functions one by one with fixed inputs and "
                   "compare the results with reference values; the cells of part 7 (the "
                   "digits) and the test cells of your notebook are not run."),
)
