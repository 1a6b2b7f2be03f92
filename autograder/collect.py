"""Finding the submissions: a folder of student folders, or an LMS zip.

Nothing here reads a notebook's bytes: a :class:`Submission` carries a
reference (:class:`FileRef` or :class:`ZipRef`) that the grading worker reads
when it grades that submission, with a size cap. Every file of the input that
is not graded is listed, with the reason, in :attr:`Collection.skipped`
(``OUT/skipped.csv``).

A batch is one assignment, ``<name>``: given, or inferred from the notebooks'
file names (:func:`infer_assignment`); the examples below use
``poisson_mixture``.

Folder
    ``SUBMISSIONS/<student id>/<name>.ipynb``, or
    ``SUBMISSIONS/<student id>/<name>/<name>.ipynb`` (the
    layout of nbgrader's ``submitted/``). When the notebook is missing but
    the folder holds exactly one other notebook (a renamed download such as
    ``poisson_mixture (1).ipynb``), that one is graded and the status says so.
    Symbolic links are never followed: a linked student folder or notebook
    gets a status (``not graded: the notebook is a symbolic link``) and zero,
    and the worker opens every path component with ``O_NOFOLLOW`` relative
    to the submissions folder, so nothing outside it is ever read.

Zip (an LMS export; read in place with :mod:`zipfile`, never extracted)
    Each file at the top level of the archive is matched, in this order, by

    * nbgrader's naming (also what its documentation shows for Moodle-style
      exports): ``<assignment>_<student id>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``,
      anchored at both ends, ``<assignment>`` being ``<name>``. The
      student id runs up to the *first* ``_attempt_<timestamp>_``: it may
      contain ``_``, and whatever follows (the name the student gave the
      file) can never change it. The timestamp must be a real date and time;
    * Canvas's "Download Submissions" naming,
      ``<name>[_LATE]_<user id>_<file id>_<file>`` (``lib/content_zipper.rb``
      of canvas-lms: the name is the student's sortable name, lower case,
      with every non-word character and every ``_<digits>_`` removed; the
      user id is numeric, or ``anon_<id>`` in an anonymous assignment; the
      file id numbers the uploaded file and grows with each upload). The
      **student id is Canvas's numeric user id** (the name is neither unique
      nor stable), so a roster for a Canvas export lists user ids. Canvas
      exports the latest submission only; among one student's files the one
      with the largest file id counts.

    Files inside folders follow the folder layout, zipped:
    ``<student id>/<name>.ipynb`` or ``<student id>/<name>/<name>.ipynb``.
    ``--named-regexp`` replaces the two name patterns with one of the
    instructor's (``re.fullmatch``; groups ``student_id`` and ``file_id``
    required; optionally ``timestamp``, ``YYYY-MM-DD-HH-MM-SS`` or ISO 8601,
    or ``order``, an integer, to tell the latest attempt).

    Per student the latest attempt counts (a file name must be exactly
    ``<name>.ipynb``; another ``.ipynb`` is graded when it is the
    only notebook of the latest attempt, and the status says so); older
    attempts, files that match no pattern, invalid timestamps, nested
    archives (never opened), symbolic links, encrypted members, system
    files and anything past the member cap are skipped and reported.

A roster (:func:`read_roster`) adds a ``no submission`` row for each missing
student and flags submissions from ids not on it.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

#: The default cap on one notebook's size (``--max-notebook-mb``).
DEFAULT_MAX_NOTEBOOK_MB = 20
#: At most this many members in a zip (each costs memory when listed).
MAX_MEMBERS = 20_000
#: A member this much smaller compressed than declared is treated as a zip
#: bomb (a real notebook compresses about 3-20 times; deflate's limit is ~1032).
MAX_RATIO = 200
#: Student ids longer than this are refused (the file is skipped).
MAX_ID_LENGTH = 200

# nbgrader's documented pattern was ``.*_(?P<student_id>\w+)_attempt_...``:
# greedy, ``\w``-only, unanchored. These are anchored, and lazy where the
# student id ends, so that the student's own file name cannot move it.
TIMESTAMP = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"


def nbgrader_regexp(assignment: str) -> str:
    """nbgrader's zip naming for ``assignment``, anchored and lazy (see above)."""
    return (rf"{re.escape(assignment)}_(?P<student_id>.+?)_attempt_"
            rf"(?P<timestamp>{TIMESTAMP})_(?P<file_id>.+)")


