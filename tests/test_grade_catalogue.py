"""The catalogue: every submission in tests/catalogue/ gets exactly the verdicts
tests/catalogue/expected.toml says it deserves, test by test, on every run, and
the points the rubric in force gives them (tests/deserved.py).

Gradings are independent (each has its own ports, folders and programs), so
the selected entries are graded side by side once per session and each
entry's test reads its own result: a failure names the entry, what it is,
and what the student would read.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from autograder import grading, intake, report, rubric, sandbox
from autograder import scene as played
from autograder.handout import scene
from autograder.handout import FOLDER, ROOT, SOLUTION, waiting

import gradescope_results
from deserved import CATALOGUE, GRADED, INFORMATIONAL, catalogue as entries
from survivors import AS_ROOT, HAS_PROC

EXPECTED = entries()
IN_FORCE = rubric.load()
WORKERS = 8  # gradings at once: most of a grading is waiting, and a hang waits a whole scene
# Entries whose verdict once hung on timing, and the programs of issue 25 (100 on every run): graded again
# and again, they must not waver.
TRICKY = ("cheat_client2_pong_before_ping", "cheat_server_forges_the_pong", "cheat_server_echoes",
          "cheat_client2_two_pongs", "solution", "cheat_client2_pong_then_exits_at_once",
          "cheat_server_forwards_the_ping_twice", "cheat_client2_spins_then_pongs", "cheat_client2_timer_pongs",
          "correct_client2_asyncio_run_in_executor", "correct_client2_selector_and_a_socketpair",
          "correct_server_loops_until_none")  # 4 in 10 once lost 'together': the end of a stream taken for a frame
REPEATS = 5


@dataclass(frozen=True)
class Graded:
    grade: grading.Grade
    seconds: float

    @functools.cached_property
    def results(self) -> dict:
        """The results file, made when a test reads it, in the test's own thread: gradescope-utils swaps
        sys.stdout while it makes one, and so does pytest between tests, which would cross a grading
        still running in the pool."""
        return gradescope_results.check(report.results(self.grade))

    def scores(self) -> dict[str, float | bool]:
        """Points for the graded tests, pass/fail for the informational ones."""
        return {v.test.key: (v.score if v.test.key in GRADED else v.passed) for v in self.grade.verdicts}

    def output(self, key: str) -> str:
        return next(v.output for v in self.grade.verdicts if v.test.key == key)

    def explanation(self, key: str) -> str:
        """What the student reads about a test in the results: its output, and that of the test it refers
        to for the same cause (which must give the same hint), if it does."""
        shown = {t["name"]: t["output"] for t in self.results["tests"]}
        verdict = next(v for v in self.grade.verdicts if v.test.key == key)
        for other in self.grade.verdicts:
            if f'Same cause as "{other.test.name}"' in shown[verdict.test.name]:
                assert other.hint == verdict.hint, f"{key} refers to {other.test.key}: another hint"
                return shown[verdict.test.name] + "\n\n" + shown[other.test.name]
        return shown[verdict.test.name]


def grade(source: Path) -> Graded:
    started = time.monotonic()
    graded = grading.grade([source], IN_FORCE)
    return Graded(graded, time.monotonic() - started)


def grade_all(sources: list[Path]) -> list[Graded]:
    """Each source graded, side by side; a grading that raised raises when its result is read."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(grade, source) for source in sources]
    return [future.result() for future in futures]


def deserved(entry: str) -> dict[str, float | bool]:
    return EXPECTED[entry].scores(IN_FORCE)


def must_end(*keys: str) -> rubric.Rubric:
    """The rubric in force, with `must_end` on for these tests only."""
    return replace(IN_FORCE, tests=tuple(replace(test, must_end=test.key in keys) for test in IN_FORCE.tests))


@pytest.fixture(scope="session")
def catalogue(request) -> Iterator[dict[str, Future]]:
    """The catalogue entries this session runs, each graded once, side by side, in the order the tests
    ask for them (a Future of its Graded): each test waits for its own entry only, so the suite's time
    bound is one grading's on any machine, not the whole catalogue's."""
    wanted = sorted({item.callspec.params["entry"] for item in request.session.items
                     if getattr(item, "callspec", None) and "entry" in item.callspec.params
                     and item.module.__name__ == __name__})
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    yield {name: pool.submit(grade, CATALOGUE / name) for name in wanted}
    pool.shutdown(wait=True, cancel_futures=True)


