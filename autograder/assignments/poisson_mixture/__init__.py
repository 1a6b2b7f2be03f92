"""The assignment ``poisson_mixture``: EM for a mixture of Poisson distributions.

Five graded functions (15 autograded points in ten grade cells) and two
written derivations graded by hand. The test cases are in :mod:`.cases`, the
checks in :mod:`.checks`, the expected values in :mod:`.reference` (from
:mod:`solutions.poisson`); the notebook is
``autograder/source/poisson_mixture/poisson_mixture.ipynb``.
"""

from autograder.spec import Assignment, Function, ManualCell

from . import cases, checks, reference

ASSIGNMENT = Assignment(
    name="poisson_mixture",
    title="EM for a mixture of Poisson distributions",
    functions=(
        Function("log_poisson_pmf", ("x", "lam"), checks.check_log_poisson_pmf,
                 reference.log_poisson_pmf),
        Function("e_step", ("x", "pi", "lam"), checks.check_e_step, reference.e_step,
                 helpers=("log_poisson_pmf",)),
        Function("m_step", ("x", "tau"), checks.check_m_step, reference.m_step,
                 outputs=checks.OUTPUTS["m_step"]),
        Function("log_likelihood", ("x", "pi", "lam"), checks.check_log_likelihood,
                 reference.log_likelihood, helpers=("log_poisson_pmf",)),
        Function("em", ("x", "pi0", "lam0"), checks.check_em, reference.em,
                 outputs=checks.OUTPUTS["em"],
                 helpers=("log_poisson_pmf", "e_step", "m_step", "log_likelihood")),
    ),
    build=cases.build,
    checks=checks,
    solutions="solutions.poisson",
    manual=(
        ManualCell(
            "derivation_q", 2,
            "the complete-data log-likelihood and Q(θ, θ^q)",
            answer=r"""With the labels $z_{ik} = 1$ when $z_i = k$ (else 0), the complete-data
log-likelihood is

$$
\log p(x, z \mid \theta) = \sum_{i=1}^n \sum_{k=1}^K z_{ik}
\big(\log \pi_k + x_i \log \lambda_k - \lambda_k - \log x_i!\big).
$$

It is linear in the $z_{ik}$, so its expectation given $x$ and $\theta^q$
replaces $z_{ik}$ by $t_{ik}^q = P(z_i = k \mid x_i, \theta^q)$. With
$n_k^q = \sum_i t_{ik}^q$,

$$
Q(\theta, \theta^q) = \sum_{k=1}^K n_k^q \log \pi_k
+ \sum_{k=1}^K \sum_{i=1}^n t_{ik}^q \big(x_i \log \lambda_k - \lambda_k - \log x_i!\big).
$$""",
            rubric=(
                (1, "the complete-data log-likelihood, with the indicators z_ik"),
                (1, "Q(θ, θ^q): z_ik replaced by t_ik^q, as an explicit function of π and λ"),
            ),
        ),
        ManualCell(
            "derivation_m_step", 3,
            "the M-step, with a Lagrange multiplier ν",
            answer=r"""*Rates.* $\partial Q / \partial \lambda_k = \sum_i t_{ik}^q (x_i / \lambda_k - 1) = 0$
gives $\lambda_k^{q+1} = \sum_i t_{ik}^q x_i \big/ \sum_i t_{ik}^q$, a
maximum since $\partial^2 Q / \partial \lambda_k^2 = -\sum_i t_{ik}^q x_i / \lambda_k^2 < 0$.

If $\sum_i t_{ik}^q x_i = 0$ (component $k$ is responsible only for zeros),
$Q$ decreases in $\lambda_k$ and its maximum over $\lambda_k \ge 0$ is at
$\lambda_k^{q+1} = 0$, which the same formula gives.

*Weights.* The Lagrangian $\sum_k n_k^q \log \pi_k + \nu (1 - \sum_k \pi_k)$
gives $n_k^q / \pi_k = \nu$, so $\pi_k = n_k^q / \nu$; summing over $k$,
$\nu = \sum_k n_k^q = n$ and $\pi_k^{q+1} = \frac{1}{n} \sum_i t_{ik}^q$. The
objective is concave in $\pi$ on the simplex, so this is the maximum.""",
            rubric=(
                (1, "λ_k^{q+1} = Σ_i t_ik x_i / Σ_i t_ik, shown to be a maximum, and λ_k = 0 "
                    "when the component holds only zeros"),
                (1, "the Lagrangian with ν for Σ_k π_k = 1 and its stationarity condition"),
                (1, "ν = n, hence π_k^{q+1} = n_k / n, and why it is the maximum"),
            ),
        ),
    ),
    feedback_note=("The tests call your five functions one by one with fixed inputs and "
                   "compare the results with reference values; the cells of part 7 and the "
                   "test cells of your notebook are not run."),
)
