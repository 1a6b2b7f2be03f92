"""Due dates and late penalties, per assignment.

A late policy is a small TOML file with one table per assignment::

    [poisson_mixture]
    due = 2026-03-01T23:59:00+01:00   # with its UTC offset, or local time + timezone
    timezone = "Europe/Paris"          # for times written without an offset (default UTC)
    grace_minutes = 15                 # this late still counts as on time (default 0)
    penalty_per_day = 0.10             # fraction of the score lost per day late (default 0)
    per = "started day"                # or "day": pro rata, to the second (default "started day")
    cap = 0.5                          # the penalty never exceeds this fraction (default 1)
    no_credit_after = 2026-03-08T23:59:00+01:00   # later: no credit at all (optional)

With ``per = "started day"`` a submission 1 hour late loses one day's
penalty, 25 hours late two days'. Lateness is counted from ``due`` (the grace
period only forgives small delays, it does not move the due date). The
penalty is the fraction ``f = min(cap, penalty_per_day · days)`` (``f = 1``
after ``no_credit_after``) of the score: in ``grades.csv`` and the feedback of
the autograded score, in ``python -m autograder export`` of the autograded and
manual scores together.

The submission time comes from collection (:mod:`autograder.collect`): the
attempt time in an LMS zip's file names, or nbgrader's ``timestamp.txt`` beside
the notebook. Times without a UTC offset are read in the assignment's
``timezone``. A submission whose time is unknown gets no penalty and a flag.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Counting modes of ``per``.
PER = ("started day", "day")
KEYS = {"due", "timezone", "grace_minutes", "penalty_per_day", "per", "cap", "no_credit_after"}
#: The columns that ``grades.csv`` gains when a late policy applies (after the existing ones).
COLUMNS = ("submitted", "late_hours", "penalty", "final_score")
UNKNOWN_FLAG = "late policy: submission time unknown, no penalty applied"
#: A submission time longer than this is not a time.
MAX_TIMESTAMP = 100
_NBGRADER_ZIP_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")


class PolicyError(ValueError):
    """The late policy file is unreadable or says something impossible."""


@dataclass(frozen=True)
class LatePolicy:
    """The due date and late penalty of one assignment (see the module docstring)."""

    assignment: str
    due: datetime  # aware
    timezone: str = "UTC"
    grace: timedelta = timedelta(0)
    penalty_per_day: float = 0.0
    per: str = "started day"
    cap: float = 1.0
    no_credit_after: datetime | None = None  # aware

    def fraction(self, submitted: datetime) -> float:
        """The fraction of the score lost by a submission at ``submitted`` (aware)."""
        if self.no_credit_after is not None and submitted > self.no_credit_after:
            return 1.0
        late = (submitted - self.due).total_seconds()
        if late <= self.grace.total_seconds():
            return 0.0
        days = late / 86400.0
        if self.per == "started day":
            days = math.ceil(days)
        return min(self.cap, self.penalty_per_day * days)


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PolicyError(f"{where}: unknown timezone {name!r} ({exc})") from None


def _when(value: object, zone: ZoneInfo, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PolicyError(f"{where}: {value!r} is not a date and time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise PolicyError(f"{where}: give a time too, e.g. {value}T23:59:00")
    if not isinstance(value, datetime):
        raise PolicyError(f"{where}: expected a date and time, got {value!r}")
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _number(table: dict, key: str, default: float, low: float, high: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"{where}.{key}: expected a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def policy_from_table(assignment: str, table: dict, where: str = "policy") -> LatePolicy:
    """One assignment's table of the TOML file as a :class:`LatePolicy`."""
    where = f"{where} [{assignment}]"
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(KEYS))})")
    if "due" not in table:
        raise PolicyError(f"{where}: no due date (due = 2026-03-01T23:59:00+01:00)")
    tz = table.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise PolicyError(f"{where}.timezone: expected a name such as 'Europe/Paris'")
    zone = _zone(tz, where)
    per = table.get("per", "started day")
    if per not in PER:
        raise PolicyError(f"{where}.per: expected one of {', '.join(map(repr, PER))}, got {per!r}")
    due = _when(table["due"], zone, f"{where}.due")
    end = table.get("no_credit_after")
    end = None if end is None else _when(end, zone, f"{where}.no_credit_after")
    if end is not None and end < due:
        raise PolicyError(f"{where}: no_credit_after is before the due date")
    return LatePolicy(
        assignment=assignment, due=due, timezone=tz,
        grace=timedelta(minutes=_number(table, "grace_minutes", 0, 0, 10**6, where)),
        penalty_per_day=_number(table, "penalty_per_day", 0, 0, 1, where),
        per=per, cap=_number(table, "cap", 1, 0, 1, where), no_credit_after=end)


