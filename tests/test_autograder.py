"""Unit tests of the autograder: checks, spec and reference values, notebook
matching, static scan, sandbox, outputs, pluggable executor.

The end-to-end corpus is in test_autograder_corpus.py, the release and stock
nbgrader in test_autograder_release.py.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import inspect
import io
import json
import math
import os
import time
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from autograder import build_source, checks, collect, grade, notebook, report, sandbox, scan, spec
from autograder.assignments.poisson_mixture import ASSIGNMENT as A
from autograder.assignments.poisson_mixture import cases
from autograder.assignments.poisson_mixture import checks as pchecks

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
RELEASE = REPO / "autograder" / "release" / "poisson_mixture" / "poisson_mixture.ipynb"


@pytest.fixture(scope="module")
def expected():
    return A.expected()


# --------------------------------------------------------------------------
# spec and reference values


def test_spec_grade_cells_and_points():
    assert A.grade_ids == (
        "test_log_pmf_basic", "test_log_pmf_extreme", "test_e_step_basic",
        "test_e_step_extreme", "test_m_step_basic", "test_m_step_edge",
        "test_log_likelihood_basic", "test_log_likelihood_extreme",
        "test_em_hasselblad", "test_em_random",
    )
    assert [c.points for c in A.cells()] == [1, 1, 2, 2, 2, 1, 1, 1, 2, 2]
    assert A.max_score == 15
    for cell in A.cells():
        assert any(not case.visible for case in cell.cases), f"{cell.grade_id} has no hidden test"
        assert any(case.visible for case in cell.cases), f"{cell.grade_id} has no visible test"


def test_helpers_are_graded_functions_judged_before_their_callers():
    """The stand-in rule needs a helper's own verdict before its callers run."""
    order = list(dict.fromkeys(c.function for c in A.cells()))
    assert order == [f.name for f in A.functions]
    for function in A.functions:
        assert function.name not in function.helpers
        for helper in function.helpers:
            assert order.index(helper) < order.index(function.name)
    assert A.function("em").helpers == ("log_poisson_pmf", "e_step", "m_step",
                                           "log_likelihood")
    assert A.function("m_step").outputs == ("pi", "lam")
    assert A.function("e_step").outputs == ()


SECRETS = [None, *(f"secret {i}" for i in range(12))]


def _extreme_purposes(cells):
    """What the hidden cases of the extreme cells must keep testing."""
    for gid in ("test_e_step_extreme", "test_log_likelihood_extreme"):
        hidden = [c for c in A.grade_cell(gid, cells).cases if not c.visible]
        assert any(np.any((c.args[0] >= 900) & (c.args[0] <= 1100))
                   and np.any((c.args[2] >= 0.3) & (c.args[2] <= 0.7)) for c in hidden), gid
        assert any(0 < np.min(c.args[1]) <= 1e-11 for c in hidden), gid
        assert any(len(c.args[1]) == 1 and np.max(c.args[0]) >= 900 for c in hidden), gid
        assert any(np.any(c.args[2] == 0) and np.any(c.args[0] > 0) for c in hidden), gid
    pmf = [c for c in A.grade_cell("test_log_pmf_extreme", cells).cases if not c.visible]
    assert any(np.any(c.args[0] > 170) and np.any(c.args[0] >= 900) for c in pmf)
    assert any(np.any(c.args[1] == 0) and np.any(c.args[0] > 0) for c in pmf)
    edge = [c for c in A.grade_cell("test_m_step_edge", cells).cases if not c.visible]
    assert any(c.args[1].shape[1] == 1 for c in edge)
    assert any(np.all(c.args[0] == 0) for c in edge)


def test_hidden_cases_vary_with_the_secret_and_keep_their_purpose():
    drawn = {secret: A.cells(secret) for secret in SECRETS}
    for cells in drawn.values():
        assert tuple(c.grade_id for c in cells) == A.grade_ids
        assert [c.points for c in cells] == [c.points for c in A.cells()]
        _extreme_purposes(cells)
        for cell, public in zip(cells, A.cells(), strict=True):
            for case, fixed in zip(cell.cases, public.cases, strict=True):
                if case.visible:  # the visible examples never change
                    assert all(np.array_equal(a, b) for a, b in zip(case.args, fixed.args,
                                                                    strict=True))
    for gid in A.grade_ids:
        hidden = {repr([[a.tolist() for a in c.args] for c in A.grade_cell(gid, cells).cases
                        if not c.visible]) for cells in drawn.values()}
        assert len(hidden) == len(SECRETS), f"{gid}: hidden inputs do not depend on the secret"
    assert _inputs(A.cells("secret 3")) == _inputs(drawn["secret 3"])


def test_load_secret_order_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(spec, "SECRET_FILE", tmp_path / "course_secret")
    monkeypatch.delenv(spec.SECRET_ENV, raising=False)
    assert spec.load_secret() is None
    (tmp_path / "course_secret").write_text("from the file\n")
    assert spec.load_secret() == "from the file"
    monkeypatch.setenv(spec.SECRET_ENV, "from the environment")
    assert spec.load_secret() == "from the environment"
    (tmp_path / "given").write_text("  given  \n")
    assert spec.load_secret(tmp_path / "given") == "given"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        spec.load_secret(tmp_path / "empty")
    with pytest.raises(ValueError, match="cannot read"):
        spec.load_secret(tmp_path / "missing")


def test_make_kit_warns_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.setattr(spec, "SECRET_FILE", tmp_path / "none")
    monkeypatch.delenv(spec.SECRET_ENV, raising=False)
    with pytest.warns(spec.NoSecretWarning, match="PUBLIC default"):
        kit = grade.make_kit(grade.GradeConfig(), A)
    assert not kit.secret and _inputs(kit.cells) == _inputs(A.cells())
    monkeypatch.setenv(spec.SECRET_ENV, "s")
    kit = grade.make_kit(grade.GradeConfig(), A)
    assert kit.secret and _inputs(kit.cells) == _inputs(A.cells("s")) != _inputs(A.cells())


def _inputs(cells):
    return [[[a.tolist() for a in case.args] for case in cell.cases] for cell in cells]


def test_hasselblad_counts_match_the_data_file():
    rows = list(csv.DictReader((REPO / "solutions" / "data" / "hasselblad_1969.csv").open()))
    assert tuple(int(r["frequency"]) for r in rows) == cases.HASSELBLAD_FREQUENCIES


