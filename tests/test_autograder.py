"""Unit tests of the autograder: checks, spec and reference values, notebook
matching, static scan, sandbox, outputs, pluggable executor.

The end-to-end corpus is in test_autograder_corpus.py, the release and stock
nbgrader in test_autograder_release.py.
"""

from __future__ import annotations

import csv
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
from autograder.reference import all_expected

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
RELEASE = REPO / "autograder" / "release" / "poisson_mixture" / "poisson_mixture.ipynb"


@pytest.fixture(scope="module")
def expected():
    return all_expected()


# --------------------------------------------------------------------------
# spec and reference values


def test_spec_grade_cells_and_points():
    assert spec.GRADE_IDS == (
        "test_log_pmf_basic", "test_log_pmf_extreme", "test_e_step_basic",
        "test_e_step_extreme", "test_m_step_basic", "test_m_step_edge",
        "test_log_likelihood_basic", "test_log_likelihood_extreme",
        "test_em_hasselblad", "test_em_random",
    )
    assert [c.points for c in spec.SPEC] == [1, 1, 2, 2, 2, 1, 1, 1, 2, 2]
    assert spec.MAX_SCORE == 15
    for cell in spec.SPEC:
        assert any(not case.visible for case in cell.cases), f"{cell.grade_id} has no hidden test"


def test_spec_covers_the_edge_cases_of_the_brief():
    extreme = spec.grade_cell("test_e_step_extreme").cases
    assert any(1000 in c.args[0] and 0.5 in c.args[2] for c in extreme)
    assert any(np.min(c.args[1]) <= 1e-12 for c in extreme)
    assert any(len(c.args[1]) == 1 for c in extreme)
    edge = spec.grade_cell("test_m_step_edge").cases
    assert any(c.args[1].shape[1] == 1 for c in edge)
    assert any(np.all(c.args[0] == 0) for c in edge)


def test_hasselblad_counts_match_the_data_file():
    rows = list(csv.DictReader((REPO / "solutions" / "data" / "hasselblad_1969.csv").open()))
    assert tuple(int(r["frequency"]) for r in rows) == spec.HASSELBLAD_FREQUENCIES


def _brute_log_pmf(x, lam):
    return np.array([[k * math.log(m) - m - math.lgamma(k + 1) for m in lam] for k in x])


def _brute_logsumexp(row):
    top = max(row)
    return top + math.log(sum(math.exp(v - top) for v in row))


def test_reference_values_against_independent_computations(expected):
    """solutions.poisson, as used for the expected values, against scipy and
    plain-Python formulas written here."""
    for cell in spec.SPEC:
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


def test_em_reference_reaches_the_published_hasselblad_optimum(expected):
    exact, mle = expected["test_em_hasselblad"]
    assert round(mle["loglik_final"], 3) == -1989.946
    np.testing.assert_allclose(mle["pi"], [0.360, 0.640], atol=5e-4)
    np.testing.assert_allclose(mle["lam"], [1.256, 2.663], atol=5e-4)
    # ℓ(θ^0) at π = (0.3, 0.7), λ = (1, 2.5), computed here.
    x = np.repeat(np.arange(10), spec.HASSELBLAD_FREQUENCIES)
    l0 = sum(_brute_logsumexp([math.log(p) + v for p, v in zip((0.3, 0.7), row, strict=True)])
             for row in _brute_log_pmf(x, (1.0, 2.5)))
    assert exact["loglik_head"][0] == pytest.approx(l0, rel=1e-12)
    assert len(exact["loglik_head"]) == 4
    assert np.all(np.diff(exact["loglik_head"]) > 0)


def test_source_notebook_is_up_to_date_with_the_spec():
    """The embedded reference values equal what solutions.poisson computes now."""
    import nbformat

    current = SOURCE.read_text()
    assert nbformat.writes(build_source.render(nbformat.reads(current, as_version=4))) + "\n" \
        == current, "run: python -m autograder build-source"


def test_notebook_points_match_the_spec():
    nb = json.loads(SOURCE.read_text())
    points = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in nb["cells"]
              if c["metadata"].get("nbgrader", {}).get("grade")
              and not c["metadata"]["nbgrader"].get("solution")}
    assert points == {c.grade_id: c.points for c in spec.SPEC}


