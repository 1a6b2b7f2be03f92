"""The sandboxed child: runs a student's cells, then answers function calls.

Started by :mod:`autograder.sandbox` as ``python -I _driver.py CONFIG``. It
talks to the grader over its original stdin/stdout, which it moves to other
file descriptors before any student code runs; the student's own output goes
to ``/dev/null``. Messages are frames (8-byte big-endian length, then the
bytes): a JSON header, followed by ``header["arrays"]`` frames that each hold
one array in ``.npy`` format. Nothing here is ever unpickled, on either side.

Before it runs student code the driver, when configured to:

1. builds a new root filesystem in its private mount namespace (set up by
   ``unshare``): a tmpfs holding read-only bind mounts of the system
   directories and of the Python installation only (at its real paths, and
   through symlinks at the paths the interpreter was started from, since
   ``sys.path`` names those), a generated ``/etc`` with only what Python and
   its libraries read (no ``shadow``, a ``passwd`` naming only the sandbox's
   user), a private ``/tmp``, a minimal ``/dev`` and a fresh ``/proc``; makes
   that root read-only and ``chroot``s into it, so the course files, the
   reference solutions and other students' submissions do not exist for the
   student's code;
2. sets resource limits (address space, CPU time, file size, no core dumps);
3. drops privileges: to the sandbox's own user id when it runs as real root,
   or drops every capability when it is root only inside a user namespace;
   sets ``no_new_privs`` so no setuid program can give them back; and joins
   a new session keyring, so that no key of the grader's session is reachable.

The grader puts the child's processes in a cgroup of their own before this
code runs (:mod:`autograder.cgroups`).

The same file is imported by the grader for the framing helpers; importing it
has no side effects.
"""

import builtins
import json
import linecache
import os
import struct
import sys
import traceback

LENGTH = struct.Struct("!Q")
MAX_HEADER = 1 << 20
MAX_ARRAY = 256 << 20
MAX_ARRAYS = 8
TEXT_LIMIT = 4000

# Flags of mount(2).
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
ST_FLAGS = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC}
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of the host's /etc the jail gets (copied, not bound): the dynamic
# linker's cache and configuration and the time zone. passwd, group, hosts
# and nsswitch.conf are written afresh.
ETC_COPIED = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime")
DEVICES = ("null", "zero", "random", "urandom")
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
# keyctl(2) system call numbers, and its operation that gives the process a
# new anonymous session keyring.
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "i686": 288, "ppc64le": 313, "s390x": 280}
KEYCTL_JOIN_SESSION_KEYRING = 1


# --------------------------------------------------------------------------
# framing (shared with the grader)


def npy_bytes(arrays):
    """Each array as ``.npy`` bytes (no pickles)."""
    import io

    import numpy as np

    out = []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        out.append(buf.getvalue())
    return out


def encode(header, arrays=(), npy=None):
    """Frames of one message: the JSON header, then each array as ``.npy``
    (``npy``: the arrays already as :func:`npy_bytes`)."""
    if npy is None:  # no numpy needed for a message without arrays
        npy = npy_bytes(arrays) if len(arrays) else []
    frames = [json.dumps(dict(header, arrays=len(npy))).encode(), *npy]
    return b"".join(LENGTH.pack(len(f)) + f for f in frames)


def decode_array(data):
    """An array from ``.npy`` bytes, refusing pickled objects."""
    import io

    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd, limit):
    (n,) = LENGTH.unpack(_read_exact(fd, LENGTH.size))
    if n > limit:
        raise ValueError(f"frame of {n} bytes exceeds {limit}")
    return _read_exact(fd, n)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --------------------------------------------------------------------------
# sandbox setup


def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _mount(source, target, fstype, flags, data=None):
    ctypes, libc = _libc()
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _bind_readonly(path, target):
    """Bind ``path`` on ``target`` read-only, keeping the flags the kernel locks."""
    _mount(path, target, None, MS_BIND | MS_REC)
    keep = 0
    st = os.statvfs(path).f_flag
    for st_flag, ms_flag in ST_FLAGS.items():
        if st & st_flag:
            keep |= ms_flag
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | keep)


def _covered(path, dirs):
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _copy_tree(src, dst):
    """Copy ``src`` (a file, or a directory of files) to ``dst``, following
    symlinks: the jail has none of the host's /etc to point into."""
    import shutil

    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
        for name in sorted(os.listdir(src)):
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
    elif os.path.isfile(src):
        shutil.copyfile(src, dst)


