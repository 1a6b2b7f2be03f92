"""The Poisson exercise as a student meets it: the instructor solution follows the
contract, and the numbers the source notebook states are true.

The book page (``chapters/exercise_poisson.md``) checks its own numbers in its
cells; the notebook's prose has no cells of its own to do that, so this file
recomputes every number it quotes, with independent code (scipy's Poisson
probabilities, a direct search, the corps-by-corps records).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import gammaln, logsumexp, xlogy

from solutions import datasets

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
CHAPTER = REPO / "chapters" / "exercise_poisson.md"
HASSELBLAD_START = (np.array([0.3, 0.7]), np.array([1.0, 2.5]))
# The maximum likelihood estimate reported by Varadhan & Roland (2008).
HASSELBLAD_MLE = np.array([-1989.946, 0.360, 0.640, 1.256, 2.663])


def _cells() -> list[dict]:
    return json.loads(SOURCE.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _grade_id(cell: dict) -> str | None:
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def _markdown() -> str:
    return "\n\n".join(_src(c) for c in _cells() if c["cell_type"] == "markdown")


@pytest.fixture(scope="module")
def nb():
    """The setup cell and the instructor's solution cells, executed."""
    ns: dict = {}
    for cell in _cells():
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and (meta.get("solution") or _grade_id(cell) == "setup"):
            exec(compile(_src(cell), f"<{_grade_id(cell)}>", "exec"), ns)
    return ns


# --------------------------------------------------------------------------
# the contract: rates 0, the stopping rule