def test_every_folder_has_its_scores_and_every_score_its_folder():
    folders = {p.name for p in CATALOGUE.iterdir() if p.is_dir()}
    assert folders == set(EXPECTED), (f"folders without verdicts: {sorted(folders - set(EXPECTED))}; "
                                      f"verdicts without folders: {sorted(set(EXPECTED) - folders)}")
    assert len(folders) >= 20
    for name in EXPECTED:  # deserved.read has checked each entry's keys
        assert any((CATALOGUE / name).glob("*_student.py")) or name.startswith("missing"), name


@pytest.mark.parametrize("entry", sorted(EXPECTED))
def test_each_entry_gets_exactly_its_score(catalogue, entry):
    got = catalogue[entry].result()  # a grading that raised fails here, for this entry only
    scores = got.scores()
    owed = deserved(entry)
    wrong = [key for key in GRADED + INFORMATIONAL if scores[key] != owed[key]]
    shown = "\n\n".join(f"--- {key}: {scores[key]}, deserves {owed[key]}\n{got.output(key)}" for key in wrong)
    assert scores == owed, f"{entry}: {EXPECTED[entry].about}\n\n{shown}"
    for key, words in EXPECTED[entry].says.items():
        assert words in got.explanation(key), f"{entry}, {key}: no {words!r} in\n{got.explanation(key)}"
    for key, (hint, words) in EXPECTED[entry].hint.items():
        verdict = next(v for v in got.grade.verdicts if v.test.key == key)
        shown = got.explanation(key)
        assert (verdict.hint and verdict.hint.key, words in shown) == (hint, True), \
            f"{entry}, {key}: not hint {hint!r} with {words!r}:\n{shown}"
    pinned = EXPECTED[entry].hint
    unpinned = [(v.test.key, v.hint) for v in got.grade.verdicts if v.test.key in GRADED and v.passed and v.hint
                and v.test.key not in pinned]  # a warning given where none is pinned: every one is pinned
    assert unpinned == [], f"{entry}: warnings the catalogue does not expect: {unpinned}"
    assert got.results["score"] == EXPECTED[entry].total(IN_FORCE)
    for shown in _by_visibility(got.results["tests"]):  # a held-back test explains itself: said once per group
        hints = [t["output"].split("**Hint:** ")[1].split("\n")[0] for t in shown if "**Hint:** " in t["output"]]
        assert len(hints) == len(set(hints)), f"{entry}: a hint said twice word for word:\n{hints}"


def _by_visibility(tests: list[dict]) -> list[list[dict]]:
    """The results' tests in groups of one visibility: a test refers only to one its reader sees with it."""
    groups: dict[str, list[dict]] = {}
    for test in tests:
        groups.setdefault(test.get("visibility", "visible"), []).append(test)
    return list(groups.values())


# One mistake each (issue 24): told once, in a page a student reads through.
ONE_MISTAKE = ("server_receives_twice_before_forwarding", "client2_compares_with_a_string", "client2_crashes",
               "server_compares_with_a_string", "server_closes_before_the_last_forward", "client2_misspells_a_name",
               "client2_copies_the_servers_code", "server_receives_without_parentheses", "server_asks_for_input",
               "client2_busy_waits")
READ_CHARS = 3000  # what a student reads of the results: every test's output and the summary


@pytest.mark.parametrize("entry", ONE_MISTAKE)
def test_a_one_mistake_submission_is_explained_once_and_briefly(catalogue, entry):
    got = catalogue[entry].result()
    # What a student reads at once: the tests shown together (all, under the default rubric), and the summary.
    read = max(sum(len(test["output"]) for test in shown) for shown in _by_visibility(got.results["tests"])) \
        + len(got.results["output"])
    assert read <= READ_CHARS, f"{entry}: {read} characters to read"
    told = [test["extra_data"]["told"] for test in got.results["tests"] if test["extra_data"]["told"]]
    failed = [test for test in got.results["tests"] if test["status"] == "failed"]
    assert len(told) == 1 and len(failed) > 1, f"{entry}: {told}"
    for shown in _by_visibility(failed):
        assert all(told[0] not in test["output"] for test in shown[1:]), f"{entry}: the hint said again"


def test_the_solution_scores_100_and_the_skeletons_0():
    solution, skeletons = grade_all([SOLUTION, FOLDER])
    assert solution.results["score"] == IN_FORCE.max_score, solution.results
    assert all(test["status"] == "passed" for test in solution.results["tests"])
    assert skeletons.results["score"] == 0
    assert [key for key, value in skeletons.scores().items() if value] == list(INFORMATIONAL)
    assert "Your utils2.py was ignored" in skeletons.output("files_present")  # the handout folder holds it


