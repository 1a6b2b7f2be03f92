"""Hostile tests of the sandbox: what one submission can do to the grader, to
another submission, to the machine; and the grader's refusal to grade wrong.

Each test states its exact expected outcome. The memory caps are small
(512 MiB) so that the tests fit a small machine. They need what the grader
needs: root or unprivileged user namespaces, and a cgroup the grader can
create (as root here and in CI).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import __main__ as cli
from autograder import cgroups, collect, grade, sandbox

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "autograder" / "source" / "poisson_mixture" / "poisson_mixture.ipynb"
MEMORY_MB = 512
GRADE_IDS = ("test_log_pmf_basic", "test_log_pmf_extreme", "test_e_step_basic",
             "test_e_step_extreme", "test_m_step_basic", "test_m_step_edge",
             "test_log_likelihood_basic", "test_log_likelihood_extreme",
             "test_em_hasselblad", "test_em_random")


@pytest.fixture(scope="module")
def toolkit():
    return grade.get_toolkit(grade.GradeConfig(memory_mb=MEMORY_MB))


def _child(toolkit, timeout=20.0):
    child = sandbox.Child(toolkit, timeout=timeout, cpu_s=120)
    child.start()
    return child


def _ask(child, source, timeout=20.0):
    """Run ``source``, which sets ``answer`` (a list of numbers); return it."""
    fn = "def log_poisson_pmf(x, lam):\n    return np.array(answer, dtype=float)\n"
    out = child.execute("probe", "import numpy as np\n" + source + "\n" + fn, timeout)
    assert out.kind == "ok", out
    reply = child.call("log_poisson_pmf", [np.arange(1), np.ones(1)], {}, timeout)
    assert reply.kind == "ok", reply
    return reply.arrays[0].tolist()


def _uid_processes(uid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("Uid:") and int(line.split()[1]) == uid:
                    found.append(int(proc.name))
        except (OSError, ValueError):
            pass
    return found


def _rss_kib(field: str = "VmHWM") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")


def _notebook(**cells: str) -> bytes:
    """The instructor's notebook with the named cells' sources replaced."""
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in cells:
            cell["source"] = cells[gid]
    return json.dumps(nb).encode()


def _source_cell(grade_id: str) -> str:
    nb = json.loads(SOURCE.read_text())
    return next("".join(c["source"]) for c in nb["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


# --------------------------------------------------------------------------
# memory: the sandbox as a whole


def test_memory_files_beyond_the_cap_are_a_memory_limit(toolkit):
    """2.5 GiB of memfd passed a 2 GiB RLIMIT_AS; the cgroup counts them."""
    child = _child(toolkit)
    group = child.cgroup
    try:
        # Files of 32 MiB each, under the file-size limit (RLIMIT_FSIZE).
        hog = ("import os\nchunk = b'x' * (1 << 20)\nfds = []\n"
               f"for _ in range({(MEMORY_MB + 128) // 32}):\n"
               "    fds.append(os.memfd_create('hog'))\n"
               "    for _ in range(32):\n"
               "        os.write(fds[-1], chunk)\n")
        out = child.execute("cell 1", hog, 30)
        assert (out.kind, out.message) == (
            "died", f"memory limit exceeded: the sandbox's {MEMORY_MB} MiB")
        assert not child.alive
    finally:
        child.kill()
    assert not any(d.exists() for d in group.dirs)


def test_children_share_the_memory_cap(toolkit):
    """Three children of 300 MiB each, every one under its own RLIMIT_AS, do not
    fit in one 512 MiB sandbox: the OOM killer kills at least one of them."""
    child = _child(toolkit)
    group = child.cgroup
    try:
        source = (
            "import os, time\n"
            "pids = []\n"
            "for _ in range(3):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        block = b'\\x01' * (300 << 20)\n"
            "        time.sleep(3)\n"
            "        os._exit(0)\n"
            "    pids.append(pid)\n"
            "answer = [os.waitpid(p, 0)[1] for p in pids]\n"
        )
        statuses = _ask(child, source, timeout=30)
        assert group.oom_kills() >= 1
        assert group.memory_peak() <= MEMORY_MB << 20
    finally:
        child.kill()
    killed = [s for s in statuses if os.WIFSIGNALED(int(s)) and os.WTERMSIG(int(s)) == 9]
    assert 1 <= len(killed) <= 3, statuses


# --------------------------------------------------------------------------
# processes: a per-sandbox limit, all killed at the end


def test_fork_bomb_is_limited_and_every_process_killed_at_the_end(toolkit):
    child = _child(toolkit)
    uid, group = child.uid, child.cgroup
    try:
        source = (
            "import os\n"
            "started, error = 0, ''\n"
            "for _ in range(200):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError as exc:\n"
            "        error = type(exc).__name__\n"
            "        break\n"
            "    if pid == 0:\n"
            "        os.setsid()\n"
            "        while True:\n"
            "            pass\n"
            "    started += 1\n"
            "answer = [started, error == 'BlockingIOError']\n"
        )
        # Each fork of the (preloaded) interpreter competes with the spinning
        # children for the sandbox's one CPU: generous time on a loaded machine.
        started, refused = _ask(child, source, timeout=120)
        assert refused == 1.0
        assert 1 <= started < sandbox.NPROC
        if uid is not None:
            assert len(_uid_processes(uid)) == started + 1
    finally:
        child.kill()
    if uid is not None:
        left = _uid_processes(uid)
        assert left == [], [(Path(f"/proc/{p}/status").read_text()) for p in left]
    assert not any(d.exists() for d in group.dirs)


def test_a_cgroup_is_emptied_and_removed_even_with_processes_outside_the_tree():
    """The cgroup alone (no PID namespace): a setsid daemon is killed too."""
    group = cgroups.Cgroup.create(64 << 20, 8)
    daemon = subprocess.Popen(
        ["/bin/sh", "-c", f"echo $$ > {group.procs_files[0]}; "
         + "; ".join(f"echo $$ > {f}" for f in group.procs_files[1:])
         + "; exec setsid sleep 600"])
    deadline = time.monotonic() + 10
    while not group.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group.pids() == [daemon.pid]
    group.remove()
    assert daemon.wait(timeout=10) == -9
    assert not any(d.exists() for d in group.dirs)


# --------------------------------------------------------------------------
# one uid, one keyring, one /tmp, one network per sandbox


def test_concurrent_sandboxes_get_different_unprivileged_uids(toolkit):
    first, second = _child(toolkit), _child(toolkit)
    try:
        seen = [_ask(c, "import os\nanswer = [os.getuid(), os.geteuid()]")
                for c in (first, second)]
    finally:
        first.kill()
        second.kill()
    if os.geteuid() == 0:
        assert seen == [[first.uid] * 2, [second.uid] * 2]
        assert first.uid != second.uid and min(first.uid, second.uid) >= 1 << 31
    else:  # userns: root of a user namespace of its own, without capabilities
        assert seen == [[0, 0], [0, 0]]


KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}  # add_key, keyctl


def _keys_source(action: str) -> str:
    add_key, keyctl = KEYCTL[platform.machine()]
    return f"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SESSION, USER = -3, -4

def add(keyring):
    return libc.syscall({add_key}, b"user", b"autograder-msg", b"secret", 6,
                        ctypes.c_int(keyring)) > 0

def found(keyring):
    return libc.syscall({keyctl}, 10, ctypes.c_int(keyring), b"user", b"autograder-msg", 0) > 0

if {action == "write"!r}:
    with open("/tmp/autograder-msg", "w") as f:
        f.write("secret")
    try:
        open("/dev/shm/autograder-msg", "w")
        shm = 1
    except FileNotFoundError:
        shm = 0
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(b"\\0autograder-msg")
    server.listen()
    answer = [add(SESSION), add(USER), found(SESSION), found(USER),
              os.path.exists("/tmp/autograder-msg"), shm]
else:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(b"\\0autograder-msg")
        sock = 1
    except OSError:
        sock = 0
    answer = [found(SESSION), found(USER), os.path.exists("/tmp/autograder-msg"),
              os.path.exists("/dev/shm/autograder-msg"), sock]
"""


