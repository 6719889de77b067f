"""The course report: what a batch got wrong, at a glance, and who needs a person to look.

Its figures, gathered here and written by pages.write with every batch
(DIR/report.html, DIR/report.md), come from the results
files alone: the same files the gradebook is built from, so the report
can never say something the results do not. Failures are grouped by what
the grading decided, carried in each test's `extra_data` (the test's key
and the name of the hint the student was given), never by reading the
feedback's prose: one mistake (a client2 that crashed) fails several tests
with the same hint, and counts once per submission, beside the tests it
failed. Submissions are named by their students where the export names
them. A submission needs a person for the concerns its grading
recorded (grading.Concern), or because the grader broke.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from . import gradebook
from .grading import CONCERNS
from .rubric import GRADED, Rubric

EXAMPLES = 5  # submissions named, as links, beside each common failure
GRADER = "grader"  # the concern of a submission whose grader broke: its results have no tests
LABELS = {**CONCERNS, GRADER: "the grader broke"}


@dataclass(frozen=True)
class Run:
    """This run of the batch: how long it took, and what became of each submission."""

    seconds: float
    planned: int  # submissions given
    graded: int  # graded now
    skipped: int  # already graded in DIR, so not graded again
    failed: int  # the grader broke (always now: those are never skipped)
    interrupted: bool = False


@dataclass(frozen=True)
class PassRate:
    key: str
    name: str
    passed: int
    of: int


@dataclass(frozen=True)
class Failure:
    """Submissions that failed for one reason, the same hint (by its key), in whichever tests it failed."""

    tests: tuple[str, ...]  # the names of the tests it failed, in the rubric's order
    hint: str  # the hint's key ("" in results of a grader older than the report: one test each)
    told: str  # the hint, as the first of them was told it
    submissions: tuple[str, ...]

    @property
    def test(self) -> str:
        return "; ".join(self.tests)

    @property
    def example(self) -> str:
        """The hint in words, quoted as the first of them was told it: it may name their line or their file."""
        return f"e.g. \u201c{self.told}\u201d" if self.hint else "no hint recorded"


@dataclass(frozen=True)
class Attention:
    """A submission a person should look at, and why: (kind, detail) each."""

    submission: str
    score: str
    reasons: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Course:
    run: Run
    graded: int  # submissions with a score, whenever graded
    maximum: float
    mean: float | None
    median: float | None
    bands: list[tuple[str, int]]
    rates: list[PassRate]
    failures: list[Failure]  # most common first
    attention: list[Attention]
    students: dict[str, str]  # submission -> its students' names, where the export gives them

    def who(self, submission: str) -> str:
        """A submission as the report names it: its students, and its folder to find it by."""
        return f"{self.students[submission]} ({submission})" if self.students.get(submission) else submission


def gather(out: Path, rows: list[gradebook.Row], rubric: Rubric, run: Run) -> Course:
    """The report's figures, from each row's results file in `out`."""
    tests = [t for t in rubric.tests if t.key in GRADED or t.key in ("files_present", "outside_unchanged")]
    names = {t.key: t.name for t in tests}
    keys = {t.name: t.key for t in tests}
    passed = {t.key: 0 for t in tests}
    of = {t.key: 0 for t in tests}
    groups: dict[tuple[str, str], tuple[list[str], list[tuple[str, str]]]] = {}  # by hint, or by test without one
    attention = []
    for r in sorted(rows, key=lambda r: r.submission):
        data = gradebook.read(out / r.submission / "results.json") or {"tests": []}
        reasons = [(c.get("kind", ""), c.get("detail", "")) for c in data.get("extra_data", {}).get("concerns", [])]
        if r.status == gradebook.ERROR_STATUS:
            reasons.insert(0, (GRADER, r.reason))
        for test in data["tests"]:
            extra = test.get("extra_data") or {}  # none from a grader older than the report: found by name
            key = extra.get("key") or keys.get(test.get("name"), "")
            if key not in passed:
                continue
            of[key] += 1
            if test.get("status") == "passed":
                passed[key] += 1
            else:
                hint = extra.get("hint", "")
                failed, members = groups.setdefault((hint, "" if hint else key), ([], []))
                failed += [] if key in failed else [key]
                if not members or members[-1][0] != r.submission:  # once per submission
                    members.append((r.submission, extra.get("told", "")))
        if reasons:
            graded = r.status == gradebook.GRADED_STATUS
            score = f"{gradebook.number(r.total)}/{gradebook.number(r.max)}" if graded else "error"
            attention.append(Attention(r.submission, score, tuple(reasons)))
    order = {t.key: i for i, t in enumerate(tests)}
    for failed, _ in groups.values():
        failed.sort(key=order.get)
    common = sorted(groups.items(), key=lambda group: (-len(group[1][1]), order[group[1][0][0]], group[0][0]))
    failures = [Failure(tuple(names[key] for key in failed), hint, members[0][1], tuple(sub for sub, _ in members))
                for (hint, _), (failed, members) in common]
    scores = [r.total for r in rows if r.status == gradebook.GRADED_STATUS]
    maximum = max((r.max for r in rows if r.status == gradebook.GRADED_STATUS), default=rubric.max_score)
    return Course(run, len(scores), maximum, statistics.mean(scores) if scores else None,
                  statistics.median(scores) if scores else None, gradebook.bands(scores, maximum),
                  [PassRate(t.key, t.name, passed[t.key], of[t.key]) for t in tests], failures, attention,
                  {r.submission: "; ".join(s.name for s in r.submitters if s.name) for r in rows})


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def counts_line(run: Run) -> str:
    """The run in one line: '33 submissions: 30 graded now, 2 skipped (already graded), 1 failed to grade, in 12 s'."""
    left = run.planned - run.graded - run.skipped - run.failed
    return (f"{run.planned} submissions: {run.graded} graded now, {run.skipped} skipped (already graded), "
            f"{run.failed} failed to grade{f', {left} not graded yet' if left > 0 else ''}, in {_duration(run.seconds)}"
            f"{' (interrupted)' if run.interrupted else ''}")


def link(submission: str) -> str:
    """The relative address of a submission's feedback page."""
    from urllib.parse import quote

    return f"{quote(submission)}/feedback.html"


