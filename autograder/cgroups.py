"""One control group per sandbox: memory, processes and CPU of the whole sandbox.

Resource limits (``setrlimit``) bound one process at a time: a student's code
escapes them with child processes, shared memory (``memfd_create``, ``/tmp``
on tmpfs) or daemons. A control group bounds everything the sandbox holds,
whatever process made it:

* memory: RAM of every process, their shared memory, memory files and tmpfs
  pages, with no swap to spill into; past the cap the kernel's OOM killer kills
  inside the group only, and :meth:`Cgroup.oom_kills` says it happened;
* processes: at most ``pids`` processes and threads;
* CPU: the same weight for every sandbox and at most one CPU each, so that
  one submission's busy children cannot starve another's;
* the end: :meth:`Cgroup.remove` kills every process left in the group
  (daemons included), then removes it.

Both cgroup versions work: the unified hierarchy (v2, ``cgroup.controllers``)
when it offers the memory, pids and cpu controllers, else the v1 hierarchies
of those controllers. Groups are made inside the grader's own group, so a
machine's limits on the grader still apply to its sandboxes. Creating them
needs root, or (v2) a delegated subtree, e.g. a systemd scope with
``Delegate=yes``. Without either, :func:`find_hierarchy` raises
:class:`CgroupError`: the grader refuses to run rather than grade without
limits it cannot enforce.
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids", "cpu")
HOW_TO = (
    "run the grader as root (cgroup v1 or v2), or on a cgroup v2 system from a delegated "
    "cgroup, e.g. `systemd-run --user --scope -p Delegate=yes .venv/bin/python -m "
    "autograder grade ...`"
)


class CgroupError(RuntimeError):
    """No control group can be made for the sandboxes on this machine."""


@dataclass(frozen=True)
class Hierarchy:
    """Where the sandboxes' groups go: the grader's own group, per controller.

    ``version`` is 1 or 2; ``bases`` maps each controller to the directory of
    the grader's group in that controller's hierarchy (one directory for all
    three in v2).
    """

    version: int
    bases: dict[str, Path]


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of cgroup file systems."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
                continue
            point = fields[4].replace("\\040", " ")
            found.append((fields[3], point, rest[0], set(rest[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """The grader's group path per hierarchy: controller list (or "") -> path."""
    groups = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                groups[parts[1]] = parts[2]
    return groups


def _join(point: str, root: str, path: str) -> Path:
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root):]
    return Path(point + "/" + path.lstrip("/")).resolve() if path.strip("/") else Path(point)


def _writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK)


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _v2(mounts, groups) -> Hierarchy | None:
    if "" not in groups:
        return None
    for root, point, fstype, _ in mounts:
        if fstype != "cgroup2":
            continue
        base = _join(point, root, groups[""])
        try:
            available = set((base / "cgroup.controllers").read_text().split())
        except OSError:
            continue
        if set(CONTROLLERS) <= available and _writable(base):
            return Hierarchy(2, {c: base for c in CONTROLLERS})
    return None


def _v1(mounts, groups) -> Hierarchy | None:
    bases = {}
    for controller in CONTROLLERS:
        for root, point, fstype, options in mounts:
            if fstype != "cgroup" or controller not in options:
                continue
            key = next((k for k in groups if controller in k.split(",")), None)
            if key is not None:
                bases[controller] = _join(point, root, groups[key])
                break
    if set(bases) != set(CONTROLLERS) or not all(map(_writable, bases.values())):
        return None
    return Hierarchy(1, bases)


_HIERARCHY: Hierarchy | None = None
_LOCK = threading.Lock()


def find_hierarchy() -> Hierarchy:
    """The hierarchy the sandboxes' groups go in (checked once per process).

    Raises
    ------
    CgroupError
        When no usable hierarchy exists, with what to do about it.
    """
    global _HIERARCHY
    with _LOCK:
        if _HIERARCHY is None:
            try:
                mounts, groups = _mounts(), _own_groups()
            except OSError as exc:
                raise CgroupError(f"cannot read the cgroups of this process ({exc}); "
                                  + HOW_TO) from None
            found = _v2(mounts, groups) or _v1(mounts, groups)
            if found is None:
                raise CgroupError(
                    "no control group can be made for the sandboxes (needed to cap the memory, "
                    "processes and CPU of each submission as a whole): " + HOW_TO)
            if found.version == 2:
                _enable_v2_controllers(found.bases["memory"])
            _remove_stale(found)
            _HIERARCHY = found
        return _HIERARCHY


def _enable_v2_controllers(base: Path) -> None:
    """Let ``base``'s children use the controllers.

    cgroup v2 allows this only in a group without processes of its own (except
    at the root): if the grader's group has some, the grader moves itself into
    a leaf ``autograder-grader-PID`` first.
    """
    wanted = " ".join("+" + c for c in CONTROLLERS)
    try:
        _write(base / "cgroup.subtree_control", wanted)
        return
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise CgroupError(f"cannot enable {wanted} in {base} ({exc}); " + HOW_TO) from None
    leaf = base / f"autograder-grader-{os.getpid()}"
    try:
        leaf.mkdir(exist_ok=True)
        _write(leaf / "cgroup.procs", str(os.getpid()))
        _write(base / "cgroup.subtree_control", wanted)
    except OSError as exc:
        raise CgroupError(f"cannot enable {wanted} in {base}: other processes share the "
                          f"grader's cgroup ({exc}); " + HOW_TO) from None