def test_rate_zero_is_the_point_mass_at_zero(nb):
    x = np.array([0, 1, 3])
    got = nb["log_poisson_pmf"](x, np.array([0.0, 2.0]))
    assert got[0, 0] == 0.0 and np.all(np.isneginf(got[1:, 0]))
    np.testing.assert_allclose(got[:, 1], stats.poisson.logpmf(x, 2.0), rtol=1e-12)
    tau = nb["e_step"](x, np.array([0.5, 0.5]), np.array([0.0, 2.0]))
    assert np.all(np.isfinite(tau)) and np.array_equal(tau[1:, 0], [0.0, 0.0])
    np.testing.assert_allclose(tau[0], [1, np.exp(-2.0)] / (1 + np.exp(-2.0)), rtol=1e-12)
    ll = nb["log_likelihood"](x, np.array([0.5, 0.5]), np.array([0.0, 2.0]))
    want = logsumexp(np.log(0.5) + stats.poisson.logpmf(x[:, None], [0.0, 2.0]), axis=1).sum()
    np.testing.assert_allclose(ll, want, rtol=1e-12)
    # a weight 0 as well
    assert np.all(np.isfinite(nb["e_step"](x, np.array([1.0, 0.0]), np.array([2.0, 0.0]))))
    _, lam = nb["m_step"](np.array([0, 0, 4]), np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert np.array_equal(lam, [0.0, 4.0])


def test_tol_zero_runs_exactly_max_iter_although_rounding_decreases_l(nb):
    x = datasets.hasselblad_counts()
    _, _, loglik = nb["em"](x, *HASSELBLAD_START, max_iter=2500, tol=0.0)
    assert loglik.size == 2501
    steps = np.diff(loglik)
    # rounding makes l go down somewhere: a signed rule would have stopped there
    assert np.any(steps < 0) and np.all(steps > -1e-10)


def test_stopping_rule_is_the_absolute_relative_change(nb):
    x = datasets.hasselblad_counts()
    _, _, loglik = nb["em"](x, *HASSELBLAD_START, max_iter=500, tol=1e-8)
    change = np.abs(np.diff(loglik)) / np.abs(loglik[1:])
    assert change[-1] <= 1e-8 and np.all(change[:-1] > 1e-8)


# --------------------------------------------------------------------------
# the numbers of section 6


def test_what_to_expect_from_em_on_hasselblad(nb):
    text = _src(next(c for c in _cells() if _src(c).startswith("## 6. The EM loop")))
    x = datasets.hasselblad_counts()
    pi, lam, loglik = nb["em"](x, *HASSELBLAD_START)
    n_iter = loglik.size - 1
    assert "404 for the" in text and abs(n_iter - 404) <= 2
    assert r"\pi \approx (0.347, 0.653)" in text
    np.testing.assert_allclose(pi, [0.347, 0.653], atol=5e-4)
    assert r"\lambda \approx (1.233, 2.648)" in text
    np.testing.assert_allclose(lam, [1.233, 2.648], atol=5e-4)
    assert r"\ell \approx -1989.948" in text and round(loglik[-1], 3) == -1989.948
    # not yet the MLE: pi_1 is off by more than 0.01
    assert abs(pi[0] - HASSELBLAD_MLE[1]) > 0.01

    assert "about 1460 iterations" in text
    pi, lam, loglik = nb["em"](x, *HASSELBLAD_START, max_iter=5000, tol=1e-12)
    assert abs(loglik.size - 1 - 1460) <= 10
    assert np.all(np.abs(np.r_[loglik[-1], pi, lam] - HASSELBLAD_MLE) < 1e-3)


def test_p_of_1000_given_half():
    log10_p = (1000 * np.log(0.5) - 0.5 - np.sum(np.log(np.arange(1, 1001)))) / np.log(10)
    assert np.floor(log10_p) == -2869 and round(10 ** (log10_p + 2869), 1) == 1.4
    for text in (_markdown(), CHAPTER.read_text()):
        assert r"1.4 \times 10^{-2869}" in text and "2870" not in text


# --------------------------------------------------------------------------
# the horse kicks: section 7 and the model answer


@pytest.fixture(scope="module")
def kicks():
    return datasets.horse_kicks()


def _lindsay_gradient(kicks, pi, lam, grid):
    log_mix = logsumexp(np.log(pi) + stats.poisson.logpmf(kicks[:, None], lam), axis=1)
    return np.exp(stats.poisson.logpmf(kicks[:, None], grid) - log_mix[:, None]).mean(axis=0) - 1


def test_the_notebook_kick_data_are_bortkiewicz(nb, kicks):
    ns = dict(nb)
    source = _src(next(c for c in _cells() if _grade_id(c) == "horse_kicks"))
    head = source.split("pi_1, lam_1")[0].replace("import matplotlib.pyplot as plt", "")
    exec(head.split("print(")[0], ns)
    assert np.array_equal(np.sort(ns["kicks"]), kicks)


def test_horse_kick_fits_of_the_model_answer(nb, kicks):
    em = nb["em"]
    _, lam1, ll1 = em(kicks, np.array([1.0]), np.array([1.0]))
    assert round(lam1[0], 2) == 0.61 and round(ll1[-1], 3) == -206.107
    # from two positive rates: the equal-rates fixed point
    _, lam_a, ll_a = em(kicks, np.array([0.5, 0.5]), np.array([0.3, 1.5]),
                        max_iter=5000, tol=1e-12)
    np.testing.assert_allclose(lam_a, kicks.mean(), atol=2e-3)
    assert round(ll_a[-1], 3) == -206.107
    # from a rate 0: the maximum likelihood estimate
    pi_b, lam_b, ll_b = em(kicks, np.array([0.5, 0.5]), np.array([0.6, 0.0]),
                           max_iter=5000, tol=1e-12)
    np.testing.assert_allclose(pi_b, [0.987, 0.013], atol=5e-4)
    np.testing.assert_allclose(lam_b, [0.618, 0.0], atol=5e-4)
    assert round(ll_b[-1], 3) == -206.103 and round(ll_b[-1] - ll1[-1], 3) == 0.004
    # Lindsay: D <= 0 everywhere (the maximum over all Poisson mixtures)
    D = _lindsay_gradient(kicks, pi_b, lam_b, np.linspace(0, 6, 3001))
    assert D.max() < 1e-6
    # and no direct search over (pi_1, lam_1, lam_2) does better

    values, freq = np.unique(kicks, return_counts=True)

    def nll(v):
        u = values[:, None]
        a = np.log([v[0], 1 - v[0]]) + xlogy(u, v[1:]) - v[1:] - gammaln(u + 1)
        return -freq @ np.logaddexp(a[:, 0], a[:, 1])

    with np.errstate(invalid="ignore"):
        best = min(optimize.minimize(nll, [w, a, b], bounds=[(1e-9, 1 - 1e-9), (0, 5), (0, 5)]).fun
                   for w in (0.2, 0.8) for a in (0.0, 0.5) for b in (0.7, 2.0))
    assert -best < ll_b[-1] + 1e-6
    # BIC prefers K = 1
    n = kicks.size
    assert -2 * ll1[-1] + np.log(n) < -2 * ll_b[-1] + 3 * np.log(n)


def test_dispersion_numbers_of_the_model_answer(kicks):
    xbar = kicks.mean()
    assert round(kicks.var(), 3) == 0.608
    assert round(kicks.var() / xbar, 3) == 0.997 and round(kicks.var(ddof=1) / xbar, 3) == 1.002
    stat = np.sum((kicks - xbar) ** 2) / xbar
    assert round(stat, 1) == 199.3 and round(stats.chi2.sf(stat, kicks.size - 1), 2) == 0.48
    assert round(np.sqrt(2 / (kicks.size - 1)), 2) == 0.10


def test_corps_totals_and_homogeneity_test_of_question_2(kicks):
    rec = datasets.prussian_horse_kicks()
    rec = rec[~np.isin(rec["corps"], datasets.BORTKIEWICZ_EXCLUDED_CORPS)]
    assert np.array_equal(np.sort(rec["deaths"]), kicks)
    totals = {c: int(rec["deaths"][rec["corps"] == c].sum()) for c in np.unique(rec["corps"])}
    question = _src(next(c for c in _cells() if _src(c).startswith("**Question 2")))
    quoted = dict(re.findall(r"\b([IVX]+) (\d+)\b", question))
    assert {c: int(v) for c, v in quoted.items()} == totals
    deaths = np.array(list(totals.values()))
    expected = deaths.sum() / deaths.size
    chi2 = np.sum((deaths - expected) ** 2 / expected)
    assert deaths.sum() == 122 and round(expected, 1) == 12.2
    assert round(chi2, 1) == 17.3 and round(stats.chi2.sf(chi2, 9), 3) == 0.044
    assert max(totals, key=totals.get) == "XIV" and totals["XIV"] == 24
    v = np.var(deaths / 20, ddof=1) - kicks.mean() / 20
    assert round(v, 2) == 0.03 and round(1 + v / kicks.mean(), 2) == 1.05
    answer = _src(next(c for c in _cells() if _grade_id(c) == "horse_kicks_answer"))
    for quoted_number in ("17.3", "p = 0.044", "0.987, 0.013", "0.618, 0", "-206.103",
                          "-206.107", "199.3", "p = 0.48", "0.997", "1.002", "1.05"):
        assert quoted_number in answer


# --------------------------------------------------------------------------
# the order of the notebook


def test_derivation_is_asked_before_its_formula_is_printed():
    cells = _cells()
    texts = [_src(c) for c in cells]
    ask = next(i for i, t in enumerate(texts) if t.startswith("## 4. M-step\n\n**Question 1"))
    answer = next(i for i, c in enumerate(cells) if _grade_id(c) == "derivation_m_step")
    formula = next(i for i, t in enumerate(texts)
                   if r"\lambda_k^{q+1} = \frac{\sum_{i=1}^n t_{ik}^q\, x_i}" in t
                   and _grade_id(cells[i]) != "derivation_m_step")
    implement = next(i for i, c in enumerate(cells) if _grade_id(c) == "m_step")
    assert ask < answer < formula < implement
    assert not any(r"\lambda_k^{q+1}" in t for t in texts[:ask])


def test_test_helpers_sit_just_before_the_first_test_cell():
    ids = [_grade_id(c) for c in _cells()]
    helpers = ids.index("test_helpers")
    assert ids[helpers + 1] == "test_log_pmf_basic"
    assert ids.index("log_poisson_pmf") < helpers
    cell = _cells()[helpers]
    assert cell["metadata"]["jupyter"]["source_hidden"] is True
    assert cell["metadata"]["autograder"] == {"run": False}


def test_lagrange_multiplier_is_nu():
    answer = _src(next(c for c in _cells() if _grade_id(c) == "derivation_m_step"))
    assert r"\nu" in answer and r"\mu" not in answer
    assert r"\eta" not in CHAPTER.read_text()