def _md(text: str) -> str:
    """Text a table cell of Markdown shows as it is: no markup, no HTML, no cell breaks."""
    text = " ".join(text.split())
    for char in "\\`*_[]<>|#!":
        text = text.replace(char, "\\" + char)
    return text


def report_md(course: Course) -> str:
    lines = ["# Course report", "", counts_line(course.run) + ".", ""]
    if course.mean is not None:
        lines += [f"Mean {gradebook.number(round(course.mean, 1))}, median {gradebook.number(course.median)} "
                  f"(out of {gradebook.number(course.maximum)}), over {course.graded} graded submissions.", ""]
    lines += ["## Scores", "", "![score distribution](scores.svg)", "", "| scores | submissions |", "| --- | ---: |"]
    lines += [f"| {label} | {count} |" for label, count in course.bands]
    lines += ["", "## Pass rate of each test", "", "| test | passed | of | rate |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {_md(r.name)} | {r.passed} | {r.of} | {_rate(r)} |" for r in course.rates]
    lines += ["", "## Most common failures", "",
              "| count | tests failed | what went wrong (the hint given) | submissions |",
              "| ---: | --- | --- | --- |"]
    for f in course.failures:
        shown = ", ".join(f"[{_md(course.who(s))}]({link(s)})" for s in f.submissions[:EXAMPLES])
        more = f" and {len(f.submissions) - EXAMPLES} more" if len(f.submissions) > EXAMPLES else ""
        key = f"`{f.hint}`: " if f.hint else ""
        lines.append(f"| {len(f.submissions)} | {_md(f.test)} | {key}{_md(f.example)} | {shown}{more} |")
    lines += ["", "## Submissions that need a person", ""]
    if not course.attention:
        lines.append("None.")
    else:
        lines += ["| submission | score | why |", "| --- | ---: | --- |"]
        for a in course.attention:
            why = "<br>".join(f"{_md(LABELS.get(kind, kind))}: {_md(detail)}" for kind, detail in a.reasons)
            lines.append(f"| [{_md(course.who(a.submission))}]({link(a.submission)}) | {a.score} | {why} |")
    return "\n".join(lines) + "\n"


def _rate(rate: PassRate) -> str:
    return f"{100 * rate.passed / rate.of:.0f} %" if rate.of else "-"
