"""Grader side of the sandbox: start a locked-down child, talk to it, kill it.

Isolation modes (:attr:`Toolkit.isolation`):

``"root"``
    The grader runs as root: the child starts under ``unshare`` in new mount,
    PID, network and IPC namespaces, chroots into a root filesystem that holds
    only the system directories, the Python installation (read-only, at the
    paths the child's ``sys.path`` names, symlinks included), a generated
    ``/etc`` and a private ``/tmp``, and runs as a user id of its own (fresh for
    every sandbox, never used twice by a grading process). It cannot see or
    write the course, the reference solutions, the submissions or the output;
    it has no network; it cannot signal any process outside its namespace.
``"userns"``
    The grader is not root but unprivileged user namespaces are available:
    the same jail inside a user namespace of its own (so its process count
    and keyrings are its own), then the child drops every capability. (As
    root, use ``root``: this mode is refused.)
``"none"``
    Only when asked for explicitly: a plain child process in an empty working
    directory. The student's code could then read every file its user can
    read. When the grader is root, that user is a fresh unprivileged user id
    (student code never runs as uid 0); if that user cannot read the Python
    installation, the mode is refused.

``"auto"`` (the default) picks ``root`` when the grader is root, else
``userns``; if that does not work it stops with a message saying how to
enable it. It never falls back to ``none``.

In every mode the child's whole process tree sits in a control group of its
own (:mod:`autograder.cgroups`) that caps its memory (shared memory, memory
files and children included), its number of processes and its CPU share, and
is killed and removed when the submission is done; the grader refuses to run
where no such group can be made. Each process also has a memory cap
(``RLIMIT_AS``, so that a big allocation fails with ``MemoryError`` rather
than a kill), a CPU-time cap, no core dumps, a new session keyring and a
minimal environment. Each reply of the child is read only up to a size
bound given by the caller (see :meth:`Child.call`): a longer or malformed
reply stops the child and fails that request only.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _driver, cgroups

PACKAGE = Path(__file__).resolve().parent
DRIVER = PACKAGE / "_driver.py"
CHECKS = PACKAGE / "checks.py"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
MODES = ("auto", "root", "userns", "none")
#: Processes (and threads) a sandbox may hold at once.
NPROC = 64
#: Size of the sandbox's private /tmp, in MiB (its pages count in the memory cap).
TMP_MB = 256
#: A call's reply may hold this much more than ``REPLY_FACTOR`` times its input.
REPLY_SLACK = 1 << 20
REPLY_FACTOR = 64
#: Exit code of the launcher when it cannot put the child in its cgroup.
JOIN_FAILED = 97
# Join the cgroup(s) named by the first arguments, then exec the rest: the
# child is in its group before any of its code runs.
JOIN = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit '
        f'{JOIN_FAILED}; shift; n=$((n-1)); done; exec "$@"')
HOW_TO_ISOLATE = (
    "run the grader as root, or enable unprivileged user namespaces "
    "(sysctl user.max_user_namespaces=15000; on Debian kernels also "
    "kernel.unprivileged_userns_clone=1; on Ubuntu 23.10 and later also "
    "kernel.apparmor_restrict_unprivileged_userns=0)"
)


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


class MalformedReply(ValueError):
    """The child's reply broke the protocol or its size bound."""


@dataclass
class Outcome:
    """What one request to the child gave.

    ``kind`` is ``ok``, ``error`` (the student's code raised; ``etype``,
    ``message``, ``traceback``), ``bad_result`` (the return value is not what
    the contract says; ``message``), ``timeout``, or ``died`` (the child
    exited, was killed, or sent a malformed reply and was stopped;
    ``message`` says which).
    """

    kind: str
    message: str = ""
    etype: str = ""
    traceback: str = ""
    arrays: list[np.ndarray] = field(default_factory=list)


