"""Command line: ``python -m autograder {list,release,build-source,grade}``.

Examples
--------
::

    python -m autograder list                         # the assignments, one per line
    python -m autograder release                      # write every student notebook
    python -m autograder release poisson_mixture      # ... or some
    python -m autograder build-source --check         # are the test cells up to date?
    python -m autograder grade SUBMISSIONS --out OUT  # SUBMISSIONS: a folder or an LMS .zip
    python -m autograder grade SUBS --out OUT --assignment poisson_mixture
    python -m autograder grade export.zip --out OUT -j 4 --timeout 30
    python -m autograder grade export.zip --out OUT --roster roster.csv
    python -m autograder grade one-student/ --out OUT   # updates that student, keeps the class
    python -m autograder grade export.zip --out OUT --policy late.toml --db sqlite:///course/gradebook.db
    python -m autograder export --db OUT/gradebook.db --out grades-canvas.csv --format canvas
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
from pathlib import Path


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The course's autograded assignments: list them, write the student "
                    "notebooks, keep their tests up to date, grade submissions.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="print the assignment names, one per line")

    rel = sub.add_parser("release", help="write autograder/release/<name>/<name>.ipynb")
    rel.add_argument("names", nargs="*", metavar="NAME",
                     help="assignments (default: all)")
    rel.add_argument("--check", action="store_true", help="only check that they are up to date")

    src = sub.add_parser("build-source",
                         help="regenerate the test cells of the source notebooks from the "
                              "declarations")
    src.add_argument("names", nargs="*", metavar="NAME",
                     help="assignments (default: all)")
    src.add_argument("--check", action="store_true", help="only check that they are up to date")

    g = sub.add_parser("grade", help="autograde a folder (or zip) of submissions")
    g.add_argument("submissions", type=Path,
                   help="folder with one sub-folder per student id, or an LMS .zip export")
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--assignment", default=None, metavar="NAME",
                   help="the assignment graded (default: inferred from the notebooks' file "
                        "names; see python -m autograder list)")
    g.add_argument("-j", "--jobs", type=_positive(int), default=None,
                   help="parallel workers (default: number of cores)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="grade on a Dask distributed cluster: the scheduler's address, e.g. "
                        "tcp://host:8786 (every worker sandboxes and self-checks itself; "
                        "-j is then ignored)")
    g.add_argument("--timeout", type=_positive(float), default=30.0,
                   help="seconds per cell and per function call (default 30)")
    g.add_argument("--submission-timeout", type=_positive(float), default=300.0,
                   help="seconds per submission (default 300)")
    g.add_argument("--memory", type=_positive(int), default=2048,
                   help="memory cap of each submission's sandbox as a whole, in MiB "
                        "(default 2048)")
    g.add_argument("--isolation", choices=("auto", "root", "userns", "none"), default="auto",
                   help="sandbox of the student's code (default auto: root when run as root, "
                        "else userns; never none unless asked, which gives no file isolation)")
    g.add_argument("--named-regexp", default=None,
                   help="for a .zip: a regular expression that the whole file name must match, "
                        "with the named groups student_id and file_id (and optionally "
                        "timestamp or order, to find the latest attempt); replaces the "
                        "nbgrader and Canvas patterns")
    g.add_argument("--roster", type=Path, default=None,
                   help="CSV with a student_id column, or one id per line: ids not on it are "
                        "flagged, students missing from the input get 'no submission'")
    g.add_argument("--max-notebook-mb", type=_positive(float), default=20.0,
                   help="a larger notebook is not graded (default 20 MiB)")
    g.add_argument("--replace", action="store_true",
                   help="drop the class already in OUT (default: update the students graded "
                        "now and keep the others)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    g.add_argument("--secret-file", type=Path, default=None,
                   help="file holding the course secret that draws the hidden tests "
                        "(default: $AUTOGRADER_SECRET, else autograder/course_secret)")
    g.add_argument("--db", default=None,
                   help="nbgrader gradebook that receives the class: a database URL "
                        "(sqlite:///course/gradebook.db, postgresql://user@host/db) or an "
                        "SQLite file (default: OUT/gradebook.db)")
    g.add_argument("--course", type=Path, default=None,
                   help="nbgrader course root: write autograded/<student>/poisson_mixture/"
                        "poisson_mixture.ipynb there, where the formgrader looks for the "
                        "notebooks to grade by hand (use with --db COURSE/gradebook.db)")
    g.add_argument("--policy", type=Path, default=None,
                   help="TOML file with the due date and late penalty of the assignment "
                        "(see autograder/late.py); adds submitted, late_hours, penalty, "
                        "final_score to grades.csv")

    e = sub.add_parser("export", help="final grades (autograded + manual, late penalty) "
                                      "from the gradebook, for an LMS")
    e.add_argument("--db", required=True,
                   help="the gradebook: a database URL or an SQLite file (e.g. OUT/gradebook.db)")
    e.add_argument("--out", type=Path, required=True, help="file to write")
    e.add_argument("--format", choices=("csv", "canvas", "moodle"), default="csv",
                   help="csv (one row per student and assignment), canvas (gradebook "
                        "import) or moodle (grade import); default csv")
    e.add_argument("--policy", type=Path, default=None,
                   help="late policy (TOML): the penalty then applies to the manual "
                        "points too (default: the penalty stored when grading)")
    e.add_argument("--assignment", action="append", default=None,
                   help="only this assignment (repeatable; default: all)")
    e.add_argument("--canvas-id", action="append", default=[], metavar="NAME=ID",
                   help="Canvas assignment id of an assignment (repeatable)")
    e.add_argument("--allow-ungraded", action="store_true",
                   help="export even while submissions still need manual grading")
    return p


def _export(args: argparse.Namespace) -> int:
    from .export import ExportError, export
    from .late import PolicyError, load_policies

    try:
        policies = load_policies(args.policy) if args.policy else None
        ids = {}
        for item in args.canvas_id:
            name, sep, value = item.partition("=")
            if not sep or not value.strip().isdigit():
                raise ExportError(f"--canvas-id {item!r}: expected NAME=NUMBER")
            ids[name.strip()] = value.strip()
        text, grades = export(args.db, args.format, assignments=args.assignment,
                              policies=policies, canvas_ids=ids,
                              allow_ungraded=args.allow_ungraded)
    except (ExportError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an unreachable database, a corrupt file
        print(f"error: cannot read the gradebook {args.db}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"exported {len(grades)} grade(s) ({args.format}) to {args.out}", file=sys.stderr)
    return 0


def _collect(args: argparse.Namespace, out: Path):
    """The submissions, or an error message; checks that OUT can take their grades
    (before reading them when the assignment is given)."""
    from . import assignments
    from .collect import CollectError, find_submissions, read_roster
    from .report import OutputError, load_class

    try:
        if args.assignment is not None:  # OUT is checked before the submissions are read
            load_class(args.out, args.replace, assignments.get(args.assignment))
        roster = read_roster(args.roster) if args.roster else None
        subs = find_submissions(args.submissions, args.named_regexp, exclude=(out,),
                                roster=roster, max_notebook_mb=args.max_notebook_mb,
                                assignment=args.assignment)
        if subs.assignment is None:
            if subs:
                raise CollectError(f"cannot tell which assignment the submissions in "
                                   f"{args.submissions} are; pass --assignment NAME")
        else:
            load_class(args.out, args.replace, subs.assignment)
    except (FileNotFoundError, ValueError, OutputError) as exc:
        return f"error: {exc}"
    if not subs:
        return (f"error: no submission found in {args.submissions}"
                + (f" ({len(subs.skipped)} files skipped, e.g. {subs.skipped[0].file!r}: "
                   f"{subs.skipped[0].reason})" if subs.skipped else ""))
    return subs


def _grade(args: argparse.Namespace) -> int:
    import warnings

    from .grade import GradeConfig, GraderSelfCheckFailed, get_toolkit, grade_submissions
    from .sandbox import SandboxError
    from .spec import NO_SECRET_WARNING, NoSecretWarning, load_secret

    out = args.out.absolute()
    try:
        secret = load_secret(args.secret_file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if secret is None:
        print(f"warning: {NO_SECRET_WARNING}", file=sys.stderr)
        warnings.simplefilter("ignore", NoSecretWarning)  # said once, here
    hidden = ("hidden tests drawn from the course secret" if secret is not None
              else "hidden tests: PUBLIC default inputs (no course secret)")
    config = GradeConfig(timeout=args.timeout, submission_timeout=args.submission_timeout,
                         memory_mb=args.memory, isolation=args.isolation,
                         secret_file=None if args.secret_file is None else str(args.secret_file))
    from .gradebook import GradebookError, check
    from .late import PolicyError, load_policy
    from .report import OutputError, load_class

    start = time.monotonic()
    subs = _collect(args, out)
    if isinstance(subs, str):
        print(subs, file=sys.stderr)
        return 2
    # Checked before any grading: the policy (it is per assignment), a class in
    # OUT graded with one, and a database named on the command line.
    try:
        policy = load_policy(args.policy, subs.assignment) if args.policy else None
        old = load_class(out, args.replace, subs.assignment)
        if policy is None and any(r.late for r, _ in old.values()):
            raise PolicyError(f"{args.out} was graded with a late policy: give it again "
                              "(--policy FILE), or --replace to grade anew")
        db = args.db if args.db is not None else str(out / "gradebook.db")
        if args.db is not None:
            check(db)  # an unreachable database fails now, not after grading
    except (PolicyError, GradebookError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    executor = None
    try:
        if args.scheduler:
            from .distributed import DaskGrader

            executor = DaskGrader(args.scheduler)
        else:
            kit = get_toolkit(config)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the scheduler cannot be reached
        print(f"error: Dask scheduler {args.scheduler}: {exc}", file=sys.stderr)
        return 2
    if executor is None and kit.isolation == "none":
        print("warning: isolation 'none' (as asked): student code runs with resource limits "
              "only and could read any file its user can read (see autograder/sandbox.py)",
              file=sys.stderr)
    try:
        results = grade_submissions(subs, out, jobs=args.jobs, config=config,
                                    progress=args.progress, replace=args.replace,
                                    assignment=subs.assignment, policy=policy, gradebook=db,
                                    executor=executor)
    except GradebookError as exc:
        print(f"error: the grades are in {out}, but {exc}", file=sys.stderr)
        return 2
    except GraderSelfCheckFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if executor is not None:
            isolation = executor.isolation
            executor.shutdown()
    if executor is None:
        isolation = kit.isolation
    if args.course is not None:
        from .gradebook import write_autograded

        for problem in write_autograded(args.course, subs, results, subs.assignment):
            print(f"warning: no autograded notebook for {problem}", file=sys.stderr)
    elapsed = time.monotonic() - start
    flagged = len({r.student_id for r in results if r.flags})
    mean = sum(r.seconds for r in results) / max(len(results), 1)
    print(
        f"graded {len(results)} submissions of {subs.assignment} in {elapsed:.1f} s "
        f"({mean:.2f} s each on average, isolation: {isolation}); "
        f"{flagged} flagged for review; {hidden}.\n"
        f"  {out / 'grades.csv'}\n  {out / 'flags.csv'}\n  {out / 'similarity.csv'}\n"
        f"  {out / 'feedback'}/\n  {out / 'summary.png'}\n  gradebook: {db}",
        file=sys.stderr,
    )
    if subs.skipped:
        print(f"skipped {len(subs.skipped)} file(s) of the input, each with the reason in "
              f"{out / 'skipped.csv'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "list":
        from .assignments import names

        print("\n".join(names()))
        return 0
    if args.command in ("release", "build-source"):
        from .assignments import names

        unknown = [n for n in args.names if n not in names()]
        if unknown:
            print(f"error: unknown assignment(s) {', '.join(unknown)}; the assignments are: "
                  + ", ".join(names()), file=sys.stderr)
            return 2
    if args.command == "release":
        from .release import main as release

        return release(args.names, check=args.check)
    if args.command == "build-source":
        from .build_source import main as build

        return build(args.names, check=args.check)
    if args.command == "export":
        return _export(args)
    return _grade(args)


if __name__ == "__main__":
    code = main()
    # Everything the run wrote is closed by now: skip the interpreter's teardown
    # of the modules the outputs imported (matplotlib, SQLAlchemy, nbgrader),
    # about a second that changes nothing on disk. The exit handlers still run
    # (the sandboxes' template and cgroups are removed there).
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