def _brute_log_pmf(x, lam):
    def one(k, m):
        if m == 0:
            return 0.0 if k == 0 else -math.inf
        return k * math.log(m) - m - math.lgamma(k + 1)
    return np.array([[one(int(k), float(m)) for m in lam] for k in x])


def _brute_logsumexp(row):
    top = max(row)
    return top + math.log(sum(math.exp(v - top) for v in row))


@pytest.mark.parametrize("secret", [None, "secret 1", "secret 2"])
def test_reference_values_against_independent_computations(secret):
    """solutions.poisson, as used for the expected values, against scipy and
    plain-Python formulas written here."""
    cells = A.cells(secret)
    expected = A.expected(cells)
    for cell in cells:
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            f = cell.function
            if f == "log_poisson_pmf":
                x, lam = case.args
                np.testing.assert_allclose(want, stats.poisson.logpmf(x[:, None], lam[None, :]),
                                           rtol=1e-10)
                np.testing.assert_allclose(want, _brute_log_pmf(x, lam), rtol=1e-10)
            elif f in ("e_step", "log_likelihood"):
                x, pi, lam = case.args
                joint = _brute_log_pmf(x, lam) + np.log(pi)
                norms = [_brute_logsumexp(row) for row in joint]
                if f == "e_step":
                    np.testing.assert_allclose(want, np.exp(joint - np.array(norms)[:, None]),
                                               rtol=1e-9, atol=1e-300)
                else:
                    assert want == pytest.approx(sum(norms), rel=1e-12)
            elif f == "m_step":
                x, tau = case.args
                pi = tau.sum(axis=0) / len(x)
                lam = [sum(t * v for t, v in zip(tau[:, k], x, strict=True)) / tau[:, k].sum()
                       for k in range(tau.shape[1])]
                np.testing.assert_allclose(want[0], pi, rtol=1e-12)
                np.testing.assert_allclose(want[1], lam, rtol=1e-12)


@pytest.mark.parametrize("secret", [None, *(f"secret {i}" for i in range(6))])
def test_em_reference_reaches_the_published_hasselblad_optimum(secret):
    cells = A.cells(secret)
    exact, mle = A.expected(cells)["test_em_hasselblad"]
    assert round(mle["loglik_final"], 3) == -1989.946
    np.testing.assert_allclose(mle["pi"], [0.360, 0.640], atol=5e-4)
    np.testing.assert_allclose(mle["lam"], [1.256, 2.663], atol=5e-4)
    # ℓ(θ^0) at π = (0.3, 0.7), λ = (1, 2.5), computed here.
    x = np.repeat(np.arange(10), cases.HASSELBLAD_FREQUENCIES)
    l0 = sum(_brute_logsumexp([math.log(p) + v for p, v in zip((0.3, 0.7), row, strict=True)])
             for row in _brute_log_pmf(x, (1.0, 2.5)))
    assert exact["loglik_head"][0] == pytest.approx(l0, rel=1e-12)
    assert len(exact["loglik_head"]) == 4
    assert np.all(np.diff(exact["loglik_head"]) > 0)


def _solution_namespace(**overrides):
    """The instructor's five functions (source notebook), some replaced."""
    from autograder_corpus.poisson_mixture.build import reference_code
    from scipy.special import gammaln, logsumexp

    codes = {**reference_code(), **overrides}
    ns = {"np": np, "gammaln": gammaln, "logsumexp": logsumexp}
    for name in [f.name for f in A.functions]:
        exec(codes[name], ns)
    return ns


def _verdicts(ns, cells):
    expected = A.expected(cells)
    out = {}
    for cell in cells:
        ok = True
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            try:
                with np.errstate(all="ignore"):
                    got = ns[cell.function](*case.args, **case.kwargs)
                A.function(cell.function).check(got, want, **case.options)
            except AssertionError:
                ok = False
        out[cell.grade_id] = ok
    return out


@pytest.mark.parametrize("secret", [None, *(f"secret {i}" for i in range(5))])
def test_solutions_pass_and_naive_code_fails_the_extreme_cells(secret):
    """For any secret: the instructor's solution and a float32 one pass every
    cell; a naive (not log-space) one fails exactly the extreme cells, on their
    visible case already (so ``nbgrader validate`` tells the student)."""
    from autograder_corpus.poisson_mixture.build import FLOAT32, NAIVE_E, NAIVE_LL, NAIVE_PMF

    cells = A.cells(secret)
    assert all(_verdicts(_solution_namespace(), cells).values())
    assert all(_verdicts(_solution_namespace(**FLOAT32), cells).values())
    naive = _solution_namespace(log_poisson_pmf=NAIVE_PMF, e_step=NAIVE_E,
                                log_likelihood=NAIVE_LL)
    extreme = {"test_log_pmf_extreme", "test_e_step_extreme", "test_log_likelihood_extreme"}
    assert {g for g, ok in _verdicts(naive, cells).items() if not ok} == extreme
    only_visible = tuple(
        dataclasses.replace(c, cases=tuple(k for k in c.cases if k.visible)) for c in cells)
    assert {g for g, ok in _verdicts(naive, only_visible).items() if not ok} == extreme


def test_source_notebook_is_up_to_date_with_the_spec():
    """The embedded reference values equal what solutions.poisson computes now
    (to 1e-12: build-source keeps the text of numbers that differ in the last bits)."""
    import nbformat

    current = SOURCE.read_text()
    assert nbformat.writes(build_source.render(nbformat.reads(current, as_version=4), A)) + "\n" \
        == current, "run: python -m autograder build-source"


def test_build_source_keeps_numbers_that_differ_in_the_last_bits():
    """Another machine's BLAS changes the last bits: that rewrites nothing; a
    real change of an expected value does rewrite the cell."""
    import nbformat

    nb = nbformat.reads(SOURCE.read_text(), as_version=4)
    expected = A.expected()
    nudged = {gid: [_nudge(v, 1 + 2e-16) for v in values] for gid, values in expected.items()}
    kept = build_source.render(nb, A, nudged)
    assert [c.source for c in kept.cells] == [c.source for c in nb.cells]
    changed = dict(expected, test_e_step_basic=[_nudge(v, 1 + 1e-9)
                                                for v in expected["test_e_step_basic"]])
    rewritten = build_source.render(nb, A, changed)
    differ = [c.metadata.get("nbgrader", {}).get("grade_id")
              for c, d in zip(rewritten.cells, nb.cells, strict=True) if c.source != d.source]
    assert differ == ["test_e_step_basic"]
    assert build_source.same_up_to_numbers("x = [1.0, 2.5]  # a", "x = [1.0000000000000002, 2.5]  # a")
    assert not build_source.same_up_to_numbers("x = [1.0, 2.5]", "x = [1.001, 2.5]")
    assert not build_source.same_up_to_numbers("x = [1.0, 2.5]  # a", "x = [1.0, 2.5]  # b")