@pytest.mark.skipif(platform.machine() not in KEYCTL, reason="keyctl numbers of x86_64/aarch64")
def test_no_message_passes_between_submissions(toolkit):
    """Keyrings (session and user), /tmp, /dev/shm, abstract unix sockets: what
    one sandbox leaves there, a concurrent one and a later one do not see."""
    writer = _child(toolkit)
    try:
        # It could write everywhere it tried but /dev/shm, which does not exist.
        assert _ask(writer, _keys_source("write")) == [1, 1, 1, 1, 1, 0]
        concurrent = _child(toolkit)
        try:
            assert _ask(concurrent, _keys_source("read")) == [0, 0, 0, 0, 0]
        finally:
            concurrent.kill()
    finally:
        writer.kill()
    later = _child(toolkit)
    try:
        assert _ask(later, _keys_source("read")) == [0, 0, 0, 0, 0]
    finally:
        later.kill()
    # Nor did it reach the grader's own session keyring.
    keyctl = KEYCTL[platform.machine()][1]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    assert libc.syscall(keyctl, 10, ctypes.c_int(-3), b"user", b"autograder-msg", 0) == -1


def test_the_jail_has_a_minimal_etc(toolkit):
    child = _child(toolkit)
    try:
        source = (
            "import os, pwd\n"
            "shadow = os.path.exists('/etc/shadow')\n"
            "names = sorted(p.pw_name for p in pwd.getpwall())\n"
            "me = pwd.getpwuid(os.getuid()).pw_name\n"
            "answer = [shadow, len(names), names == sorted({'root', me}), len(os.listdir('/etc'))]\n"
        )
        shadow, n_users, only_us, n_files = _ask(child, source)
    finally:
        child.kill()
    assert shadow == 0
    assert only_us == 1 and n_users == (2 if os.geteuid() == 0 else 1)
    assert n_files <= 8
    host_users = {line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()
                  if line and not line.startswith("#")}
    assert len(host_users - {"root"}) >= 1  # so the test shows they are hidden


