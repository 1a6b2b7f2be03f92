"""Due dates and late penalties (autograder.late): parsing, arithmetic, outputs, collection."""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from autograder import collect, grade, late, report
from autograder.assignments import get

POISSON = get("poisson_mixture")
# Several assignments are registered: these outputs are Poisson's.
write_outputs = functools.partial(report.write_outputs, assignment=POISSON)

DUE = datetime(2026, 3, 1, 23, 59, tzinfo=ZoneInfo("Europe/Paris"))


def _policy(**kw) -> late.LatePolicy:
    table = {"due": "2026-03-01T23:59:00", "timezone": "Europe/Paris", **kw}
    return late.policy_from_table("poisson_mixture", table)


def _result(sid: str, passed: int, timestamp: str | None) -> grade.SubmissionResult:
    tests = [grade.TestResult(c.grade_id, c.function, c.title, c.points,
                              points=c.points if i < passed else 0, passed=i < passed)
             for i, c in enumerate(POISSON.cells())]
    return grade.SubmissionResult(sid, sum(t.points for t in tests), 15, "ok", tests,
                                  timestamp=timestamp)


# --------------------------------------------------------------------------
# times


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01-10-00-00", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),  # Paris, winter: UTC+1
    ("2026-07-01-10-00-00", datetime(2026, 7, 1, 8, 0, tzinfo=UTC)),  # summer: UTC+2
    ("2026-03-01T10:00:00+00:00", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
    ("2026-03-01 10:00:00.250000 UTC", datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ("2026-03-01 10:00:00 +0130", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
    ("2026-03-01 10:00:00 -0500", datetime(2026, 3, 1, 15, 0, tzinfo=UTC)),
    ("2026-03-01 10:00:00 America/New_York", datetime(2026, 3, 1, 15, 0, tzinfo=UTC)),
])
def test_submission_times_in_every_format(text, expected):
    assert late.parse_time(text, "Europe/Paris") == expected


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-13-01-10-00-00",
                                  "2026-03-01 10:00:00 Mars/Olympus", "9" * 500])
def test_unreadable_times_are_unknown(text):
    assert late.parse_time(text, "UTC") is None


# --------------------------------------------------------------------------
# the penalty


def _brute_force(policy: late.LatePolicy, submitted: datetime) -> float:
    """The policy's fraction, counted day by day."""
    if policy.no_credit_after and submitted > policy.no_credit_after:
        return 1.0
    delay = submitted - policy.due
    if delay <= policy.grace:
        return 0.0
    if policy.per == "started day":
        days = 0
        while policy.due + timedelta(days=days) < submitted:
            days += 1
    else:
        days = delay / timedelta(days=1)
    return min(policy.cap, policy.penalty_per_day * days)


@pytest.mark.parametrize("per", ["started day", "day"])
def test_penalty_matches_a_day_by_day_count(per):
    policy = _policy(penalty_per_day=0.1, per=per, cap=0.45, grace_minutes=15,
                     no_credit_after="2026-03-08T23:59:00")
    for minutes in [-600, 0, 10, 15, 16, 60, 24 * 60, 24 * 60 + 1, 50 * 60, 3 * 24 * 60 + 5,
                    6 * 24 * 60, 7 * 24 * 60, 7 * 24 * 60 + 1, 30 * 24 * 60]:
        when = DUE + timedelta(minutes=minutes)
        assert math.isclose(policy.fraction(when), _brute_force(policy, when),
                            abs_tol=1e-12), (per, minutes)


def test_verdict_in_points():
    policy = _policy(penalty_per_day=0.1)
    # 25 h late: two started days, 20 % of 13 points.
    v = late.verdict(policy, "2026-03-03-01-00-00", 13)
    assert v["submitted"] == "2026-03-03T00:00:00Z"
    delay = datetime(2026, 3, 3, 0, 0, tzinfo=UTC) - datetime(2026, 3, 1, 22, 59, tzinfo=UTC)
    assert v["late_seconds"] == pytest.approx(delay.total_seconds())
    assert v["penalty"] == pytest.approx(2.6) and v["final_score"] == pytest.approx(10.4)
    on_time = late.verdict(policy, "2026-03-01-12-00-00", 13)
    assert (on_time["late_seconds"], on_time["penalty"], on_time["final_score"]) == (0.0, 0, 13)
    unknown = late.verdict(policy, None, 13)
    assert unknown["late_seconds"] is None and unknown["penalty"] == 0