def _nudge(value, factor):
    if isinstance(value, dict):
        return {k: _nudge(v, factor) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_nudge(v, factor) for v in value)
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return np.asarray(value, dtype=float) * factor if np.ndim(value) else float(value) * factor


def test_notebook_points_match_the_spec():
    nb = json.loads(SOURCE.read_text())
    points = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in nb["cells"]
              if c["metadata"].get("nbgrader", {}).get("grade")
              and not c["metadata"]["nbgrader"].get("solution")}
    assert points == {c.grade_id: c.points for c in A.cells()}


def test_array_literal_round_trips_exactly():
    rng = np.random.default_rng(0)
    for a in (rng.normal(size=7) * 1e-200, rng.random((4, 3)), np.arange(40), np.array(2.5),
              np.array([[0.0, -np.inf], [-3.5, -np.inf]])):
        assert np.array_equal(eval(build_source.array_literal(a), {"np": np}), a)


# --------------------------------------------------------------------------
# checks (the judge)


def test_checks_accept_the_reference(expected):
    for cell in A.cells():
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            if cell.function == "em":
                trace = want["loglik_head"] if want["n_iter"] else np.r_[
                    want["loglik_head"], want["loglik_final"]]
                got = (want["pi"], want["lam"], trace)
            else:
                got = want
            A.function(cell.function).check(got, want, **case.options)


def test_checks_messages_put_the_numbers_first(expected):
    want = expected["test_e_step_basic"][0]
    tau = want.copy()
    tau[0] = [0.9, 0.4]
    with pytest.raises(AssertionError) as err:
        pchecks.check_e_step(tau, want)
    first = str(err.value).splitlines()[0]
    assert first == "e_step: tau[0] sums to 1.3, not 1"
    assert len(first) <= 67  # nbgrader validate cuts lines at 87 characters, indent included
    with pytest.raises(AssertionError, match="shape"):
        pchecks.check_e_step(tau.T, want)
    bad = want.copy()
    bad[1, 0] = np.nan
    with pytest.raises(AssertionError, match=r"(?s)^e_step: tau\[1, 0\] is nan\n.*log-sum-exp"):
        pchecks.check_e_step(bad, want)
    off = want.copy()
    off[2, 1] += 1e-3
    off[2, 0] -= 1e-3
    with pytest.raises(AssertionError, match=r"^e_step: tau\[2, [01]\] is [\d.]+, expected [\d.]+\n"
                                             r"\(2 of 10 values differ"):
        pchecks.check_e_step(off, want)
    with pytest.raises(AssertionError, match="must return the tuple \\(pi, lam\\)"):
        pchecks.check_m_step(np.ones(3), expected["test_m_step_basic"][0])
    with pytest.raises(AssertionError, match="not a numeric array"):
        pchecks.check_log_poisson_pmf([["a"]], np.zeros((1, 1)))
    with pytest.raises(AssertionError, match="not a numeric array"):
        pchecks.check_log_likelihood(1 + 2j, 1.0)
    with pytest.raises(AssertionError, match="one number"):
        pchecks.check_log_likelihood(np.ones(2), 1.0)
    with pytest.raises(AssertionError, match=r"^log_likelihood is -inf, expected -5222\.6"):
        pchecks.check_log_likelihood(-np.inf, expected["test_log_likelihood_extreme"][0])


def test_check_log_pmf_wants_minus_infinity_exactly_where_the_reference_has_it():
    x, lam = np.array([0, 2, 1000]), np.array([0.5, 0.0])
    want = poisson_reference(x, lam)
    assert want[0, 1] == 0 and np.isneginf(want[1:, 1]).all()
    pchecks.check_log_poisson_pmf(want.copy(), want)
    nan_at_zero = want.copy()
    nan_at_zero[0, 1] = np.nan  # x log λ computed as 0 * log 0
    with pytest.raises(AssertionError, match=r"(?s)^log_poisson_pmf\(x, lam\)\[0, 1\] is nan, "
                                             r"expected 0\n.*xlogy"):
        pchecks.check_log_poisson_pmf(nan_at_zero, want)
    finite = want.copy()
    finite[1, 1] = -1e300
    with pytest.raises(AssertionError, match=r"\[1, 1\] is -1e\+300, expected -inf"):
        pchecks.check_log_poisson_pmf(finite, want)
    underflow = want.copy()
    underflow[2, 0] = -np.inf
    with pytest.raises(AssertionError, match=r"\[2, 0\] is -inf, expected -6605\.77"):
        pchecks.check_log_poisson_pmf(underflow, want)


def poisson_reference(x, lam):
    from solutions import poisson

    return poisson.log_poisson_pmf(x, lam)


def test_float32_results_are_judged_with_float32_tolerances(expected):
    """A result made of float32 numbers (as the grader receives them: upcast to
    float64) gets float32 tolerances; float64 keeps the tight ones."""
    want = expected["test_e_step_basic"][1]
    f32 = want.astype(np.float32)
    assert checks.single_precision(f32) and checks.single_precision(f32.astype(np.float64))
    assert not checks.single_precision(want)
    pchecks.check_e_step(f32.astype(np.float64), want)
    noisy = (1 - 3e-5) * want + 3e-5 / want.shape[1]  # rows still sum to 1
    with pytest.raises(AssertionError, match="differ"):
        pchecks.check_e_step(noisy, want)  # float64 and off by 1e-5: wrong
    pchecks.check_e_step(noisy.astype(np.float32), want)  # float32: within its precision
    off = (0.99 * want + 0.01 / want.shape[1]).astype(np.float32)  # float32 but 1% off
    with pytest.raises(AssertionError, match="differ"):
        pchecks.check_e_step(off, want)
    mle = expected["test_em_random"][1]
    trace = np.r_[mle["loglik_head"], mle["loglik_final"]]
    as32 = tuple(np.asarray(v, dtype=np.float32) for v in (mle["pi"], mle["lam"], trace))
    pchecks.check_em(as32, mle, **A.grade_cell("test_em_random").cases[1].options)
    short = (as32[0], as32[1], as32[2][:-1].astype(np.float32))
    with pytest.raises(AssertionError, match="did EM stop too early"):
        pchecks.check_em(short, mle, **A.grade_cell("test_em_random").cases[1].options)


