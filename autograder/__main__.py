"""Command line: ``python -m autograder {release,build-source,grade}``.

Examples
--------
::

    python -m autograder release                      # write the student notebook
    python -m autograder build-source --check         # are the test cells up to date?
    python -m autograder grade SUBMISSIONS --out OUT  # SUBMISSIONS: a folder or an LMS .zip
    python -m autograder grade export.zip --out OUT -j 4 --timeout 30
    python -m autograder grade export.zip --out OUT --roster roster.csv
    python -m autograder grade one-student/ --out OUT   # updates that student, keeps the class
"""

from __future__ import annotations

import argparse
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
        description="The autograded exercise 'EM for a mixture of Poisson distributions': "
                    "write the student notebook, keep its tests up to date, grade submissions.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    rel = sub.add_parser("release", help="write autograder/release/poisson_mixture/*.ipynb")
    rel.add_argument("--check", action="store_true", help="only check that it is up to date")

    src = sub.add_parser("build-source",
                         help="regenerate the test cells of the source notebook from the spec")
    src.add_argument("--check", action="store_true", help="only check that it is up to date")

    g = sub.add_parser("grade", help="autograde a folder (or zip) of submissions")
    g.add_argument("submissions", type=Path,
                   help="folder with one sub-folder per student id, or an LMS .zip export")
    g.add_argument("--out", type=Path, required=True, help="output folder")
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
    return p


def _collect(args: argparse.Namespace, out: Path):
    """The submissions, or an error message; checks first that OUT can be written."""
    from .collect import CollectError, find_submissions, read_roster
    from .report import OutputError, load_class

    try:
        load_class(args.out, args.replace)
        roster = read_roster(args.roster) if args.roster else None
        subs = find_submissions(args.submissions, args.named_regexp, exclude=(out,),
                                roster=roster, max_notebook_mb=args.max_notebook_mb)
    except (FileNotFoundError, CollectError, OutputError) as exc:
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
    start = time.monotonic()
    subs = _collect(args, out)
    if isinstance(subs, str):
        print(subs, file=sys.stderr)
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
                                    executor=executor)
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
    elapsed = time.monotonic() - start
    flagged = len({r.student_id for r in results if r.flags})
    mean = sum(r.seconds for r in results) / max(len(results), 1)
    print(
        f"graded {len(results)} submissions in {elapsed:.1f} s "
        f"({mean:.2f} s each on average, isolation: {isolation}); "
        f"{flagged} flagged for review; {hidden}.\n"
        f"  {out / 'grades.csv'}\n  {out / 'flags.csv'}\n  {out / 'similarity.csv'}\n"
        f"  {out / 'feedback'}/\n  {out / 'summary.png'}",
        file=sys.stderr,
    )
    if subs.skipped:
        print(f"skipped {len(subs.skipped)} file(s) of the input, each with the reason in "
              f"{out / 'skipped.csv'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "release":
        from .release import main as release

        return release(check=args.check)
    if args.command == "build-source":
        from .build_source import main as build

        return build(check=args.check)
    return _grade(args)


if __name__ == "__main__":
    sys.exit(main())
