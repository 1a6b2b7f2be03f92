"""The course's autograder: an engine that grades any assignment declared once.

An nbgrader course (``nbgrader_config.py``, ``source/<name>/`` and
``release/<name>/``) and a grader that is stricter than stock ``nbgrader
autograde``: it runs each student's code in a locked-down child process and
judges the plain numbers that the graded functions return, in its own
process, against the assignment's reference implementation in ``solutions``.

Each assignment is declared once in ``assignments/<name>/`` (an
:class:`~autograder.spec.Assignment`: graded functions, grade cells and test
cases, checks, reference, written answers graded by hand); see
``autograder/assignments/README.md``. The engine's modules name no assignment.

Command line: ``python -m autograder {list,release,build-source,grade}`` (see
:mod:`autograder.__main__`). Python API::

    from autograder import GradeConfig, find_submissions, grade_submissions

    subs = find_submissions("submissions/")          # or "lms-export.zip"; the
    results = grade_submissions(subs, "out/", jobs=4)  # assignment is inferred

Modules: :mod:`~autograder.spec` (the declaration records, the course secret),
:mod:`~autograder.assignments` (the registry), :mod:`~autograder.checks`
(judging helpers, also inlined in every notebook), :mod:`~autograder.build_source`
(the notebooks' generated cells), :mod:`~autograder.release`,
:mod:`~autograder.collect` (folders and zips), :mod:`~autograder.notebook`
(matching a submission's cells), :mod:`~autograder.scan` (flags),
:mod:`~autograder.sandbox` and :mod:`~autograder._driver` (the child process),
:mod:`~autograder.grade` (the pipeline), :mod:`~autograder.report` (outputs),
:mod:`~autograder.similarity` (copies).
"""

from .collect import Submission, find_submissions
from .grade import GradeConfig, SubmissionResult, grade_submissions

__all__ = ["GradeConfig", "Submission", "SubmissionResult", "find_submissions",
           "grade_submissions"]
