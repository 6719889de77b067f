"""The batch's gradebook: one CSV row per submission, one per student to import, and the summary.

Every row is rebuilt from the submission's own results file, the one the
student would see on Gradescope, so the gradebook can never say something
the results do not, and a batch that was interrupted and resumed gives the
same gradebook as one that ran straight through.

grades.csv has a row per submission (a group's names, ids and emails joined
with "; "); students.csv has a row per student, a group's members each with
the group's scores: what a gradebook import (Gradescope, Canvas, Moodle)
matches on is one id or one email.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from . import report
from .export import Submitter
from .rubric import GRADED, Rubric

GRADED_STATUS, ERROR_STATUS = "graded", "error"
BAR = 40  # characters of the widest histogram bar


@dataclass(frozen=True)
class Row:
    submission: str
    submitters: tuple[Submitter, ...]
    points: dict[str, float]  # test key -> points earned (empty when not graded)
    total: float
    max: float
    status: str  # "graded" or "error"
    seconds: float
    reason: str  # why it could not be graded, for an error


def read(path: Path) -> dict | None:
    """A results file's contents, or None if there is none or it is not whole."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("tests"), list) else None


def is_graded(data: dict | None) -> bool:
    """Results that grade the submission; the grader's own failure has no tests."""
    return bool(data and data["tests"])


def row(submission: str, submitters: tuple[Submitter, ...], data: dict, rubric: Rubric) -> Row:
    if not is_graded(data):
        return Row(submission, submitters, {}, 0.0, rubric.max_score, ERROR_STATUS,
                   float(data.get("execution_time", 0.0)), _reason(data.get("output", "")))
    by_name = {t.get("name"): t for t in data["tests"]}
    points = {test.key: float(by_name[test.name].get("score", 0.0))
              for test in rubric.tests if test.key in GRADED and test.name in by_name}
    maximum = sum(float(t.get("max_score", 0.0)) for t in data["tests"])
    return Row(submission, submitters, points, float(data.get("score", 0.0)), maximum, GRADED_STATUS,
               float(data.get("execution_time", 0.0)), "")


def _reason(output: str) -> str:
    """The last line of what the results tell the instructor: the exception, say."""
    told = output.split("For the instructor:", 1)[-1]
    lines = [line.strip() for line in told.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the grader failed"


def number(value: float) -> str:
    return f"{round(value, 3):g}"


def graded_keys(rubric: Rubric) -> list[str]:
    """The keys of the tests that count, in the rubric's order: the gradebooks' columns."""
    return [test.key for test in rubric.tests if test.key in GRADED]


def header(rubric: Rubric) -> list[str]:
    tests = graded_keys(rubric)
    return ["submission", "names", "sids", "emails", *tests, "total", "max", "status", "seconds", "reason"]


def write_csv(rows: list[Row], rubric: Rubric, path: Path) -> None:
    """The gradebook, written atomically: a reader sees the old one or the new one."""
    tests = graded_keys(rubric)
    lines = []
    for r in sorted(rows, key=lambda r: r.submission):
        people = [("; ".join(getattr(s, field) for s in r.submitters)) for field in ("name", "sid", "email")]
        lines.append([r.submission, *people, *_points(r, tests), number(r.total), number(r.max), r.status,
                      f"{r.seconds:.1f}", r.reason])
    _write(path, header(rubric), lines)


def student_header(rubric: Rubric) -> list[str]:
    tests = graded_keys(rubric)
    return ["sid", "email", "name", "total", "max", *tests, "submission", "status"]


def write_students_csv(rows: list[Row], rubric: Rubric, path: Path) -> None:
    """One row per student, for a gradebook import: a group's members each get the group's scores.

    A submission that failed to grade has its total left empty, not 0: an
    import then leaves that student's grade as it was, for a person to set.
    A submission with no known submitters (not from an export) is one row
    with no id, found by its folder's name.
    """
    tests = graded_keys(rubric)
    lines = []
    for r in sorted(rows, key=lambda r: r.submission):
        scores = [number(r.total) if r.status == GRADED_STATUS else "", number(r.max), *_points(r, tests)]
        lines += [[person.sid, person.email, person.name, *scores, r.submission, r.status]
                  for person in r.submitters or (Submitter(),)]
    _write(path, student_header(rubric), lines)


def _write(path: Path, head: list[str], lines: list[list[str]]) -> None:
    """A CSV file written atomically: a reader sees the old one or the new one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(lines)
    report.replace(path, text.getvalue())


def _points(r: Row, tests: list[str]) -> list[str]:
    return [number(r.points[key]) if key in r.points else "" for key in tests]


def bands(scores: list[float], maximum: float, bins: int = 10) -> list[tuple[str, int]]:
    """Scores in `bins` equal bands of the maximum, the last band including it: (label, count) each."""
    if not scores or maximum <= 0:
        return []
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(score / maximum * bins)))] += 1
    labels = [f"{number(maximum * i / bins)}-{number(maximum * (i + 1) / bins)}" for i in range(bins)]
    return list(zip(labels, counts))


def histogram(scores: list[float], maximum: float, bins: int = 10) -> list[str]:
    """The bands drawn in characters, for a terminal."""
    banded = bands(scores, maximum, bins)
    if not banded:
        return []
    labels, counts = zip(*banded)
    width = max(counts)
    pad = max(len(label) for label in labels)
    return [f"  {label:>{pad}} | {'#' * round(count / width * BAR) if count else '':<{BAR}} {count}"
            for label, count in zip(labels, counts)]


def summary(rows: list[Row], planned: int) -> str:
    """Count, mean, median, the spread of scores, and what failed to grade."""
    graded = [r for r in rows if r.status == GRADED_STATUS]
    failed = sorted((r for r in rows if r.status == ERROR_STATUS), key=lambda r: r.submission)
    lines = [f"{len(graded)} of {planned} submissions graded"
             + (f", {len(failed)} failed to grade" if failed else "")
             + (f", {planned - len(rows)} not graded yet" if planned > len(rows) else "") + "."]
    if graded:
        scores = [r.total for r in graded]
        maximum = max(r.max for r in graded)
        import statistics  # here: only a batch's summary needs it, and it takes 4 ms to import

        lines.append(f"mean {number(statistics.mean(scores))}, median {number(statistics.median(scores))}"
                     f" (out of {number(maximum)})")
        lines += ["scores:", *histogram(scores, maximum)]
    if failed:
        lines.append("failed to grade (status error in the gradebook):")
        lines += [f"  {r.submission}: {r.reason}" for r in failed]
    return "\n".join(lines)