def _remove_stale(hierarchy: Hierarchy) -> None:
    """Remove the groups a grader that died (SIGKILL) left behind, killing
    what is still in them: sandboxes nobody grades any more."""
    names = {d.name for base in set(hierarchy.bases.values())
             for d in base.glob("autograder-*-*") if d.is_dir()}
    for name in sorted(names):
        owner = name.split("-")[1]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        group = Cgroup(hierarchy, name)
        if group.kill(wait=2.0):
            for d in group.dirs:
                try:
                    d.rmdir()
                except OSError:
                    pass


_COUNTER = itertools.count()
_LIVE: set[Cgroup] = set()


class Cgroup:
    """The control group of one sandbox (made by :meth:`create`)."""

    def __init__(self, hierarchy: Hierarchy, name: str) -> None:
        self.hierarchy = hierarchy
        self.name = name
        self.dirs = sorted({base / name for base in hierarchy.bases.values()})
        self.memory_dir = hierarchy.bases["memory"] / name
        self.pids_dir = hierarchy.bases["pids"] / name

    @classmethod
    def create(cls, memory_bytes: int, pids: int) -> Cgroup:
        """A new group capped at ``memory_bytes`` of memory (no swap) and
        ``pids`` processes, with an equal CPU weight and at most one CPU."""
        hierarchy = find_hierarchy()
        group = cls(hierarchy, f"autograder-{os.getpid()}-{next(_COUNTER)}")
        try:
            for d in group.dirs:
                d.mkdir()
            with _LOCK:
                _LIVE.add(group)
            if hierarchy.version == 2:
                d = group.memory_dir
                _write(d / "memory.max", str(memory_bytes))
                if (d / "memory.swap.max").exists():
                    _write(d / "memory.swap.max", "0")
                _write(d / "pids.max", str(pids))
                _write(d / "cpu.weight", "100")
                _write(d / "cpu.max", "100000 100000")
            else:
                m = group.memory_dir
                _write(m / "memory.limit_in_bytes", str(memory_bytes))
                if (m / "memory.memsw.limit_in_bytes").exists():
                    _write(m / "memory.memsw.limit_in_bytes", str(memory_bytes))
                if (m / "memory.swappiness").exists():
                    _write(m / "memory.swappiness", "0")
                _write(group.pids_dir / "pids.max", str(pids))
                c = hierarchy.bases["cpu"] / group.name
                _write(c / "cpu.shares", "1024")
                period = int((c / "cpu.cfs_period_us").read_text())
                _write(c / "cpu.cfs_quota_us", str(period))
        except OSError as exc:
            group.remove()
            raise CgroupError(f"cannot set up the cgroup {group.name} ({exc}); "
                              + HOW_TO) from None
        return group

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def _read(self, path: Path) -> str:
        try:
            return path.read_text()
        except OSError:
            return ""

    def oom_kills(self) -> int:
        """How many processes the OOM killer killed in this group."""
        name = "memory.events" if self.hierarchy.version == 2 else "memory.oom_control"
        for line in self._read(self.memory_dir / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        if self.hierarchy.version == 1:
            # Kernels before 4.13 lack the counter: a hit of the limit is the best sign.
            return int(self._read(self.memory_dir / "memory.failcnt") or 0)
        return 0

    def memory_peak(self) -> int:
        """The most memory the group held at once, in bytes (0 if unknown)."""
        name = "memory.peak" if self.hierarchy.version == 2 else "memory.max_usage_in_bytes"
        text = self._read(self.memory_dir / name).strip()
        return int(text) if text.isdigit() else 0

    def pids(self) -> list[int]:
        """Processes in the group now (in the grader's PID namespace)."""
        return sorted({int(p) for d in self.dirs
                       for p in self._read(d / "cgroup.procs").split()})

    def _unthrottle(self) -> None:
        """Lift the CPU cap: dozens of busy processes die faster with it off."""
        c = self.hierarchy.bases["cpu"] / self.name
        try:
            if self.hierarchy.version == 2:
                _write(c / "cpu.max", "max 100000")
            else:
                _write(c / "cpu.cfs_quota_us", "-1")
        except OSError:
            pass

    def kill(self, wait: float = 10.0, spare: int | None = None) -> bool:
        """Kill every process of the group but ``spare``; whether none is left.

        Sparing the process that started the others lets it reap them (a
        zombie whose parent is gone waits for the machine's init).
        """
        self._unthrottle()
        if spare is None and self.hierarchy.version == 2 \
                and (self.memory_dir / "cgroup.kill").exists():
            try:
                _write(self.memory_dir / "cgroup.kill", "1")
            except OSError:
                pass
        else:
            # No new process, then kill the ones there until none is left.
            try:
                _write(self.pids_dir / "pids.max", "0")
            except OSError:
                pass
        deadline = time.monotonic() + wait
        pause = 0.0005
        while True:
            left = [p for p in self.pids() if p != spare]
            if not left:
                return True
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if time.monotonic() > deadline:
                return False
            # A killed process is usually gone within a millisecond: look again
            # soon, then less and less often.
            time.sleep(pause)
            pause = min(2 * pause, 0.01)

    def remove(self) -> None:
        """Kill what is left in the group and remove it."""
        self.kill()
        for d in self.dirs:
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # Dying processes leave the group a moment after SIGKILL.
                    self.kill(wait=0.1)
                    time.sleep(0.01)
        with _LOCK:
            _LIVE.discard(self)


@atexit.register
def _remove_all() -> None:
    for group in list(_LIVE):
        group.remove()