# --------------------------------------------------------------------------
# the reply channel

FORGE = """
import json, os, struct

def e_step(x, pi, lam):
    head = json.dumps({"status": "ok", "arrays": 8}).encode()
    chunk = bytes(1 << 20)
    for fd in range(3, 64):
        try:
            os.write(fd, struct.pack("!Q", len(head)) + head)
            for _ in range(8):
                os.write(fd, struct.pack("!Q", 256 << 20))
                for _ in range(256):
                    os.write(fd, chunk)
        except OSError:
            pass
    return np.ones((len(x), len(pi)))
"""


def test_forged_oversize_frames_are_not_read(toolkit):
    child = _child(toolkit)
    try:
        assert child.execute("cell 1", "import numpy as np\n" + FORGE, 10).kind == "ok"
        _reset_peak_rss()
        before = _rss_kib("VmRSS")
        out = child.call("e_step", [np.arange(3), np.ones(2) / 2, np.ones(2)], {}, 20)
        peak = _rss_kib("VmHWM")
    finally:
        child.kill()
    assert out.kind == "died"
    assert out.message.startswith("malformed reply (protocol error: an array of 268435456 "
                                  "bytes, more than the ")
    assert peak - before < 32 << 10  # KiB: no 256 MiB frame was read


def test_a_reply_beyond_the_callers_bound_is_refused(toolkit):
    child = _child(toolkit)
    try:
        child.execute("cell 1", "import numpy as np\n"
                      "def e_step(x, pi, lam):\n    return np.ones((len(x), 1000))\n", 10)
        args = [np.arange(3), np.ones(2) / 2, np.ones(2)]
        # Honest but too big: the driver refuses to send it, the child lives.
        big = child.call("e_step", args, {}, 10, max_bytes=1000)
        assert big.kind == "bad_result"
        assert big.message == ("e_step returned 24000 bytes, more than the 1000 a result of "
                               "the expected shape can hold")
        assert child.alive
        ok = child.call("e_step", args, {}, 10)  # default bound: 1 MiB + 64 x input
        assert ok.kind == "ok" and ok.arrays[0].shape == (3, 1000)
    finally:
        child.kill()


def test_forged_frames_fail_that_test_only_and_the_grader_stays_small():
    config = grade.GradeConfig(timeout=20, memory_mb=MEMORY_MB)
    kit = grade.make_kit(config, "poisson_mixture")
    _reset_peak_rss()
    before = _rss_kib("VmRSS")
    result = grade.grade_task(grade.Task("forger", _notebook(e_step=FORGE)), kit)
    peak = _rss_kib("VmHWM")
    assert peak - before < 64 << 10  # KiB
    lost = {"test_e_step_basic", "test_e_step_extreme"}
    assert {t.grade_id: t.passed for t in result.tests} == {g: g not in lost for g in GRADE_IDS}
    # em calls the forging e_step, so its first run dies too; with the
    # reference e_step standing in it passes: the bug is charged once.
    assert result.score == 15 - 4
    assert result.status == ("malformed reply while running e_step; "
                             "malformed reply while running em")
    for test in result.tests:
        if test.grade_id in lost:
            assert test.message.startswith(
                "the Python process died while running e_step (malformed reply (protocol "
                "error: an array of 268435456 bytes, more than the "), test.message
        elif test.grade_id.startswith("test_em"):
            assert "reference e_step stands in" in test.message, test.message