def test_array_literal_round_trips_exactly():
    rng = np.random.default_rng(0)
    for a in (rng.normal(size=7) * 1e-200, rng.random((4, 3)), np.arange(40), np.array(2.5)):
        assert np.array_equal(eval(build_source.array_literal(a), {"np": np}), a)


# --------------------------------------------------------------------------
# checks (the judge)


def _pmf_case():
    cell = spec.grade_cell("test_log_pmf_basic")
    return cell.cases[0], all_expected()["test_log_pmf_basic"][0]


def test_checks_accept_the_reference(expected):
    for cell in spec.SPEC:
        for case, want in zip(cell.cases, expected[cell.grade_id], strict=True):
            if cell.function == "em":
                trace = want["loglik_head"] if want["n_iter"] else np.r_[
                    want["loglik_head"], want["loglik_final"]]
                got = (want["pi"], want["lam"], trace)
            else:
                got = want
            checks.check_result(cell.function, got, want, **case.options)


def test_checks_messages_are_readable(expected):
    tau = expected["test_e_step_basic"][0].copy()
    tau[0] = [0.9, 0.4]
    with pytest.raises(AssertionError, match=r"e_step: rows of tau do not sum to 1 "
                                             r"\(max deviation 0\.3\)"):
        checks.check_result("e_step", tau, expected["test_e_step_basic"][0])
    with pytest.raises(AssertionError, match="shape"):
        checks.check_result("e_step", tau.T, expected["test_e_step_basic"][0])
    bad = expected["test_e_step_basic"][0].copy()
    bad[1, 0] = np.nan
    with pytest.raises(AssertionError, match=r"NaN.*log-sum-exp"):
        checks.check_result("e_step", bad, expected["test_e_step_basic"][0])
    with pytest.raises(AssertionError, match="must return the tuple \\(pi, lam\\)"):
        checks.check_result("m_step", np.ones(3), expected["test_m_step_basic"][0])
    with pytest.raises(AssertionError, match="not a numeric array"):
        checks.check_result("log_poisson_pmf", [["a"]], np.zeros((1, 1)))
    with pytest.raises(AssertionError, match="not a numeric array"):
        checks.check_result("log_likelihood", 1 + 2j, 1.0)
    with pytest.raises(AssertionError, match="one number"):
        checks.check_result("log_likelihood", np.ones(2), 1.0)


def test_check_em_up_to_permutation_and_its_failures(expected):
    want = expected["test_em_random"][1]
    trace = np.r_[want["loglik_head"], want["loglik_final"]]
    perm = [2, 0, 1]
    checks.check_result("em", (want["pi"][perm], want["lam"][perm], trace), want,
                        **spec.grade_cell("test_em_random").cases[1].options)
    with pytest.raises(AssertionError, match="loglik decreases at iteration 2"):
        checks.check_result("em", (want["pi"], want["lam"],
                                   np.r_[want["loglik_head"], want["loglik_head"][1] - 1,
                                         want["loglik_final"]]), want)
    with pytest.raises(AssertionError, match="loglik\\[0\\]"):
        checks.check_result("em", (want["pi"], want["lam"], trace[1:]), want)
    with pytest.raises(AssertionError, match="lam"):
        checks.check_result("em", (want["pi"], want["lam"] * 1.1, trace), want)


def test_helpers_cell_is_checks_module():
    nb = json.loads(SOURCE.read_text())
    helpers = next(c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_helpers")
    text = "".join(helpers["source"])
    for name in ("check_result", "normalise", "check_em", "check_e_step", "as_numeric"):
        assert inspect.getsource(getattr(checks, name)).strip() in text
    ns = {"np": np}
    exec(text, ns)  # runs after the setup cell, which imports numpy
    with pytest.raises(AssertionError, match="rows of tau do not sum to 1"):
        ns["check_result"]("e_step", np.array([[0.5, 0.6]]), np.array([[0.5, 0.5]]))


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
        b"{oops": "invalid notebook: not valid JSON (line 1, column 2)",
        b"[1, 2]": "invalid notebook: not a Jupyter notebook",
        b'{"cells": 3}': "invalid notebook: not a Jupyter notebook (no list of cells)",
        b'{"cells": [{"cell_type": "python"}]}': "invalid notebook: a cell has no valid cell_type",
        b"\xff\xfe": "invalid notebook: not UTF-8 text",
    }
    for data, message in cases.items():
        with pytest.raises(notebook.InvalidNotebook) as err:
            notebook.parse(data)
        assert str(err.value) == message