def make_etc(target, uid):
    """A minimal /etc: the files Python, numpy, scipy and matplotlib read.

    ``passwd`` and ``group`` name root and the sandbox's own user only (uid
    ``uid``; in a user namespace the student's code is root), so no account
    of the host shows; there is no ``shadow``.
    """
    os.makedirs(target, mode=0o755, exist_ok=True)
    for name in ETC_COPIED:
        try:
            _copy_tree("/etc/" + name, f"{target}/{name}")
        except OSError:
            pass
    users = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    groups = "root:x:0:\n"
    if uid:
        users += f"student:x:{uid}:{uid}:student:/tmp:/usr/sbin/nologin\n"
        groups += f"student:x:{uid}:\n"
    _write_file(target + "/passwd", users)
    _write_file(target + "/group", groups)
    _write_file(target + "/hosts", "127.0.0.1 localhost\n::1 localhost\n")
    _write_file(target + "/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n")


def _link_unresolved(root, path):
    """Make ``path`` reach its real location inside the jail.

    The interpreter computes ``sys.path`` from the path it was started as
    (a symlinked venv, home or checkout); the jail binds the real directory,
    so the unresolved path becomes a symlink to it, with real directories
    above it.
    """
    real = os.path.realpath(path)
    if real == path or os.path.lexists(root + path):
        return
    parent = os.path.dirname(path)
    # Directories of the jail only: never follow a link out of it.
    current = root
    for part in parent.strip("/").split("/"):
        if not part:
            continue
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise OSError(f"cannot place {path} in the jail: {current[len(root):]} is a link")
        if not os.path.isdir(current):
            os.mkdir(current, 0o755)
    os.symlink(real, root + path)


def enter_jail(cfg):
    """Build the new root in ``cfg["jail"]`` and chroot into it."""
    root = cfg["jail"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    # The private /tmp first: a Python installation that lives under /tmp (a
    # checkout or venv there) is bound on top of it below, not hidden by it.
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={cfg['tmp_mb']}m,mode=1777")
    bound = []
    keep = [os.path.realpath(p) for p in cfg["keep"]]
    for path in [*SYSTEM_DIRS, *keep]:
        if not os.path.lexists(path) or _covered(path, bound):
            continue
        target = root + path
        if os.path.islink(path) and path in SYSTEM_DIRS:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(path), target)
            continue
        if not os.path.isdir(path):
            continue
        os.makedirs(target, exist_ok=True)
        _bind_readonly(path, target)
        bound.append(path)
    make_etc(root + "/etc", cfg.get("uid"))
    os.makedirs(root + "/dev", exist_ok=True)
    for dev in DEVICES:
        if os.path.exists("/dev/" + dev):
            with open(f"{root}/dev/{dev}", "w"):
                pass
            _mount("/dev/" + dev, f"{root}/dev/{dev}", None, MS_BIND)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in cfg["keep"]:
        _link_unresolved(root, os.path.abspath(path))
    # Nothing but /tmp is writable, even to root inside a user namespace.
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(root)
    os.chdir("/tmp")


def set_limits(cfg):
    import resource
    import signal

    def limit(which, value):
        value = int(value)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            _, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value <= hard:
                raise
            resource.setrlimit(which, (hard, hard))

    limit(resource.RLIMIT_AS, (cfg["memory_mb"] << 20) + int(cfg.get("as_extra", 0)))
    limit(resource.RLIMIT_CPU, cfg["cpu_s"])
    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_FSIZE, 64 << 20)
    limit(resource.RLIMIT_NOFILE, 256)
    # Writing past the file-size limit then fails with an error instead of
    # killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def drop_privileges(cfg):
    """No way back to the privileges used to build the jail."""
    ctypes, libc = _libc()
    if os.getuid() == 0 and cfg.get("uid") is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
        os.setgroups([])
        os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
        os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
    elif os.getuid() == 0:
        # Root inside a user namespace: give up every capability, including
        # those an exec of a root-owned program would restore.
        for cap in range(64):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)

        class Header(ctypes.Structure):
            _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))

        class Data(ctypes.Structure):
            _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32))

        data = (Data * 2)()
        if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:
            raise OSError(ctypes.get_errno(), "capset failed")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    new_session_keyring()