@dataclass
class Toolkit:
    """Everything a child needs, prepared once per grading run (per worker).

    ``template`` is the fork server of :class:`Template` (``root`` isolation),
    or None: each child is then a fresh interpreter.
    """

    isolation: str
    memory_mb: int
    directory: Path
    mpl_cache: list[str]
    template: Template | None = None

    def cleanup(self) -> None:
        if self.template is not None:
            self.template.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class Template:
    """A fork server: a Python process that has imported numpy, scipy and
    matplotlib (:data:`autograder._driver.PRELOAD`) and forks one sandbox per
    submission; it never runs student code (see
    :func:`autograder._driver.from_template`).

    Each fork joins the submission's fresh cgroup first, then enters new
    mount, PID, network and IPC namespaces and forks the sandboxed process,
    which builds its jail, sets its limits and takes its fresh user id
    exactly as a freshly started child does. The template is single-threaded
    (one BLAS thread) whenever it forks; requests are serialised by a lock.
    """

    def __init__(self, kit: Toolkit) -> None:
        import socket

        self._lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cfg = {"template": True, "checks": str(CHECKS), "mpl_cache": kit.mpl_cache}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(DRIVER), json.dumps(cfg)], stdin=theirs,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=_child_env(str(kit.directory / "mpl")), cwd=str(kit.directory),
                start_new_session=True)
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start the template: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        ready = self._reply(120.0)
        if not ready.get("ready"):
            self.close()
            raise SandboxError(f"the template did not start: {ready.get('error', ready)}")

    def _reply(self, seconds: float) -> dict[str, Any]:
        if not _wait(self.sock.fileno(), select.POLLIN, seconds):
            return {"error": "no reply"}
        data = self.sock.recv(1 << 16)
        if not data:
            return {"error": "the template exited"}
        return json.loads(data)

    def fork(self, cfg: dict[str, Any], fds: list[int]) -> int:
        """Start a sandbox: the pid of its supervisor."""
        import socket

        with self._lock:
            if self.proc.poll() is not None:
                raise SandboxError("the template exited")
            try:
                socket.send_fds(self.sock, [json.dumps(cfg).encode()], fds)
            except OSError as exc:
                raise SandboxError(f"the template cannot be reached: {exc}") from None
            reply = self._reply(30.0)
        if "pid" not in reply:
            raise SandboxError(f"the template could not fork: {reply.get('error', reply)}")
        return int(reply["pid"])

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class _Forked:
    """What :class:`Child` needs of a :class:`subprocess.Popen`, for a
    sandbox forked by the template: its pipes, its supervisor's pid and the
    exit status the supervisor reports on the status pipe (killed by
    ``SIGKILL`` if the supervisor itself was killed)."""

    def __init__(self, pid: int, stdin: int, stdout: int, status: int) -> None:
        self.pid = pid
        self.stdin = os.fdopen(stdin, "wb", buffering=0)
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self._status = status
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._status >= 0 and _wait(self._status, select.POLLIN, 0):
            data = os.read(self._status, _driver.STATUS.size)
            if len(data) == _driver.STATUS.size:
                self.returncode = os.waitstatus_to_exitcode(_driver.STATUS.unpack(data)[0])
            else:
                self.returncode = -signal.SIGKILL
            os.close(self._status)
            self._status = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (60.0 if timeout is None else timeout)
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired("sandbox", timeout)
            _wait(self._status, select.POLLIN, left)
        return self.returncode

    def close(self) -> None:
        if self._status >= 0:
            os.close(self._status)
            self._status = -1


def _is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------
# user ids: one per sandbox

_UID_LOCK = threading.Lock()
_UID_FIRST = 1 << 31
_UID_SPAN = (1 << 32) - (1 << 24) - _UID_FIRST
_uid_next: int | None = None