def test_plan_of_the_release_runs_setup_and_solutions_only():
    plan = notebook.plan(_release(), _source())
    labels = [c.label for c in plan.cells]
    assert labels == ["cell 2 (setup, as released)", "cell 8 (log_poisson_pmf)",
                      "cell 12 (e_step)", "cell 16 (m_step)", "cell 20 (log_likelihood)",
                      "cell 24 (em)"]
    assert plan.status == [] and plan.flags == []


def test_plan_detects_structural_changes():
    nb = _release()
    cells = nb["cells"]
    ids = _ids(nb)
    cells[ids.index("test_e_step_basic")]["source"] = "pass"  # edited
    cells[ids.index("test_m_step_edge")]["cell_type"] = "markdown"  # retyped
    cells[ids.index("setup")]["source"] = "import numpy as np\nimport os"  # edited read-only
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
    # The released setup cell runs, not the edited one; both m_step copies run.
    assert plan.cells[0].source.strip() == "import numpy as np\nfrom scipy.special import " \
        "gammaln, logsumexp  # noqa: F401 - yours to use"
    assert sum("(m_step)" in c.label for c in plan.cells) == 2


def test_plan_restores_a_deleted_setup_cell_in_place():
    nb = _release()
    del nb["cells"][_ids(nb).index("setup")]
    nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": "x = 1",
                           "outputs": [], "execution_count": None})
    plan = notebook.plan(nb, _source())
    assert [c.label for c in plan.cells[:3]] == ["cell 1", "restored cell setup",
                                                 "cell 8 (log_poisson_pmf)"]
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
    assert "cell 12" in labels  # the unknown cell still runs as the student's code
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
             for c in spec.SPEC]
    return grade.SubmissionResult(sid, score, 15, status, tests, flags=["timeout: x"])


def test_csv_columns_and_html_escaping():
    results = [_result("zoe", status='a "quoted", status'), _result("amy")]
    rows = list(csv.reader(io.StringIO(report.grades_csv(results))))
    assert rows[0] == ["student_id", "score", "max_score", "status", *spec.GRADE_IDS]
    assert [r[0] for r in rows[1:]] == ["amy", "zoe"]
    assert rows[2][3] == 'a "quoted", status'
    page = report.feedback_html(results[0])
    assert "<script>" not in page and "&lt;script&gt;" in page


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
    child = _child(toolkit)
    try:
        child.execute("cell 1", "import numpy as np\n"
                      "def e_step(x, pi, lam):\n    return 'tau'\n"
                      "def m_step(x, tau):\n    return np.ones(3)\n"
                      "class Evil:\n    def __array__(self, *a, **k):\n        raise RuntimeError('no')\n"
                      "def log_poisson_pmf(x, lam):\n    return Evil()\n", 5)
        assert child.call("e_step", [np.arange(2)] * 3, {}, 5).kind == "bad_result"
        m = child.call("m_step", [np.arange(3), np.ones((3, 1))], {}, 5)
        assert m.kind == "bad_result" and "(pi, lam)" in m.message
        e = child.call("log_poisson_pmf", [np.arange(2), np.ones(1)], {}, 5)
        assert e.kind == "bad_result"
        assert child.call("em", [np.arange(2)] * 3, {}, 5).message == "em is not defined"
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
                                                    "summary.png"]


def test_a_grader_error_costs_only_that_submission(tmp_path, monkeypatch):
    real = grade.grade_task

    def flaky(task, kit):
        if task.student_id == "b":
            raise RuntimeError("boom")
        return real(task, kit)

    monkeypatch.setattr(grade, "grade_task", flaky)
    subs = [collect.Submission("a", None, problem="no notebook submitted"),
            collect.Submission("b", None, problem="no notebook submitted")]
    results = grade.grade_submissions(subs, executor=SerialExecutor())
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
    result = grade.grade_task(task, grade.make_kit(config))
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