CANVAS_REGEXP = (r"(?:(?P<name>[^\W_]\w*?)_)??(?:LATE_)?"
                 r"(?P<student_id>[0-9]+|anon_[A-Za-z0-9]+)_(?P<order>[0-9]+)_(?P<file_id>.+)")
#: nbgrader's documented pattern: passing it means the built-in patterns.
DEFAULT_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.*)"

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".jar",
                    ".tbz2", ".txz", ".zst", ".lz", ".lzma", ".cab", ".z")
SYSTEM_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


class CollectError(ValueError):
    """The input cannot be collected at all (bad zip, bad pattern, bad roster)."""


class Unreadable(Exception):
    """A notebook that cannot be graded; the message is the status text."""


# --------------------------------------------------------------------------
# references to a notebook, read by the worker


@dataclass(frozen=True)
class FileRef:
    """A notebook in a folder: ``root`` and the path components below it.

    :meth:`read` opens each component with ``O_NOFOLLOW`` relative to the
    one before, so neither a symbolic link nor ``..`` can lead outside
    ``root``; non-regular files (FIFOs, devices) are refused before reading.
    """

    root: str
    parts: tuple[str, ...]
    max_bytes: int = DEFAULT_MAX_NOTEBOOK_MB * 2**20

    def read(self) -> bytes:
        if not self.parts or any(p in ("", ".", "..") or "/" in p for p in self.parts):
            raise Unreadable("not graded: invalid notebook path")
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fds = []
        try:
            # The submissions folder is the instructor's choice and may be reached
            # through a link; below it, no component may be one.
            fds.append(os.open(self.root, (flags & ~os.O_NOFOLLOW) | os.O_DIRECTORY))
            for part in self.parts[:-1]:
                fds.append(os.open(part, flags | os.O_DIRECTORY, dir_fd=fds[-1]))
            fd = os.open(self.parts[-1], flags | os.O_NONBLOCK, dir_fd=fds[-1])
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Unreadable("not graded: the notebook is a symbolic link") from None
            raise Unreadable(f"not graded: cannot open the notebook ({exc.strerror})") from None
        finally:
            for d in fds:
                os.close(d)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable("not graded: the notebook is not a regular file")
            too_large(info.st_size, self.max_bytes)
            data = f.read(self.max_bytes + 1)  # the file may have grown since fstat
        too_large(len(data), self.max_bytes)
        return data


@dataclass(frozen=True)
class ZipRef:
    """Member ``index`` (named ``name``) of the archive ``archive``."""

    archive: str
    index: int
    name: str
    max_bytes: int = DEFAULT_MAX_NOTEBOOK_MB * 2**20

    def read(self) -> bytes:
        try:
            with zipfile.ZipFile(self.archive) as z:
                infos = z.infolist()
                if self.index >= len(infos) or infos[self.index].filename != self.name:
                    raise Unreadable("not graded: the zip changed while grading")
                info = infos[self.index]
                member_problem(info, self.max_bytes)
                with z.open(info) as f:
                    data = f.read(self.max_bytes + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
                ValueError) as exc:
            raise Unreadable(f"not graded: the notebook could not be read from the zip "
                             f"({type(exc).__name__}: {exc})") from None
        too_large(len(data), self.max_bytes)
        return data


