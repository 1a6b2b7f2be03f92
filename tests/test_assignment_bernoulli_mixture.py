"""The bernoulli_mixture assignment: its hidden cases keep their purpose, the
instructor's solution passes every case, and naive code fails where it should.

The end-to-end grading of its corpus is in ``tests/test_autograder_corpora.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from autograder_corpus.bernoulli_mixture import build as corpus

from autograder.assignments.bernoulli_mixture import ASSIGNMENT

SECRETS = (None, "one course", "another course")


def _namespace(**overrides: str) -> dict:
    """The notebook's setup and solution cells (``overrides`` replacing some) run in a fresh namespace."""
    nb = json.loads(ASSIGNMENT.source_notebook.read_text())
    codes = {"setup": "".join(nb["cells"][corpus.index_of(nb, "setup")]["source"])}
    codes.update(corpus.common.reference_code(ASSIGNMENT))
    codes.update(overrides)
    ns: dict = {}
    for gid in ("setup", *(f.name for f in ASSIGNMENT.functions)):
        exec(codes[gid], ns)
    return ns


def _cases(secret, function=None, grade_id=None):
    cells = ASSIGNMENT.cells(secret)
    expected = ASSIGNMENT.expected(cells)
    for cell in cells:
        if (function and cell.function != function) or (grade_id and cell.grade_id != grade_id):
            continue
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            yield cell, case, want


def _run(ns, cell, case, want):
    graded = ASSIGNMENT.function(cell.function)
    with np.errstate(all="ignore"):
        got = ns[cell.function](*case.args, **case.kwargs)
    graded.check(got, want, **case.options)


@pytest.mark.parametrize("secret", SECRETS)
def test_the_instructors_solution_passes_every_case(secret):
    ns = _namespace()
    for cell, case, want in _cases(secret):
        _run(ns, cell, case, want)


@pytest.mark.parametrize("secret", SECRETS)
def test_a_float32_solution_passes_every_case(secret):
    """Single precision throughout is judged with float32 tolerances: full marks."""
    ns = _namespace(**corpus.FLOAT32)
    for cell, case, want in _cases(secret):
        _run(ns, cell, case, want)


def _naive() -> dict:
    return _namespace(log_bernoulli=corpus.NAIVE_LOG, e_step=corpus.NAIVE_E,
                      log_likelihood=corpus.NAIVE_LL)


@pytest.mark.parametrize("grade_id", ["test_log_bernoulli_underflow", "test_e_step_extreme",
                                      "test_log_likelihood_extreme"])
def test_naive_code_fails_the_visible_extreme_case(grade_id):
    """What ``nbgrader validate`` shows a student whose code is not in log space."""
    ns = _naive()
    visible = [(c, k, w) for c, k, w in _cases(None, grade_id=grade_id) if k.visible]
    assert visible
    with pytest.raises(AssertionError):
        for cell, case, want in visible:
            _run(ns, cell, case, want)


@pytest.mark.parametrize("secret", SECRETS)
def test_underflow_cases_underflow(secret):
    """Every log_bernoulli 'underflow' case and every d >= 64 case of the extreme
    E-step and log-likelihood cells has a product of probabilities that is 0."""
    for grade_id in ("test_log_bernoulli_underflow", "test_e_step_extreme",
                     "test_log_likelihood_extreme"):
        for _, case, _ in _cases(secret, grade_id=grade_id):
            X, mu = case.args[0], case.args[-1]
            if X.shape[1] < 64 or "uneven" in case.description:
                continue
            with np.errstate(under="ignore"):
                prod = np.prod(np.where(X[:, None, :] == 1, mu[None], 1 - mu[None]), axis=2)
            if grade_id == "test_log_bernoulli_underflow":
                assert (prod == 0).any(), case.description
            else:  # every component of some row: the naive normalisation is 0 / 0
                assert (prod == 0).all(axis=1).any(), case.description


@pytest.mark.parametrize("secret", SECRETS)
def test_boundary_and_edge_cases_keep_their_purpose(secret):
    for _, case, want in _cases(secret, grade_id="test_log_bernoulli_boundary"):
        mu = case.args[1]
        assert np.isin(mu, [0.0, 1.0]).any()
        assert np.isneginf(want).any() and np.isfinite(want).any(), case.description
    for _, case, want in _cases(secret, function="e_step"):
        assert np.all(np.isfinite(want)), case.description  # no row impossible everywhere
    empties = 0
    for _, case, (pi, mu) in _cases(secret, grade_id="test_m_step_edge"):
        X, tau = case.args
        if (tau.sum(axis=0) == 0).any():
            empties += 1
            k = np.flatnonzero(tau.sum(axis=0) == 0)
            assert np.all(pi[k] == 0)
            if case.kwargs:
                a, b = case.kwargs["alpha"], case.kwargs["beta"]
                np.testing.assert_allclose(mu[k], (a - 1) / (a + b - 2))
            else:
                np.testing.assert_allclose(mu[k], np.broadcast_to(X.mean(axis=0), mu[k].shape))
    assert empties == 3  # the visible case, an empty middle component, one under a prior
    prior_cases = [k for _, k, _ in _cases(secret, grade_id="test_m_step_prior") if not k.visible]
    assert all(k.kwargs["alpha"] != k.kwargs["beta"] for k in prior_cases)


@pytest.mark.parametrize("secret", SECRETS)
def test_em_cases_reach_the_boundary_and_use_priors(secret):
    """The exact-run cases hit μ_kj = 0 with α = 1 (the prior term must be 0,
    not nan) and run a prior; K = 1 is among the converged cases."""
    hits_zero, priors, k_one = False, False, False
    for _, case, want in _cases(secret, function="em"):
        hits_zero |= bool(np.any(want["mu"] == 0)) and case.kwargs.get("alpha", 1.0) == 1.0
        priors |= case.kwargs.get("alpha", 1.0) != 1.0
        k_one |= len(case.args[1]) == 1
        assert np.all(np.diff(want["objective_head"]) >= -1e-9)
    assert hits_zero and priors and k_one


def test_em_and_m_step_agree_with_the_map_formula():
    """The reference (solutions.bernoulli.m_step_beta) against the notebook's formula, by hand."""
    rng = np.random.default_rng(5)
    X = (rng.random((20, 7)) < 0.3).astype(float)
    tau = rng.dirichlet(np.ones(3), size=20)
    for a, b in ((1.0, 1.0), (2.0, 2.0), (1.5, 3.5)):
        pi, mu = ASSIGNMENT.function("m_step").reference(
            type("C", (), {"args": (X, tau), "kwargs": {"alpha": a, "beta": b}})())
        n_k = tau.sum(axis=0)
        np.testing.assert_allclose(pi, n_k / 20)
        np.testing.assert_allclose(mu, (tau.T @ X + a - 1) / (n_k[:, None] + a + b - 2))