def load_policies(path: str | Path) -> dict[str, LatePolicy]:
    """Every assignment's policy in a TOML file; :class:`PolicyError` if it is wrong."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the late policy {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"the late policy {path} is not valid TOML: {exc}") from None
    policies = {}
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise PolicyError(f"{path}: {name!r} must be a table ([{name}])")
        policies[name] = policy_from_table(name, table, str(path))
    return policies


def load_policy(path: str | Path, assignment: str) -> LatePolicy:
    """The policy of ``assignment`` in the file ``path``."""
    policies = load_policies(path)
    if assignment not in policies:
        raise PolicyError(f"the late policy {path} has no [{assignment}] table")
    return policies[assignment]


def parse_time(text: str | None, timezone: str = "UTC") -> datetime | None:
    """A submission time as an aware UTC datetime; None when absent or unreadable.

    Accepts nbgrader's zip attempt time ``YYYY-MM-DD-HH-MM-SS``, ISO 8601 and
    nbgrader's ``timestamp.txt`` (``2026-03-01 10:00:00.123456 UTC``, or with
    a zone name or a ``+0100`` offset). Times without an offset are in
    ``timezone``.
    """
    if not text or len(text) > MAX_TIMESTAMP:
        return None
    text = text.strip()
    zone = ZoneInfo(timezone)
    m = _NBGRADER_ZIP_TIME.fullmatch(text)
    try:
        if m:
            value = datetime(*map(int, m.groups()))
        else:
            parts = text.split(" ")
            if len(parts) == 3:  # date, time, zone (nbgrader's timestamp.txt)
                value = datetime.fromisoformat(" ".join(parts[:2]))
                if value.tzinfo is None:
                    name = parts[2]
                    if re.fullmatch(r"[+-]\d{4}", name):
                        sign = 1 if name[0] == "+" else -1
                        offset = timedelta(hours=int(name[1:3]), minutes=int(name[3:]))
                        value = value.replace(tzinfo=None) - sign * offset
                        value = value.replace(tzinfo=UTC)
                    else:
                        value = value.replace(tzinfo=UTC if name in ("UTC", "Z", "GMT")
                                              else ZoneInfo(name))
            else:
                value = datetime.fromisoformat(text)
    except (ValueError, ZoneInfoNotFoundError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str:
    """``2026-03-01T09:00:00Z`` (UTC, to the second); empty for None."""
    if value is None:
        return ""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def points(value: float) -> float:
    """Points rounded to 1/100 (penalties are fractions of integer scores)."""
    return round(float(value) + 0.0, 2)


def verdict(policy: LatePolicy, timestamp: str | None, score: float) -> dict:
    """What the policy makes of one submission: a JSON-ready record.

    Keys: ``submitted`` (ISO UTC or ""), ``late_seconds`` (None when the time
    is unknown), ``fraction``, ``penalty`` (points), ``final_score``.
    """
    submitted = parse_time(timestamp, policy.timezone)
    if submitted is None:
        return {"submitted": "", "late_seconds": None, "fraction": 0.0, "penalty": 0.0,
                "final_score": points(score)}
    fraction = policy.fraction(submitted)
    penalty = points(fraction * score)
    return {"submitted": iso(submitted),
            "late_seconds": max(0.0, (submitted - policy.due).total_seconds()),
            "fraction": fraction, "penalty": penalty, "final_score": points(score - penalty)}


def apply(results: Iterable, policy: LatePolicy | None) -> set[str]:
    """Set ``result.late`` of every result from its ``timestamp``; the ids whose verdict changed.

    A graded submission (score above zero) whose time is unknown is flagged.
    ``policy=None`` clears nothing: it raises ``ValueError`` when a result
    carries a verdict, since dropping the class's penalties silently would
    change grades.
    """
    changed = set()
    for r in results:
        if policy is None:
            if getattr(r, "late", None):
                raise ValueError("these outputs were graded with a late policy: give the "
                                 "policy again (--policy FILE), or --replace to grade anew")
            continue
        new = verdict(policy, r.timestamp, r.score)
        if new["late_seconds"] is None and r.score > 0 and UNKNOWN_FLAG not in r.flags:
            r.flags = [*r.flags, UNKNOWN_FLAG]
        if new != r.late:
            changed.add(r.student_id)
        r.late = new
    return changed


def csv_cells(late: dict | None) -> list[str]:
    """The cells of :data:`COLUMNS` for one result."""
    if not late:
        return ["", "", "", ""]
    seconds = late.get("late_seconds")
    hours = "" if seconds is None else f"{seconds / 3600:.2f}"
    return [late.get("submitted", ""), hours, _num(late["penalty"]), _num(late["final_score"])]


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe(late: dict | None) -> str:
    """One sentence for the feedback page (plain text)."""
    if not late:
        return ""
    if late.get("late_seconds") is None:
        return "Submission time unknown: no late penalty applied."
    when = f"Submitted {late['submitted'].replace('T', ' ').replace('Z', ' UTC')}"
    seconds = late["late_seconds"]
    if seconds <= 0:
        return f"{when}, on time."
    hours = seconds / 3600
    delay = f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
    if late["penalty"] <= 0:
        return f"{when}, {delay} late (within the grace period or without penalty)."
    return (f"{when}, {delay} late: late penalty {_num(late['penalty'])} points "
            f"({late['fraction']:.0%}), final score {_num(late['final_score'])}.")
