"""Grading submissions: the pipeline of one notebook, and the batch.

For each submission, everything happens in the grader's process except the
student's code:

1. read the bytes (empty, not JSON, not a notebook -> a status and zero);
2. match the cells against the source notebook (:mod:`autograder.notebook`)
   and scan the student's code (:mod:`autograder.scan`);
3. run the student's cells in a sandboxed child (:mod:`autograder.sandbox`),
   one cell per request with a timeout; a cell that times out or kills the
   child is skipped, the child is restarted and the cells before it replayed;
4. for each test case of the assignment (:class:`autograder.spec.Assignment`;
   hidden cases drawn from the course secret), send the function name and plain arrays to the child and
   get plain arrays back (a crash costs that test only: the child is
   restarted for the next one);
5. judge those arrays here with the assignment's checks against the values of
   its reference (from ``solutions``). No object the student made ever reaches this
   process: only numbers, decoded with ``allow_pickle=False``. A case that
   fails while a helper it calls failed its own tests is run again with the
   instructor's helper standing in (see :func:`_judge`);
6. after the batch, :mod:`autograder.similarity` flags copied code.

:func:`grade_submissions` grades a batch on any
:class:`concurrent.futures.Executor` (a thread pool by default, whose threads
each drive one sandboxed child process); see its docstring for a cluster.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import assignments, notebook, sandbox, scan, similarity, spec
from .collect import Skipped, Submission, Task, make_task
from .results import CellLog, SubmissionResult, TestResult

if TYPE_CHECKING:
    from .late import LatePolicy

PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class GradeConfig:
    """Limits of a grading run.

    Attributes
    ----------
    timeout : float
        Wall-clock seconds allowed to each cell and to each call of a graded
        function.
    submission_timeout : float
        Wall-clock seconds for the whole submission; what is left undone gets
        no points.
    memory_mb : int
        Memory cap of each sandbox as a whole, in MiB: every process of the
        submission, its shared memory and its files in ``/tmp`` together (a
        cgroup), and the address space of each process (``RLIMIT_AS``).
    isolation : str
        ``"auto"``, ``"root"``, ``"userns"`` or ``"none"`` (only when asked
        for: no file isolation); see :mod:`autograder.sandbox`.
    secret_file : str, optional
        File holding the course secret from which the hidden cases are drawn;
        by default ``$AUTOGRADER_SECRET`` or ``autograder/course_secret``
        (see :func:`autograder.spec.load_secret`).
    """

    timeout: float = 30.0
    submission_timeout: float = 300.0
    memory_mb: int = 2048
    isolation: str = "auto"
    secret_file: str | None = None


@dataclass(frozen=True)
class Kit:
    """What a worker needs besides the submission: picklable, built once.

    ``assignment`` is the assignment's name (a worker finds its declaration in
    :mod:`autograder.assignments`); ``cells`` its grade cells, hidden cases
    drawn from the secret, and ``expected`` their reference values.
    """

    assignment: str
    source: notebook.SourceNotebook
    expected: dict[str, list[Any]]
    config: GradeConfig
    cells: tuple[spec.GradeCell, ...]
    secret: bool = False  # whether a course secret drew them (else: public default)

    @property
    def declaration(self) -> spec.Assignment:
        return assignments.get(self.assignment)


# --------------------------------------------------------------------------
# one submission


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _transform(source: str) -> str:
    """Notebook syntax (``%magic``, ``!cmd``) as plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