# --------------------------------------------------------------------------
# CPU: fair shares between sandboxes

def test_a_cpu_hog_does_not_slow_down_another_submission(tmp_path):
    """48 busy setsid children of one student (within its process limit) and a
    correct pure-Python submission of another (about 6 s of CPU, 4 s for its
    slowest call), graded side by side with ``-j 2``: the second still gets
    every point within its timeouts. (Without a CPU share per sandbox it got
    about 1/25 of the CPU and timed out.)"""
    hog = ("import os, time\n"
           "for _ in range(48):\n"
           "    if os.fork() == 0:\n"
           "        os.setsid()\n"
           "        while True:\n"
           "            pass\n"
           "time.sleep(19)\n")
    stubs = {name: f"def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
             for name in ("log_poisson_pmf", "e_step", "m_step", "log_likelihood", "em")}
    stubs["em"] += hog
    subs = tmp_path / "subs"
    for sid, data in (("hog", _notebook(**stubs)), ("pure", _notebook(**_pure_python_cells()))):
        (subs / sid).mkdir(parents=True)
        (subs / sid / "poisson_mixture.ipynb").write_bytes(data)
    results = grade.grade_submissions(collect.find_in_folder(subs), jobs=2,
                                      config=grade.GradeConfig(timeout=20,
                                                               memory_mb=MEMORY_MB))
    hog_result, pure = results
    assert hog_result.score == 0  # its stubs; its children ran for the 19 s of its cell
    assert (pure.score, pure.status) == (15, "ok"), [t.message for t in pure.tests]


def _pure_python_cells() -> dict[str, str]:
    """log_poisson_pmf, e_step, m_step and log_likelihood in plain Python
    loops (math, lists), each in its own cell; em is the instructor's."""
    parts = PURE_CODE.split("\n\n\n")
    cells = {"log_poisson_pmf": "", "e_step": "", "m_step": "", "log_likelihood": ""}
    for part in parts:
        name = next((n for n in reversed(cells) if f"def {n}(" in part), "log_poisson_pmf")
        cells[name] += part + "\n\n\n"
    return cells


PURE_CODE = '''import math


def log_poisson_pmf(x, lam):
    rows = []
    for xi in x.tolist():
        row = []
        for lk in lam.tolist():
            if lk == 0:
                row.append(0.0 if xi == 0 else -math.inf)
            else:
                row.append(xi * math.log(lk) - lk - math.lgamma(xi + 1))
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(rows), len(lam))


def _log_joint(x, pi, lam):
    logs = log_poisson_pmf(np.asarray(x), np.asarray(lam, float)).tolist()
    lp = [math.log(p) if p > 0 else -math.inf for p in np.asarray(pi, float).tolist()]
    return [[a + b for a, b in zip(row, lp)] for row in logs]


def _lse(row):
    top = max(row)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in row))


def e_step(x, pi, lam):
    out = []
    for row in _log_joint(x, pi, lam):
        norm = _lse(row)
        out.append([math.exp(v - norm) for v in row])
    return np.array(out)


def m_step(x, tau):
    xs = np.asarray(x, float).tolist()
    rows = np.asarray(tau, float).tolist()
    k = len(rows[0])
    nk = [sum(r[j] for r in rows) for j in range(k)]
    sx = [sum(r[j] * xi for r, xi in zip(rows, xs)) for j in range(k)]
    return np.array([v / len(xs) for v in nk]), np.array([s / v for s, v in zip(sx, nk)])


def log_likelihood(x, pi, lam):
    return float(sum(_lse(row) for row in _log_joint(x, pi, lam)))
'''


# --------------------------------------------------------------------------
# fail closed


def test_auto_never_falls_back_to_none(monkeypatch):
    def broken(self):
        raise sandbox.SandboxError("namespaces are not available")

    monkeypatch.setattr(sandbox.Child, "start", broken)
    with pytest.raises(sandbox.SandboxError) as info:
        sandbox.make_toolkit("auto", MEMORY_MB)
    message = str(info.value)
    assert "does not work on this machine: namespaces are not available" in message
    assert "run the grader as root, or enable unprivileged user namespaces" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="what isolation 'none' does as root")
