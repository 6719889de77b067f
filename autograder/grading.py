"""One submission, start to finish: intake, scenes, verdicts.

Data flows one way: the upload becomes two files (intake), the files are
played in the handout's three scenes side by side, started in the sandbox
(scene), each test is judged on the harness's log by the handout's referee,
and the student's feedback is drawn (the handout's feedback, as Markdown).
The report is someone else's job.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import intake, sandbox, scene, skeleton
from .handout import FOLDER, STUDENT_FILES, advice, feedback, referee, region, waiting
from .rubric import Rubric, Test


@dataclass(frozen=True)
class Concern:
    """Something about a submission that a person should look at (the course report lists them)."""

    kind: str  # one of CONCERNS
    detail: str  # in words, for the instructor


CONCERNS = {  # kind -> what it means, as the course report says it
    "limit": "a program went over a limit",
    "slept": "a program could wake by itself (asleep, a timer, a timeout) or waited on something other than its "
             "connection, while a message waited for it",
    "hid": "a program hid what it waited in",
    "escaped": "the process the grader ran a program under was killed (by the program, most likely)",
    "outside": "code outside the regions was changed",
    "missing": "a file is missing, or could not be run",
    "renamed": "a file was named otherwise, and used",
    "unreadable": "the submission could not be read",
    "intake": "intake chose what to run, and told the student",
}


@dataclass(frozen=True)
class Verdict:
    test: Test
    passed: bool
    output: str  # Markdown, for the student
    hint: advice.Advice | None = None  # the hint (or, passed, the warning) the student was given, and its key

    @property
    def score(self) -> float:
        return self.test.points if self.passed else 0.0


@dataclass(frozen=True)
class Grade:
    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...]  # what intake did, for the student
    problem: str  # why nothing could be graded, if so
    seconds: float
    concerns: tuple[Concern, ...] = ()  # for the instructor: what a person should look at, whatever the score

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
        traces = {} if taken.problem else scene.play_all(taken.files, rubric.limits, root)
        # A cause explained once, in the first test it fails among those shown whenever it is shown: a visible
        # test, or one held back alike. A test shown now never sends the student to a test held back
        # (docs/grading.md: holding a test back); a held-back test may send them to a visible one.
        said = {visibility: feedback.Said() for visibility in {test.visibility for test in rubric.tests}}
        verdicts = tuple(_verdict(test, taken, traces, rubric, said[test.visibility], said.get("visible"))
                         for test in rubric.tests)
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    notes = (*taken.texts, *(sandbox.caveats() if traces else ()))  # said once, if student code ran
    return Grade(verdicts, notes, taken.problem, time.monotonic() - started, _concerns(taken, traces, verdicts))


def _concerns(taken: intake.Intake, traces: dict[str, scene.Trace], verdicts: tuple[Verdict, ...]) -> tuple:
    """What a person should look at: from intake, the scenes and the informational tests, never from prose."""
    found = [Concern("unreadable", taken.problem)] if taken.problem else []
    why = {note.file: note.text for note in taken.notes if note.kind == "unrunnable"}
    found += [Concern("missing", why.get(name, name)) for name, path in taken.files.items()
              if path is None and not taken.problem]
    found += [Concern("renamed", f"{where} was used as {name}") for name, where in taken.renamed.items()]
    found += [Concern("intake", note.text) for note in taken.notes if note.kind not in _SAID]
    held = {waiting.SLEEPING: "slept", scene.HIDDEN: "hid"}
    for played, trace in traces.items():
        found += [Concern("limit", f"{name} {run.limit} ({played} scene)")
                  for name, run in trace.runs.items() if run.limit]
        found += [Concern("escaped", f"{name}, in the {played} scene") for name, run in trace.runs.items()
                  if run.escaped]
        for name, state in trace.undelivered.items():
            if state in held:
                why = getattr(state, "why", "")  # what was seen (waiting.State), if it was seen
                found.append(Concern(held[state], f"{name}, in the {played} scene" + (f": {why}" if why else "")))
    found += [Concern("outside", v.hint.text) for v in verdicts if v.test.key == "outside_unchanged" and v.hint]
    return tuple(found)


# Intake's notes a person need not read again: said by the concerns above, or changing nothing that ran (a copy
# of a handout file, which the grader never uses). Any other note, of a kind to come too, is a concern.
_SAID = {"missing", "unrunnable", "renamed", "ignored"}


def _verdict(test: Test, taken: intake.Intake, traces: dict, rubric: Rubric, said: feedback.Said,
             shown: feedback.Said | None) -> Verdict:
    if test.key == "files_present":
        return _files_present(test, taken)
    if test.key == "outside_unchanged":
        return _outside_unchanged(test, taken)
    if taken.problem:
        return Verdict(test, False, f"Not run: {taken.problem}", _UNREADABLE)
    trace = traces[referee.CHECKS[test.key][0]]
    escaped = " and ".join(f"your {name}" for name, run in trace.runs.items() if run.escaped)
    if escaped:  # not root, a program may kill its warden; it dies with it, sooner or later: no verdict hangs on when
        return Verdict(test, False, f"Not judged: the process the grader ran {escaped} under (its parent) was "
                       "killed while it ran, so what this run shows proves nothing. A program can do that itself "
                       "(os.kill(os.getppid(), ...)): leave other processes alone.", _ESCAPED)
    judgement = feedback.judge(test.key, trace)
    empty = None if judgement.passed else region.not_written(test.key, taken.files)
    if empty is not None:  # a step not begun: one line, not why each of its tests failed
        return Verdict(test, False, f"Not done: {empty.text}.", empty)
    if judgement.passed:
        warning = feedback.warning(trace, rubric.limits)
        if warning is None:
            return Verdict(test, True, f"Passed: {test.expected}.")
        if not test.must_end:
            return Verdict(test, True, f"Passed: {test.expected}.\n\n**Warning:** {warning.text}", warning)
        told = feedback.unended(test.expected, warning)
    else:
        told = feedback.failure(test.expected, trace, judgement, rubric.limits, feedback.GRADER)
    seen = shown.first.get(told.cause) if shown is not None and shown is not said else None
    return Verdict(test, False, (replace(told, see=seen) if seen else said(test.name, told)).markdown(), told.hint)


# The hints of the informational tests, and of a submission that could not be read: their outputs say more.
_UNREADABLE = advice.Advice("unreadable", "Upload the two files, or a zip that holds them.")
_ESCAPED = advice.Advice("escaped", "Do not signal or kill other processes: the exchange needs only messages.")
_MISSING = advice.Advice("file-missing", "Upload both files, named exactly as in the handout.")


def _files_present(test: Test, taken: intake.Intake) -> Verdict:
    if taken.problem:
        return Verdict(test, False, f"Your submission could not be read: {taken.problem}", _UNREADABLE)
    lines = [f"- {name}: {'found' if path else 'MISSING'}" for name, path in taken.files.items()]
    lines += [f"- {note}" for note in taken.texts]
    found = all(taken.files.values())
    return Verdict(test, found, "\n".join(lines), None if found else _MISSING)


def _outside_unchanged(test: Test, taken: intake.Intake) -> Verdict:
    lines, changed = [], []
    for name in STUDENT_FILES:
        path = taken.files.get(name)
        if path is None:
            continue
        text = path.read_text(encoding="utf-8-sig")
        changes = skeleton.outside_changes(text, (FOLDER / name).read_text(encoding="utf-8"))
        if changes:
            changed.append(name)
            shown = "\n".join(changes[:40])
            lines += [f"Warning: {name} differs from the handout outside the region you were asked to fill. "
                      "The grader runs your file as it is, but keep your code between the markers:",
                      "```diff", shown, "```"]
    told = advice.Advice("outside-changed", f"{' and '.join(changed)} changed outside the markers: keep your "
                          "code between them.")
    return Verdict(test, not changed, "\n".join(lines) or "Only the regions between the markers were changed.",
                   told if changed else None)
