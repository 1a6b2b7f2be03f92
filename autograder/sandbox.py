"""Grader side of the sandbox: start a locked-down child, talk to it, kill it.

Isolation modes (:attr:`Toolkit.isolation`):

``"root"``
    The grader runs as root: the child starts under ``unshare`` in new mount,
    PID, network and IPC namespaces, chroots into a root filesystem that holds
    only the system directories and the Python installation (read-only), and
    runs as ``nobody``. It cannot see or write the course, the reference
    solutions, the submissions or the output; it has no network; it cannot
    signal any process outside its namespace.
``"userns"``
    The grader is not root but unprivileged user namespaces are available:
    the same jail, then the child drops every capability.
``"none"``
    Neither works: a plain child process with resource limits only, in an
    empty working directory, with ``nobody``'s identity when the grader is
    root. The student's code could then read files the grader can read; the
    grader still never runs student code in its own process, so the verdict
    cannot be faked, but a submission could copy a reference answer it
    finds on disk. The grader warns when it falls back to this mode.

``"auto"`` (the default) picks the first of these that works.

In every mode the child has a wall-clock timeout per request, a memory cap
(``RLIMIT_AS``), a CPU-time cap, no core dumps, and a minimal environment;
the whole process tree is killed when the submission is done.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _driver

PACKAGE = Path(__file__).resolve().parent
DRIVER = PACKAGE / "_driver.py"
CHECKS = PACKAGE / "checks.py"
NOBODY = 65534
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
MODES = ("auto", "root", "userns", "none")


def _wait(fd: int, event: int, seconds: float) -> bool:
    """Whether ``fd`` becomes ready (or hangs up) within ``seconds``.

    ``poll`` rather than ``select``: a busy grader may hold descriptors
    above ``select``'s limit of 1024.
    """
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(max(0, int(seconds * 1000))))


class SandboxError(RuntimeError):
    """The child could not be started (a problem of the grading machine)."""


@dataclass
class Outcome:
    """What one request to the child gave.

    ``kind`` is ``ok``, ``error`` (the student's code raised; ``etype``,
    ``message``, ``traceback``), ``bad_result`` (the return value is not what
    the contract says; ``message``), ``timeout``, or ``died`` (the child
    exited or was killed; ``message`` says how).
    """

    kind: str
    message: str = ""
    etype: str = ""
    traceback: str = ""
    arrays: list[np.ndarray] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Toolkit:
    """Everything a child needs, prepared once per grading run (per worker)."""

    isolation: str
    memory_mb: int
    directory: Path
    mpl_cache: list[str]

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _is_root() -> bool:
    return os.geteuid() == 0


def _world_accessible(path: str) -> bool:
    """Whether any user can reach ``path`` (every directory above it is o+x)."""
    current = Path(path).resolve()
    for directory in [current, *current.parents]:
        try:
            if not directory.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _python_dirs() -> list[str]:
    """Directories the child's Python needs: its prefixes and executable."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(d for d in dirs if d)