def test_isolation_none_as_root_never_runs_student_code_as_root(monkeypatch, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("instructor only")
    secret.chmod(0o600)
    hidden = [d for d in sandbox._python_dirs() if not sandbox._world_accessible(d)]
    if hidden:
        with pytest.raises(sandbox.SandboxError, match="cannot read the Python installation"):
            sandbox.make_toolkit("none", MEMORY_MB)
        # What it would do if this Python were readable by every user:
        monkeypatch.setattr(sandbox, "_world_accessible", lambda path: True)
    kit = sandbox.make_toolkit("none", MEMORY_MB)
    assert kit.isolation == "none"
    child = _child(kit)
    try:
        source = (f"import os\ntry:\n    open({str(secret)!r}).read()\n    can_read = 1\n"
                  "except PermissionError:\n    can_read = 0\n"
                  "answer = [os.getuid(), os.geteuid(), can_read]\n")
        assert _ask(child, source) == [child.uid, child.uid, 0]
        assert child.uid >= 1 << 31
    finally:
        child.kill()
        kit.cleanup()


def _write_submission(folder: Path, data: bytes) -> Path:
    (folder / "inst").mkdir(parents=True)
    (folder / "inst" / "poisson_mixture.ipynb").write_bytes(data)
    return folder


def test_self_check_stops_a_batch_when_the_sandbox_hides_scipy(monkeypatch, tmp_path, capsys):
    """The jail without the venv's site-packages (what a symlinked venv did):
    the instructor's solution loses points, so nobody is graded."""
    venv = str(_venv())
    subs = _write_submission(tmp_path / "subs", SOURCE.read_bytes())
    real = sandbox._python_dirs
    monkeypatch.setattr(sandbox, "_python_dirs",
                        lambda: [d for d in real() if not d.startswith(venv)])
    # A toolkit of its own (another memory size), so that no other test's is reused.
    code = cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--memory", "640",
                     "-j", "1", "--timeout", "20"])
    err = capsys.readouterr().err
    assert code == 3
    assert "error: the instructor's solution" in err
    assert "in the sandbox (status: ok), so this machine cannot grade correctly" in err
    assert "failed test_e_step_basic: " in err
    assert "ModuleNotFoundError: No module named 'scipy'" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------
# symlinked venv and checkout


def _grade_cli(python: Path, cwd: Path, subs: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "autograder", "grade", str(subs), "--out",
                           str(out), "-j", "1", "--timeout", "20"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def _venv() -> Path:
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):
        pytest.skip("the interpreter is not a virtual environment")
    return venv