def new_uid() -> int:
    """A user id for one sandbox, never handed out twice by this process.

    The ids are consecutive from a random start in [2³¹, 2³² − 2²⁴), far above
    any real account: processes, the per-user process limit and the user
    keyring are then private to the sandbox, and a later grading run starts
    elsewhere, so what a submission leaves in its user keyring reaches no
    later one. (Two grading processes on one machine overlap only if their
    random starts fall within the number of sandboxes of each other.)
    """
    global _uid_next
    with _UID_LOCK:
        if _uid_next is None:
            _uid_next = _UID_FIRST + secrets.randbelow(_UID_SPAN)
        uid = _uid_next
        _uid_next += 1
        return uid


# --------------------------------------------------------------------------
# the Python installation


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
    """Directories the child's Python needs, as the child names them.

    Not resolved: the child's ``sys.path`` is computed from the unresolved
    path of the executable (a symlinked venv, home or checkout), so the jail
    must offer the installation at these paths as well as at the real ones.
    """
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


def make_toolkit(isolation: str = "auto", memory_mb: int = 2048,
                 fork: bool | None = None) -> Toolkit:
    """Prepare the children's files and check that ``isolation`` works here.

    ``fork``: start each child from a :class:`Template` (default: in ``root``
    isolation, unless ``$AUTOGRADER_FORK_SERVER`` is ``0``) rather than as a
    fresh interpreter.

    Raises
    ------
    SandboxError
        When the sandbox cannot be made as asked (no control group, no
        namespaces, or ``none`` as root with a Python installation an
        unprivileged user cannot read), with what to do about it.
    """
    if isolation not in MODES:
        raise ValueError(f"isolation must be one of {MODES}, got {isolation!r}")
    try:
        cgroups.find_hierarchy()
    except cgroups.CgroupError as exc:
        raise SandboxError(str(exc)) from None
    if isolation == "auto":
        mode = "root" if _is_root() else "userns"
    else:
        mode = isolation
    if mode == "root" and not _is_root():
        raise SandboxError("isolation 'root' needs the grader to run as root")
    if mode == "userns" and _is_root():
        # Its student code would be the host's uid 0 (without capabilities).
        raise SandboxError("isolation 'userns' is for a grader that is not root; "
                           "as root, use --isolation root (or auto)")
    if mode == "none" and _is_root():
        hidden = [d for d in _python_dirs() if not _world_accessible(d)]
        if hidden:
            raise SandboxError(
                "isolation 'none' as root runs the student's code as an unprivileged user id, "
                f"which cannot read the Python installation ({', '.join(hidden)} is not "
                "readable by other users); use --isolation root, or a Python installation "
                "every user can read")
    directory = Path(tempfile.mkdtemp(prefix="autograder-"))
    directory.chmod(0o755)
    (directory / "jail").mkdir(mode=0o755)
    kit = Toolkit(mode, memory_mb, directory, _build_mpl_cache(directory))
    atexit.register(kit.cleanup)
    if fork is None:
        fork = mode == "root" and os.environ.get("AUTOGRADER_FORK_SERVER", "1") != "0"
    if fork:
        if mode != "root":
            kit.cleanup()
            raise SandboxError("the fork server needs isolation 'root'")
        try:
            kit.template = Template(kit)
        except SandboxError:
            kit.cleanup()
            raise
    child = Child(kit, timeout=60.0, cpu_s=60)
    try:
        child.start()
    except SandboxError as exc:
        kit.cleanup()
        hint = f"; to enable a sandbox: {HOW_TO_ISOLATE}" if isolation == "auto" else ""
        raise SandboxError(f"the sandbox (isolation {mode!r}) does not work on this "
                           f"machine: {exc}{hint}") from None
    finally:
        child.kill()
    return kit


def reply_cap(args: list[np.ndarray]) -> int:
    """Default bound on the bytes of a call's reply: ``REPLY_FACTOR`` times
    the input's bytes plus ``REPLY_SLACK`` (each graded result is at most
    a few times its input; callers that know the result's shape pass a
    tighter bound)."""
    size = sum(np.asarray(a).nbytes for a in args)
    return REPLY_SLACK + REPLY_FACTOR * size


