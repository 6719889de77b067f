"""Gradescope's results file, and the table an instructor reads in a terminal.

The results go through gradescope-utils' JSONTestRunner, so they are what
Gradescope expects; its known gaps are closed after it runs: it writes
`execution_time` as a string, knows no `output_format`, and would write
nothing at all if a test class failed to set up (ours have nothing to set up:
every verdict is decided before the runner starts).

Gradescope's `extra_data` (stored, never shown to the student) carries what
the course report groups by: each test's key, the hint the student was given
and its name (its key), and the submission's concerns (grading.Concern).
"""

from __future__ import annotations

import io
import json
import os
import threading
import unittest
from pathlib import Path

from gradescope_utils.autograder_utils.decorators import number, visibility, weight
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner

from .grading import Grade, Verdict

MAX_BYTES = 1024 * 1024  # Gradescope's limit on the results file
TEST_OUTPUT_CAP = 60 * 1024
# JSONTestRunner(buffer=True) swaps sys.stdout for the whole process while a
# test runs: two results made at once, in two threads, would swap each other's.
_ONE_AT_A_TIME = threading.Lock()


def _method(verdict: Verdict):
    def test(self: unittest.TestCase) -> None:
        print(verdict.output[:TEST_OUTPUT_CAP], end="")
        if not verdict.passed:
            self.fail("")

    test.__doc__ = verdict.test.name
    return test


def results(grade: Grade) -> dict:
    """The results as Gradescope reads them."""
    methods = {}
    for index, verdict in enumerate(grade.verdicts, 1):
        method = _method(verdict)
        number(str(index))(method)
        weight(verdict.test.points)(method)
        visibility(verdict.test.visibility)(method)
        methods[f"test_{index:02}"] = method
    case = type("PingPong", (unittest.TestCase,), methods)
    stream = io.StringIO()
    with _ONE_AT_A_TIME:
        JSONTestRunner(stream=stream, buffer=True, failure_prefix="").run(
            unittest.defaultTestLoader.loadTestsFromTestCase(case))
    data = json.loads(stream.getvalue())
    data.pop("leaderboard", None)
    verdicts = {str(index): verdict for index, verdict in enumerate(grade.verdicts, 1)}
    said = set()  # a hint's words, kept once: a later test with the same hint refers to the first
    for test in sorted(data["tests"], key=lambda t: int(t["number"])):
        test["output"] = test.get("output", "").rstrip("\n")
        test["output_format"] = "md"
        test.setdefault("visibility", "visible")
        verdict = verdicts[test["number"]]
        told = verdict.hint
        again = told is not None and (told.key, told.text) in said
        said.add((told.key, told.text) if told else None)
        test["extra_data"] = {"key": verdict.test.key, "hint": told.key if told else "",
                              "told": told.text if told and not again else ""}
    data["score"] = round(sum(t["score"] for t in data["tests"]), 4)
    data["execution_time"] = round(grade.seconds, 3)
    data["output"] = _summary(grade)
    data["output_format"] = "md"
    data["extra_data"] = {"concerns": [{"kind": c.kind, "detail": c.detail} for c in grade.concerns]}
    return _fit(data)


def _summary(grade: Grade) -> str:
    if grade.problem:
        return f"**Your submission could not be graded:** {grade.problem}"
    lines = [f"Score: {grade.score:g}/{grade.max_score:g}."]
    lines += [f"- {note}" for note in grade.notes]
    return "\n".join(lines)


def _fit(data: dict) -> dict:
    """Shorten test outputs, longest first, until the file is under Gradescope's limit."""
    while len(json.dumps(data).encode()) > MAX_BYTES - 4096:
        longest = max(data["tests"], key=lambda t: len(t["output"]))
        longest["output"] = longest["output"][: len(longest["output"]) // 2] + "\n\n[output shortened]"
    return data


def failure(message: str, seconds: float = 0.0) -> dict:
    """Results that say the grader itself broke: score 0, and a note for the instructor."""
    return {
        "score": 0,
        "execution_time": round(seconds, 3),
        "output": "The autograder could not grade this submission; this is not your fault. "
                  f"Please tell your instructor.\n\nFor the instructor: {message}"[:MAX_BYTES // 2],
        "output_format": "md",
        "tests": [],
    }


def write(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace(path, json.dumps(data, indent=2) + "\n")


def replace(path: Path, text: str) -> None:
    """Write atomically: a reader sees the old file or the new one, never half.

    The temporary file is made with the mode any new file gets (0o666 less
    the umask, as the kernel applies it), not mkstemp's 0o600: a batch graded
    with sudo must leave pages and gradebooks the instructor and TAs can read.
    """
    temporary = path.with_name(f".{path.stem}-{os.urandom(8).hex()}{path.suffix}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def table(grade: Grade, path: Path | None) -> str:
    """A plain table of the tests, for a terminal."""
    rows = [(f"{i}", v.test.name, f"{v.score:g}/{v.test.points:g}", "pass" if v.passed else "FAIL")
            for i, v in enumerate(grade.verdicts, 1)]
    width = max(len(r[1]) for r in rows)
    lines = [f"{'#':>2}  {'test':<{width}}  {'points':>7}  result", "-" * (width + 22)]
    lines += [f"{n:>2}  {name:<{width}}  {pts:>7}  {res}" for n, name, pts, res in rows]
    lines.append("-" * (width + 22))
    lines.append(f"{'':>2}  {'total':<{width}}  {f'{grade.score:g}/{grade.max_score:g}':>7}")
    if grade.problem:
        lines.append(f"\nNot graded: {grade.problem}")
    lines += [f"note: {n}" for n in grade.notes]
    if path is not None:
        lines.append(f"\nresults written to {path}")
    return "\n".join(lines)
