"""One submission, start to finish: intake, scenes, verdicts.

Data flows one way: the upload becomes two files (intake), the files are
played in three scenes side by side (scenario), each test is judged on the
harness's log (rules), and the student's feedback is drawn (feedback). The
report is someone else's job.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import feedback, intake, rules, sandbox, scenario, skeleton
from .handout import FOLDER, STUDENT_FILES
from .rubric import Rubric, Test


@dataclass(frozen=True)
class Verdict:
    test: Test
    passed: bool
    output: str  # Markdown, for the student

    @property
    def score(self) -> float:
        return self.test.points if self.passed else 0.0


@dataclass(frozen=True)
class Grade:
    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...]  # what intake did, for the student
    problem: str  # why nothing could be graded, if so
    seconds: float

    @property
    def score(self) -> float:
        return sum(v.score for v in self.verdicts)

    @property
    def max_score(self) -> float:
        return sum(v.test.points for v in self.verdicts)


def grade(sources: list[Path], rubric: Rubric, workdir: Path | None = None) -> Grade:
    started = time.monotonic()
    own = workdir is None
    root = sandbox.scratch() if own else workdir  # as root: a folder others may only pass through
    try:
        taken = intake.take(sources, root / "intake")
        traces = {} if taken.problem else scenario.play_all(taken.files, rubric.limits, root)
        verdicts = tuple(_verdict(test, taken, traces, rubric) for test in rubric.tests)
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    notes = (*taken.notes, *(sandbox.caveats() if traces else ()))  # said once, if student code ran
    return Grade(verdicts, notes, taken.problem, time.monotonic() - started)


def _verdict(test: Test, taken: intake.Intake, traces: dict, rubric: Rubric) -> Verdict:
    if test.key == "files_present":
        return _files_present(test, taken)
    if test.key == "outside_unchanged":
        return _outside_unchanged(test, taken)
    if taken.problem:
        return Verdict(test, False, f"Not run: {taken.problem}")
    trace = traces[rules.CHECKS[test.key][0]]
    judgement = rules.judge(test.key, trace)
    if judgement.passed:
        return Verdict(test, True, f"Passed: {test.expected}.")
    return Verdict(test, False, feedback.render(test.key, test.expected, trace, judgement, rubric.limits))


def _files_present(test: Test, taken: intake.Intake) -> Verdict:
    if taken.problem:
        return Verdict(test, False, f"Your submission could not be read: {taken.problem}")
    lines = [f"- {name}: {'found' if path else 'MISSING'}" for name, path in taken.files.items()]
    lines += [f"- {note}" for note in taken.notes]
    return Verdict(test, all(taken.files.values()), "\n".join(lines))


def _outside_unchanged(test: Test, taken: intake.Intake) -> Verdict:
    lines, clean = [], True
    for name in STUDENT_FILES:
        path = taken.files.get(name)
        if path is None:
            continue
        text = path.read_text(encoding="utf-8-sig")
        changes = skeleton.outside_changes(text, (FOLDER / name).read_text(encoding="utf-8"))
        if changes:
            clean = False
            shown = "\n".join(changes[:40])
            lines += [f"Warning: {name} differs from the handout outside the region you were asked to fill. "
                      "The grader runs your file as it is, but keep your code between the markers:",
                      "```diff", shown, "```"]
    return Verdict(test, clean, "\n".join(lines) or "Only the regions between the markers were changed.")