class Child:
    """One sandboxed Python process running :mod:`autograder._driver`.

    After :meth:`start`, ``uid`` is the user id of the student's code and
    ``cgroup`` the control group of the whole sandbox.
    """

    def __init__(self, kit: Toolkit, *, timeout: float, cpu_s: float) -> None:
        self.kit = kit
        self.timeout = timeout
        self.cpu_s = cpu_s
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.cgroup: cgroups.Cgroup | None = None
        self.uid: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def _command(self, cfg: dict[str, Any]) -> list[str]:
        python = [sys.executable, "-I", str(DRIVER), json.dumps(cfg)]
        files = self.cgroup.procs_files
        join = ["/bin/sh", "-c", JOIN, "sh", str(len(files)), *files]
        if self.kit.isolation == "root":
            return [*join, UNSHARE, "--mount", "--pid", "--net", "--ipc", "--fork",
                    "--kill-child=SIGKILL", *python]
        if self.kit.isolation == "userns":
            return [*join, UNSHARE, "--user", "--map-root-user", "--mount", "--pid", "--net",
                    "--ipc", "--fork", "--kill-child=SIGKILL", *python]
        return [*join, *python]

    def start(self) -> None:
        """Start the child and wait until it is ready for requests."""
        jailed = self.kit.isolation in ("root", "userns")
        # As root, the student's code runs as a user id of its own, in every mode.
        self.uid = new_uid() if _is_root() else None
        if jailed:
            mpl_dir = "/tmp/.mpl"
        else:
            self.workdir = tempfile.mkdtemp(prefix="autograder-child-")
            if self.uid is not None:
                os.chown(self.workdir, self.uid, self.uid)
            mpl_dir = os.path.join(self.workdir, ".mpl")
        try:
            self.cgroup = cgroups.Cgroup.create(self.kit.memory_mb << 20, NPROC)
        except cgroups.CgroupError as exc:
            self.kill()
            raise SandboxError(str(exc)) from None
        cfg = {
            "checks": str(CHECKS),
            "jail": str(self.kit.directory / "jail") if jailed else "",
            "workdir": self.workdir or "",
            "keep": _python_dirs(),
            "tmp_mb": TMP_MB,
            "memory_mb": self.kit.memory_mb,
            "cpu_s": max(1, int(self.cpu_s)),
            "uid": self.uid,
            "gid": self.uid,
            "nproc": NPROC,
            "mpl_cache": self.kit.mpl_cache,
        }
        try:
            if self.kit.template is not None:
                self.proc = self._fork(cfg, _child_env(mpl_dir))
            else:
                self.proc = subprocess.Popen(
                    self._command(cfg), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, env=_child_env(mpl_dir),
                    cwd=self.workdir or str(self.kit.directory),
                    start_new_session=True,
                )
        except (OSError, SandboxError) as exc:
            self.kill()
            raise SandboxError(f"cannot start the child: {exc}") from None
        reply = self._receive(time.monotonic() + 60.0, 0, 0)
        if reply.kind != "ok":
            self.kill()
            if reply.message == f"exit code {JOIN_FAILED}":
                raise SandboxError("the child could not join its cgroup")
            raise SandboxError(f"child did not start ({reply.kind}: {reply.message})")

    def _fork(self, cfg: dict[str, Any], env: dict[str, str]) -> _Forked:
        """The child, forked by the template (see :class:`Template`)."""
        cfg = dict(cfg, procs=self.cgroup.procs_files, env=env)
        pipes = [os.pipe() for _ in range(3)]  # its input, its output, its status
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        try:
            pid = self.kit.template.fork(cfg, theirs)
        except BaseException:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            raise
        for fd in theirs:
            os.close(fd)
        return _Forked(pid, pipes[0][1], pipes[1][0], pipes[2][0])

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the child and everything it started; remove its cgroup."""
        proc, self.proc = self.proc, None
        group, self.cgroup = self.cgroup, None
        if proc is not None and group is not None \
                and self.kit.isolation in ("root", "userns"):
            # Everything but the launcher (unshare) first: the driver, as the
            # PID namespace's init, reaps the rest when it dies, and the
            # launcher reaps the driver and exits. Killing the launcher first
            # would leave the driver a zombie for the machine's init.
            group.kill(wait=10.0, spare=proc.pid)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            if proc.returncode is None:
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
            if isinstance(proc, _Forked):
                proc.close()
        if group is not None:
            # Daemons (setsid, double fork) left the process group: the
            # cgroup still holds them.
            group.remove()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- requests ----------------------------------------------------------

    def execute(self, label: str, source: str, timeout: float) -> Outcome:
        """Run one cell of student code (its reply holds no array)."""
        return self._request({"op": "exec", "label": label, "source": source}, [], timeout,
                             max_arrays=0, max_bytes=0)

    def call(self, function: str, args: list[np.ndarray], kwargs: dict[str, Any],
             timeout: float, max_bytes: int | None = None) -> Outcome:
        """Call a student's function with plain arrays; get plain arrays back.

        ``max_bytes`` bounds the arrays of the reply (their ``.npy`` bytes, all
        together; default :func:`reply_cap` of ``args``). A longer reply is
        not read: the child is stopped and the outcome is ``died`` with a
        message saying "malformed reply".
        """
        bound = reply_cap(args) if max_bytes is None else int(max_bytes)
        return self._request({"op": "call", "function": function, "kwargs": kwargs,
                              "max_bytes": bound}, args, timeout,
                             max_arrays=_driver.MAX_ARRAYS, max_bytes=bound)

    def _request(self, header: dict[str, Any], arrays: list[np.ndarray], timeout: float,
                 *, max_arrays: int, max_bytes: int) -> Outcome:
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
        return self._receive(deadline, max_arrays, max_bytes)

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

    def _frame(self, limit: int, deadline: float, what: str) -> bytes | None:
        """One frame, refused unread if its length is above ``limit``."""
        head = self._read_exact(_driver.LENGTH.size, deadline)
        if head is None:
            return None
        (n,) = _driver.LENGTH.unpack(head)
        if n > limit:
            raise MalformedReply(f"{what} of {n} bytes, more than the {limit} allowed")
        return self._read_exact(n, deadline)

    def _receive(self, deadline: float, max_arrays: int, max_bytes: int) -> Outcome:
        try:
            raw = self._frame(_driver.MAX_HEADER, deadline, "a header")
            if raw is None:
                return self._died()
            header = json.loads(raw)
            if not isinstance(header, dict):
                raise MalformedReply("the header is not an object")
            n_arrays = header.get("arrays", 0)
            if not isinstance(n_arrays, int) or not 0 <= n_arrays <= max_arrays:
                raise MalformedReply(f"{n_arrays!r} arrays, at most {max_arrays} allowed")
            arrays, left = [], max_bytes
            for _ in range(n_arrays):
                data = self._frame(left, deadline, "an array")
                if data is None:
                    return self._died()
                left -= len(data)
                arrays.append(_driver.decode_array(data))
        except TimeoutError:
            self.kill()
            return Outcome("timeout")
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            # Garbage on the channel: only the student's code can have sent it.
            self.kill()
            return Outcome("died", message=f"malformed reply (protocol error: {exc})")
        status = header.get("status")
        text = {k: str(header.get(k, ""))[: _driver.TEXT_LIMIT + 100]
                for k in ("message", "type", "traceback")}
        if status in ("ready", "ok"):
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
        return Outcome("died", message="malformed reply (protocol error: unknown status)")

    def _died(self) -> Outcome:
        proc = self.proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        oom = self.cgroup is not None and self.cgroup.oom_kills() > 0
        self.kill()
        if oom:
            return Outcome("died", message=f"memory limit exceeded: the sandbox's "
                                           f"{self.kit.memory_mb} MiB")
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
