"""Grading on a Dask distributed cluster (``grade ... --scheduler ADDRESS``).

:class:`DaskGrader` is a :class:`concurrent.futures.Executor` for
:func:`autograder.grade.grade_submissions`: each submission becomes one Dask
task that a worker process grades with :func:`autograder.grade.grade_task`,
exactly as a local thread does. What that guarantees:

* **Sandbox on the workers.** Nothing of the sandbox travels: each worker
  process makes its own toolkit, control groups and user ids on first use
  (:func:`autograder.grade.get_toolkit`), as the local grader does. Before
  it grades anyone, every worker process grades the instructor's solution
  itself (the self-check); a worker that cannot sandbox, or on which the
  solution does not earn full marks, raises, and the whole batch stops (fail
  closed: no grades are written). Workers present at the start are checked
  before the first submission is sent; a worker that joins later (or a
  restarted one) checks itself before its first submission.
* **Same code everywhere.** The client sends a digest of its ``autograder``
  package; a worker whose package differs refuses to grade.
* **Bytes, not paths.** The client reads each notebook (with the size cap of
  collection) just before it sends it, so the workers need no access to the
  submissions; at most a window of submissions (twice the cluster's threads)
  is in flight or read at once, so the client's memory stays flat for any
  class size.
* **Lost workers.** A task whose worker dies is run again on another worker
  by the scheduler (up to its ``distributed.scheduler.allowed-failures``,
  3 by default); a task that raised is retried ``RETRIES`` times. Each
  submission is one future whose result is taken once: never dropped, never
  counted twice. A result only ever comes from a complete grading.

Start a cluster with ``dask scheduler`` on one machine and ``dask worker
tcp://SCHEDULER:8786 --nthreads 2`` on each grading machine (same Python
environment, run as root or with user namespaces, like the local grader);
on a batch cluster, ``dask_jobqueue`` (``SLURMCluster(...).scale(jobs=4)``)
starts the workers as jobs and its ``scheduler_address`` is the address.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import uuid
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Any

from . import grade, sandbox

#: Times a task that raised (not one whose worker died) is run again.
RETRIES = 2
#: Tasks in flight per thread of the cluster.
WINDOW_PER_THREAD = 2
MIN_WINDOW = 4


class WorkerCannotGrade(sandbox.SandboxError):
    """A worker cannot grade correctly (no sandbox, failed self-check, other
    code): the batch stops, as when the local machine cannot sandbox."""


def package_digest() -> str:
    """SHA-256 of the ``autograder`` package's Python files and source notebooks
    (what decides a grade on a worker)."""
    h = hashlib.sha256()
    files = sorted(p for p in [*grade.PACKAGE.rglob("*.py"),
                               *(grade.PACKAGE / "source").glob("*/*.ipynb")]
                   if "__pycache__" not in p.parts)
    for path in files:
        name = path.relative_to(grade.PACKAGE).as_posix()
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Payload:
    """What every task needs besides its submission (scattered once)."""

    kit: grade.Kit
    digest: str
    self_check_notebook: bytes


# --------------------------------------------------------------------------
# worker side

_READY: dict[tuple[str, str, int], str] = {}  # (digest, isolation, memory) -> isolation used
_READY_LOCK = threading.Lock()


def prepare_worker(payload: Payload) -> dict[str, Any]:
    """Make this worker process's sandbox and grade the instructor's solution
    in it, once per process; raise :class:`WorkerCannotGrade` if that fails."""
    config = payload.kit.config
    key = (payload.digest, config.isolation, config.memory_mb)
    with _READY_LOCK:
        if key not in _READY:
            if package_digest() != payload.digest:
                raise WorkerCannotGrade(
                    f"worker {os.uname().nodename} (pid {os.getpid()}) has another version "
                    "of the autograder package than the client")
            try:
                toolkit = grade.get_toolkit(config)
            except Exception as exc:
                raise WorkerCannotGrade(
                    f"worker {os.uname().nodename} (pid {os.getpid()}) cannot sandbox: "
                    f"{exc}") from None
            task = grade.Task(grade.SELF_CHECK_ID, payload.self_check_notebook)
            result = grade.grade_task(task, payload.kit)
            if result.score != result.max_score or result.status != "ok":
                raise WorkerCannotGrade(
                    f"worker {os.uname().nodename} (pid {os.getpid()}): "
                    f"{grade.GraderSelfCheckFailed(result, payload.kit.assignment)}")
            _READY[key] = toolkit.isolation
    return {"pid": os.getpid(), "host": os.uname().nodename, "isolation": _READY[key]}


def grade_on_worker(task: grade.Task, payload: Payload) -> grade.SubmissionResult:
    """Grade one submission on a worker (after its self-check)."""
    prepare_worker(payload)
    return grade.grade_task(task, payload.kit)


# --------------------------------------------------------------------------
# client side


def with_bytes(task: grade.Task) -> grade.Task:
    """``task`` carrying the notebook's bytes (read here, with the size cap)
    instead of where the notebook is."""
    if task.source is None:
        return task
    data, problem = task.load()
    return replace(task, data=data, problem=problem, source=None)


class DaskGrader(Executor):
    """Grade on a Dask cluster; an executor for :func:`grade.grade_submissions`.

    Parameters
    ----------
    scheduler : str or distributed.Client
        The scheduler's address (``tcp://host:8786``), or a connected client
        (not closed by :meth:`shutdown`).
    window : int, optional
        Submissions in flight at once (default: twice the cluster's threads,
        at least 4). :meth:`submit` blocks while the window is full.
    """

    def __init__(self, scheduler: Any, window: int | None = None) -> None:
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            self.client, self._own = Client(scheduler, set_as_default=False), True
        self._window = window
        self._slots = threading.Condition()
        self._in_flight = 0
        self._payloads: dict[int, tuple[grade.Kit, Any]] = {}
        self._batch = uuid.uuid4().hex[:12]
        self._count = itertools.count()
        self.workers: dict[str, dict[str, Any]] = {}

    # -- the cluster ---------------------------------------------------------

    def window(self) -> int:
        if self._window:
            return self._window
        threads = sum(self.client.nthreads().values())
        return max(MIN_WINDOW, WINDOW_PER_THREAD * threads)

    @property
    def isolation(self) -> str:
        """The workers' isolation (after :meth:`check_workers`), e.g. ``root``."""
        return ", ".join(sorted({w["isolation"] for w in self.workers.values()})) or "?"

    def _payload(self, kit: grade.Kit) -> Any:
        held = self._payloads.get(id(kit))
        if held is None or held[0] is not kit:
            payload = Payload(kit, package_digest(),
                              kit.declaration.source_notebook.read_bytes())
            future = self.client.scatter(payload, broadcast=True, hash=False)
            held = self._payloads[id(kit)] = (kit, future)
        return held[1]

    def check_workers(self, kit: grade.Kit) -> dict[str, dict[str, Any]]:
        """Run the self-check on every worker now connected (each process
        once); raise :class:`WorkerCannotGrade` if one fails or none exists."""
        payload = self._payload(kit)
        addresses = list(self.client.scheduler_info()["workers"])
        if not addresses:
            raise WorkerCannotGrade("the Dask cluster has no worker")
        futures = {a: self.client.submit(prepare_worker, payload, workers=[a],
                                         allow_other_workers=False, pure=False,
                                         key=f"autograder-check-{self._batch}-{i}")
                   for i, a in enumerate(addresses)}
        for address, future in futures.items():
            self.workers[address] = future.result()
        return self.workers

    # -- Executor ------------------------------------------------------------

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Grade ``args = (task, kit)`` on the cluster (``fn`` must be
        :func:`grade.grade_task`); blocks while the window is full."""
        if fn is not grade.grade_task or kwargs or len(args) != 2:
            raise TypeError("DaskGrader only runs grade.grade_task(task, kit)")
        task, kit = args
        if not self.workers:
            self.check_workers(kit)
        limit = self.window()
        with self._slots:
            while self._in_flight >= limit:
                self._slots.wait()
            self._in_flight += 1
        out: Future = Future()
        try:
            key = f"autograder-grade-{self._batch}-{next(self._count)}"
            dask_future = self.client.submit(grade_on_worker, with_bytes(task),
                                             self._payload(kit), key=key, pure=False,
                                             retries=RETRIES)
        except BaseException:
            self._release()
            raise
        out.set_running_or_notify_cancel()

        def done(f) -> None:
            try:
                if f.status == "finished":
                    out.set_result(f.result())
                else:
                    out.set_exception(f.exception() or RuntimeError(f"task {f.status}"))
            except BaseException as exc:
                out.set_exception(exc)
            finally:
                f.release()
                self._release()

        dask_future.add_done_callback(done)
        return out

    def _release(self) -> None:
        with self._slots:
            self._in_flight -= 1
            self._slots.notify()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._payloads.clear()
        if self._own:
            self.client.close()