def test_grading_through_a_symlinked_venv(tmp_path):
    link = tmp_path / "venv-link"
    link.symlink_to(_venv().resolve())
    subs = _write_submission(tmp_path / "subs", SOURCE.read_bytes())
    proc = _grade_cli(link / "bin" / "python", REPO, subs, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert rows[1] == "inst,15,15,ok," + ",".join(["1", "1", "2", "2", "2", "1", "1", "1", "2",
                                                   "2"]) \
        + ",,,derivation_q (2 points); derivation_m_step (3 points)"  # to grade by hand


def test_grading_with_the_venv_under_tmp():
    """The jail's private /tmp must not hide a Python installation that lives
    under /tmp (a CI checkout there): a venv there grades like any other."""
    here = Path(tempfile.mkdtemp(dir="/tmp", prefix="venv-under-tmp-"))
    try:
        venv = here / "venv"
        real = _venv().resolve()
        # Hard links when /tmp is on the same file system (fast), else a copy.
        same = os.stat(real).st_dev == os.stat(here).st_dev
        subprocess.run(["cp", "-al" if same else "-a", str(real), str(venv)], check=True)
        subs = _write_submission(here / "subs", SOURCE.read_bytes())
        proc = _grade_cli(venv / "bin" / "python", REPO, subs, here / "out")
        assert proc.returncode == 0, proc.stderr
        rows = (here / "out" / "grades.csv").read_text().splitlines()
        assert rows[1].startswith("inst,15,15,ok,")
    finally:
        shutil.rmtree(here, ignore_errors=True)


def test_grading_through_a_symlinked_checkout(tmp_path):
    venv = _venv().resolve()
    if venv.parent != REPO.resolve():
        pytest.skip("the venv is not inside the checkout")
    link = tmp_path / "checkout-link"
    link.symlink_to(REPO.resolve())
    subs = _write_submission(tmp_path / "subs", SOURCE.read_bytes())
    proc = _grade_cli(link / venv.name / "bin" / "python", link, subs, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert rows[1].startswith("inst,15,15,ok,")


# --------------------------------------------------------------------------
# control groups: fail closed, and cgroup v2


def test_no_usable_cgroup_means_no_grading(monkeypatch):
    """Without a cgroup the grader could make (not root, no delegated v2
    subtree), it refuses: per-process limits alone are not a guarantee."""
    monkeypatch.setattr(cgroups, "_HIERARCHY", None)
    monkeypatch.setattr(cgroups, "_writable", lambda directory: False)
    with pytest.raises(sandbox.SandboxError) as info:
        sandbox.make_toolkit("auto", MEMORY_MB)
    assert str(info.value).startswith("no control group can be made for the sandboxes")
    assert "Delegate=yes" in str(info.value)


def test_cgroup_v2_is_preferred_and_configured(monkeypatch, tmp_path):
    """The v2 code path on a simulated unified hierarchy (this machine has v1):
    the group's files get the caps, the grader's group enables the controllers."""
    base = tmp_path / "unified" / "grader.scope"
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma\n")
    mounts = [("/", str(tmp_path / "unified"), "cgroup2", {"rw"}),
              ("/", "/sys/fs/cgroup/memory", "cgroup", {"rw", "memory"})]
    monkeypatch.setattr(cgroups, "_HIERARCHY", None)
    monkeypatch.setattr(cgroups, "_mounts", lambda: mounts)
    monkeypatch.setattr(cgroups, "_own_groups",
                        lambda: {"": "/grader.scope", "memory": "/"})
    hierarchy = cgroups.find_hierarchy()
    assert hierarchy == cgroups.Hierarchy(2, dict.fromkeys(cgroups.CONTROLLERS, base))
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    group = cgroups.Cgroup.create(300 << 20, 17)
    d = base / group.name
    assert group.procs_files == [str(d / "cgroup.procs")]
    assert {f.name: f.read_text() for f in d.iterdir()} == {
        "memory.max": str(300 << 20), "pids.max": "17", "cpu.weight": "100",
        "cpu.max": "100000 100000"}
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
    assert group.oom_kills() == 2
    for f in d.iterdir():  # what the kernel does once the group is empty
        f.unlink()
    monkeypatch.setattr(group, "kill", lambda **kwargs: True)  # no process to kill here
    group.remove()
    assert not d.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="as root")
def test_isolation_userns_as_root_is_refused():
    with pytest.raises(sandbox.SandboxError, match="as root, use --isolation root"):
        sandbox.make_toolkit("userns", MEMORY_MB)


# --------------------------------------------------------------------------
# the fork server (isolation root)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the fork server is for a root grader")


@needs_root
def test_the_fork_server_gives_each_submission_a_fresh_sandbox(toolkit):
    template = toolkit.template
    assert template is not None and template.proc.poll() is None
    source = ("import os, sys\nimport numpy\n"
              "answer = [os.getpid(), os.getuid(), os.getgid(), numpy.random.random(),\n"
              "          float('scipy.special' in sys.modules), len(os.listdir('/proc/self/task')),\n"
              "          float(os.path.exists('" + str(REPO / "solutions") + "'))]")
    answers, groups = [], []
    for _ in range(2):
        child = _child(toolkit)
        try:
            groups.append(child.cgroup.name)
            answers.append((child.uid, _ask(child, source)))
            assert child.proc.pid in child.cgroup.pids()  # the supervisor is in the cgroup
        finally:
            child.kill()
    for uid, (pid, child_uid, gid, _, preloaded, threads, repo) in answers:
        assert pid == 1  # init of its own PID namespace
        assert child_uid == gid == uid >= 1 << 31  # a fresh uid, not the template's root
        assert preloaded == 1.0  # imported once, in the template
        assert threads == 1
        assert repo == 0.0  # jailed
    assert answers[0][0] != answers[1][0] and groups[0] != groups[1]
    assert answers[0][1][3] != answers[1][1][3]  # the random state is not the template's
    # The template is untouched by its children's end, single-threaded, root, in no sandbox.
    assert template.proc.poll() is None
    assert len(os.listdir(f"/proc/{template.proc.pid}/task")) == 1
    status = Path(f"/proc/{template.proc.pid}/status").read_text()
    assert "\nUid:\t0\t0\t0\t0\n" in status
    assert "autograder-" not in Path(f"/proc/{template.proc.pid}/cgroup").read_text()


@needs_root
def test_the_fork_server_and_fresh_interpreters_grade_alike(monkeypatch):
    config = grade.GradeConfig(memory_mb=MEMORY_MB)
    kit = grade.make_kit(config, "poisson_mixture")
    wrong = _notebook(log_poisson_pmf="def log_poisson_pmf(x, lam):\n    return x * lam\n")
    tasks = [grade.Task("ok", SOURCE.read_bytes()), grade.Task("wrong", wrong)]
    forked = [grade.grade_task(t, kit) for t in tasks]
    spawn = sandbox.make_toolkit("root", MEMORY_MB, fork=False)
    assert spawn.template is None
    monkeypatch.setattr(grade, "get_toolkit", lambda _config: spawn)
    fresh = [grade.grade_task(t, kit) for t in tasks]
    spawn.cleanup()
    assert forked[0].score == forked[0].max_score and forked[0].status == "ok"
    assert forked[1].score < forked[1].max_score
    for a, b in zip(forked, fresh, strict=True):
        assert (a.points, a.status) == (b.points, b.status)


@needs_root
def test_a_dead_template_fails_closed(toolkit):
    kit = sandbox.make_toolkit("root", MEMORY_MB + 1)
    try:
        kit.template.proc.kill()
        kit.template.proc.wait(timeout=10)
        child = sandbox.Child(kit, timeout=10, cpu_s=10)
        with pytest.raises(sandbox.SandboxError, match="template"):
            child.start()
        assert child.cgroup is None  # its group was removed
    finally:
        kit.cleanup()


# --------------------------------------------------------------------------
# a grader killed in the middle of a batch


def _group_names(grader: int) -> set[str]:
    hierarchy = cgroups.find_hierarchy()
    return {d.name for base in hierarchy.bases.values()
            for d in base.glob(f"autograder-{grader}-*")}


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the name (which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def _state(pid: int) -> str:
    try:
        return _stat(pid)[0]
    except OSError:
        return ""


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc (no ps needed)."""
    out = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            out[int(entry.name)] = int(_stat(entry.name)[1])
        except OSError:  # gone meanwhile
            continue
    return out


def _descends(pid: int, ancestor: int, parent: dict[int, int]) -> bool:
    while pid > 1:
        pid = parent.get(pid, 0)
        if pid == ancestor:
            return True
    return False


def test_a_killed_grader_leaves_no_sandbox_running(tmp_path):
    """SIGKILL to the grader while a submission loops forever: its sandbox,
    the template and the sandboxes' supervisors are gone within seconds (not
    at the end of the CPU limit), and the next grader removes the groups."""
    loop = "def log_poisson_pmf(x, lam):\n    while True:\n        pass\n"
    subs = tmp_path / "subs"
    for i in range(3):
        (subs / f"s{i}").mkdir(parents=True)
        (subs / f"s{i}" / "poisson_mixture.ipynb").write_bytes(
            _notebook(log_poisson_pmf=loop) if i else SOURCE.read_bytes())
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(subs), "--out",
                             str(tmp_path / "out"), "-j", "1", "--timeout", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        busy: list[int] = []
        while not busy and time.monotonic() < deadline:  # a sandbox spinning in the loop
            time.sleep(0.2)
            groups = [cgroups.Cgroup(cgroups.find_hierarchy(), n) for n in _group_names(proc.pid)]
            busy = [p for g in groups for p in g.pids() if _state(p) == "R"]
        assert busy, "no sandbox ran the loop"
        parent = _parents()
        family = [p for p in parent if p != proc.pid and _descends(p, proc.pid, parent)]
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in family):
        time.sleep(0.1)
    left = [p for p in family if Path(f"/proc/{p}").exists()]
    assert family and not left, f"processes left after the grader died: {left}"
    assert _group_names(proc.pid)  # the groups are still there, empty
    cgroups._remove_stale(cgroups.find_hierarchy())  # what the next grader does first
    assert not _group_names(proc.pid)