def test_check_em_up_to_permutation_and_its_failures(expected):
    want = expected["test_em_random"][1]
    options = A.grade_cell("test_em_random").cases[1].options
    trace = np.r_[want["loglik_head"], want["loglik_final"]]
    perm = [2, 0, 1]
    pchecks.check_em((want["pi"][perm], want["lam"][perm], trace), want, **options)
    with pytest.raises(AssertionError, match="loglik decreases at iteration 2"):
        pchecks.check_em((want["pi"], want["lam"],
                         np.r_[want["loglik_head"], want["loglik_head"][1] - 1,
                               want["loglik_final"]]), want)
    with pytest.raises(AssertionError, match="loglik\\[0\\]"):
        pchecks.check_em((want["pi"], want["lam"], trace[1:]), want)
    with pytest.raises(AssertionError, match="lam"):
        pchecks.check_em((want["pi"], want["lam"] * 1.1, trace), want)
    exact = expected["test_em_hasselblad"][0]
    with pytest.raises(AssertionError, match=r"^em: len\(loglik\) is 3, expected 4"):
        pchecks.check_em((exact["pi"], exact["lam"], exact["loglik_head"][:3]), exact)


def test_helpers_cell_is_checks_module():
    nb = json.loads(SOURCE.read_text())
    helpers = next(c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_helpers")
    text = "".join(helpers["source"])
    for function in A.functions:
        assert inspect.getsource(function.check).strip() in text
    for name in ("normalise", "as_numeric", "single_precision"):
        assert inspect.getsource(getattr(checks, name)).strip() in text
    ns = {"np": np}
    exec(text, ns)  # runs after the setup cell, which imports numpy
    with pytest.raises(AssertionError, match=r"tau\[0\] sums to 1.1, not 1"):
        ns["check_e_step"](np.array([[0.5, 0.6]]), np.array([[0.5, 0.5]]))


# --------------------------------------------------------------------------
# reading and matching notebooks


def _source():
    return notebook.load_source(SOURCE)


def _release():
    return json.loads(RELEASE.read_text())


def _ids(nb):
    return [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]


def test_parse_rejects_what_is_not_a_notebook():
    cases = {
        b"": "invalid notebook: empty file",
        b"  \n": "invalid notebook: empty file",
        b"\xff\xfe": "invalid notebook: empty file",
        b"{oops": "invalid notebook: not valid JSON (line 1, column 2)",
        b"[1, 2]": "invalid notebook: not a Jupyter notebook",
        b'{"cells": 3}': "invalid notebook: not a Jupyter notebook (no list of cells)",
        b'{"cells": [{"cell_type": "python"}]}': "invalid notebook: a cell has no valid cell_type",
        b"\x80{}": "invalid notebook: not text (UTF-8, UTF-16 or UTF-32)",
    }
    for data, message in cases.items():
        with pytest.raises(notebook.InvalidNotebook) as err:
            notebook.parse(data)
        assert str(err.value) == message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "utf-32-le", "utf-32-be"])
def test_parse_reads_utf16_and_utf32_notebooks(encoding):
    """Windows tools save notebooks as UTF-16 (with a byte-order mark) or with
    a UTF-8 byte-order mark: the same notebook in every encoding parses alike."""
    text = RELEASE.read_text(encoding="utf-8")
    assert notebook.parse(text.encode(encoding)) == notebook.parse(text.encode("utf-8"))


def test_plan_of_the_release_runs_setup_and_solutions_only():
    plan = notebook.plan(_release(), _source())
    labels = [c.label for c in plan.cells]
    at = {gid: n for n, gid in enumerate(_ids(_release()), start=1)}
    assert labels == [f"cell {at['setup']} (setup, as released)",
                      *(f"cell {at[f]} ({f})" for f in ("log_poisson_pmf", "e_step", "m_step",
                                                        "log_likelihood", "em"))]
    assert plan.status == [] and plan.flags == []


def _setup_source():
    return _source().by_id["setup"].source


def test_plan_detects_structural_changes():
    nb = _release()
    cells = nb["cells"]
    ids = _ids(nb)
    cells[ids.index("test_e_step_basic")]["source"] = "pass"  # edited
    cells[ids.index("test_m_step_edge")]["cell_type"] = "markdown"  # retyped
    cells[ids.index("setup")]["source"] = "import numpy as np\nimport os\nnp.seterr(all='ignore')"
    cells.insert(ids.index("m_step"), json.loads(json.dumps(cells[ids.index("m_step")])))
    del cells[_ids(nb).index("test_em_random")]
    del cells[_ids(nb).index("test_log_pmf_basic")]
    plan = notebook.plan(nb, _source())
    assert plan.status == [
        "restored 2 deleted test cells (test_log_pmf_basic, test_em_random)",
        "restored 1 edited test cell (test_e_step_basic)",
        "restored 1 retyped test cell (test_m_step_edge)",
        "restored 1 edited read-only cell (setup)",
        "duplicated cell id (m_step)",
    ]
    assert all(f.startswith("notebook structure: ") for f in plan.flags)
    # The released setup cell runs, not the edited one, then the added import;
    # both m_step copies run.
    assert plan.cells[0].source == _setup_source() and not plan.cells[0].from_student
    assert (plan.cells[1].source, plan.cells[1].from_student) == ("import os", True)
    assert sum("(m_step)" in c.label for c in plan.cells) == 2


def test_imports_added_to_the_setup_cell_run_after_it():
    """Adding ``from scipy.special import xlogy`` to the read-only setup cell is
    fair: the released cell runs, then the added imports; nothing is flagged."""
    nb = _release()
    setup = nb["cells"][_ids(nb).index("setup")]
    setup["source"] = ("import numpy as np  # numpy\nfrom scipy.special import xlogy\n"
                       "import math as m\n")
    plan = notebook.plan(nb, _source())
    assert plan.status == [] and plan.flags == []
    assert [c.label for c in plan.cells[:2]] == ["cell 2 (setup, as released)",
                                                 "cell 2 (setup, your added imports)"]
    assert plan.cells[1].source == "from scipy.special import xlogy\nimport math as m"
    assert plan.notes == ["The import statements you added to the read-only cell setup ran "
                          "after it: from scipy.special import xlogy; import math as m"]