def test_the_tricky_entries_score_the_same_every_time():
    runs = grade_all([CATALOGUE / name for name in TRICKY for _ in range(REPEATS)])
    for index, name in enumerate(TRICKY):
        seen = [run.scores() for run in runs[index * REPEATS:(index + 1) * REPEATS]]
        assert seen == [deserved(name)] * REPEATS, f"{name} scored differently from run to run: {seen}"


def test_a_program_that_does_not_end_loses_a_test_only_where_the_rubric_says_it_must_end():
    """Off (the default), a client2 that never ends passes with a warning (the catalogue says so); on for
    client2_answers, that test fails with the same advice, the others keep their points; a program that
    ends loses nothing."""
    strict = must_end("client2_answers")
    with ThreadPoolExecutor(max_workers=2) as pool:
        looping, solution = pool.map(lambda name: grading.grade([CATALOGUE / name], strict),
                                     ("correct_client2_loops_without_a_none_check", "solution"))
    verdicts = {v.test.key: v for v in looping.verdicts}
    points = {test.key: test.points for test in strict.tests}
    assert looping.score == strict.max_score - points["client2_answers"] and solution.score == strict.max_score
    assert looping.score == EXPECTED["correct_client2_loops_without_a_none_check"].total(strict)
    assert (verdicts["client2_answers"].passed, verdicts["client2_answers"].hint.key) == (False, "does-not-end")
    assert "did not end by itself after the exchange" in verdicts["client2_answers"].output
    assert verdicts["client2_answers"].output.startswith(  # what should happen, in one sentence that reads
        "**Expected:** your client2 receives the Ping and answers it with one Pong, and then your programs end "
        "by themselves (this course's rubric asks it).\n\n**Hint:** "), verdicts["client2_answers"].output
    assert (verdicts["together"].passed, verdicts["together"].hint.key) == (True, "does-not-end")
    assert "**Warning:**" in verdicts["together"].output
    assert all("It was busy, still looping" in verdicts[key].output for key in ("client2_answers", "together"))


def test_two_programs_that_wait_on_each_other_lose_together_only_where_the_rubric_says_it_must_end():
    """Each loops until None: right alone, but once client1 has gone each waits for the other, for ever."""
    strict = must_end("together")
    graded = grading.grade([CATALOGUE / "correct_both_loop_until_none"], strict)
    verdicts = {v.test.key: v for v in graded.verdicts}
    assert graded.score == strict.max_score - next(t.points for t in strict.tests if t.key == "together")
    assert graded.score == EXPECTED["correct_both_loop_until_none"].total(strict)
    assert (verdicts["together"].passed, verdicts["together"].hint.key) == (False, "wait-on-each-other")
    assert "in a real run neither would ever end" in verdicts["together"].output


# client2 with no None check that prints 64 KiB each time round: it reaches a 1 MiB limit on output after 16
# rounds, soon after the exchange on any machine, as a fast machine reached 64 MiB with utils2's old lines.
PRINTS_IN_A_LOOP = """
while True:
    msg = client.receive_message()
    print(msg, "." * 65536)
    if msg == Message.Ping:
        client.send_message(Message.Pong)
"""


def test_a_program_stopped_by_a_limit_after_the_exchange_did_not_end_and_is_warned_so(tmp_path):
    """Whether a program that loops after the exchange is stopped at the end of its time or by a limit
    it reached first depends on the machine's speed: the warning it gets must not."""
    from conftest import fill  # noqa: PLC0415 - the suite's own helper

    submission = tmp_path / "prints"
    submission.mkdir()
    (submission / "server_student.py").write_bytes((SOLUTION / "server_student.py").read_bytes())
    text = fill((FOLDER / "client2_student.py").read_text(encoding="utf-8"), PRINTS_IN_A_LOOP)
    (submission / "client2_student.py").write_text(text, encoding="utf-8")
    tight = replace(must_end(), limits=replace(IN_FORCE.limits, file_mib=1))
    graded = grading.grade([submission], tight)
    verdicts = {v.test.key: v for v in graded.verdicts}
    assert graded.score == tight.max_score
    limited = sorted(concern.detail for concern in graded.concerns if concern.kind == "limit")
    assert limited == [f"client2 wrote more than 1 MiB (to a file, or printed) ({scene} scene)"
                       for scene in ("client2", "together")], graded.concerns
    for key in ("client2_answers", "together"):
        assert verdicts[key].hint.key == "does-not-end", verdicts[key].output
        assert "It was busy, still looping" in verdicts[key].output, verdicts[key].output