def new_session_keyring():
    """Leave the grader's session keyring for a new, empty one of our own.

    Without this the student's code would possess the keyring it inherited,
    and whatever it put there would reach every later sandbox.
    """
    import errno
    import platform

    ctypes, libc = _libc()
    number = SYS_KEYCTL.get(platform.machine())
    if number is None:
        raise OSError(f"keyctl system call unknown on {platform.machine()}")
    if libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        err = ctypes.get_errno()
        if err != errno.ENOSYS:  # a kernel without keys has no keyring to share
            raise OSError(err, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(err)}")


# --------------------------------------------------------------------------
# running student code


class _Magics:
    """What ``get_ipython()`` offers a notebook cell outside IPython.

    Line magics and shell commands do nothing; the bodies of ``%%time``-like
    cell magics run as ordinary code, so the functions they define exist;
    ``%%writefile [-a] helper.py`` writes its file into the working directory,
    which is on ``sys.path`` as in Jupyter, so ``import helper`` works.
    """

    RUN_BODY = frozenset({"time", "timeit", "capture", "prun"})

    def __init__(self, namespace):
        self._ns = namespace

    def run_line_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []

    def run_cell_magic(self, name, line, body):
        if name in self.RUN_BODY:
            exec(compile(body, "<cell magic>", "exec"), self._ns)
        elif name in ("writefile", "file"):
            self._writefile(line, body)

    @staticmethod
    def _writefile(line, body):
        import importlib
        import shlex

        words = shlex.split(line)
        append = any(w in ("-a", "--append") for w in words)
        names = [w for w in words if not w.startswith("-")]
        if len(names) != 1:
            raise ValueError(f"%%writefile needs one file name, got {line!r}")
        with open(os.path.expanduser(names[0]), "a" if append else "w", encoding="utf-8") as f:
            f.write(body)
        here = os.getcwd()
        if here not in sys.path:
            sys.path.insert(0, here)
        importlib.invalidate_caches()


def _text(value):
    try:
        text = str(value)
    except BaseException:
        text = "<unprintable>"
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"


def _error(exc):
    tb = exc.__traceback__
    # Keep only the student's frames: drop the driver's own.
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<"):
        tb = tb.tb_next
    try:
        lines = traceback.format_exception(type(exc), exc, tb, limit=-8)
        text = "".join(lines)
    except BaseException:
        text = f"{type(exc).__name__}: {_text(exc)}"
    if len(text) > TEXT_LIMIT:
        text = "[...]\n" + text[-TEXT_LIMIT:]
    return {"status": "error", "type": type(exc).__name__, "message": _text(exc),
            "traceback": text}


class Driver:
    def __init__(self, fd_in, fd_out, checks):
        self.fd_in, self.fd_out, self.checks = fd_in, fd_out, checks
        self.ns = {"__name__": "__main__", "__builtins__": builtins}
        self.ns["get_ipython"] = lambda: _Magics(self.ns)
        self.ns["display"] = lambda *args, **kwargs: None

    def send(self, header, npy=()):
        _write_all(self.fd_out, encode(header, npy=list(npy)))

    def receive(self):
        header = json.loads(_read_frame(self.fd_in, MAX_HEADER))
        arrays = [decode_array(_read_frame(self.fd_in, MAX_ARRAY))
                  for _ in range(header.get("arrays", 0))]
        return header, arrays

    def execute(self, label, source):
        filename = f"<{label}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), self.ns)
        except BaseException as exc:
            return _error(exc), []
        return {"status": "ok"}, []

    def call(self, function, args, kwargs, max_bytes):
        fn = self.ns.get(function)
        if fn is None:
            return {"status": "error", "type": "NameError", "traceback": "",
                    "message": f"{function} is not defined"}, []
        if not callable(fn):
            return {"status": "error", "type": "TypeError", "traceback": "",
                    "message": f"{function} is not a function"}, []
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            return _error(exc), []
        try:
            out = self.checks.normalise(function, result)
        except AssertionError as exc:
            return {"status": "bad_result", "message": _text(exc)}, []
        except BaseException as exc:
            return {"status": "bad_result",
                    "message": f"{function} returned a value that could not be read "
                               f"({type(exc).__name__}: {_text(exc)})"}, []
        import numpy as np

        parts = list(out) if isinstance(out, tuple) else [np.float64(out)]
        arrays = [np.asarray(p, dtype=np.float64) for p in parts]
        # The data first (no copy of a huge result), then the frames as sent.
        size = sum(a.nbytes for a in arrays)
        npy = npy_bytes(arrays) if size <= max_bytes else []
        size = max(size, sum(map(len, npy)))
        if size > max_bytes:
            return {"status": "bad_result",
                    "message": f"{function} returned {size} bytes, more than the {max_bytes} "
                               "a result of the expected shape can hold"}, []
        return {"status": "ok"}, npy

    def serve(self):
        while True:
            try:
                header, arrays = self.receive()
            except EOFError:
                return
            op = header.get("op")
            if op == "exec":
                reply = self.execute(str(header["label"]), str(header["source"]))
            elif op == "call":
                reply = self.call(str(header["function"]), arrays, dict(header["kwargs"]),
                                  int(header.get("max_bytes", MAX_ARRAY)))
            else:
                return
            self.send(*reply)