def test_tampering_means_changing_what_a_test_executes():
    """Comments, blank lines and the last bits of numbers (a re-release on
    another machine) are not edits; a changed value or call is."""
    nb = _release()
    ids = _ids(nb)
    index = ids.index("test_e_step_basic")
    text = notebook.cell_source(nb["cells"][index])
    tree = ast.parse(text)
    numbers = [n for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, float) and n.value not in (0.0, 1.0)]
    assert numbers
    for n in numbers:
        n.value = float(np.nextafter(n.value, np.inf))  # the last bit
    reworded = "# reworded comment\n\n" + ast.unparse(tree) + "\n# the end\n"
    nb["cells"][index]["source"] = reworded
    assert notebook.plan(nb, _source()).status == []
    numbers[0].value *= 1.001
    nb["cells"][index]["source"] = ast.unparse(tree)
    assert notebook.plan(nb, _source()).status == [
        "restored 1 edited test cell (test_e_step_basic)"]
    nb["cells"][index]["source"] = text.replace("check_e_step(", "print(")
    assert notebook.plan(nb, _source()).status == [
        "restored 1 edited test cell (test_e_step_basic)"]


def test_plan_restores_a_deleted_setup_cell_in_place():
    nb = _release()
    del nb["cells"][_ids(nb).index("setup")]
    nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": "x = 1",
                           "outputs": [], "execution_count": None})
    plan = notebook.plan(nb, _source())
    # One cell deleted, one inserted: the solution cell keeps its number.
    where = _ids(_release()).index("log_poisson_pmf") + 1
    assert [c.label for c in plan.cells[:3]] == ["cell 1", "restored cell setup",
                                                 f"cell {where} (log_poisson_pmf)"]
    assert plan.status == ["restored 1 deleted read-only cell (setup)"]


def test_plan_ignores_student_metadata_on_what_runs():
    """A student cannot mark their code as a test or hide a read-only cell."""
    nb = _release()
    ids = _ids(nb)
    nb["cells"][ids.index("horse_kicks")]["metadata"]["autograder"] = {"run": True}
    nb["cells"][ids.index("e_step")]["metadata"]["nbgrader"]["grade_id"] = "made_up"
    plan = notebook.plan(nb, _source())
    labels = [c.label for c in plan.cells]
    assert not any("horse_kicks" in label for label in labels)
    # The unknown cell still runs as the student's code.
    assert f"cell {ids.index('e_step') + 1}" in labels
    assert "unknown nbgrader cell id (made_up)" in plan.status


# --------------------------------------------------------------------------
# static scan


def test_scan_of_the_reference_solution_finds_nothing():
    nb = json.loads(SOURCE.read_text())
    cells = [(f"cell {i}", "".join(c["source"])) for i, c in enumerate(nb["cells"])
             if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"]
    assert scan.scan(cells) == []


def test_scan_finds_cheats_and_dangerous_calls():
    code = "\n".join([
        "import numpy.testing as npt",
        "npt.assert_allclose = None",
        "import builtins; builtins.abs = None",
        "setattr(np, 'isclose', None)",
        "ip = get_ipython(); ip.displayhook = None",
        "import subprocess",
        "import os; os.system('ls')",
        "data = open('notes.txt').read()",
        "from pathlib import Path",
        "__import__('solutions')",
        "import sys; sys.path.append('..')",
    ])
    found = scan.scan([("cell 9", code)])
    categories = {f.split(":")[0] for f in found}
    assert categories == {"monkeypatch", "process control", "file access", "dynamic code",
                          "course files", "sys.path"}
    assert "monkeypatch: assigns numpy.testing.assert_allclose (cell 9, line 2)" in found
    assert "monkeypatch: assigns get_ipython().displayhook (cell 9, line 5)" in found


def test_scan_handles_deep_code_and_scans_cell_magics():
    """A 500-branch elif or a 500-term sum is deeper than a recursive visitor
    can go; the code of a %%writefile cell is scanned like any other."""
    branches = "def f(k):\n    if k == 0:\n        return 0\n" + "".join(
        f"    elif k == {i}:\n        return {i}\n" for i in range(1, 500))
    total = "y = " + " + ".join(f"x * {i}" for i in range(500)) + "\nimport os\nos.system('ls')\n"
    assert scan.scan([("cell 1", branches)]) == []
    assert scan.scan([("cell 2", total)]) == ["process control: calls os.system() (cell 2, line 3)"]
    magic = notebook.python_source("%%writefile helper.py\nimport subprocess\nx = '/home/a/b'\n")
    assert scan.scan([("cell 3", magic)]) == [
        "process control: imports subprocess (cell 3, line 1)",
        "course files: string '/home/a/b' (cell 3, line 2)"]


def test_scan_tracks_imports_across_cells_and_skips_syntax_errors():
    found = scan.scan([("cell 1", "import numpy as numerics"), ("cell 2", "def f(:"),
                       ("cell 3", "numerics.allclose = lambda *a: True")])
    assert found == ["monkeypatch: assigns numpy.allclose (cell 3, line 1)"]


# --------------------------------------------------------------------------
# collecting submissions


def test_find_in_folder_layouts(tmp_path):
    for sid, name in [("ann", "poisson_mixture.ipynb"), ("ben", "poisson_mixture/poisson_mixture.ipynb"),
                      ("cat", "poisson_mixture (2).ipynb"), ("dan", "a.ipynb"), ("dan", "b.ipynb"),
                      ("eve", "notes.txt"), ("fay", ".ipynb_checkpoints/x-checkpoint.ipynb")]:
        (tmp_path / sid / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / sid / name).write_text("{}")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "out" / "feedback").mkdir(parents=True)
    (tmp_path / "stray.ipynb").write_text("{}")
    subs = {s.student_id: s for s in collect.find_in_folder(tmp_path, (tmp_path / "out",))}
    assert sorted(subs) == ["ann", "ben", "cat", "dan", "eve", "fay"]
    assert subs["ann"].path.name == subs["ben"].path.name == "poisson_mixture.ipynb"
    assert subs["cat"].note == "graded 'poisson_mixture (2).ipynb' (expected poisson_mixture.ipynb)"
    assert subs["dan"].path is None and subs["dan"].problem == \
        "no poisson_mixture.ipynb (found a.ipynb, b.ipynb)"
    assert subs["eve"].problem == subs["fay"].problem == "no notebook submitted"


# --------------------------------------------------------------------------
# outputs


