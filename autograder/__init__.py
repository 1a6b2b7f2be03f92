"""The autograded exercise "EM for a mixture of Poisson distributions".

An nbgrader course (``nbgrader_config.py``, ``source/`` and ``release/``) and
a grader that is stricter than stock ``nbgrader autograde``: it runs each
student's code in a locked-down child process and judges the plain numbers
that the five graded functions return, in its own process, against the
reference implementation :mod:`solutions.poisson`.

Command line: ``python -m autograder {release,build-source,grade}`` (see
:mod:`autograder.__main__`). Python API::

    from autograder import GradeConfig, find_submissions, grade_submissions

    subs = find_submissions("submissions/")          # or "lms-export.zip"
    results = grade_submissions(subs, "out/", jobs=4)  # or executor=...

Modules: :mod:`~autograder.spec` (grade ids, points, test cases),
:mod:`~autograder.checks` (the judge, also inlined in the notebook),
:mod:`~autograder.reference` (expected values), :mod:`~autograder.build_source`
(the notebook's test cells), :mod:`~autograder.release`,
:mod:`~autograder.collect` (folders and zips), :mod:`~autograder.notebook`
(matching a submission's cells), :mod:`~autograder.scan` (flags),
:mod:`~autograder.sandbox` and :mod:`~autograder._driver` (the child process),
:mod:`~autograder.grade` (the pipeline), :mod:`~autograder.report` (outputs).
"""

from .collect import Submission, find_submissions
from .grade import GradeConfig, SubmissionResult, grade_submissions

__all__ = ["GradeConfig", "Submission", "SubmissionResult", "find_submissions",
           "grade_submissions"]