def test_policy_file(tmp_path):
    path = tmp_path / "late.toml"
    path.write_text('[poisson_mixture]\ndue = 2026-03-01T23:59:00+01:00\n'
                    'penalty_per_day = 0.2\nper = "day"\ncap = 0.5\n\n'
                    '[other]\ndue = 2026-04-01T12:00:00Z\n')
    policies = late.load_policies(path)
    assert policies["poisson_mixture"].due == DUE
    assert policies["poisson_mixture"].fraction(DUE + timedelta(hours=36)) == pytest.approx(0.3)
    assert policies["other"].penalty_per_day == 0
    assert late.load_policy(path, "other").due == datetime(2026, 4, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("body, message", [
    ('[poisson_mixture]\npenalty_per_day = 0.1\n', "no due date"),
    ('[poisson_mixture]\ndue = 2026-03-01\n', "give a time too"),
    ('[poisson_mixture]\ndue = 2026-03-01T23:59:00Z\npenaltyperday = 0.1\n', "unknown key"),
    ('[poisson_mixture]\ndue = 2026-03-01T23:59:00Z\nper = "week"\n', "per"),
    ('[poisson_mixture]\ndue = 2026-03-01T23:59:00Z\ncap = 2\n', "cap"),
    ('[poisson_mixture]\ndue = 2026-03-01T23:59:00\ntimezone = "Nowhere/City"\n', "timezone"),
    ('[poisson_mixture]\ndue = 2026-03-01T23:59:00Z\nno_credit_after = 2026-02-01T00:00:00Z\n',
     "before the due date"),
    ('poisson_mixture = 3\n', "must be a table"),
    ('[poisson_mixture\n', "not valid TOML"),
])
def test_policy_errors_name_the_problem(tmp_path, body, message):
    path = tmp_path / "late.toml"
    path.write_text(body)
    with pytest.raises(late.PolicyError, match=message):
        late.load_policies(path)


def test_missing_assignment_table(tmp_path):
    path = tmp_path / "late.toml"
    path.write_text('[other]\ndue = 2026-03-01T23:59:00Z\n')
    with pytest.raises(late.PolicyError, match=r"no \[poisson_mixture\] table"):
        late.load_policy(path, "poisson_mixture")


# --------------------------------------------------------------------------
# outputs


def test_grades_csv_feedback_and_regrade(tmp_path):
    policy = _policy(penalty_per_day=0.1)
    out = tmp_path / "out"
    results = [_result("ann", 10, "2026-03-01-20-00-00"),   # on time
               _result("ben", 10, "2026-03-03-01-00-00"),   # 2 started days late
               _result("cat", 4, None)]                     # time unknown
    write_outputs(results, out, policy=policy)
    rows = list(csv.reader(io.StringIO((out / "grades.csv").read_text())))
    assert rows[0] == [*report.grade_columns(POISSON), "submitted", "late_hours", "penalty",
                       "final_score"]
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_id["ann"]["score"] == "15" and by_id["ann"]["penalty"] == "0"
    assert by_id["ann"]["submitted"] == "2026-03-01T19:00:00Z"
    assert by_id["ben"]["final_score"] == "12" and by_id["ben"]["penalty"] == "3"
    assert float(by_id["ben"]["late_hours"]) == pytest.approx(25 + 1 / 60, abs=0.01)
    assert by_id["cat"]["submitted"] == "" and by_id["cat"]["penalty"] == "0"
    flags = {(r["student_id"], r["reason"]) for r in csv.DictReader((out / "flags.csv").open())}
    assert ("cat", late.UNKNOWN_FLAG) in flags and not any(s != "cat" for s, _ in flags)
    page = (out / "feedback" / "ben.html").read_text()
    assert "late penalty 3 points (20%), final score 12" in page
    # Regrading one student without the policy would drop everyone's penalty: refused.
    with pytest.raises(ValueError, match="late policy"):
        write_outputs([_result("dan", 3, None)], out)
    # A later due date: every page and row follows.
    later = late.policy_from_table("poisson_mixture", {"due": "2026-03-05T00:00:00Z",
                                                       "penalty_per_day": 0.1})
    write_outputs([_result("dan", 3, "2026-03-02-00-00-00")], out, policy=later)
    assert "late penalty" not in (out / "feedback" / "ben.html").read_text()
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["final_score"] for r in rows] == ["15", "15", "6", "4"]


def test_without_a_policy_grades_csv_is_unchanged(tmp_path):
    write_outputs([_result("ann", 2, "2026-03-01-20-00-00")], tmp_path / "out")
    header = (tmp_path / "out" / "grades.csv").read_text().splitlines()[0]
    assert header == ",".join(report.grade_columns(POISSON))


# --------------------------------------------------------------------------
# collection carries the submission time


def test_zip_attempt_time_is_collected(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name in ("poisson_mixture_ann_attempt_2026-03-01-10-00-00_poisson_mixture.ipynb",
                     "poisson_mixture_ann_attempt_2026-03-02-11-00-00_poisson_mixture.ipynb"):
            z.writestr(name, "{}")
    (sub,) = collect.find_submissions(path)
    assert sub.timestamp == "2026-03-02-11-00-00"  # the latest attempt's
    assert grade.make_task(sub).timestamp == "2026-03-02-11-00-00"


def test_nbgrader_timestamp_txt_is_collected(tmp_path):
    folder = tmp_path / "subs" / "ann" / "poisson_mixture"
    folder.mkdir(parents=True)
    (folder / "poisson_mixture.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC\n")
    (tmp_path / "subs" / "ben").mkdir()
    (tmp_path / "subs" / "ben" / "poisson_mixture.ipynb").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("2026-01-01 00:00:00 UTC")
    os.symlink(secret, tmp_path / "subs" / "ben" / "timestamp.txt")  # never followed
    subs = {s.student_id: s for s in collect.find_submissions(tmp_path / "subs")}
    assert subs["ann"].timestamp == "2026-03-01 10:00:00.000000 UTC"
    assert subs["ben"].timestamp is None


def test_an_oversized_timestamp_file_is_ignored(tmp_path):
    folder = tmp_path / "subs" / "ann"
    folder.mkdir(parents=True)
    (folder / "poisson_mixture.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00 UTC" + " " * 10_000)
    (sub,) = collect.find_submissions(tmp_path / "subs")
    assert sub.timestamp is None


def test_results_keep_the_time_between_runs(tmp_path):
    out = tmp_path / "out"
    write_outputs([_result("ann", 2, "2026-03-01-20-00-00")], out, policy=_policy())
    (old, _page), = report.load_class(out).values()
    assert old.timestamp == "2026-03-01-20-00-00" and old.late["penalty"] == 0
    assert Path(out / "results.json").read_text().count("2026-03-01T19:00:00Z") == 1