def test_feedback_names_are_safe_and_distinct():
    ids = ["jdoe", "j doe", "j/doe", "../x", ".hidden", "é", "a%2Fb"]
    names = [report.feedback_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all("/" not in n and not n.startswith(".") for n in names)


def _result(sid, score=0, status="ok", message="<script>alert(1)</script>"):
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points, message=message)
             for c in A.cells()]
    return grade.SubmissionResult(sid, score, 15, status, tests, flags=["timeout: x"])


def test_csv_columns_and_html_escaping():
    results = [_result("zoe", status='a "quoted", status'), _result("amy")]
    results[1].cells = [grade.CellLog("cell 2", "def e_step(x, pi, lam):", "ok")]
    rows = list(csv.reader(io.StringIO(report.grades_csv(results, A))))
    # The autograded columns first, as before; then the written answers.
    assert rows[0][:14] == ["student_id", "score", "max_score", "status", *A.grade_ids]
    assert rows[0][14:] == ["derivation_q", "derivation_m_step", "to_grade_by_hand"]
    assert [r[0] for r in rows[1:]] == ["amy", "zoe"]
    assert rows[2][3] == 'a "quoted", status'
    # amy's notebook ran: two answers to grade by hand; zoe's was not read: none.
    assert rows[1][14:] == ["", "", "derivation_q (2 points); derivation_m_step (3 points)"]
    assert rows[2][14:] == ["", "", ""]
    page = report.feedback_html(results[0], A)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "to grade by hand" not in page
    page = report.feedback_html(results[1], A)
    assert "Written answers: to grade by hand (5 points)" in page
    assert "to grade by hand (3 points)" in page and "A Lagrange multiplier" not in page


# --------------------------------------------------------------------------
# sandbox


@pytest.fixture(scope="module")
def toolkit():
    return grade.get_toolkit(grade.GradeConfig())


def test_sandbox_isolation_is_available(toolkit):
    """On this machine the student's code must run in the namespace jail
    (the corpus relies on it to show that reading the course files fails)."""
    assert toolkit.isolation in ("root", "userns")


def _child(toolkit, timeout=10.0):
    child = sandbox.Child(toolkit, timeout=timeout, cpu_s=60)
    child.start()
    return child


def test_sandbox_hides_the_course_and_gives_plain_arrays(toolkit):
    child = _child(toolkit)
    try:
        probe = (
            "import os\n"
            f"seen = [os.path.exists(p) for p in {[str(REPO / 'solutions'), str(SOURCE)]!r}]\n"
            "def log_poisson_pmf(x, lam):\n"
            "    return np.full((len(x), len(lam)), float(sum(seen)))\n"
        )
        assert child.execute("cell 1", "import numpy as np", 10).kind == "ok"
        assert child.execute("cell 2", probe, 10).kind == "ok"
        out = child.call("log_poisson_pmf", [np.arange(3), np.ones(2)], {}, 10)
        assert out.kind == "ok"
        assert out.arrays[0].dtype == np.float64 and out.arrays[0].shape == (3, 2)
        assert np.all(out.arrays[0] == 0)  # neither path exists inside the jail
        write = child.execute("cell 3", f"open({str(REPO / 'x.txt')!r}, 'w')", 10)
        assert write.kind == "error"
    finally:
        child.kill()
    assert not (REPO / "x.txt").exists()


def test_sandbox_survives_faults(toolkit):
    child = _child(toolkit, timeout=3)
    try:
        err = child.execute("cell 1", "def f(:\n", 3)
        assert err.kind == "error" and err.etype == "SyntaxError"
        mem = child.execute("cell 2", "import numpy as np\nx = np.ones(2**30)", 5)
        assert mem.kind == "error" and mem.etype == "MemoryError"
        exit_ = child.execute("cell 3", "raise SystemExit(0)", 3)
        assert exit_.kind == "error" and exit_.etype == "SystemExit"
        assert child.execute("cell 4", "while True:\n    pass", 1.5).kind == "timeout"
        assert not child.alive
    finally:
        child.kill()
    child = _child(toolkit)
    try:
        died = child.execute("cell 5", "import os\nos._exit(7)", 5)
        assert (died.kind, died.message) == ("died", "exit code 7")
    finally:
        child.kill()


def test_sandbox_rejects_garbage_on_the_channel(toolkit):
    child = _child(toolkit)
    try:
        hijack = ("import os\nfor fd in range(3, 12):\n    try:\n"
                  "        os.write(fd, b'\\xff' * 8 + b'garbage')\n    except OSError:\n"
                  "        pass\n")
        out = child.execute("cell 1", hijack, 5)
        assert out.kind == "died" and "protocol error" in out.message
    finally:
        child.kill()


def test_bad_results_are_refused_in_the_child(toolkit):
    """The child refuses what is not numbers; the contract (a tuple (pi, lam))
    is judged by the grader, which knows the assignment."""
    child = _child(toolkit)
    try:
        child.execute("cell 1", "import numpy as np\n"
                      "def e_step(x, pi, lam):\n    return 'tau'\n"
                      "def m_step(x, tau):\n    return np.ones(3)\n"
                      "def em(x, pi, lam):\n    return [np.ones(2), np.ones(2), np.ones(5)]\n"
                      "class Evil:\n    def __array__(self, *a, **k):\n        raise RuntimeError('no')\n"
                      "def log_poisson_pmf(x, lam):\n    return Evil()\n", 5)
        assert child.call("e_step", [np.arange(2)] * 3, {}, 5).kind == "bad_result"
        m = child.call("m_step", [np.arange(3), np.ones((3, 1))], {}, 5)
        assert m.kind == "ok" and len(m.arrays) == 1
        graded = A.function("m_step")
        message, _ = grade._outcome_message(graded, m, (np.ones(1), np.ones(1)),
                                            spec.Case((), "x"), 5)
        assert message == "m_step must return the tuple (pi, lam) (2 values), got 3 values"
        # A list of parts of different lengths comes back as its parts.
        em = child.call("em", [np.arange(2)] * 3, {}, 5)
        assert em.kind == "ok" and [a.shape for a in em.arrays] == [(2,), (2,), (5,)]
        e = child.call("log_poisson_pmf", [np.arange(2), np.ones(1)], {}, 5)
        assert e.kind == "bad_result"
        assert child.call("e_stop", [np.arange(2)] * 3, {}, 5).message == "e_stop is not defined"
    finally:
        child.kill()


# --------------------------------------------------------------------------
# a whole submission, and the pluggable executor


