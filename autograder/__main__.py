"""Command line: ``python -m autograder {release,build-source,grade}``.

Examples
--------
::

    python -m autograder release                      # write the student notebook
    python -m autograder build-source --check         # are the test cells up to date?
    python -m autograder grade SUBMISSIONS --out OUT  # SUBMISSIONS: a folder or an LMS .zip
    python -m autograder grade export.zip --out OUT -j 4 --timeout 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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
                   help="for a .zip: regular expression of nbgrader's FileNameCollectorPlugin "
                        "(groups student_id and file_id)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    return p


def _grade(args: argparse.Namespace) -> int:
    from .collect import DEFAULT_REGEXP, find_submissions
    from .grade import GradeConfig, GraderSelfCheckFailed, get_toolkit, grade_submissions
    from .sandbox import SandboxError

    out = args.out.resolve()
    config = GradeConfig(timeout=args.timeout, submission_timeout=args.submission_timeout,
                         memory_mb=args.memory, isolation=args.isolation)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="autograder-collect-") as tmp:
        try:
            subs = find_submissions(args.submissions, args.named_regexp or DEFAULT_REGEXP,
                                    Path(tmp), exclude=(out,))
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not subs:
            print(f"error: no student folder in {args.submissions}", file=sys.stderr)
            return 2
        try:
            kit = get_toolkit(config)
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if kit.isolation == "none":
            print("warning: isolation 'none' (as asked): student code runs with resource limits "
                  "only and could read any file its user can read (see autograder/sandbox.py)",
                  file=sys.stderr)
        try:
            results = grade_submissions(subs, out, jobs=args.jobs, config=config,
                                        progress=args.progress)
        except GraderSelfCheckFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elapsed = time.monotonic() - start
    flagged = len({r.student_id for r in results if r.flags})
    mean = sum(r.seconds for r in results) / len(results)
    print(
        f"graded {len(results)} submissions in {elapsed:.1f} s "
        f"({mean:.2f} s each on average, isolation: {kit.isolation}); "
        f"{flagged} flagged for review.\n"
        f"  {out / 'grades.csv'}\n  {out / 'flags.csv'}\n  {out / 'feedback'}/\n"
        f"  {out / 'summary.png'}",
        file=sys.stderr,
    )
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