def _build_mpl_cache(directory: Path) -> list[str]:
    """Matplotlib's font cache, built once, so that a child importing pyplot
    does not spend seconds rebuilding it."""
    cache = directory / "mpl"
    cache.mkdir()
    env = _child_env(str(cache))
    try:
        subprocess.run(
            [sys.executable, "-I", "-c", "import matplotlib.font_manager"],
            env=env, cwd=directory, timeout=120, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except (subprocess.SubprocessError, OSError):
        return []
    return sorted(str(p) for p in cache.glob("*.json"))


def _child_env(mpl_dir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.path.dirname(mpl_dir),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": mpl_dir,
        # One thread each: the workers already use the cores in parallel.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def make_toolkit(isolation: str = "auto", memory_mb: int = 2048) -> Toolkit:
    """Prepare the children's files and find which isolation works here."""
    if isolation not in MODES:
        raise ValueError(f"isolation must be one of {MODES}, got {isolation!r}")
    directory = Path(tempfile.mkdtemp(prefix="autograder-"))
    directory.chmod(0o755)
    (directory / "jail").mkdir(mode=0o755)
    kit = Toolkit("none", memory_mb, directory, _build_mpl_cache(directory))
    atexit.register(kit.cleanup)
    if isolation == "auto":
        candidates = ["root", "userns", "none"] if _is_root() else ["userns", "none"]
    else:
        candidates = [isolation]
    errors = []
    for mode in candidates:
        kit.isolation = mode
        child = Child(kit, timeout=60.0, cpu_s=60)
        try:
            child.start()
            return kit
        except SandboxError as exc:
            errors.append(f"{mode}: {exc}")
        finally:
            child.kill()
    kit.cleanup()
    raise SandboxError("no sandbox works on this machine: " + "; ".join(errors))


class Child:
    """One sandboxed Python process running :mod:`autograder._driver`."""

    def __init__(self, kit: Toolkit, *, timeout: float, cpu_s: float) -> None:
        self.kit = kit
        self.timeout = timeout
        self.cpu_s = cpu_s
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.info: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------

    def _command(self, cfg: dict[str, Any]) -> list[str]:
        python = [sys.executable, "-I", str(DRIVER), json.dumps(cfg)]
        if self.kit.isolation == "root":
            return [UNSHARE, "--mount", "--pid", "--net", "--ipc", "--fork",
                    "--kill-child=SIGKILL", *python]
        if self.kit.isolation == "userns":
            return [UNSHARE, "--user", "--map-root-user", "--mount", "--pid", "--net",
                    "--ipc", "--fork", "--kill-child=SIGKILL", *python]
        return python

    def start(self) -> None:
        """Start the child and wait until it is ready for requests."""
        jailed = self.kit.isolation in ("root", "userns")
        # Outside the jail, nobody must still be able to read Python's files.
        drop_uid = _is_root() and (
            self.kit.isolation == "root"
            or (self.kit.isolation == "none" and all(map(_world_accessible, _python_dirs())))
        )
        if jailed:
            mpl_dir = "/tmp/.mpl"
        else:
            self.workdir = tempfile.mkdtemp(prefix="autograder-child-")
            if drop_uid:
                os.chown(self.workdir, NOBODY, NOBODY)
            mpl_dir = os.path.join(self.workdir, ".mpl")
        cfg = {
            "checks": str(CHECKS),
            "jail": str(self.kit.directory / "jail") if jailed else "",
            "workdir": self.workdir or "",
            "keep": _python_dirs(),
            "tmp_mb": 256,
            "memory_mb": self.kit.memory_mb,
            "cpu_s": max(1, int(self.cpu_s)),
            "uid": NOBODY if drop_uid else None,
            "gid": NOBODY if drop_uid else None,
            "nproc": 64,
            "mpl_cache": self.kit.mpl_cache,
        }
        try:
            self.proc = subprocess.Popen(
                self._command(cfg), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=_child_env(mpl_dir),
                cwd=self.workdir or str(self.kit.directory),
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the child: {exc}") from None
        reply = self._receive(time.monotonic() + 60.0)
        if reply.kind != "ok":
            self.kill()
            raise SandboxError(f"child did not start ({reply.kind}: {reply.message})")
        self.info = reply.info

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the child and everything it started."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- requests ----------------------------------------------------------

    def execute(self, label: str, source: str, timeout: float) -> Outcome:
        """Run one cell of student code."""
        return self._request({"op": "exec", "label": label, "source": source}, [], timeout)

    def call(self, function: str, args: list[np.ndarray], kwargs: dict[str, Any],
             timeout: float) -> Outcome:
        """Call a student's function with plain arrays; get plain arrays back."""
        return self._request({"op": "call", "function": function, "kwargs": kwargs},
                             args, timeout)

    def _request(self, header: dict[str, Any], arrays: list[np.ndarray],
                 timeout: float) -> Outcome:
        if not self.alive:
            return self._died()
        deadline = time.monotonic() + timeout
        try:
            self._send(_driver.encode(header, arrays), deadline)
        except TimeoutError:
            self.kill()
            return Outcome("timeout")
        except (BrokenPipeError, ConnectionError, OSError):
            return self._died()
        return self._receive(deadline)

    def _send(self, data: bytes, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        os.set_blocking(fd, False)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if _wait(fd, select.POLLOUT, left):
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        chunks = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not _wait(fd, select.POLLIN, left):
                continue
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _frame(self, limit: int, deadline: float) -> bytes | None:
        head = self._read_exact(_driver.LENGTH.size, deadline)
        if head is None:
            return None
        (n,) = _driver.LENGTH.unpack(head)
        if n > limit:
            raise ValueError(f"the child sent a frame of {n} bytes")
        return self._read_exact(n, deadline)

    def _receive(self, deadline: float) -> Outcome:
        try:
            raw = self._frame(_driver.MAX_HEADER, deadline)
            if raw is None:
                return self._died()
            header = json.loads(raw)
            if not isinstance(header, dict):
                raise ValueError("header is not an object")
            n_arrays = header.get("arrays", 0)
            if not isinstance(n_arrays, int) or not 0 <= n_arrays <= 8:
                raise ValueError("bad number of arrays")
            arrays = []
            for _ in range(n_arrays):
                data = self._frame(_driver.MAX_ARRAY, deadline)
                if data is None:
                    return self._died()
                arrays.append(_driver.decode_array(data))
        except TimeoutError:
            self.kill()
            return Outcome("timeout")
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            # Garbage on the channel: only the student's code can have sent it.
            self.kill()
            return Outcome("died", message=f"protocol error ({exc})")
        status = header.get("status")
        text = {k: str(header.get(k, ""))[: _driver.TEXT_LIMIT + 100]
                for k in ("message", "type", "traceback")}
        if status == "ready":
            return Outcome("ok", info={k: header.get(k) for k in ("uid", "jail")})
        if status == "ok":
            return Outcome("ok", arrays=arrays)
        if status == "error":
            return Outcome("error", message=text["message"], etype=text["type"],
                           traceback=text["traceback"])
        if status == "bad_result":
            return Outcome("bad_result", message=text["message"])
        if status == "setup_error":
            self.kill()
            return Outcome("died", message=f"sandbox setup failed: {text['message']}")
        self.kill()
        return Outcome("died", message="protocol error (unknown reply)")

    def _died(self) -> Outcome:
        proc = self.proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        self.kill()
        if code is None:
            return Outcome("died", message="the process died")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if name == "SIGXCPU":
                return Outcome("died", message="CPU time limit exceeded")
            return Outcome("died", message=f"killed by {name}")
        return Outcome("died", message=f"exit code {code}")