def _load_checks(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("autograder_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_mpl_cache(cfg):
    files = {}
    for name in cfg.get("mpl_cache", []):
        with open(name, "rb") as f:
            files[os.path.basename(name)] = f.read()
    return files


def forget_unreachable_modules(keep):
    """Drop the imported modules whose files the jail lacks, except those in
    ``keep`` (what a freshly started driver has imported before its jail):
    the template's preloaded modules are then exactly as importable as in a
    fresh driver."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name not in keep and path and not os.path.exists(path):
            del sys.modules[name]


def confine(cfg, mpl_files, stage, keep_modules=None):
    """Everything between "started" and "ready to run student code": the
    jail (or the working directory), matplotlib's font cache, numpy, the
    resource limits and the privileges. ``stage[0]`` names the current step;
    ``keep_modules``: in a template's fork, see :func:`forget_unreachable_modules`."""
    if cfg["jail"]:
        stage[0] = "building the jail"
        enter_jail(cfg)
        if keep_modules is not None:
            forget_unreachable_modules(keep_modules)
    else:
        os.chdir(cfg["workdir"])
    home = os.environ.get("MPLCONFIGDIR")
    if home and mpl_files:
        os.makedirs(home, exist_ok=True)
        for name, data in mpl_files.items():
            with open(os.path.join(home, name), "wb") as f:
                f.write(data)
        if cfg.get("uid") is not None and os.getuid() == 0:
            for path in [home, *(os.path.join(home, n) for n in mpl_files)]:
                os.chown(path, cfg["uid"], cfg["gid"])
    stage[0] = "importing numpy"
    import numpy  # noqa: F401 - the student's code needs it; fail here, not there

    stage[0] = "setting resource limits"
    set_limits(cfg)
    stage[0] = "dropping privileges"
    drop_privileges(cfg)


def _run(cfg, fd_in, fd_out, checks, mpl_files, stage, keep_modules=None):
    """Confine this process, then serve the grader's requests; never returns."""
    try:
        confine(cfg, mpl_files, stage, keep_modules)
    except BaseException as exc:
        _write_all(fd_out, encode({"status": "setup_error",
                                   "message": f"{stage[0]}: {type(exc).__name__}: {exc}"}))
        os._exit(3)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    driver = Driver(fd_in, fd_out, checks)
    driver.send({"status": "ready", "uid": os.getuid(), "jail": bool(cfg["jail"])})
    driver.serve()
    os._exit(0)


def main():
    sys.dont_write_bytecode = True
    cfg = json.loads(sys.argv[1])
    if cfg.get("template"):
        from_template(cfg)
        return
    fd_in, fd_out = os.dup(0), os.dup(1)
    stage = ["start"]
    try:
        stage[0] = "loading the checks"
        checks = _load_checks(cfg["checks"])
        mpl_files = _read_mpl_cache(cfg)
    except BaseException as exc:
        _write_all(fd_out, encode({"status": "setup_error",
                                   "message": f"{stage[0]}: {type(exc).__name__}: {exc}"}))
        os._exit(3)
    _run(cfg, fd_in, fd_out, checks, mpl_files, stage)


# --------------------------------------------------------------------------
# the template (fork server)

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x8000000, 0x40000000, 0x20000000
PR_SET_CHILD_SUBREAPER = 36
#: What the template imports once, so that no submission pays for it.
PRELOAD = ("numpy", "scipy.special", "matplotlib.pyplot")
STATUS = struct.Struct("!i")


def _vm_size():
    """This process's address space, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) << 10
    return 0


def _threads():
    return len(os.listdir("/proc/self/task"))


def from_template(cfg):
    """The template: import what every submission imports, then fork one
    sandbox per request; never run student code itself.

    Requests come over the socket on fd 0: a JSON configuration (that of
    :func:`main`, plus ``procs``, the cgroup files to join, and ``env``) with
    three descriptors: the child's input and output pipes and a status pipe,
    on which the child's supervisor writes the wait status of the sandboxed
    process when it ends. The reply is ``{"pid": supervisor}``.
    """
    import signal
    import socket

    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        checks = _load_checks(cfg["checks"])
        mpl_files = _read_mpl_cache(cfg)
        import importlib

        import numpy  # noqa: F401 - the baseline of a fresh child

        fresh = frozenset(sys.modules)  # what a fresh driver has before its jail
        baseline = _vm_size()
        for name in PRELOAD:
            importlib.import_module(name)
        # What the preloaded modules add to the address space is not the
        # student's: RLIMIT_AS grows by it (the cgroup caps real memory).
        as_extra = max(0, _vm_size() - baseline)
        import gc

        # The preloaded objects move to a generation the collector never
        # scans: a sandbox's collections do not copy the template's pages.
        gc.collect()
        gc.freeze()
        _, libc = _libc()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Supervisors are reaped by the kernel: the grader learns how the
        # sandbox ended from its status pipe.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        if _threads() != 1:
            raise RuntimeError(f"the template has {_threads()} threads; it must have one "
                               "to fork safely (OPENBLAS_NUM_THREADS=1?)")
    except BaseException as exc:
        sock.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        os._exit(3)
    sock.sendall(json.dumps({"ready": True}).encode())
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, MAX_HEADER, 3)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        if len(fds) != 3 or _threads() != 1:
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({"error": "bad request or threads"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            _supervise(dict(json.loads(msg), as_extra=as_extra), fds, checks, mpl_files, fresh)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode())


def _wait_or_kill(pid, fd_status):
    """Wait for the sandboxed process; kill it first if the grader goes away.

    The grader holds the reading end of the status pipe: when it dies (even
    by SIGKILL) the pipe has no reader and ``poll`` reports an error on this
    end. The sandboxed process is PID 1 of its namespace, so killing it ends
    every process the student's code started.
    """
    import select
    import signal

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3): poll the pipe only
        pidfd = None
    poller = select.poll()
    poller.register(fd_status, 0)  # POLLERR / POLLHUP are always reported
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while True:
        events = dict(poller.poll(None if pidfd is not None else 200))
        if fd_status in events:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return os.waitpid(pid, 0)
        done = os.waitpid(pid, os.WNOHANG)
        if done[0] == pid:
            return done


def _supervise(cfg, fds, checks, mpl_files, fresh):
    """In the template's fork: join the cgroup, enter new namespaces, fork
    the sandboxed process (PID 1 of its namespace), report how it ended."""
    import signal

    fd_in, fd_out, fd_status = fds
    stage = ["joining the cgroup"]
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        for path in cfg["procs"]:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        # Nothing of the template stays open but the three pipes.
        keep = sorted(fds)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
        os.environ.clear()
        os.environ.update(cfg["env"])
        stage[0] = "entering namespaces"
        ctypes, libc = _libc()
        if libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare: {os.strerror(err)}")
        pid = os.fork()
    except BaseException as exc:
        try:
            _write_all(fd_out, encode({"status": "setup_error",
                                       "message": f"{stage[0]}: {type(exc).__name__}: {exc}"}))
        finally:
            os._exit(3)
    if pid == 0:
        os.close(fd_status)
        try:
            import random

            import numpy

            # Fresh random states: the template's would be every sandbox's.
            random.seed()
            numpy.random.seed()  # noqa: NPY002 - the legacy global state students use
        except BaseException:
            os._exit(3)
        _run(cfg, fd_in, fd_out, checks, mpl_files, ["start"], fresh)
    os.close(fd_in)
    os.close(fd_out)
    status = 0
    try:
        _, status = _wait_or_kill(pid, fd_status)
    finally:
        try:
            os.write(fd_status, STATUS.pack(status))
        finally:
            os._exit(0)


if __name__ == "__main__":
    main()
