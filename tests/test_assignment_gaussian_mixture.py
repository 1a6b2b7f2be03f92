"""The assignment ``gaussian_mixture``: declaration, notebooks, cases, checks, corpus.

The expected values come from :mod:`solutions.gaussian`; here they are
compared with independent computations (scipy's Gaussian log-density, the
closed-form M-step, scikit-learn's ``GaussianMixture``), the instructor's
solution in the source notebook is run on the public and on secret-drawn
cases, and the corpus of submissions (``tests/autograder_corpus/
gaussian_mixture``) is graded end to end, with exact expected points, by
``tests/test_autograder_corpora.py``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from autograder import assignments, release
from autograder.assignments.gaussian_mixture import ASSIGNMENT, checks, reference
from solutions import datasets, gaussian

SECRETS = (None, "a course secret", "another one")


def _cells(nb_path: Path) -> dict[str, str]:
    nb = json.loads(nb_path.read_text())
    out = {}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            src = cell["source"]
            out[gid] = "".join(src) if isinstance(src, list) else src
    return out


def _namespace(nb_path: Path) -> dict:
    """The setup, data and solution cells of a notebook, run in one namespace."""
    cells = _cells(nb_path)
    ns: dict = {}
    for gid in ("setup", "faithful_data", *(f.name for f in ASSIGNMENT.functions)):
        exec(cells[gid], ns)  # our own notebook
    return ns


def _grade(ns: dict, secret: str | None) -> dict[str, int]:
    """Points per grade cell of the functions in ``ns`` (as nbgrader: all cases pass)."""
    cells = ASSIGNMENT.cells(secret)
    expected = ASSIGNMENT.expected(cells)
    points = {}
    for cell in cells:
        function = ASSIGNMENT.function(cell.function)
        ok = True
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got = ns[cell.function](*case.args, **case.kwargs)
                function.check(got, want, **case.options)
            except Exception:  # any failure loses the cell
                ok = False
        points[cell.grade_id] = cell.points if ok else 0
    return points


# --------------------------------------------------------------------------
# the declaration and the notebooks


def test_declared_and_listed():
    assert "gaussian_mixture" in assignments.names()
    assert assignments.get("gaussian_mixture") is ASSIGNMENT
    assert [f.name for f in ASSIGNMENT.functions] == [
        "log_gaussian_pdf", "e_step", "m_step", "log_likelihood", "em"]
    assert ASSIGNMENT.max_score == 17
    assert ASSIGNMENT.manual_points == 10
    ids = ASSIGNMENT.grade_ids
    # basic and extreme cases of each function in separate cells, each with a visible case
    for f in ASSIGNMENT.functions:
        assert sum(c.function == f.name for c in ASSIGNMENT.cells()) == 2, f.name
    for cell in ASSIGNMENT.cells():
        assert any(c.visible for c in cell.cases), cell.grade_id
        assert any(not c.visible for c in cell.cases), cell.grade_id
    assert len(set(ids)) == len(ids)


@pytest.mark.slow
def test_release_up_to_date():
    """(The source notebook: tests/test_autograder_assignments.py, for every assignment.)"""
    assert release.main(["gaussian_mixture"], check=True) == 0


def test_notebook_data_is_old_faithful():
    ns = _namespace(ASSIGNMENT.source_notebook)
    np.testing.assert_array_equal(ns["faithful"], datasets.old_faithful())


@pytest.mark.parametrize("secret", SECRETS)
def test_instructor_solution_full_marks_release_zero(secret):
    source = _grade(_namespace(ASSIGNMENT.source_notebook), secret)
    assert source == {c.grade_id: c.points for c in ASSIGNMENT.cells()}
    stubs = _grade(_namespace(ASSIGNMENT.release_notebook), secret)
    assert set(stubs.values()) == {0}


def test_release_hides_solutions_answers_and_hidden_tests():
    text = ASSIGNMENT.release_notebook.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "log_det = 2.0 * np.sum(np.log(np.diag(L)))",
                   "Rubric", "2322.19"):
        assert marker not in text, marker
    cells = _cells(ASSIGNMENT.release_notebook)
    for gid in ASSIGNMENT.manual_ids:
        assert "YOUR ANSWER HERE" in cells[gid]
    source = ASSIGNMENT.release_notebook.read_text()
    assert "*regularisation* of the algorithm" in source


# --------------------------------------------------------------------------
# the cases: fixed visible ones, hidden ones that keep their purpose


def test_visible_cases_fixed_hidden_cases_from_the_secret():
    public, secret = ASSIGNMENT.cells(None), ASSIGNMENT.cells("s3cret")
    for a, b in zip(public, secret, strict=True):
        assert a.grade_id == b.grade_id
        for ca, cb in zip(a.cases, b.cases, strict=True):
            same = all(np.array_equal(x, y) for x, y in zip(ca.args, cb.args, strict=True))
            if ca.visible:
                assert same, a.grade_id
            elif a.grade_id != "test_em_random" or ca.args[0].shape[0] > 50:
                assert not same, (a.grade_id, ca.description)


@pytest.mark.parametrize("secret", SECRETS)
def test_extreme_cases_keep_their_purpose(secret):
    cells = {c.grade_id: c for c in ASSIGNMENT.cells(secret)}
    for gid in ("test_log_pdf_extreme", "test_e_step_extreme", "test_log_likelihood_extreme"):
        for case in cells[gid].cases:
            X = case.args[0]
            mu, cov = case.args[-2], case.args[-1]
            dims = {X.shape[1]}
            logpdf = reference.log_gaussian_pdf(cases_case(X, mu, cov))
            # some point has every density below the smallest double: only log space works
            underflow = np.all(logpdf < np.log(np.finfo(float).tiny), axis=1).any()
            uneven = len(case.args) == 4 and case.args[1].min() < 1e-10
            singular = "singular" in case.description
            assert underflow or uneven or singular, (gid, case.description)
            assert dims <= {1, 2, 3, 5}
    descriptions = " ".join(c.description for c in cells["test_log_pdf_extreme"].cases)
    assert "d = 1" in descriptions and "d = 5" in descriptions and "K = 1" in descriptions
    thin = next(c for c in cells["test_log_pdf_extreme"].cases if "singular" in c.description)
    assert np.linalg.cond(thin.args[2][0]) > 1e6
    edge = cells["test_m_step_edge"].cases
    one_point = next(c for c in edge if "one point" in c.description)
    assert one_point.args[1][:, 0].sum() == 1.0
    line = next(c for c in edge if "collinear" in c.description)
    pts = line.args[0][line.args[1][:, 1] == 1]
    assert np.linalg.matrix_rank(pts - pts.mean(axis=0), tol=1e-9) == 1


def cases_case(X, mu, cov):
    from autograder.spec import Case

    return Case((X, mu, cov), "")


# --------------------------------------------------------------------------
# the reference against independent computations


@pytest.mark.parametrize("secret", SECRETS[:2])
def test_reference_log_pdf_is_scipys(secret):
    cells = ASSIGNMENT.cells(secret)
    for cell in cells:
        if cell.function != "log_gaussian_pdf":
            continue
        for case in cell.cases:
            X, mu, cov = case.args
            want = np.column_stack([multivariate_normal.logpdf(X, mu[k], cov[k],
                                                               allow_singular=False)
                                    .reshape(len(X)) for k in range(len(mu))])
            # a covariance of condition number 1e8 leaves ~1e-8 of rounding either way
            np.testing.assert_allclose(reference.log_gaussian_pdf(case), want, rtol=1e-7)


def test_reference_m_step_is_the_closed_form():
    for cell in ASSIGNMENT.cells("m"):
        if cell.function != "m_step":
            continue
        for case in cell.cases:
            X, tau = case.args
            eps = case.kwargs.get("reg_covar", 1e-6)
            nk = tau.sum(axis=0)
            mu = tau.T @ X / nk[:, None]
            cov = np.stack([(tau[:, k, None] * (X - mu[k])).T @ (X - mu[k]) / nk[k]
                            + eps * np.eye(X.shape[1]) for k in range(len(nk))])
            pi_r, mu_r, cov_r = reference.m_step(case)
            np.testing.assert_allclose(pi_r, nk / len(X), rtol=1e-12)
            np.testing.assert_allclose(mu_r, mu, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(cov_r, cov, rtol=1e-9, atol=1e-12)


def test_reference_em_limit_is_sklearns():
    from sklearn.mixture import GaussianMixture

    for cell in ASSIGNMENT.cells("sk"):
        if cell.function != "em":
            continue
        for case in cell.cases:
            if case.reference != "limit":
                continue
            X, pi0, mu0, cov0 = case.args
            want = reference.em(case)
            gm = GaussianMixture(len(pi0), covariance_type="full", tol=1e-12, max_iter=20000,
                                 reg_covar=case.kwargs.get("reg_covar", 1e-6),
                                 weights_init=pi0, means_init=mu0,
                                 precisions_init=np.linalg.inv(cov0)).fit(X)
            perm = checks.match_components(gm.means_, want["mu"])
            np.testing.assert_allclose(gm.weights_[perm], want["pi"], atol=1e-5)
            np.testing.assert_allclose(gm.means_[perm], want["mu"], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(gm.covariances_[perm], want["cov"], rtol=1e-4, atol=1e-5)
            assert gm.score(X) * len(X) == pytest.approx(want["loglik_final"], abs=1e-4)


def test_old_faithful_numbers_stated_in_the_notebook():
    X = datasets.old_faithful()
    start = ([0.5, 0.5], [[2.0, 55.0], [4.5, 80.0]], [np.diag([1.0, 30.0])] * 2)
    run = gaussian.fit(X, *start, max_iter=500, tol=1e-8)
    assert len(run.loglik) - 1 == 7
    assert run.loglik[-1] == pytest.approx(-1130.264, abs=1e-3)
    np.testing.assert_allclose(run.params.pi, [0.356, 0.644], atol=1e-3)
    np.testing.assert_allclose(run.params.mu, [[2.036, 54.48], [4.290, 79.97]], atol=1e-2)
    # Part 7 and the BIC model answer
    ns = _namespace(ASSIGNMENT.source_notebook)
    bic = {}
    for K, mu0 in {1: [[3.5, 70.0]], 2: start[1], 3: [[2.0, 55.0], [3.5, 70.0], [4.5, 80.0]]}.items():
        pi, mu, cov, ll = ns["em"](X, np.full(K, 1 / K), np.array(mu0),
                                   np.stack([np.diag([1.0, 30.0])] * K), max_iter=2000, tol=1e-10)
        bic[K] = gaussian.bic(X, gaussian.GaussianParams(pi, mu, cov))
        assert bic[K] == pytest.approx(-2 * ll[-1] + gaussian.n_parameters(K, 2) * np.log(272))
    assert bic[1] == pytest.approx(2607.62, abs=0.01)
    assert bic[2] == pytest.approx(2322.19, abs=0.01)
    assert bic[3] == pytest.approx(2333.73, abs=0.01)


# --------------------------------------------------------------------------
# the checks


def test_check_m_step_sees_a_forgotten_reg_covar():
    case = next(c for c in ASSIGNMENT.cells()[4].cases if not c.visible)
    pi, mu, cov = reference.m_step(case)
    checks.check_m_step((pi, mu, cov), (pi, mu, cov))
    with pytest.raises(AssertionError, match="m_step: cov"):
        checks.check_m_step((pi, mu, cov - 1e-6 * np.eye(cov.shape[1])), (pi, mu, cov))
    with pytest.raises(AssertionError, match="symmetric"):
        bad = cov.copy()
        bad[0, 0, 1] += 1e-3
        checks.check_m_step((pi, mu, bad), (pi, mu, cov))


def test_check_em_matches_components_up_to_a_permutation():
    cell = next(c for c in ASSIGNMENT.cells() if c.grade_id == "test_em_random")
    case = cell.cases[0]
    want = reference.em(case)
    trace = np.r_[want["loglik_head"], want["loglik_final"]]
    order = [2, 0, 1]
    got = (want["pi"][order], want["mu"][order], want["cov"][order], trace)
    checks.check_em(got, want, **case.options)
    swapped = (want["pi"][order], want["mu"], want["cov"][order], trace)
    with pytest.raises(AssertionError, match="up to a permutation"):
        checks.check_em(swapped, want, **case.options)
