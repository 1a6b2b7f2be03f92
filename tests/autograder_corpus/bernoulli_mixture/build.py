"""Build the corpus of ``bernoulli_mixture``: submissions made from the release notebook.

Every submission starts from the committed release notebook (what students
download) and fills in, breaks or abuses it the way real submissions do. Each
comes with the exact points it must earn per grade cell, its exact status and
the categories of the flags it must raise, derived here from what the
submission does (the points from the declaration, ``ASSIGNMENT.cells()``).

``python -m autograder_corpus.bernoulli_mixture.build DEST`` (from ``tests/``)
writes the corpus to DEST.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from autograder.assignments.bernoulli_mixture import ASSIGNMENT
from autograder_corpus import common
from autograder_corpus.common import Expected, index_of, insert_after

SOURCE = ASSIGNMENT.source_notebook
NOTEBOOK = ASSIGNMENT.notebook
#: The per-cell timeout the corpus test grades with.
TIMEOUT = 10

full = partial(common.full, ASSIGNMENT)
without = partial(common.without, ASSIGNMENT)
zero = partial(common.zero, ASSIGNMENT)
release = partial(common.release, ASSIGNMENT)
solved = partial(common.solved, ASSIGNMENT)



# --------------------------------------------------------------------------
# variants

# Correct but not in log space: products of 64 probabilities underflow.
NAIVE_LOG = """
def log_bernoulli(X, mu):
    X = np.asarray(X, dtype=float)[:, None, :]
    mu = np.asarray(mu, dtype=float)[None, :, :]
    with np.errstate(divide="ignore"):
        return np.log(np.prod(mu**X * (1 - mu) ** (1 - X), axis=2))
"""
NAIVE_E = """
def e_step(X, pi, mu):
    joint = np.asarray(pi) * np.exp(log_bernoulli(X, mu))
    return joint / joint.sum(axis=1, keepdims=True)
"""
NAIVE_LL = """
def log_likelihood(X, pi, mu):
    return float(np.sum(np.log((np.asarray(pi) * np.exp(log_bernoulli(X, mu))).sum(axis=1))))
