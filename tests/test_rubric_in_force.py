"""The catalogue holds under a rubric an instructor changed, not only the default one.

tests/catalogue/expected.toml says which tests an entry fails; tests/deserved.py
turns that into points under a rubric. Here a course's own rubric (other points,
a test shown only after the due date, `must_end` on 'together') is written to a
file, the grader is told it as an instructor tells it (`--rubric`), and entries
of each kind get what that rubric says they deserve: so the rest of the suite,
which asks the rubric in force, holds for it too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from autograder import grading, report, rubric
from autograder.handout import ROOT

from deserved import CATALOGUE, GRADED, catalogue

SECONDS = 120  # a bound on one grading; a hang takes about 7 s
COURSE = """
[limits]
scenario_seconds = 5.0

[tests.client2_answers]
points = 30

[tests.server_forwards_ping]
points = 20

[tests.server_forwards_pong]
points = 20
visibility = "after_due_date"

[tests.together]
points = 30
must_end = true
"""
# Right, right but not ending (alone, and two that wait on each other), one step wrong, a crash,
# a cheat, a missing file.
ENTRIES = ("solution", "correct_client2_loops_without_a_none_check", "correct_client2_sleeps_after_answering",
           "correct_both_loop_until_none", "correct_server_loops_skipping_none", "server_forwards_only_the_ping",
           "client2_crashes", "cheat_server_forges_the_pong", "missing_client2")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[rubric.Rubric, dict[str, dict]]:
    """The course's rubric, and each entry's results graded by it."""
    folder = tmp_path_factory.mktemp("course")
    rubric_file = folder / "rubric.toml"
    rubric_file.write_text(COURSE, encoding="utf-8")

    def grade(name: str) -> dict:
        results = folder / f"{name}.json"
        done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(CATALOGUE / name), "--rubric",
                               str(rubric_file), "--results", str(results)], cwd=ROOT, capture_output=True,
                              text=True, timeout=SECONDS)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
        return json.loads(results.read_text(encoding="utf-8"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return rubric.load(rubric_file), dict(zip(ENTRIES, pool.map(grade, ENTRIES)))


def test_the_course_rubric_differs_where_it_should():
    """Else the test below would prove nothing: some entries deserve other totals here than by default."""
    chosen = rubric.parse(rubric.toml().loads(COURSE))
    default = rubric.parse({"tests": {key: {"points": points} for key, points in
                                      zip(GRADED, (40, 20, 20, 20))}})
    entries = catalogue()
    changed = [name for name in ENTRIES if entries[name].total(chosen) != entries[name].total(default)]
    assert {"correct_client2_loops_without_a_none_check", "correct_both_loop_until_none",
            "server_forwards_only_the_ping"} <= set(changed), changed


def test_each_entry_gets_what_the_course_rubric_says(course):
    chosen, graded = course
    tests = {test.name: test for test in chosen.tests}
    for name, results in graded.items():
        owed = catalogue()[name].scores(chosen)
        got = {tests[t["name"]].key: t["score"] for t in results["tests"] if tests[t["name"]].key in GRADED}
        assert got == {key: owed[key] for key in GRADED}, f"{name}: {catalogue()[name].about}\n{results}"
        assert results["score"] == catalogue()[name].total(chosen), name
        assert {t["name"]: (t["max_score"], t["visibility"]) for t in results["tests"]} == \
            {test.name: (test.points, test.visibility) for test in chosen.tests}, name


def test_under_must_end_programs_that_do_not_end_fail_together_with_the_advice(course):
    chosen, graded = course
    together = next(test.name for test in chosen.tests if test.key == "together")
    for name in ("correct_client2_loops_without_a_none_check", "correct_client2_sleeps_after_answering",
                 "correct_both_loop_until_none"):
        result = next(t for t in graded[name]["tests"] if t["name"] == together)
        hint, words = catalogue()[name].hint["together"]
        assert (result["score"], result["extra_data"]["hint"]) == (0, hint), f"{name}: {result}"
        assert words in result["output"], f"{name}: no {words!r} in\n{result['output']}"


# --- a held-back test stays held back -------------------------------------------------------------

def _shown(results: dict) -> tuple:
    """What a student reads while the tests not "visible" are held back: the summary, and each test shown
    (Gradescope hides the total score while a test is held back, and never shows extra_data)."""
    return results["output"], [(t["name"], t["score"], t["max_score"], t.get("status"), t["output"])
                               for t in results["tests"] if t["visibility"] == "visible"]


# A failing entry: the tests it fails, held back (with a test that overlaps them: docs/grading.md), and
# those the rubric asks to end by themselves. What a student reads must be what the solution's author reads.
HELD_BACK = {
    "correct_both_loop_until_none": ({"together": "after_due_date"}, {"together"}),
    "server_forwards_only_the_ping": ({"server_forwards_pong": "hidden", "together": "after_published"}, set()),
}


@pytest.mark.parametrize("name", HELD_BACK)
def test_a_held_back_test_is_told_by_no_field_the_student_sees(name):
    """The entry fails only tests that are held back: its visible fields are the solution's, word for word, so
    they cannot tell the held-back results (the summary once gave the total: 'Score: 80/100')."""
    held, ending = HELD_BACK[name]
    in_force = rubric.load()
    chosen = replace(in_force, tests=tuple(replace(test, visibility=held.get(test.key, test.visibility),
                                                   must_end=test.must_end or test.key in ending)
                                           for test in in_force.tests))
    entry = catalogue()[name]
    assert entry.total(chosen) < catalogue()["solution"].total(chosen)  # it fails, and only held-back tests
    assert {test.key for test in chosen.tests if not entry.passes(test.key, chosen)} <= set(held)
    with ThreadPoolExecutor(max_workers=2) as pool:
        failing, solution = pool.map(lambda graded: report.results(grading.grade([CATALOGUE / graded], chosen)),
                                     (name, "solution"))
    assert failing["score"] == entry.total(chosen), failing
    assert _shown(failing) == _shown(solution)
    assert "Other tests, held back by your instructor, count too." in failing["output"]


def test_a_test_shown_never_sends_the_student_to_a_held_back_ones_hint():
    """A cause is explained once, in the first test that fails by it, and later ones refer to it; but never
    a test shown now to one held back: the student could not read that hint, and would learn its result."""
    in_force = rubric.load()
    chosen = replace(in_force, tests=tuple(replace(test, visibility="hidden" if test.key == "client2_answers"
                                                   else "visible") for test in in_force.tests))
    names = {test.key: test.name for test in chosen.tests}
    default = {v.test.key: v.output for v in grading.grade([CATALOGUE / "client2_crashes"], in_force).verdicts}
    held = {v.test.key: v.output for v in grading.grade([CATALOGUE / "client2_crashes"], chosen).verdicts}
    assert f'Same cause as "{names["client2_answers"]}"' in default["together"]  # else this proves nothing
    assert "Same cause as" not in held["together"] and "**Hint:**" in held["together"], held["together"]