class SerialExecutor(Executor):
    """The smallest executor: runs each task at submit time."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _solved_release():
    nb = _release()
    src = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
           for c in json.loads(SOURCE.read_text())["cells"]
           if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in src:
            cell["source"] = src[gid]
    return nb


def test_grade_submissions_with_a_custom_executor(tmp_path):
    (tmp_path / "subs" / "ok").mkdir(parents=True)
    (tmp_path / "subs" / "ok" / "poisson_mixture.ipynb").write_text(json.dumps(_solved_release()))
    (tmp_path / "subs" / "stub").mkdir()
    (tmp_path / "subs" / "stub" / "poisson_mixture.ipynb").write_text(RELEASE.read_text())
    executor = SerialExecutor()
    results = grade.grade_submissions(collect.find_in_folder(tmp_path / "subs"),
                                      tmp_path / "out", executor=executor,
                                      config=grade.GradeConfig(timeout=20))
    assert executor.submitted == 3  # the instructor's solution first (the self-check), then 2
    assert [(r.student_id, r.score, r.status) for r in results] == [
        ("ok", 15, "ok"), ("stub", 0, "ok")]
    assert all(t.message == "log_poisson_pmf raised NotImplementedError"
               for t in results[1].tests[:2])
    assert sorted(os.listdir(tmp_path / "out")) == ["feedback", "flags.csv", "grades.csv",
                                                    "results.json", "similarity.csv",
                                                    "skipped.csv", "summary.png"]


def test_a_grader_error_costs_only_that_submission(tmp_path, monkeypatch):
    real = grade.grade_task

    def flaky(task, kit):
        if task.student_id == "b":
            raise RuntimeError("boom")
        return real(task, kit)

    monkeypatch.setattr(grade, "grade_task", flaky)
    subs = [collect.Submission("a", None, problem="no notebook submitted"),
            collect.Submission("b", None, problem="no notebook submitted")]
    results = grade.grade_submissions(subs, executor=SerialExecutor(),
                                      assignment="poisson_mixture")
    assert results[0].status == "no notebook submitted"
    assert results[1].status == "grader error: RuntimeError: boom"
    assert results[1].flags == ["grader: grader error: RuntimeError: boom"]


def test_process_pool_executor_pickles_tasks_and_results(tmp_path):
    """What a cluster executor needs: tasks and results cross process boundaries."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "poisson_mixture.ipynb").write_text(json.dumps(_solved_release()))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = grade.grade_submissions(collect.find_in_folder(tmp_path), executor=pool)
    assert [(r.student_id, r.score, r.isolation in ("root", "userns")) for r in results] == [
        ("ok", 15, True)]


def test_submission_time_limit_and_leftover_processes(tmp_path):
    nb = _solved_release()
    slow = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": "import subprocess, time\n"
                      "subprocess.Popen(['sleep', '777'], start_new_session=True)\n"
                      "time.sleep(1.5)\n"}
    position = _ids(nb).index("em") + 1
    nb["cells"][position:position] = [dict(slow) for _ in range(4)]
    task = grade.Task("slow", json.dumps(nb).encode())
    config = grade.GradeConfig(timeout=5, submission_timeout=4)
    result = grade.grade_task(task, grade.make_kit(config, A))
    assert result.status == "submission time limit exceeded (4 s)"
    assert result.score < 15
    assert any(t.message.startswith("not run") for t in result.tests)
    assert "timeout: submission time limit exceeded (4 s)" in result.flags

    def leftovers():
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if (proc / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"777"]:
                    found.append(proc.name)
            except OSError:
                pass
        return found

    # The kernel kills the namespace's processes when its first process dies;
    # give it a moment (the sleep would otherwise live for 777 s).
    deadline = time.monotonic() + 10
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers() == []


# --------------------------------------------------------------------------
# a bug is charged once; the hidden answers are not public


def _grade_nb(nb, config=None, secret="unit test secret", monkeypatch=None):
    config = config or grade.GradeConfig(timeout=20)
    cells = A.cells(secret)
    kit = grade.Kit(A.name, notebook.load_source(SOURCE), A.expected(cells), config, cells,
                    secret is not None)
    return grade.grade_task(grade.Task("s", json.dumps(nb).encode()), kit)


def test_a_wrong_helper_costs_only_its_own_points():
    from autograder_corpus.poisson_mixture.build import WRONG_LL, WRONG_M, solved

    result = _grade_nb(solved(log_likelihood=WRONG_LL, m_step=WRONG_M))
    points = result.points
    assert result.score == 15 - 3 - 2  # m_step: 2 + 1 points, log_likelihood: 1 + 1
    assert points["test_em_hasselblad"] == points["test_em_random"] == 2
    em = next(t for t in result.tests if t.grade_id == "test_em_hasselblad")
    assert em.message == ("em passes when the reference m_step and log_likelihood stand in: "
                          "fix m_step and log_likelihood first")


def test_a_bug_in_em_itself_is_not_excused_by_the_stand_ins():
    from autograder_corpus.poisson_mixture.build import EM_STOPS_EARLY, WRONG_LL, solved

    result = _grade_nb(solved(log_likelihood=WRONG_LL, em=EM_STOPS_EARLY))
    em = next(t for t in result.tests if t.grade_id == "test_em_hasselblad")
    assert em.points == 0
    assert em.message.endswith("(it fails with the reference log_likelihood standing in too)")


def test_the_stand_ins_leave_the_students_functions_in_place(toolkit):
    """The swap is undone: the student's helper is back after the rerun."""
    from autograder_corpus.poisson_mixture.build import WRONG_LL, reference_code

    child = sandbox.Child(toolkit, timeout=10, cpu_s=60)
    child.start()
    try:
        runner = grade.Runner(toolkit, [], grade.GradeConfig(timeout=10), time.monotonic() + 60)
        runner.child = child
        setup = "import numpy as np\nfrom scipy.special import gammaln\n"
        child.execute("setup", setup + reference_code()["log_poisson_pmf"] + WRONG_LL, 10)
        kit = grade.Kit(A.name, notebook.load_source(SOURCE), {}, grade.GradeConfig(timeout=10), ())
        x, pi, lam = np.arange(4), np.array([0.5, 0.5]), np.array([1.0, 3.0])

        def mean_ll():
            return runner.call("log_likelihood", [x, pi, lam], {}).arrays[0]

        swapped = grade._with_standins(runner, kit, ["log_likelihood"], mean_ll)
        after = mean_ll()
    finally:
        child.kill()
    from solutions import poisson

    assert swapped == pytest.approx(poisson.log_likelihood(x, pi, lam), rel=1e-12)
    assert after == pytest.approx(swapped / 4, rel=1e-12)  # the student's mean, not sum


