"""The assignment ``gaussian_mixture_1d``: declaration, cases, checks, notebooks, corpus.

* the hidden cases keep their purpose for any course secret (a point whose
  every density underflows, a component on one point, a floor between two
  weighted variances, a collapse that ends at the floor);
* the checks reject the typical wrong answers with a message that says why;
* the notebooks are up to date, and the numbers the source notebook states
  (Old Faithful) are what the instructor's solution computes;
* end to end, ``tests/test_autograder_corpora.py`` grades the corpus
  (``tests/autograder_corpus/gaussian_mixture_1d/build.py``): the instructor's
  solution placed in the release earns full marks, the untouched release 0,
  every other submission exactly its expected points, status and flags.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from autograder_corpus.gaussian_mixture_1d.build import reference_code
from scipy.stats import norm

from autograder.assignments import names
from autograder.assignments.gaussian_mixture_1d import ASSIGNMENT, checks
from solutions import datasets, gaussian1d

REPO = Path(__file__).resolve().parents[1]
SECRETS = (None, "corpus test secret", "another course", "2026 spring", "x")


def _cases(grade_id: str, secret: str | None):
    return next(c for c in ASSIGNMENT.cells(secret) if c.grade_id == grade_id).cases


def _case(grade_id: str, secret: str | None, words: str):
    return next(c for c in _cases(grade_id, secret) if words in c.description)


# --------------------------------------------------------------------------
# the declaration


def test_listed_with_fifteen_points_and_eight_by_hand():
    assert "gaussian_mixture_1d" in names()
    assert ASSIGNMENT.max_score == 15 and ASSIGNMENT.manual_points == 8
    assert [f.name for f in ASSIGNMENT.functions] == [
        "log_normal_pdf", "e_step", "m_step", "log_likelihood", "em"]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_cell_has_a_visible_and_a_hidden_case(secret):
    for cell in ASSIGNMENT.cells(secret):
        assert any(c.visible for c in cell.cases), cell.grade_id
        assert any(not c.visible for c in cell.cases), cell.grade_id


def test_the_secret_changes_the_hidden_cases_only():
    public, secret = ASSIGNMENT.cells(None), ASSIGNMENT.cells("corpus test secret")
    for a, b in zip(public, secret, strict=True):
        for ca, cb in zip(a.cases, b.cases, strict=True):
            same = all(np.array_equal(x, y) for x, y in zip(ca.args, cb.args, strict=True))
            assert same == ca.visible, (a.grade_id, ca.description)


# --------------------------------------------------------------------------
# the hidden cases keep their purpose, whatever the secret


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("grade_id", ["test_e_step_extreme", "test_log_likelihood_extreme"])
def test_far_points_underflow_under_every_component(secret, grade_id):
    x, pi, mu, var = _case(grade_id, secret, "points far from every mean").args
    dens = pi * norm.pdf(x[:, None], mu, np.sqrt(var))
    assert np.all(dens[1:] == 0.0) and np.all(dens[0] > 0.0)
    one = _case(grade_id, secret, "K = 1").args
    assert np.any(norm.pdf(one[0], one[2][0], np.sqrt(one[3][0])) == 0.0)


@pytest.mark.parametrize("secret", SECRETS)
def test_m_step_floor_cases(secret):
    x, tau = _case("test_m_step_floor", secret, "holding one point").args
    assert tau[:, 1].sum() == 1.0
    assert gaussian1d.m_step(x, tau).var[1] == gaussian1d.VAR_FLOOR
    case = _case("test_m_step_floor", secret, "one weighted variance below it")
    x, tau = case.args
    floor = case.kwargs["var_floor"]
    s = gaussian1d.m_step(x, tau, var_floor=0.0).var
    assert s[0] < floor / 2 and s[1] > 2 * floor
    # the two rules differ by the floor itself: far beyond the tolerance
    assert floor > 1e-3


@pytest.mark.parametrize("secret", SECRETS)
def test_em_extreme_cases(secret):
    far = _case("test_em_extreme", secret, "clusters far apart")
    x, pi0, mu0, var0 = far.args
    dens = pi0 * norm.pdf(x[:, None], mu0, np.sqrt(var0))
    assert np.sum(np.all(dens == 0.0, axis=1)) == 15  # the whole second cluster
    collapse = _case("test_em_extreme", secret, "collapses")
    want = ASSIGNMENT.function("em").reference(collapse)
    assert np.min(want["var"]) == collapse.kwargs["var_floor"]
    assert np.isclose(np.min(want["pi"]), 1 / len(collapse.args[0]))


def test_em_references_are_maxima_of_the_constrained_likelihood():
    """The "mle" references are fixed points of EM with the floor (one more
    iteration changes nothing) and beat a perturbed start."""
    for cell in ASSIGNMENT.cells("corpus test secret"):
        if cell.function != "em":
            continue
        for case in cell.cases:
            if case.reference != "mle":
                continue
            want = ASSIGNMENT.function("em").reference(case)
            floor = case.kwargs.get("var_floor", gaussian1d.VAR_FLOOR)
            x = case.args[0]
            theta = (want["pi"], want["mu"], want["var"])
            again = gaussian1d.m_step(x, gaussian1d.e_step(x, *theta), var_floor=floor)
            for a, b in zip(again, theta, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


# --------------------------------------------------------------------------
# the checks


def test_checks_reject_typical_mistakes_with_a_reason():
    x = np.array([0.0, 0.2, 0.4, 5.0, 7.0, 9.0])
    tau = np.eye(2)[[0, 0, 0, 1, 1, 1]]
    want = gaussian1d.m_step(x, tau, var_floor=0.5)
    s = gaussian1d.m_step(x, tau, var_floor=0.0)
    checks.check_m_step(tuple(want), tuple(want))
    with pytest.raises(AssertionError, match="not added"):
        checks.check_m_step((s.pi, s.mu, s.var + 0.5), tuple(want))
    with pytest.raises(AssertionError, match="m_step: var"):
        checks.check_m_step((s.pi, s.mu, s.var), tuple(want))

    x, pi, mu, var = np.array([0.0, 60.0]), np.array([0.5, 0.5]), np.zeros(2), np.ones(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = pi * norm.pdf(x[:, None], mu, 1.0)
        naive_tau = naive / naive.sum(axis=1, keepdims=True)
        naive_log = np.log(norm.pdf(x[:, None], mu, 1.0))
    with pytest.raises(AssertionError, match="log space"):
        checks.check_e_step(naive_tau, gaussian1d.e_step(x, pi, mu, var))
    with pytest.raises(AssertionError, match="from x - μ"):
        checks.check_log_normal_pdf(naive_log, gaussian1d.log_normal_pdf(x, mu, var))


def test_check_em_matches_components_up_to_a_permutation():
    x = gaussian1d.sample(200, [0.3, 0.7], [0.0, 6.0], [1.0, 1.0], random_state=0)[0]
    run = gaussian1d.fit(x, [0.5, 0.5], [-1.0, 5.0], [1.0, 1.0], max_iter=500, tol=1e-8)
    mle = gaussian1d.fit(x, [0.5, 0.5], [-1.0, 5.0], [1.0, 1.0], tol=1e-14, accelerate=True)
    expected = {"pi": mle.params.pi, "mu": mle.params.mu, "var": mle.params.var,
                "loglik_head": run.loglik[:2], "loglik_final": mle.loglik[-1], "n_iter": None}
    pi, mu, var = (a[::-1] for a in run.params)
    checks.check_em((pi, mu, var, run.loglik), expected, param_rtol=1e-3, loglik_atol=1e-3)
    with pytest.raises(AssertionError, match="loglik decreases"):
        dropped = np.append(run.loglik, run.loglik[-1] - 1.0)
        checks.check_em((pi, mu, var, dropped), expected, param_rtol=1e-3, loglik_atol=1e-3)


# --------------------------------------------------------------------------
# the notebooks


def test_notebooks_are_up_to_date():
    for command in ("build-source", "release"):
        proc = subprocess.run(
            [sys.executable, "-m", "autograder", command, "--check", "gaussian_mixture_1d"],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_release_has_no_solution_and_no_hidden_test():
    text = ASSIGNMENT.release_notebook.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "np.maximum(s, var_floor)",
                   "Rubric"):
        assert marker not in text
    nb = json.loads(text)
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
             for c in nb["cells"]}
    for f in ASSIGNMENT.functions:
        assert "raise NotImplementedError()" in by_id[f.name]
    for m in ASSIGNMENT.manual:
        assert "YOUR ANSWER HERE" in by_id[m.grade_id]


def _part_7() -> dict[str, str]:
    nb = json.loads(ASSIGNMENT.source_notebook.read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id", "").startswith("old_faithful")}


def test_old_faithful_part_states_what_the_solution_computes(capsys):
    """The published MLE (R's faithful data), the model answer's numbers, and
    the data embedded in the notebook are the data set of solutions.datasets."""
    import matplotlib

    matplotlib.use("Agg")
    ns: dict = {}
    exec("import numpy as np\nfrom scipy.special import logsumexp\n", ns)
    for gid in ("log_normal_pdf", "e_step", "m_step", "log_likelihood", "em"):
        exec(reference_code()[gid], ns)
    cells = _part_7()
    exec(cells["old_faithful"], ns)
    np.testing.assert_array_equal(np.sort(ns["waiting"]),
                                  np.sort(datasets.old_faithful()[:, 1]))
    pi, mu, var, loglik = ns["fit_2"]
    assert round(loglik[-1], 3) == -1034.002
    np.testing.assert_allclose(pi, [0.361, 0.639], atol=5e-4)
    np.testing.assert_allclose(mu, [54.61, 80.09], atol=5e-3)
    np.testing.assert_allclose(np.sqrt(var), [5.871, 5.868], atol=5e-4)
    assert np.all(np.diff(loglik) >= -1e-9 * abs(loglik[-1]))
    loglik_1 = ns["fit_1"][3][-1]
    assert round(loglik_1, 3) == -1095.289
    n = ns["waiting"].size
    assert round(-2 * loglik_1 + 2 * np.log(n), 1) == 2201.8
    assert round(-2 * loglik[-1] + 5 * np.log(n), 1) == 2096.0
    exec(cells["old_faithful_collapse"], ns)
    out = capsys.readouterr().out
    assert "log-likelihood -1027.705" in out and "log-likelihood -1025.403" in out
    # dividing the floor by 100 adds about log(100) / 2 = 2.303: the spike's term
    start = (np.array([0.4, 0.5, 0.1]), np.array([55.0, 80.0, 96.0]), np.array([30.0, 30.0, 0.01]))
    ends = [ns["em"](ns["waiting"], *start, max_iter=5000, tol=1e-12, var_floor=f)[3][-1]
            for f in (1e-6, 1e-8)]
    assert abs(ends[1] - ends[0] - 0.5 * np.log(100)) < 2e-3
    answer = next(m for m in ASSIGNMENT.manual if m.grade_id == "old_faithful_answer").answer
    for number in ("-1034.002", "-1095.289", "61.3", "2201.8", "2096.0", "-1027.705", "2.303",
                   "54.6", "80.1", "5.87", "36%", "64%"):
        assert number in answer, number
