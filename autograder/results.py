"""What grading gives: one student's grade and everything their feedback shows.

Plain data, made by :mod:`autograder.grade` and read by the outputs
(:mod:`autograder.report`, :mod:`autograder.gradebook`), which therefore
need nothing else of the grader.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TestResult:
    grade_id: str
    function: str
    title: str
    max_points: int
    points: int = 0
    passed: bool = False
    message: str = ""
    case: str = ""
    case_visible: bool = False
    detail: str = ""


@dataclass
class CellLog:
    label: str
    first_line: str
    outcome: str  # ok, error, timeout, died, skipped
    message: str = ""
    traceback: str = ""


@dataclass
class SubmissionResult:
    """The grade of one student, and everything the feedback shows."""

    student_id: str
    score: int
    max_score: int
    status: str
    tests: list[TestResult]
    cells: list[CellLog] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = ""
    #: The shape of the student's own code (:func:`autograder.similarity.fingerprint`),
    #: kept with the result so that a regrade compares with the whole class.
    fingerprint: list[int] = field(default_factory=list)
    #: The name of the assignment graded.
    assignment: str = ""
    #: When it was submitted, as collected (see :mod:`autograder.late`).
    timestamp: str | None = None
    #: The late policy's verdict (:func:`autograder.late.verdict`); None without a policy.
    late: dict | None = None

    @property
    def points(self) -> dict[str, int]:
        return {t.grade_id: t.points for t in self.tests}