# Programs that end up waiting on each other with nothing in flight, scene by scene (issue 24): the scene
# ends there, reported by the scene; the others (busy, asleep, on an Event no one sets) keep their bounds.
STUCK = {"server_receives_twice_before_forwarding": {"server", "together"},
         "client2_compares_with_a_string": {"together"}, "client2_crashes": {"together"},
         "cheat_server_echoes": {"server"}, "server_spins_forever": set(), "server_waits_forever": set(),
         "solution": set()}


@pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
@pytest.mark.parametrize("entry", sorted(STUCK))
def test_a_scene_where_nothing_more_can_happen_ends_there_and_no_other(entry):
    root = sandbox.scratch()
    try:
        traces = played.play_all(intake.take([CATALOGUE / entry], root / "intake").files, IN_FORCE.limits, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert {name for name, trace in traces.items() if trace.stuck} == STUCK[entry], traces
    for name in STUCK[entry]:  # a program stopped while it waited says where
        trace = traces[name]
        waited = [where for who, (doing, where) in trace.stopped_at.items() if doing == waiting.READY]
        assert waited and all(where and "_student.py: " in where[0] for where in waited), trace.stopped_at


def test_a_server_gone_before_the_harness_connects_is_still_graded(monkeypatch):
    """A slow harness meets a server whose syntax error has already ended it: refused, not a grader crash."""
    connect = scene.Scene.connect

    def connect_late(self, me, port, student):
        self.wait(student.exited, polling=True)
        return connect(self, me, port, student)

    monkeypatch.setattr(scene.Scene, "connect", connect_late)
    got = grade(CATALOGUE / "server_syntax_error")
    assert got.scores() == deserved("server_syntax_error")


# Docker leaves CAP_SYS_PTRACE out, and Gradescope grades in Docker. Root without it is not shown what
# another user's thread waits in, unless it asks as that user (see autograder/readiness.py): before it
# did, a client2 that slept and then sent a Pong scored 100 there.
UNTRACED = ("solution", "cheat_client2_sleeps_then_pongs", "cheat_client2_timer_pongs",
            "cheat_client2_hides_then_sleeps_then_pongs", "cheat_client2_waits_on_a_nested_epoll_then_pongs",
            "correct_client2_asyncio_run_in_executor", "cheat_client2_selector_alarm_pongs")
# Gone from the bounding set, CAP_SYS_PTRACE is gone from what root's next program may have.
WITHOUT_PTRACE = """
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(24, 19) != 0:  # PR_CAPBSET_DROP, CAP_SYS_PTRACE
    sys.exit(f"could not give up CAP_SYS_PTRACE: {os.strerror(ctypes.get_errno())}")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _without_ptrace(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_PTRACE, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(not (AS_ROOT and HAS_PROC), reason="only root on Linux has CAP_SYS_PTRACE to give up")
def test_as_root_without_cap_sys_ptrace_a_client2_that_sleeps_is_still_caught(tmp_path):
    probe = _without_ptrace("-c", "print(open('/proc/self/status').read())")
    assert probe.returncode == 0, probe.stderr
    effective = next(line.split()[1] for line in probe.stdout.splitlines() if line.startswith("CapEff:"))
    assert not int(effective, 16) >> 19 & 1, f"CAP_SYS_PTRACE is still there: {effective}"

    def grade_untraced(name: str) -> dict:
        results = tmp_path / f"{name}.json"
        done = _without_ptrace("-m", "autograder", "grade", str(CATALOGUE / name), "--results", str(results))
        assert done.returncode == 0, done.stderr
        return json.loads(results.read_text(encoding="utf-8"))

    with ThreadPoolExecutor(max_workers=len(UNTRACED)) as pool:
        found = dict(zip(UNTRACED, pool.map(grade_untraced, UNTRACED)))
    for name, results in found.items():
        said = "\n\n".join(test.get("output", "") for test in results["tests"] if test["score"] < test["max_score"])
        assert results["score"] == EXPECTED[name].total(IN_FORCE), f"{name}: {EXPECTED[name].about}\n{said}"


def test_where_sock_diag_cannot_be_asked_any_tcp_socket_counts_as_a_connection(monkeypatch):
    """Without Linux's sock_diag the harness cannot name a program's ends of its connections: honest
    programs still get every point, and a wait on a socketpair (no TCP) still ends by the clock."""
    monkeypatch.setattr(waiting, "_ASKED", [False])
    entries = ("solution", "correct_client2_raw_socket_with_a_timeout", "correct_client2_asyncio_run_in_executor",
               "cheat_client2_waits_on_a_socketpair_then_pongs")
    for name, got in zip(entries, grade_all([CATALOGUE / name for name in entries])):
        assert got.scores() == deserved(name), name