def too_large(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise Unreadable(f"not graded: the notebook is too large ({_size(size)}; "
                         f"the limit is {_size(max_bytes)})")


def _size(size: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + " " + unit
    return f"{size} bytes"


def member_problem(info: zipfile.ZipInfo, max_bytes: int) -> None:
    """Refuse a member by what the archive declares, before reading it."""
    if info.flag_bits & 0x1:
        raise Unreadable("not graded: the notebook is encrypted in the zip")
    too_large(info.file_size, max_bytes)
    if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise Unreadable(f"not graded: the zip entry looks like a zip bomb "
                         f"(compression ratio {ratio}:1)")


# --------------------------------------------------------------------------
# what collection finds


@dataclass(frozen=True)
class Submission:
    """Where one student's notebook is.

    ``path`` is the notebook in a folder (None for a zip member or when there
    is none); ``source`` is what the worker reads; ``problem`` why there is
    nothing to grade; ``note`` goes into the status; ``flags`` into
    ``flags.csv``; ``absent`` marks a roster student without a submission.
    """

    student_id: str
    path: Path | None
    problem: str | None = None
    note: str | None = None
    source: FileRef | ZipRef | None = None
    flags: tuple[str, ...] = ()
    absent: bool = False
    #: When it was submitted, as found (zip attempt time, nbgrader's ``timestamp.txt``);
    #: read by :mod:`autograder.late`.
    timestamp: str | None = None


@dataclass(frozen=True)
class Task:
    """One submission to grade.

    ``source`` says where the notebook is (a file below the submissions
    folder, or a zip member); the worker reads it, with its size cap, only
    when it grades the task, so a batch never holds every notebook in memory.
    ``data`` (bytes given directly) takes precedence. ``flags`` come from
    collection; ``absent`` marks a roster student who submitted nothing.
    """

    student_id: str
    data: bytes | None
    problem: str | None = None
    note: str | None = None
    source: FileRef | ZipRef | None = None
    flags: tuple[str, ...] = ()
    absent: bool = False
    timestamp: str | None = None  # when it was submitted, as collected

    def load(self) -> tuple[bytes | None, str | None]:
        """The notebook's bytes, or None and the reason (a status)."""
        if self.data is not None or self.source is None:
            return self.data, self.problem
        try:
            return self.source.read(), None
        except Unreadable as exc:
            return None, str(exc)


def make_task(sub: Submission) -> Task:
    """A task that refers to the notebook; nothing is read here."""
    source = sub.source
    if source is None and sub.path is not None and sub.problem is None:
        path = Path(sub.path).absolute()
        source = FileRef(str(path.parent), (path.name,))
    return Task(sub.student_id, None, problem=sub.problem, note=sub.note, source=source,
                flags=tuple(sub.flags), absent=sub.absent,
                timestamp=sub.timestamp)


@dataclass(frozen=True)
class Skipped:
    """A file of the input that is not graded, and why."""

    file: str
    reason: str


class Collection(list):
    """The submissions (a list, sorted by id) and the skipped files."""

    def __init__(self, items: Iterable[Submission] = (), skipped: Iterable[Skipped] = (),
                 assignment: str | None = None):
        super().__init__(items)
        self.skipped: list[Skipped] = list(skipped)
        #: The name of the assignment whose notebooks these are.
        self.assignment = assignment


# --------------------------------------------------------------------------
# which assignment


def _matches(file_name: str, name: str) -> int:
    """2 when ``file_name`` is ``<name>.ipynb`` (or ends with ``_<name>.ipynb``,
    as LMS names do), 1 when it is a renamed copy (``<name> (1).ipynb``), else 0."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    if not base.lower().endswith(".ipynb"):
        return 0
    stem = base[:-len(".ipynb")]
    if stem == name or stem.endswith("_" + name):
        return 2
    if stem.startswith(name) and not (stem[len(name):][:1].isalnum()
                                      or stem[len(name):][:1] == "_"):
        return 1
    return 0


def infer_assignment(file_names: Iterable[str], where: str = "the input") -> str | None:
    """The assignment whose notebooks ``file_names`` are, by their names.

    Each notebook counts for the registered assignment whose name it carries
    (``<name>.ipynb``, ``..._<name>.ipynb``; the longest name wins), renamed
    copies (``<name> (1).ipynb``) only when no name matches exactly. With a
    single registered assignment, that one. None when there is no notebook at
    all; :class:`CollectError` naming the candidates when the names point to
    several assignments or to none.
    """
    from .assignments import names as registered

    known = registered()
    files = [f for f in file_names if f.lower().endswith(".ipynb")]
    counts: dict[int, dict[str, int]] = {2: {}, 1: {}}
    for f in files:
        for level in (2, 1):
            hits = [n for n in known if _matches(f, n) == level]
            if hits:
                best = max(hits, key=len)
                counts[level][best] = counts[level].get(best, 0) + 1
                break
    for level in (2, 1):
        found = counts[level]
        if len(found) == 1:
            return next(iter(found))
        if len(found) > 1:
            listing = ", ".join(f"{n} ({k} notebook{'s' if k != 1 else ''})"
                                for n, k in sorted(found.items()))
            raise CollectError(f"{where} holds notebooks of several assignments: {listing}; "
                               "grade one at a time with --assignment NAME")
    if len(known) == 1:
        return known[0]
    if not files:
        return None
    raise CollectError(f"cannot tell which assignment the notebooks in {where} are: none is "
                       "named after one of " + ", ".join(known) + "; pass --assignment NAME")


def _folder_names(root: Path, exclude: tuple[Path, ...]) -> list[str]:
    """``<student>/<file>`` and ``<student>/<sub>/<file>`` notebook names under ``root``."""
    skip = {Path(p).resolve() for p in exclude}
    names: list[str] = []
    try:
        students = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return names
    for entry in students:
        if (_is_hidden(entry.name) or not entry.is_dir(follow_symlinks=False)
                or Path(entry.path).resolve() in skip):
            continue
        try:
            with os.scandir(entry.path) as it:
                for child in it:
                    if child.is_dir(follow_symlinks=False) and not _is_hidden(child.name):
                        with os.scandir(child.path) as inner:
                            names += [f"{entry.name}/{child.name}/{g.name}" for g in inner
                                      if g.name.lower().endswith(".ipynb")]
                    elif child.name.lower().endswith(".ipynb"):
                        names.append(f"{entry.name}/{child.name}")
        except OSError:
            continue
    return names


# --------------------------------------------------------------------------
# folders


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "__")) or name in SYSTEM_NAMES


def find_in_folder(root: Path, exclude: tuple[Path, ...] = (), *,
                   assignment: str | None = None,
                   max_notebook_mb: float = DEFAULT_MAX_NOTEBOOK_MB) -> Collection:
    """One :class:`Submission` per student folder of ``root``, sorted by id.

    Folders in ``exclude`` (e.g. the output folder, if it was put there) and
    hidden folders are skipped. Symbolic links are not followed. The notebook
    is ``<assignment>.ipynb``; without ``assignment``, it is inferred from the
    notebooks' names (:func:`infer_assignment`).
    """
    root = Path(root)
    if assignment is None:
        assignment = infer_assignment(_folder_names(root, exclude), str(root))
    max_bytes = int(max_notebook_mb * 2**20)
    skip = {Path(p).resolve() for p in exclude} | {Path(p).absolute() for p in exclude}
    found: list[Submission] = []
    skipped: list[Skipped] = []
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        sid = entry.name
        path = root / sid
        if path.absolute() in skip or path.resolve() in skip:
            continue
        if entry.is_symlink():
            if _is_hidden(sid):
                continue
            found.append(Submission(sid, None, problem="not graded: the student folder is a "
                                                       "symbolic link"))
            skipped.append(Skipped(sid, "symbolic link (not followed)"))
            continue
        if not entry.is_dir(follow_symlinks=False):
            skipped.append(Skipped(sid, "not in a student folder"))
            continue
        if _is_hidden(sid):
            skipped.append(Skipped(sid + "/", "hidden folder, not a student"))
            continue
        found.append(_student_folder(root, sid, max_bytes, skipped, assignment or ""))
    return Collection(found, skipped, assignment)


def _walk(folder: Path) -> tuple[list[Path], list[Path]]:
    """Notebooks (regular files) and symbolic links under ``folder``, not following links."""
    notebooks, links = [], []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if d.startswith("."):
                dirnames.remove(d)
            elif (here / d).is_symlink():
                links.append(here / d)
        dirnames.sort()
        for name in sorted(filenames):
            p = here / name
            if name.startswith("."):
                continue
            if p.is_symlink():
                links.append(p)
            elif name.lower().endswith(".ipynb"):
                notebooks.append(p)
    return notebooks, links


def _student_folder(root: Path, sid: str, max_bytes: int,
                    skipped: list[Skipped], assignment: str) -> Submission:
    folder = root / sid
    notebook = f"{assignment}.ipynb"
    notebooks, links = _walk(folder)
    for link in links:
        skipped.append(Skipped(str(link.relative_to(root)), "symbolic link (not followed)"))
    linked = {p.relative_to(folder).parts for p in links}
    chosen = None
    for parts in ((notebook,), (assignment, notebook)):
        # A link at any component of the expected path: say so, grade nothing.
        if any(parts[:i + 1] in linked for i in range(len(parts))):
            return Submission(sid, None, problem="not graded: the notebook is a symbolic link")
        if folder.joinpath(*parts) in notebooks:
            chosen = parts
            break
    note = None
    if chosen is None:
        if len(notebooks) == 1:
            chosen = notebooks[0].relative_to(folder).parts
            note = f"graded {'/'.join(chosen)!r} (expected {notebook})"
        elif notebooks:
            names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
            for p in notebooks:
                skipped.append(Skipped(str(p.relative_to(root)), "several notebooks, none "
                                                                  f"named {notebook}"))
            return Submission(sid, None, problem=f"no {notebook} (found {names})")
        elif links:
            return Submission(sid, None, problem="not graded: the notebook is a symbolic link")
        else:
            return Submission(sid, None, problem="no notebook submitted")
    for p in notebooks:
        if p.relative_to(folder).parts != chosen:
            skipped.append(Skipped(str(p.relative_to(root)), "not the graded notebook"))
    ref = FileRef(str(root), (sid, *chosen), max_bytes)
    return Submission(sid, folder.joinpath(*chosen), note=note, source=ref,
                      timestamp=_timestamp_txt(root, (sid, *chosen[:-1])))


def _timestamp_txt(root: Path, parts: tuple[str, ...]) -> str | None:
    """nbgrader's ``timestamp.txt`` beside the notebook (read like it, links refused)."""
    try:
        text = FileRef(str(root), (*parts, "timestamp.txt"), 256).read()
        return text.decode("utf-8").strip() or None
    except (Unreadable, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------
# zips


@dataclass(frozen=True)
class NamePattern:
    """A file-name pattern: ``student_id`` and ``file_id`` groups; how attempts order."""

    style: str
    regexp: re.Pattern[str]

    def match(self, name: str) -> dict[str, str] | None:
        m = self.regexp.fullmatch(name)
        return m.groupdict() if m else None


def compile_pattern(text: str, style: str = "--named-regexp") -> NamePattern:
    """Compile an instructor's pattern, checking its named groups."""
    try:
        regexp = re.compile(text)
    except re.error as exc:
        raise CollectError(f"invalid {style} {text!r}: {exc}") from None
    missing = {"student_id", "file_id"} - set(regexp.groupindex)
    if missing:
        raise CollectError(f"{style} {text!r} lacks the named group(s) "
                           + ", ".join(f"(?P<{g}>...)" for g in sorted(missing)))
    return NamePattern(style, regexp)


def builtin_patterns(assignment: str) -> tuple[NamePattern, ...]:
    """nbgrader's naming for ``assignment``, then Canvas's."""
    return (NamePattern("nbgrader", re.compile(nbgrader_regexp(assignment))),
            NamePattern("canvas", re.compile(CANVAS_REGEXP)))


def parse_timestamp(text: str) -> datetime:
    """``YYYY-MM-DD-HH-MM-SS`` (nbgrader's) or ISO 8601; anything else is a ValueError."""
    if re.fullmatch(TIMESTAMP, text):
        return datetime.strptime(text, "%Y-%m-%d-%H-%M-%S")
    value = datetime.fromisoformat(text)
    # Aware and naive times do not compare: an aware one counts in UTC.
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


@dataclass
class _Candidate:
    sid: str
    file_name: str  # the name the student gave the file
    member: str
    index: int
    order: tuple
    style: str
    info: zipfile.ZipInfo = field(repr=False)
    timestamp: str | None = None


def _declared_entries(path: Path) -> int | None:
    """The member count the end-of-central-directory record declares."""
    try:
        with open(path, "rb") as f:
            # Private, but the only reader of the declared count (stable since 2.x).
            end = zipfile._EndRecData(f)
    except (OSError, AttributeError):
        return None
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else None


def _is_archive(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(ARCHIVE_SUFFIXES)


def _classify(info: zipfile.ZipInfo, index: int, patterns: tuple[NamePattern, ...],
              assignment: str) -> _Candidate | Skipped:
    name = info.filename
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if any(p == ".." for p in parts) or name.startswith("/"):
        return Skipped(name, "unsafe path in the zip")
    if any(_is_hidden(p) for p in parts):
        return Skipped(name, "system or hidden file")
    if stat.S_ISLNK(info.external_attr >> 16):
        return Skipped(name, "symbolic link (not followed)")
    if _is_archive(parts[-1]):
        return Skipped(name, "nested archive (not opened)")
    if info.flag_bits & 0x1:
        return Skipped(name, "encrypted")
    if len(parts) > 1:
        # The folder layout, zipped.
        if len(parts) == 2 or (len(parts) == 3 and parts[1] == assignment):
            return _candidate(parts[0], parts[-1], info, index, (), "folder")
        return Skipped(name, f"not in the layout <student id>/{assignment}.ipynb")
    for pattern in patterns:
        groups = pattern.match(parts[0])
        if groups is None:
            continue
        order: tuple = ()
        if groups.get("timestamp") is not None:
            try:
                order = (parse_timestamp(groups["timestamp"]),)
            except ValueError:
                return Skipped(name, f"invalid timestamp {groups['timestamp']!r} "
                                     f"({pattern.style} file name)")
        elif groups.get("order") is not None:
            order = (int(groups["order"]),)
        found = _candidate(groups["student_id"], groups["file_id"], info, index, order,
                           pattern.style)
        if isinstance(found, _Candidate):
            found.timestamp = groups.get("timestamp")
        return found
    return Skipped(name, "file name matches no submission pattern ("
                         + ", ".join(p.style for p in patterns) + ")")


def _candidate(sid: str, file_name: str, info: zipfile.ZipInfo, index: int, order: tuple,
               style: str) -> _Candidate | Skipped:
    if not sid:
        return Skipped(info.filename, "empty student id")
    if len(sid) > MAX_ID_LENGTH:
        return Skipped(info.filename, f"student id longer than {MAX_ID_LENGTH} characters")
    return _Candidate(sid, file_name, info.filename, index, order, style, info)


def _select(sid: str, cands: list[_Candidate], archive: Path, max_bytes: int,
            skipped: list[Skipped], assignment: str) -> Submission:
    """The latest attempt of one student (see the module docstring)."""
    notebook = f"{assignment}.ipynb"
    styles = sorted({c.style for c in cands})
    if len(styles) > 1:
        for c in cands:
            skipped.append(Skipped(c.member, f"student {sid!r} appears in several naming "
                                             "styles"))
        return Submission(sid, None, problem="not graded: files in several naming styles ("
                                             + ", ".join(styles) + ")")
    notebooks = [c for c in cands if c.file_name.lower().endswith(".ipynb")]
    for c in cands:
        if c not in notebooks:
            skipped.append(Skipped(c.member, "not a notebook (.ipynb)"))
    if not notebooks:
        return Submission(sid, None, problem="no notebook submitted")
    latest = max(c.order for c in notebooks)
    last = [c for c in notebooks if c.order == latest]
    for c in notebooks:
        if c.order != latest:
            skipped.append(Skipped(c.member, f"older attempt of {sid!r}"))
    # The last one counts; in the folder layout <id>/<name>.ipynb comes
    # before <id>/<name>/<name>.ipynb, as in a folder.
    exact = sorted((c for c in last if c.file_name == notebook),
                   key=lambda c: (-c.member.count("/"), c.member))
    flags: list[str] = []
    note = None
    if exact:
        chosen = exact[-1]
        if chosen.style == "folder":
            others = [c for c in last if c is not chosen]
        elif len(exact) > 1:
            for c in exact[:-1]:
                skipped.append(Skipped(c.member, f"same attempt time as {chosen.member!r}, "
                                                 "which is graded"))
            flags.append(f"collection: {len(exact)} files with the same attempt time; "
                         f"graded {chosen.member!r}")
            note = f"{len(exact)} files with the same attempt time; graded the last by name"
            others = [c for c in last if c not in exact]
        else:
            others = [c for c in last if c is not chosen]
    elif len(last) == 1:
        chosen = last[0]
        note = f"graded {chosen.file_name!r} (expected {notebook})"
        others = []
    else:
        names = ", ".join(sorted(repr(c.file_name) for c in last))
        for c in last:
            skipped.append(Skipped(c.member, f"several notebooks, none named {notebook}"))
        return Submission(sid, None, problem=f"no {notebook} (found {names})")
    for c in others:
        skipped.append(Skipped(c.member, "not the graded notebook of that attempt"))
    if chosen.style != "folder" and re.search(rf"_attempt_{TIMESTAMP}_", chosen.file_name):
        flags.append("collection: the uploaded file name imitates the LMS naming "
                     f"({chosen.file_name!r})")
    ref = ZipRef(str(archive), chosen.index, chosen.member, max_bytes)
    return Submission(sid, None, note=note, source=ref, flags=tuple(flags),
                      timestamp=chosen.timestamp)


def collect_zip(archive: Path, named_regexp: str | None = None, *,
                assignment: str | None = None,
                max_notebook_mb: float = DEFAULT_MAX_NOTEBOOK_MB,
                max_members: int = MAX_MEMBERS) -> Collection:
    """The submissions in an LMS zip, read in place (nothing is extracted).

    The notebook is ``<assignment>.ipynb``; without ``assignment``, it is
    inferred from the members' names (:func:`infer_assignment`).
    """
    archive = Path(archive).resolve()
    max_bytes = int(max_notebook_mb * 2**20)
    declared = _declared_entries(archive)
    if declared is not None and declared > max_members:
        raise CollectError(f"{archive.name} declares {declared} files; the limit is "
                           f"{max_members}")
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CollectError(f"{archive.name} is not a readable zip file ({exc})") from None
    if len(infos) > max_members:
        raise CollectError(f"{archive.name} holds {len(infos)} files; the limit is {max_members}")
    if assignment is None:
        assignment = infer_assignment([i.filename for i in infos if not i.is_dir()],
                                      archive.name)
    patterns = ((compile_pattern(named_regexp),) if named_regexp
                else builtin_patterns(assignment or ""))
    by_student: dict[str, list[_Candidate]] = {}
    skipped: list[Skipped] = []
    seen_names: set[str] = set()
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        if info.filename in seen_names:
            skipped.append(Skipped(info.filename, "duplicate name in the zip"))
            continue
        seen_names.add(info.filename)
        found = _classify(info, index, patterns, assignment or "")
        if isinstance(found, Skipped):
            skipped.append(found)
        else:
            by_student.setdefault(found.sid, []).append(found)
    subs = [_select(sid, cands, archive, max_bytes, skipped, assignment or "")
            for sid, cands in sorted(by_student.items())]
    return Collection(subs, skipped, assignment)


# --------------------------------------------------------------------------
# roster


def read_roster(path: Path) -> list[str]:
    """Student ids from a CSV with a ``student_id`` column, or one id per line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectError(f"cannot read the roster {path}: {exc}") from None
    lines = text.splitlines()
    header = next((ln for ln in lines if ln.strip()), "")
    if "student_id" in next(csv.reader([header]), []):
        rows = csv.DictReader(io.StringIO(text))
        ids = [(r.get("student_id") or "").strip() for r in rows]
    else:
        ids = [ln.strip() for ln in lines if not ln.lstrip().startswith("#")]
    ids = [i for i in ids if i]
    if not ids:
        raise CollectError(f"the roster {path} lists no student id")
    return list(dict.fromkeys(ids))


def apply_roster(subs: Collection, roster: Iterable[str]) -> Collection:
    """Flag ids not on the roster; add a ``no submission`` row for each missing student."""
    roster = list(dict.fromkeys(roster))
    known = set(roster)
    have = {s.student_id for s in subs}
    out = [s if s.student_id in known
           else replace(s, flags=(*s.flags, "roster: student id not on the roster"))
           for s in subs]
    out += [Submission(sid, None, problem="no submission", absent=True)
            for sid in roster if sid not in have]
    out.sort(key=lambda s: s.student_id)
    return Collection(out, subs.skipped, subs.assignment)


# --------------------------------------------------------------------------


def find_submissions(path: Path, named_regexp: str | None = None,
                     workdir: Path | None = None,
                     exclude: tuple[Path, ...] = (), *,
                     roster: Iterable[str] | None = None,
                     assignment: str | None = None,
                     max_notebook_mb: float = DEFAULT_MAX_NOTEBOOK_MB) -> Collection:
    """Submissions of ``assignment`` from a folder or from a zip file (read in place).

    Without ``assignment``, it is inferred from the notebooks' file names
    (:func:`infer_assignment`); the collection's ``assignment`` says which.

    ``workdir`` is accepted for compatibility and unused: nothing is extracted.
    Raises :class:`CollectError` (a ``ValueError``) for an unreadable zip or
    pattern, ``FileNotFoundError`` for a missing input.
    """
    del workdir
    path = Path(path)
    named = None if named_regexp in (None, DEFAULT_REGEXP) else named_regexp
    if named is not None:
        compile_pattern(named)  # a bad pattern is an error even where it is not used
    if path.is_file() and path.suffix.lower() == ".zip":
        subs = collect_zip(path, named, assignment=assignment, max_notebook_mb=max_notebook_mb)
    elif path.is_dir():
        subs = find_in_folder(path, exclude, assignment=assignment,
                              max_notebook_mb=max_notebook_mb)
    else:
        raise FileNotFoundError(f"{path} is neither a folder of submissions nor a .zip file")
    return apply_roster(subs, roster) if roster is not None else subs