class Runner:
    """Runs a submission's cells in a child; restarts it after a crash."""

    def __init__(self, toolkit: sandbox.Toolkit, cells: list[notebook.RunCell],
                 config: GradeConfig, deadline: float) -> None:
        self.toolkit = toolkit
        self.cells = cells
        self.config = config
        self.deadline = deadline
        self.child: sandbox.Child | None = None
        self.replay: list[int] = []
        self.logs = [notebook_log(c) for c in cells]
        self.status: list[str] = []
        self.flags: list[str] = []
        self.broken: str | None = None

    def _limit(self) -> float:
        return min(self.config.timeout, self.deadline - time.monotonic())

    def out_of_time(self) -> bool:
        if self.deadline - time.monotonic() > 0.05:
            return False
        reason = f"submission time limit exceeded ({self.config.submission_timeout:g} s)"
        if reason not in self.status:
            self.status.append(reason)
            self.flags.append(f"timeout: {reason}")
        return True

    def _record(self, outcome: sandbox.Outcome, where: str, cell: bool) -> None:
        """Status and flags for what went wrong in a cell or a call."""
        what = f"in {where}" if cell else f"while running {where}"
        if outcome.kind == "timeout":
            if self.deadline - time.monotonic() <= 0.05:
                self.out_of_time()
                return
            reason = f"timeout {what} ({self.config.timeout:g} s)"
            self.status.append(reason)
            self.flags.append(f"timeout: {reason}")
        elif outcome.kind == "died":
            if outcome.message.startswith("malformed reply"):
                reason = f"malformed reply {what}"
                self.flags.append(f"crash: {reason} ({outcome.message})")
            elif "memory" in outcome.message.lower():
                reason = f"memory limit exceeded {what}"
                self.flags.append(f"memory: {reason}")
            else:
                reason = f"kernel died ({outcome.message}) {what}"
                self.flags.append(f"crash: {reason}")
            self.status.append(reason)
        elif outcome.kind == "error" and outcome.etype == "MemoryError":
            reason = f"memory limit exceeded {what}"
            self.status.append(reason)
            self.flags.append(f"memory: {reason}")

    def _ensure_child(self) -> bool:
        if self.child is not None and self.child.alive:
            return True
        if self.broken:
            return False
        self.child = sandbox.Child(self.toolkit, timeout=self.config.timeout,
                                   cpu_s=self.config.submission_timeout + 10)
        try:
            self.child.start()
        except sandbox.SandboxError as exc:
            self.broken = f"sandbox error: {exc}"
            self.status.append(self.broken)
            self.flags.append(f"grader: {self.broken}")
            self.child = None
            return False
        for index in list(self.replay):
            if self.out_of_time():
                return False
            cell = self.cells[index]
            outcome = self.child.execute(cell.label, cell.source, self._limit())
            if outcome.kind in ("timeout", "died"):
                # It ran before; it does not now: drop it, as the first time.
                self.replay.remove(index)
                self._record(outcome, cell.label, cell=True)
                self.logs[index].outcome = outcome.kind
                self.logs[index].message = _describe(outcome, self.config.timeout)
                return self._ensure_child()
        return True

    def run_cells(self) -> None:
        for index, cell in enumerate(self.cells):
            log = self.logs[index]
            if self.out_of_time() or not self._ensure_child():
                log.outcome, log.message = "skipped", "not run"
                continue
            outcome = self.child.execute(cell.label, cell.source, self._limit())
            log.outcome = outcome.kind if outcome.kind != "bad_result" else "error"
            log.message = _describe(outcome, self.config.timeout)
            log.traceback = outcome.traceback
            if outcome.kind in ("ok", "error"):
                self.replay.append(index)
            self._record(outcome, cell.label, cell=True)

    def call(self, function: str, args: list[np.ndarray], kwargs: dict[str, Any],
             max_bytes: int | None = None) -> sandbox.Outcome:
        """Call ``function`` in the child; ``max_bytes`` bounds its reply
        (see :meth:`autograder.sandbox.Child.call`)."""
        if self.out_of_time():
            return sandbox.Outcome("skipped", message="the submission used up its time")
        if not self._ensure_child():
            return sandbox.Outcome("skipped", message=self.broken or "no time left")
        outcome = self.child.call(function, args, kwargs, self._limit(), max_bytes=max_bytes)
        self._record(outcome, function, cell=False)
        return outcome

    def close(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child = None


def notebook_log(cell: notebook.RunCell) -> CellLog:
    return CellLog(cell.label, cell.first_line, "skipped")


def _describe(outcome: sandbox.Outcome, timeout: float) -> str:
    if outcome.kind == "error":
        return f"{outcome.etype}: {outcome.message}" if outcome.message else outcome.etype
    if outcome.kind == "timeout":
        return f"did not finish within {timeout:g} s"
    if outcome.kind == "died":
        return f"the Python process died ({outcome.message})"
    return outcome.message


def _assemble(arrays: list[np.ndarray]) -> Any:
    """The child's arrays as the student's function returned them: one array,
    or a tuple of several (see :func:`autograder.checks.normalise`); the check
    reads them against the function's contract."""
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def _outcome_message(graded: spec.Function, outcome: sandbox.Outcome, expected: Any,
                     case: spec.Case, timeout: float) -> tuple[str, str]:
    """``("", "")`` when the call's result passes the check, else (message, detail)."""
    function = graded.name
    if outcome.kind == "ok":
        try:
            graded.check(_assemble(outcome.arrays), expected, **case.options)
            return "", ""
        except AssertionError as exc:
            return str(exc), ""
        except Exception as exc:
            return f"{function}: the result could not be checked ({exc})", ""
    if outcome.kind == "error":
        message = f"{function} raised {outcome.etype}"
        return message + (f": {outcome.message}" if outcome.message else ""), outcome.traceback
    if outcome.kind == "bad_result":
        return outcome.message, ""
    if outcome.kind == "timeout":
        return f"{function} did not return within {timeout:g} s (infinite loop?)", ""
    if outcome.kind == "died":
        return f"the Python process died while running {function} ({outcome.message})", ""
    return f"not run: {outcome.message}", ""


# Stand-ins run in the student's namespace: save the student's helpers, define
# the instructor's (from the source notebook's solution cells), call, restore.
_SAVE = """__autograder_saved__ = {{}}
for __autograder_name__ in {names!r}:
    __autograder_saved__[__autograder_name__] = globals().get(__autograder_name__)
"""
_RESTORE = """for __autograder_name__, __autograder_value__ in __autograder_saved__.items():
    if __autograder_value__ is None:
        globals().pop(__autograder_name__, None)
    else:
        globals()[__autograder_name__] = __autograder_value__
del __autograder_saved__, __autograder_name__, __autograder_value__
"""


def _with_standins(runner: Runner, kit: Kit, names: list[str], call: Callable[[], Any]) -> Any:
    """``call()`` with the instructor's ``names`` standing in for the student's
    functions in the child; None when they could not be put in place."""
    sources = {c.grade_id: c.source for c in kit.source.cells if c.kind == "solution"}
    if any(name not in sources for name in names):
        return None
    if runner.out_of_time() or not runner._ensure_child():
        return None
    setup = _SAVE.format(names=tuple(names)) + "\n".join(sources[n] for n in names)
    if runner.child.execute("reference helpers", setup, kit.config.timeout).kind != "ok":
        runner.close()  # a fresh child replays the student's cells without them
        return None
    try:
        return call()
    finally:
        if runner.child is not None and runner.child.alive:
            if runner.child.execute("restore", _RESTORE, kit.config.timeout).kind != "ok":
                runner.close()


def _attempt(runner: Runner, kit: Kit, graded: spec.Function, case: spec.Case,
             expected: Any) -> tuple[str, str]:
    outcome = runner.call(graded.name, list(case.args), dict(case.kwargs))
    return _outcome_message(graded, outcome, expected, case, kit.config.timeout)


def _judge(runner: Runner, kit: Kit) -> list[TestResult]:
    """Call the graded functions on every case and judge the results.

    Each bug is charged once: a case that fails while one of the function's
    helpers (:attr:`autograder.spec.Function.helpers`) has failed its own tests
    is run again with the instructor's version of those helpers standing in;
    if it passes then, the points are earned and the message says which helper
    to fix first. The instructor's version of the function under test never
    enters the child. Cells are judged in notebook order, so a helper is judged
    before the functions that call it.
    """
    results = []
    failed: list[str] = []  # functions that failed one of their own cells
    declaration = kit.declaration
    for cell in kit.cells:
        function = declaration.function(cell.function)
        test = TestResult(cell.grade_id, cell.function, cell.title, cell.points)
        results.append(test)
        rescued: list[str] = []
        for case, expected in zip(cell.cases, kit.expected[cell.grade_id], strict=True):
            attempt = functools.partial(_attempt, runner, kit, function, case, expected)
            message, detail = attempt()
            if not message:
                continue
            suspects = [h for h in function.helpers if h in failed]
            if suspects:
                again = _with_standins(runner, kit, suspects, attempt)
                helpers = " and ".join(f"the reference {h}" for h in suspects)
                if again is not None and not again[0]:
                    rescued += [h for h in suspects if h not in rescued]
                    continue
                message += f"\n(it fails with {helpers} standing in too)"
            test.message, test.detail = message, detail
            test.case, test.case_visible = case.description, case.visible
            break
        else:
            test.passed, test.points = True, cell.points
            test.message = "passed"
            if rescued:
                names = " and ".join(rescued)
                verb = "stands" if len(rescued) == 1 else "stand"
                test.message = (f"{cell.function} passes when the reference {names} {verb} in: "
                                f"fix {names} first")
        if not test.passed and cell.function not in failed:
            failed.append(cell.function)
    return results


def _failed(task: Task, kit: Kit, reason: str, flag: str | None = None) -> SubmissionResult:
    message = reason if reason.startswith("not graded") else "not graded: " + reason
    tests = [TestResult(c.grade_id, c.function, c.title, c.points, message=message)
             for c in kit.cells]
    return SubmissionResult(task.student_id, 0, sum(c.points for c in kit.cells), reason,
                            tests, flags=[flag] if flag else [], assignment=kit.assignment)


def grade_task(task: Task, kit: Kit) -> SubmissionResult:
    """Grade one submission. Runs anywhere ``autograder`` is importable."""
    start = time.monotonic()
    data, problem = task.load()
    if data is None:
        reason = problem or "no notebook submitted"
        result = _failed(task, kit, reason,
                         None if task.absent else f"invalid submission: {reason}")
        result.seconds = time.monotonic() - start
        return result
    try:
        nb = notebook.parse(data)
    except notebook.InvalidNotebook as exc:
        result = _failed(task, kit, str(exc), f"invalid submission: {exc}")
        result.seconds = time.monotonic() - start
        return result
    plan = notebook.plan(nb, kit.source)
    cells = [notebook.RunCell(c.label, _transform(c.source), c.from_student, c.first_line)
             for c in plan.cells]
    findings = scan.scan([(c.label, c.source) for c in cells if c.from_student])
    prints = similarity.fingerprint(similarity.plan_code(
        plan.cells, similarity.released_sources(kit.assignment)))
    toolkit = get_toolkit(kit.config)
    runner = Runner(toolkit, cells, kit.config, start + kit.config.submission_timeout)
    try:
        runner.run_cells()
        tests = _judge(runner, kit)
    finally:
        runner.close()
    status = _unique([*([task.note] if task.note else []), *plan.status, *runner.status])
    return SubmissionResult(
        student_id=task.student_id,
        score=sum(t.points for t in tests),
        max_score=sum(c.points for c in kit.cells),
        status="; ".join(status) if status else "ok",
        tests=tests,
        cells=runner.logs,
        notes=plan.notes,
        flags=_unique([*plan.flags, *findings, *runner.flags]),
        seconds=time.monotonic() - start,
        isolation=toolkit.isolation,
        fingerprint=sorted(prints),
        assignment=kit.assignment,
    )


# --------------------------------------------------------------------------
# toolkits: one per process, shared by its threads

_TOOLKITS: dict[tuple[str, int], sandbox.Toolkit] = {}
_TOOLKIT_LOCK = threading.Lock()


def get_toolkit(config: GradeConfig) -> sandbox.Toolkit:
    """This process's sandbox toolkit for ``config`` (made on first use)."""
    key = (config.isolation, config.memory_mb)
    with _TOOLKIT_LOCK:
        if key not in _TOOLKITS:
            _TOOLKITS[key] = sandbox.make_toolkit(config.isolation, config.memory_mb)
        return _TOOLKITS[key]


def make_kit(config: GradeConfig, assignment: spec.Assignment | str) -> Kit:
    """The assignment's cases (hidden ones drawn from the course secret), their
    reference values (from ``solutions``) and its source notebook.

    Warns (:class:`autograder.spec.NoSecretWarning`) when there is no secret.
    """
    import warnings

    declaration = assignments.resolve(assignment)
    secret = spec.load_secret(config.secret_file)
    if secret is None:
        warnings.warn(spec.NO_SECRET_WARNING, spec.NoSecretWarning, stacklevel=2)
    cells = declaration.cells(secret)
    return Kit(declaration.name, notebook.load_source(declaration.source_notebook),
               declaration.expected(cells), config, cells, secret is not None)


class GraderSelfCheckFailed(RuntimeError):
    """The instructor's solution did not earn full marks in the sandbox: the
    grader cannot grade correctly here, so it grades nobody.

    ``result`` is the :class:`SubmissionResult` of the instructor's solution.
    """

    def __init__(self, result: SubmissionResult, assignment: str = "") -> None:
        self.result = result
        where = (PACKAGE / "source" / assignment / f"{assignment}.ipynb").relative_to(
            PACKAGE.parent)
        lines = [f"the instructor's solution ({where}) "
                 f"scored {result.score}/{result.max_score} in the sandbox "
                 f"(status: {result.status}), so this machine cannot grade correctly; "
                 "no grades were written."]
        lines += [f"  failed {t.grade_id}: {t.message}" for t in result.tests if not t.passed]
        lines += [f"  {c.label} ({c.outcome}): {c.message}" for c in result.cells
                  if c.outcome != "ok"]
        super().__init__("\n".join(lines))


SELF_CHECK_ID = "(instructor's solution)"


def self_check(executor: Executor, kit: Kit) -> SubmissionResult:
    """Grade the instructor's source notebook like a submission, where the
    submissions will be graded; raise :class:`GraderSelfCheckFailed` unless it
    earns full marks with status ``ok``."""
    task = Task(SELF_CHECK_ID, kit.declaration.source_notebook.read_bytes())
    try:
        result = executor.submit(grade_task, task, kit).result()
    except sandbox.SandboxError:
        raise
    except Exception as exc:
        reason = f"grader error: {type(exc).__name__}: {exc}"
        result = _failed(task, kit, reason, f"grader: {reason}")
    if result.score != result.max_score or result.status != "ok":
        raise GraderSelfCheckFailed(result, kit.assignment)
    return result


# --------------------------------------------------------------------------
# a batch


def grade_submissions(
    submissions: Iterable[Submission],
    out: Path | None = None,
    *,
    executor: Executor | None = None,
    jobs: int | None = None,
    config: GradeConfig | None = None,
    progress: bool | None = None,
    on_result: Callable[[SubmissionResult], None] | None = None,
    skipped: Iterable[Skipped] | None = None,
    replace: bool = False,
    assignment: spec.Assignment | str | None = None,
    policy: LatePolicy | None = None,
    gradebook: str | None = None,
) -> list[SubmissionResult]:
    """Grade every submission of one assignment; write ``out`` (grades, flags,
    feedback, figure).

    Parameters
    ----------
    submissions : iterable of Submission
        From :func:`autograder.collect.find_submissions`.
    out : Path, optional
        Output folder; see :func:`autograder.report.write_outputs`.
    executor : concurrent.futures.Executor, optional
        Where the submissions are graded. Only ``executor.submit(fn, *args)``
        and the futures it returns are used, so any executor works: by default
        a :class:`~concurrent.futures.ThreadPoolExecutor` with ``jobs``
        threads, each of which drives one sandboxed child process at a time.
        For a class larger than one machine, pass a cluster's executor, e.g.
        Dask distributed's ``Client(...).get_executor()``: the workers need
        this repository's ``autograder`` package importable, ``unshare`` and
        Python's ``numpy``; they get the reference values with each task and
        read the notebook from the submissions folder or zip (same path on
        every worker, e.g. a shared file system).
    jobs : int, optional
        Threads of the default executor (default: the number of cores).
    config : GradeConfig, optional
        Timeouts, memory cap and isolation.
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal).
    on_result : callable, optional
        Called with each result as it completes.
    skipped : iterable of Skipped, optional
        The input's files that were not graded, for ``OUT/skipped.csv``
        (default: ``submissions.skipped`` when it is a
        :class:`~autograder.collect.Collection`).
    replace : bool
        Drop the class already in ``out``; by default its students that are
        not in ``submissions`` keep their rows and feedback.
    assignment : Assignment or str, optional
        What the submissions are; by default ``submissions.assignment`` (a
        :class:`~autograder.collect.Collection` knows it), or the only
        registered assignment. A ``ValueError`` when it cannot be told.
    policy : autograder.late.LatePolicy, optional
        Due date and late penalty, applied to the whole class from each
        submission's time (see :mod:`autograder.late`).
    gradebook : str, optional
        Database URL (or SQLite file) of an nbgrader gradebook that receives
        the whole class (see :mod:`autograder.gradebook`).

    Returns
    -------
    list of SubmissionResult
        Sorted by student id.

    Raises
    ------
    GraderSelfCheckFailed
        Before any student is graded, when the instructor's solution, graded
        the same way, does not earn full marks; nothing is written.
    """
    config = config or GradeConfig()
    if assignment is None:
        assignment = getattr(submissions, "assignment", None)
    if assignment is None:
        if len(assignments.names()) != 1:
            raise ValueError("which assignment are these submissions? pass assignment=NAME "
                             "(one of " + ", ".join(assignments.names()) + ")")
        assignment = assignments.names()[0]
    kit = make_kit(config, assignment)
    tasks = [make_task(s) for s in submissions]
    seen: set[str] = set()
    for t in tasks:
        if t.student_id in seen:
            raise ValueError(f"student id {t.student_id!r} appears twice")
        seen.add(t.student_id)
    own = executor is None
    if own:
        get_toolkit(config)  # probe the sandbox once, before the threads start
        executor = ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1)
    results: list[SubmissionResult] = []
    try:
        self_check(executor, kit)
        futures: dict[Future, Task] = {executor.submit(grade_task, t, kit): t for t in tasks}
        from tqdm import tqdm

        bar = tqdm(total=len(futures), desc="grading", unit="notebook", file=sys.stderr,
                   disable=(not sys.stderr.isatty()) if progress is None else not progress)
        with bar:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except sandbox.SandboxError:
                    raise  # a worker that cannot sandbox stops the batch: no grades
                except Exception as exc:
                    reason = f"grader error: {type(exc).__name__}: {exc}"
                    result = _failed(task, kit, reason, f"grader: {reason}")
                results.append(result)
                if on_result:
                    on_result(result)
                bar.update(1)
    finally:
        if own:
            executor.shutdown(wait=True)
    results.sort(key=lambda r: r.student_id)
    by_id = {t.student_id: t for t in tasks}
    for r in results:  # what collection found (roster, file names) comes first
        r.flags = _unique([*by_id[r.student_id].flags, *r.flags])
        r.timestamp = by_id[r.student_id].timestamp
    final = results
    if out is None:
        from .late import apply
        from .similarity import flag_copies

        apply(results, policy)
        flag_copies(results, kit.source, kit.declaration.solutions)
    else:
        from .report import write_outputs

        if skipped is None:
            skipped = getattr(submissions, "skipped", ())
        # Copies are looked for in the whole class, once merged with OUT's.
        final = write_outputs(results, Path(out), skipped=skipped, replace=replace,
                              absent={t.student_id for t in tasks if t.absent},
                              source=kit.source, assignment=kit.declaration, policy=policy)
    if gradebook is not None:
        from .gradebook import record

        record(final, gradebook, kit.declaration, policy=policy)
    return results