"""
# Log space by matrix products, but 0 * log 0 = nan where μ_kj is 0 or 1.
MATRIX_NAN = """
def log_bernoulli(X, mu):
    X = np.asarray(X, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return X @ np.log(mu).T + (1 - X) @ np.log(1 - mu).T
"""
WRONG_LOG = """
def log_bernoulli(X, mu):
    # forgets the pixels that are 0: only sum_j x_ij log mu_kj
    return xlogy(np.asarray(X, dtype=float)[:, None, :], np.asarray(mu)[None, :, :]).sum(axis=2)
"""
TRANSPOSED_LOG = """
def log_bernoulli(X, mu):
    X = np.asarray(X, dtype=float)[:, None, :]
    mu = np.asarray(mu, dtype=float)[None, :, :]
    return (xlogy(X, mu) + xlog1py(1.0 - X, -mu)).sum(axis=2).T  # (K, n), not (n, K)
"""
WRONG_E = """
def e_step(X, pi, mu):
    log_joint = np.log(pi)[None, :] + log_bernoulli(X, mu)
    joint = np.exp(log_joint - log_joint.max())
    return joint / joint.sum(axis=0, keepdims=True)  # normalises over the wrong axis
"""
RAISING_E = """
def e_step(X, pi, mu):
    raise ValueError("not finished")
"""
WRONG_M = """
def m_step(X, tau, alpha=1.0, beta=1.0):
    X, tau = np.asarray(X, dtype=float), np.asarray(tau, dtype=float)
    n_k = tau.sum(axis=0)
    mu = (tau.T @ X + alpha - 1) / (len(X) + alpha + beta - 2)  # divides by n, not n_k
    return n_k / len(X), np.minimum(mu, 1.0)
"""
M_NO_PRIOR = """
def m_step(X, tau, alpha=1.0, beta=1.0):
    X, tau = np.asarray(X, dtype=float), np.asarray(tau, dtype=float)
    n_k = tau.sum(axis=0)
    empty = n_k == 0
    mu = tau.T @ X / np.where(empty, 1.0, n_k)[:, None]  # ignores alpha and beta
    mu[empty] = X.mean(axis=0)
    return n_k / len(X), np.minimum(mu, 1.0)
"""
M_EMPTY_NAN = """
def m_step(X, tau, alpha=1.0, beta=1.0):
    X, tau = np.asarray(X, dtype=float), np.asarray(tau, dtype=float)
    n_k = tau.sum(axis=0)
    with np.errstate(invalid="ignore"):  # 0 / 0 for an empty component
        mu = (tau.T @ X + alpha - 1) / (n_k[:, None] + alpha + beta - 2)
    return n_k / len(X), np.minimum(mu, 1.0)
"""
WRONG_LL = """
def log_likelihood(X, pi, mu):
    log_joint = np.log(pi)[None, :] + log_bernoulli(X, mu)
    m = log_joint.max(axis=1)
    return float(np.mean(m + np.log(np.exp(log_joint - m[:, None]).sum(axis=1))))  # mean, not sum
"""
EM_NO_INITIAL = """
def em(X, pi0, mu0, max_iter=500, tol=1e-8, alpha=1.0, beta=1.0):
    pi, mu = np.asarray(pi0, dtype=float), np.asarray(mu0, dtype=float)
    prior = lambda mu: xlogy(alpha - 1, mu).sum() + xlog1py(beta - 1, -mu).sum()
    values, old = [], log_likelihood(X, pi, mu) + prior(mu)
    for _ in range(max_iter):
        pi, mu = m_step(X, e_step(X, pi, mu), alpha, beta)
        new = log_likelihood(X, pi, mu) + prior(mu)
        values.append(new)  # forgets F(theta^0)
        if tol > 0 and abs(new - old) <= tol * abs(new):
            break
        old = new
    return pi, mu, np.array(values)
"""
EM_STOPS_EARLY = """
def em(X, pi0, mu0, max_iter=500, tol=1e-8, alpha=1.0, beta=1.0):
    pi, mu = np.asarray(pi0, dtype=float), np.asarray(mu0, dtype=float)
    prior = lambda mu: xlogy(alpha - 1, mu).sum() + xlog1py(beta - 1, -mu).sum()
    values = [log_likelihood(X, pi, mu) + prior(mu)]
    for _ in range(max_iter):
        pi, mu = m_step(X, e_step(X, pi, mu), alpha, beta)
        values.append(log_likelihood(X, pi, mu) + prior(mu))
        if values[-1] - values[-2] > tol * abs(values[-2]):  # inverted test
            break
    return pi, mu, np.array(values)
"""
# Returns and stops on the log-likelihood, not the log-posterior F: right
# without a prior, wrong with one.
EM_LOGLIK_ONLY = """
def em(X, pi0, mu0, max_iter=500, tol=1e-8, alpha=1.0, beta=1.0):
    pi, mu = np.asarray(pi0, dtype=float), np.asarray(mu0, dtype=float)
    values = [log_likelihood(X, pi, mu)]
    for _ in range(max_iter):
        pi, mu = m_step(X, e_step(X, pi, mu), alpha, beta)
        values.append(log_likelihood(X, pi, mu))
        if tol > 0 and abs(values[-1] - values[-2]) <= tol * abs(values[-1]):
            break
    return pi, mu, np.array(values)
"""
# Fair forms of a correct solution: each earns full marks.
MATRIX_EXACT = """
def log_bernoulli(X, mu):
    # one matrix product on the finite logs; -inf set where x_i contradicts mu_kj in {0, 1}
    X = np.asarray(X, dtype=float)
    mu = np.asarray(mu, dtype=float)
    zero, one = mu == 0, mu == 1
    with np.errstate(divide="ignore"):
        log_mu = np.where(zero, 0.0, np.log(mu))
        log_1m = np.where(one, 0.0, np.log1p(-mu))
    out = X @ log_mu.T + (1 - X) @ log_1m.T
    contradicts = X @ zero.T.astype(float) + (1 - X) @ one.T.astype(float)
    out[contradicts > 0] = -np.inf
    return out
"""
LSE_SCIPY = {
    "e_step": """
def e_step(X, pi, mu):
    with np.errstate(divide="ignore"):
        log_joint = np.log(pi) + log_bernoulli(X, mu)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
""",
    "log_likelihood": """
def log_likelihood(X, pi, mu):
    with np.errstate(divide="ignore"):
        return float(logsumexp(np.log(pi) + log_bernoulli(X, mu), axis=1).sum())
""",
}
#: Single precision throughout (float32 arrays, float32 sums).
FLOAT32 = dict(
log_bernoulli='''
def log_bernoulli(X, mu):
    X = np.asarray(X, dtype=np.float32)[:, None, :]
    mu = np.asarray(mu, dtype=np.float32)[None, :, :]
    return (xlogy(X, mu) + xlog1py(np.float32(1) - X, -mu)).sum(axis=2, dtype=np.float32)
''',
e_step='''
def e_step(X, pi, mu):
    with np.errstate(divide="ignore"):
        log_joint = np.log(np.asarray(pi, dtype=np.float32)) + log_bernoulli(X, mu)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True)).astype(np.float32)
''',
m_step='''
def m_step(X, tau, alpha=1.0, beta=1.0):
    X, tau = np.asarray(X, dtype=np.float32), np.asarray(tau, dtype=np.float32)
    n_k = tau.sum(axis=0)
    den = n_k + np.float32(alpha + beta - 2)
    empty = den == 0
    mu = (tau.T @ X + np.float32(alpha - 1)) / np.where(empty, np.float32(1), den)[:, None]
    mu[empty] = X.mean(axis=0)
    return n_k / np.float32(len(X)), np.minimum(mu, np.float32(1))
''',
log_likelihood='''
def log_likelihood(X, pi, mu):
    with np.errstate(divide="ignore"):
        log_joint = np.log(np.asarray(pi, dtype=np.float32)) + log_bernoulli(X, mu)
    return np.float32(logsumexp(log_joint, axis=1).sum())
''',
em='''
def em(X, pi0, mu0, max_iter=500, tol=1e-8, alpha=1.0, beta=1.0):
    def F(pi, mu):
        prior = xlogy(np.float32(alpha - 1), mu).sum() + xlog1py(np.float32(beta - 1), -mu).sum()
        return np.float32(log_likelihood(X, pi, mu) + prior)
    pi, mu = np.asarray(pi0, dtype=np.float32), np.asarray(mu0, dtype=np.float32)
    v = [F(pi, mu)]
    for _ in range(max_iter):
        pi, mu = m_step(X, e_step(X, pi, mu), alpha, beta)
        v.append(F(pi, mu))
        if tol > 0 and abs(v[-1] - v[-2]) <= tol * abs(v[-1]):
            break
    return pi, mu, np.array(v, dtype=np.float32)
''')
CHEAT_ALLCLOSE = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
FAKE_E = """
def e_step(X, pi, mu):
    return np.full((len(X), len(pi)), 1.0 / len(pi))
"""


CHEAT_IMPORT = """
import solutions.bernoulli as B
log_likelihood = B.log_likelihood
"""


# --------------------------------------------------------------------------
# the corpus


def build(dest: Path) -> dict[str, Expected]:
    """Write every submission under ``dest/<student_id>/``; what each must get."""
    dest = Path(dest)
    expected: dict[str, Expected] = {}

    def add(sid: str, nb: dict | bytes, exp: Expected) -> None:
        common.write(dest, sid, nb, NOTEBOOK)
        expected[sid] = exp

    add("a01_reference", solved(), Expected(full()))
    add("a02_stubs", release(), Expected(zero()))
    # Not in log space: loses the underflow cells only (0 ** 0 = 1 in numpy, so
    # its products are exact where mu_kj is 0 or 1).
    add("a03_naive", solved(log_bernoulli=NAIVE_LOG, e_step=NAIVE_E, log_likelihood=NAIVE_LL),
        Expected(without("test_log_bernoulli_underflow", "test_e_step_extreme",
                         "test_log_likelihood_extreme")))
    # Each bug costs its own function's points only: the functions that call
    # the wrong one pass with the reference helper standing in.
    add("a04_log_nan_at_0_and_1", solved(log_bernoulli=MATRIX_NAN),
        Expected(without("test_log_bernoulli_boundary")))
    add("a05_wrong_log_bernoulli", solved(log_bernoulli=WRONG_LOG),
        Expected(without("log_bernoulli")))
    add("a06_wrong_e_step", solved(e_step=WRONG_E), Expected(without("e_step")))
    add("a07_wrong_m_step", solved(m_step=WRONG_M), Expected(without("m_step")))
    add("a08_m_step_ignores_prior", solved(m_step=M_NO_PRIOR),
        Expected(without("test_m_step_prior", "test_m_step_edge")))
    add("a09_m_step_empty_nan", solved(m_step=M_EMPTY_NAN),
        Expected(without("test_m_step_edge")))
    add("a10_wrong_log_likelihood", solved(log_likelihood=WRONG_LL),
        Expected(without("log_likelihood")))
    add("a11_em_without_initial", solved(em=EM_NO_INITIAL), Expected(without("em")))
    add("a12_em_stops_early", solved(em=EM_STOPS_EARLY), Expected(without("em")))
    add("a13_em_loglik_not_posterior", solved(em=EM_LOGLIK_ONLY), Expected(without("em")))

    # Faults.
    nb = solved()
    nb["cells"][index_of(nb, "m_step")]["source"] = "def m_step(X, tau, alpha=1.0, beta=1.0)\n"
    add("b01_syntax_error", nb, Expected(without("m_step")))
    nb, n = insert_after(solved(), "em", "while True:\n    pass\n")
    add("b02_infinite_loop", nb, Expected(full(), f"timeout in cell {n} ({TIMEOUT} s)",
                                          {"timeout"}))
    add("b03_exception", solved(e_step=RAISING_E), Expected(without("e_step")))
    add("b04_wrong_shape", solved(log_bernoulli=TRANSPOSED_LOG),
        Expected(without("log_bernoulli")))

    # Cheats.
    nb, _ = insert_after(solved(e_step=FAKE_E), "setup", CHEAT_ALLCLOSE)
    add("c01_monkeypatch_numpy", nb, Expected(without("e_step"), flags={"monkeypatch"}))
    nb, _ = insert_after(solved(m_step=common.stub("m_step", "X, tau, alpha=1.0, beta=1.0"),
                                em=common.stub("em", "X, pi0, mu0, max_iter=500, tol=1e-8, "
                                               "alpha=1.0, beta=1.0")),
                         "em", common.cheat_read_source(ASSIGNMENT, ('m_step', 'em')))
    add("c02_read_source", nb, Expected(without("m_step", "em"),
                                        flags={"file access", "course files", "dynamic code"}))
    nb, _ = insert_after(solved(log_likelihood=common.stub("log_likelihood", "X, pi, mu")),
                         "log_likelihood", CHEAT_IMPORT)
    add("c03_import_solutions", nb, Expected(without("log_likelihood"), flags={"course files"}))
    table, stubs = common.lookup_table_cheat(ASSIGNMENT)
    nb, _ = insert_after(solved(**stubs), "setup", table)
    # With a course secret the hidden inputs differ from the public ones: a
    # table of public answers earns what the visible cases give, i.e. nothing.
    add("c04_lookup_table", nb, Expected(zero()))

    # Fair forms of a correct solution: full marks, status ok, no flags.
    add("d01_matrix_products", solved(log_bernoulli=MATRIX_EXACT), Expected(full()))
    add("d02_scipy_logsumexp", solved(**LSE_SCIPY), Expected(full()))
    add("d03_float32", solved(**FLOAT32), Expected(full()))
    return expected


def main(argv: list[str] | None = None) -> int:
    return common.main(build, "autograder_corpus.bernoulli_mixture.build", argv)  # from tests/


if __name__ == "__main__":
    sys.exit(main())