def test_a_lookup_table_of_the_public_answers_needs_the_public_inputs():
    """Five stubs and a table of the answers computed from the public
    repository earn 15/15 against the public default inputs, and nothing
    against inputs drawn from a course secret."""
    from autograder_corpus.common import lookup_table_cheat
    from autograder_corpus.poisson_mixture.build import index_of, insert_after, solved

    table, stubs = lookup_table_cheat(A)
    nb, _ = insert_after(solved(**stubs), "setup", table)
    assert index_of(nb, "setup") == 1
    assert _grade_nb(nb, secret=None).score == 15
    result = _grade_nb(nb, secret="unit test secret")
    assert result.score == 0
    assert all("KeyError" in t.message for t in result.tests)


def test_writefile_helper_module_is_importable_in_the_child(toolkit):
    child = sandbox.Child(toolkit, timeout=10, cpu_s=60)
    child.start()
    try:
        cell = notebook.python_source("%%writefile helper.py\nimport numpy as np\n\n"
                                      "def log_poisson_pmf(x, lam):\n"
                                      "    return np.zeros((len(x), len(lam))) - 1\n")
        assert child.execute("cell 1", cell, 10).kind == "ok"
        assert child.execute("cell 2", "from helper import log_poisson_pmf", 10).kind == "ok"
        out = child.call("log_poisson_pmf", [np.arange(3), np.ones(2)], {}, 10)
    finally:
        child.kill()
    assert out.kind == "ok" and np.all(out.arrays[0] == -1)


# --------------------------------------------------------------------------
# copy detection


def _codes():
    from autograder_corpus.poisson_mixture.build import FLOAT32, reference_code, renamed_copy

    mine = [reference_code()[f] for f in [g.name for g in A.functions]]
    return {
        "copy": mine,
        "renamed": [renamed_copy()[f] for f in [g.name for g in A.functions]],
        "float32": list(FLOAT32.values()),
        "stub": ["def e_step(x, pi, lam):\n    raise NotImplementedError()\n"],
    }


def test_similarity_sees_through_renaming_and_ignores_little_code():
    from autograder import similarity

    refs = similarity.references(_source(), A.solutions)
    codes = _codes()
    assert similarity.score(similarity.fingerprint(codes["renamed"]),
                            similarity.fingerprint(codes["copy"])) == 1.0
    assert similarity.score(similarity.fingerprint(codes["float32"]),
                            refs[similarity.INSTRUCTOR]) < similarity.THRESHOLD
    matches = similarity.find(codes, refs)
    rows = {(m.student_a, m.student_b, m.what) for m in matches}
    assert rows == {("copy", "instructor solution", "instructor solution"),
                    ("renamed", "instructor solution", "instructor solution"),
                    ("copy", "renamed", "student")}
    text = similarity.similarity_csv(matches)
    assert text.splitlines()[0] == "student_a,student_b,similarity,what"
    assert "copy,renamed,1.000,student" in text


def test_similarity_of_solutions_module_and_deep_code():
    from autograder import similarity

    module = (REPO / "solutions" / "poisson.py").read_text()
    refs = similarity.references(_source(), A.solutions)
    assert similarity.score(similarity.fingerprint([module]), refs[similarity.SOLUTIONS]) == 1.0
    deep = "def f(k):\n    if k == 0:\n        return 0\n" + "".join(
        f"    elif k == {i}:\n        return {i}\n" for i in range(1, 500))
    assert len(similarity.fingerprint([deep])) > similarity.MIN_SIZE


def test_similarity_groups_give_the_pairs_of_scoring_every_pair():
    """Grouping identical fingerprints changes no match: compared with scoring
    every pair and every reference one by one, on a class with many copies."""
    import random

    from autograder import similarity

    rng = random.Random(5)
    base = [frozenset(rng.sample(range(10_000), 200)) for _ in range(6)]
    # Variants of the bases: some above the threshold, some below.
    pool = base + [frozenset(list(b)[: rng.randint(150, 200)] + rng.sample(range(10_000, 20_000), 20))
                   for b in base]
    prints = {f"s{i:03d}": rng.choice(pool) for i in range(120)}
    prints["tiny"] = frozenset(range(10))  # too little code to compare
    refs = {similarity.INSTRUCTOR: base[0], similarity.SOLUTIONS: frozenset(range(500))}
    expected = []
    ids = sorted(s for s, fp in prints.items() if len(fp) >= similarity.MIN_SIZE)
    for i, a in enumerate(ids):
        for name, ref in refs.items():
            if similarity.score(prints[a], ref) >= similarity.THRESHOLD:
                expected.append((a, name, similarity.score(prints[a], ref), name))
        for b in ids[i + 1:]:
            s = similarity.score(prints[a], prints[b])
            if s >= similarity.THRESHOLD:
                expected.append((a, b, s, "student"))
    got = similarity.find_prints(prints, refs)
    assert sorted(expected) == sorted((m.student_a, m.student_b, m.similarity, m.what)
                                      for m in got)
    assert len(got) > 500 and any(m.similarity < 1 for m in got)


def test_similarity_flags_are_bounded_per_student():
    """Twelve students with one solution: every pair is in similarity.csv, but
    each student has at most MAX_FLAGS flags and one that counts the rest."""
    from autograder import report, similarity

    code = ["def f(a, b):\n" + "".join(f"    a = a * {i} + b[{i}] - {i}\n" for i in range(30))
            + "    return a\n"]
    results = []
    for i in range(12):
        r = grade.SubmissionResult(f"s{i:02d}", 0, 15, "ok", [])
        r.fingerprint = sorted(similarity.fingerprint(code))
        results.append(r)
    matches = similarity.flag_copies(results, _source(), A.solutions)
    assert len([m for m in matches if m.what == "student"]) == 12 * 11 // 2
    for r in results:
        flags = [f for f in r.flags if f.startswith(similarity.FLAG)]
        assert len(flags) == similarity.MAX_FLAGS + 1
        assert flags[-1].startswith(f"similarity: and {11 - similarity.MAX_FLAGS} more")
    assert len(report.similarity_csv(matches).splitlines()) == 1 + 12 * 11 // 2
