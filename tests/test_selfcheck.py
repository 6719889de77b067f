"""The students' self-check, `python check.py` in the handout folder.

It must give the verdicts the autograder gives, for the checks both run, on
every catalogue entry: the same rules (the handout's referee.py) applied to
what its own stand-ins saw, under the rubric in force and under a stricter
one (`must_end` on every graded test), each reaching check.py as `make dist`
hands it over. It must run on Python 3.8, and where it cannot see a program
wait (macOS, Windows) it must still catch the plain mistakes.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import redirect_stdout
from dataclasses import fields, replace
from pathlib import Path

import pytest

from autograder import bundle, grading, rubric
from autograder.bundle import HANDOUT_FILES
from autograder.handout import FOLDER, SOLUTION, STUDENT_FILES, referee, scenario, waiting

from deserved import CATALOGUE, catalogue
from pythons import find_python
from survivors import survivors

EXPECTED = catalogue()
IN_FORCE = rubric.load()
# A course that wants every program to end by itself: where a program of a passed check does not, both fail it.
STRICT = replace(IN_FORCE, tests=tuple(replace(test, must_end=test.key in rubric.GRADED) for test in IN_FORCE.tests))
RUBRICS = {"in_force": IN_FORCE, "must_end": STRICT}
HANDOUT_MODULES = tuple(name for name in HANDOUT_FILES if name not in STUDENT_FILES)
CHECK_SECONDS = 60  # a bound on one run of check.py; it takes 0.5 s, or 6 s when a program hangs
# check.py's name for each check -> the autograder's test
CHECKED = {
    "your client2 answers a Ping with a Pong": "client2_answers",
    "your server forwards the Ping from client1 to client2": "server_forwards_ping",
    "your server forwards the Pong from client2 to client1": "server_forwards_pong",
    "your server and your client2 complete the exchange together": "together",
}


def _entries() -> dict[str, Path]:
    """The catalogue of submissions; the batch test's variants while it does not exist yet."""
    if CATALOGUE.is_dir():
        return {p.name: p for p in sorted(CATALOGUE.iterdir()) if p.is_dir()}
    from test_batch import VARIANTS, _write

    made = Path(os.environ.get("TMPDIR", "/tmp")) / f"pingpong-variants-{os.getpid()}"
    if not made.exists():
        for name in VARIANTS:
            _write(made / name, name)
    return {p.name: p for p in sorted(made.iterdir())}


ENTRIES = _entries()


def _handout_with(entry: Path, folder: Path, chosen: rubric.Rubric | None = None) -> Path:
    """A student's handout folder and the entry's two files, if it has them. The handout: as `make dist` packs
    it for the rubric `chosen`; None: the modules as they are in the repository (check.py with no rubric.json)."""
    (folder / "checker").mkdir(parents=True)
    if chosen is None:
        for name in HANDOUT_MODULES:
            shutil.copy(FOLDER / name, folder / name)
    for packed in bundle.handout_entries(chosen) if chosen is not None else ():
        name = packed.name.split("/", 1)[1]
        if name not in STUDENT_FILES:
            (folder / name).write_bytes(packed.source.read_bytes() if packed.data is None else packed.data)
    for name in STUDENT_FILES:
        if (entry / name).is_file():
            shutil.copy(entry / name, folder)
    return folder


def _not_done(output: str) -> dict[str, str]:
    """The autograder test -> check.py's TODO line that stands for it: a file whose part is still empty
    stands for each check that needs it and has no PASS or FAIL line of its own."""
    lines = output.splitlines()
    named = {CHECKED[line[6:]] for line in lines if line[:6] in ("PASS  ", "FAIL  ") and line[6:] in CHECKED}
    found = {}
    for line in lines:
        if line.startswith("TODO  "):
            empty = line[6:].split(":", 1)[0]
            found.update({test: line for test in CHECKED.values() if test not in named and test not in found
                          and empty in scenario.NEEDS[referee.CHECKS[test][0]]})
    return found


def _verdicts(output: str) -> dict[str, bool]:
    """The autograder test -> passed, from check.py's PASS/FAIL lines; not done (a TODO line) is not passed."""
    found = dict.fromkeys(_not_done(output), False)
    for line in output.splitlines():
        word, _, name = line.partition("  ")
        if word in ("PASS", "FAIL") and name in CHECKED:
            found[CHECKED[name]] = word == "PASS"
    return found


def _said(output: str, test: str) -> str:
    """What check.py printed about the check that is the autograder's `test`: its PASS/FAIL line and what
    follows, or the TODO line that stands for it; and what it printed about the check it refers to for the
    same cause."""
    name = next(name for name, key in CHECKED.items() if key == test)
    shown = _block(output, name)
    if shown is None:
        return _not_done(output).get(test, "")
    first = next((other for other in CHECKED if f'Same cause as "{other}"' in shown), None)
    return shown if first is None else shown + "\n" + (_block(output, first) or "")


def _block(output: str, name: str) -> str | None:
    """The check's PASS/FAIL line and what follows; None if it has none."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line[6:] == name and line[:6] in ("PASS  ", "FAIL  ")), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:6] in ("PASS  ", "FAIL  ", "TODO  ")
                or not lines[i]),
               len(lines))
    return "\n".join(lines[start:end])


# Taken once, here: read in a pool's thread, os.environ can change under it (pytest sets and removes
# PYTEST_CURRENT_TEST in the main thread), and iterating it then raises KeyError.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}


def _check(folder: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "check.py"], cwd=folder, env=CLEAN_ENV, capture_output=True, text=True,
                          timeout=CHECK_SECONDS)


def _both(name: str, entry: Path, tmp: Path, chosen: rubric.Rubric
          ) -> tuple[dict[str, bool], dict[str, bool], subprocess.CompletedProcess]:
    folder = _handout_with(entry, tmp / name, chosen)
    running = subprocess.Popen([sys.executable, "check.py"], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=CLEAN_ENV)
    try:
        graded = grading.grade([entry], chosen)
        out, err = running.communicate(timeout=CHECK_SECONDS)
    finally:
        if running.poll() is None:  # out of time, or the test was stopped: leave nothing running
            running.kill()
            running.communicate()
            for found in survivors(str(folder)):  # its programs, in sessions of their own
                os.kill(int(found.split(":")[0]), signal.SIGKILL)
    done = subprocess.CompletedProcess(running.args, running.returncode, out, err)
    autograder = {v.test.key: v.passed for v in graded.verdicts if v.test.key in CHECKED.values()}
    return _verdicts(out), autograder, done


@pytest.fixture(scope="session")
def both_ways(request, tmp_path_factory) -> Iterator[dict[str, Future]]:
    """Each entry and rubric this session asks for, checked by check.py and graded, three at a time, in the
    order the tests ask for them: each test waits for its own entry only, so the suite's time bound is one
    entry's on any machine, not the whole catalogue's (a Future of _both's result)."""
    wanted = [(item.callspec.params["course"], item.callspec.params["name"]) for item in request.session.items
              if item.originalname == "test_the_self_check_gives_the_autograders_verdicts"]
    tmp = tmp_path_factory.mktemp("selfcheck")
    pool = ThreadPoolExecutor(max_workers=3)  # hanging entries take a scene's time limit each
    yield {(course, name): pool.submit(_both, name, ENTRIES[name], tmp / course, RUBRICS[course])
           for course, name in wanted}
    pool.shutdown(wait=True, cancel_futures=True)


def test_the_catalogue_is_there_for_the_self_check():
    assert len(ENTRIES) >= 10
    assert "solution" in ENTRIES or "correct" in ENTRIES


@pytest.mark.parametrize("course", RUBRICS)
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_the_self_check_gives_the_autograders_verdicts(both_ways, name, course):
    mine, theirs, done = both_ways[course, name].result()
    assert set(mine) == set(CHECKED.values()), f"{name}: check.py printed\n{done.stdout}\n{done.stderr}"
    assert done.returncode == (0 if all(mine.values()) else 1), f"{name}\n{done.stdout}"
    assert "The autograder also checks" in done.stdout.strip().splitlines()[-1], name
    differ = []
    if mine != theirs:
        differ.append(f"{name}: check.py {mine}, autograder {theirs}\n{done.stdout}")
    pinned = EXPECTED[name].hint if name in EXPECTED else {}
    for test, (_, words) in pinned.items():  # the autograder's words, too
        if words not in _said(done.stdout, test):
            differ.append(f"{name}: check.py does not say {words!r} for {test}:\n{done.stdout}")
    for test in set(CHECKED.values()) - set(pinned):  # and a warning only where the autograder gives one
        if name in EXPECTED and "Warning:" in _said(done.stdout, test):
            differ.append(f"{name}: check.py warns for {test}, where the autograder does not:\n{done.stdout}")
    assert differ == [], "\n\n".join(differ)
    if name in EXPECTED:  # and the rubric's `must_end` was followed, where it fails a check
        assert mine == {key: EXPECTED[name].passes(key, RUBRICS[course]) for key in CHECKED.values()}, done.stdout
    if name in ("solution", "correct"):
        assert all(mine.values()), done.stdout
    if name == "skeleton":
        assert not all(mine.values()), done.stdout


def test_a_failed_check_shows_the_exchange_a_hint_and_the_program_output(tmp_path):
    entry = tmp_path / "echo"
    entry.mkdir()
    shutil.copy(SOLUTION / "client2_student.py", entry)
    server = (SOLUTION / "server_student.py").read_text(encoding="utf-8")
    (entry / "server_student.py").write_text(server.replace("server.forward_message(ping)",
                                                            "server.send_message(ping)"), encoding="utf-8")
    done = _check(_handout_with(entry, tmp_path / "student"))
    assert done.returncode == 1
    out = done.stdout
    assert "PASS  your client2 answers a Ping with a Pong" in out
    failed = out.split("FAIL  your server forwards the Ping from client1 to client2\n", 1)[1].split("\nFAIL  ")[0]
    assert "      Expected: your server receives client1's Ping and forwards it, once, to client2." in failed
    assert "      What happened (as the checker saw it on the network):" in failed
    assert "        (client1: checker, server: yours, client2: checker)" in failed
    assert "\n         1. client1 --Ping--> server\n         2. client1 <--Ping-- server" in failed
    assert "      Hint: " in failed
    assert "      Your server exited with status" in failed
    assert "        server: sent Ping to client1" in failed  # the tail of what the server printed
    assert "3 of 4 checks failed." in out


def test_a_missing_file_is_named(tmp_path):
    entry = tmp_path / "only-client2"
    entry.mkdir()
    shutil.copy(SOLUTION / "client2_student.py", entry)
    done = _check(_handout_with(entry, tmp_path / "student"))
    assert done.returncode == 1
    assert "PASS  your client2 answers a Ping with a Pong" in done.stdout
    assert "Hint: Put server_student.py beside check.py" in done.stdout


@pytest.mark.parametrize("entry, passes", [(SOLUTION, True), (FOLDER, False)], ids=["solution", "skeleton"])
def test_the_self_check_runs_on_python_3_8(tmp_path, entry, passes):
    python, why = find_python("3.8")
    if python is None:
        pytest.skip(why)
    done = _check(_handout_with(entry, tmp_path / "student"), python=python)
    assert done.returncode == (0 if passes else 1), done.stdout + done.stderr
    assert done.stderr == ""
    assert set(_verdicts(done.stdout).values()) == ({True} if passes else {False})


def _load_check(folder: Path):
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"check_{folder.name}", folder / "check.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] in ("checker", "utils2")]:
            sys.modules.pop(name)
    return module


def test_check_py_follows_the_rubric_make_dist_packs_and_the_default_without_it(tmp_path):
    """The scenes' limits and `must_end` reach check.py from the rubric the grader reads, through make dist;
    check.py as it is in the repository, with no rubric.json beside it, plays by the default rubric's."""
    limits = replace(IN_FORCE.limits, scenario_seconds=7.5, settle_seconds=0.5, exit_seconds=2.0)
    check = _load_check(_handout_with(SOLUTION, tmp_path / "course", replace(STRICT, limits=limits)))
    scenes = [field.name for field in fields(scenario.Limits)]
    assert {key: getattr(check.LIMITS, key) for key in scenes} == {"scenario_seconds": 7.5, "settle_seconds": 0.5,
                                                                     "exit_seconds": 2.0}
    assert check.MUST_END == set(rubric.GRADED)
    repository = _load_check(_handout_with(SOLUTION, tmp_path / "repository"))
    assert {key: getattr(repository.LIMITS, key) for key in scenes} == \
        {key: getattr(scenario.Limits(), key) for key in scenes}
    assert repository.MUST_END == frozenset()
    assert not any(test.must_end for test in rubric.TESTS)  # the default rubric's


FALLBACK = ["solution", "skeleton", "cheat_client2_pong_before_ping", "cheat_server_echoes",
            "correct_client2_slow_answer", "server_forwards_only_the_ping"]


@pytest.mark.parametrize("name", [n for n in FALLBACK if n in ENTRIES] or list(ENTRIES)[:4])
def test_without_proc_the_self_check_waits_for_silence_and_still_agrees(tmp_path, name, monkeypatch):
    """As on Windows: no /proc, so the checker hands a message over after a quiet spell instead, and
    no handing over a listening socket, so the server binds its port itself and the checker waits for it."""
    check = _load_check(_handout_with(ENTRIES[name], tmp_path / name, IN_FORCE))
    monkeypatch.setattr(check.waiting, "can_see_waiting", lambda: False)
    monkeypatch.setattr(check.Processes, "hands_over", False)
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = check.main([])
    graded = grading.grade([ENTRIES[name]], IN_FORCE)
    theirs = {v.test.key: v.passed for v in graded.verdicts if v.test.key in CHECKED.values()}
    assert _verdicts(printed.getvalue()) == theirs, printed.getvalue()
    assert code == (0 if all(theirs.values()) else 1)
    assert "waits for 0.25 s of silence instead" in printed.getvalue()


@pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
def test_a_client2_never_ready_for_the_ping_is_told_it_was_sleeping(tmp_path):
    """Its thread waits in a loop with a timeout: the Ping is held to the end, in both checks that
    need client2, and the hint says why, as the autograder's does."""
    entry = CATALOGUE / "client2_keeps_a_thread_waiting_with_a_timeout"
    done = _check(_handout_with(entry, tmp_path / "student"))
    hints = [line for line in done.stdout.splitlines() if line.startswith("      Hint: ")]
    assert len(hints) == 1, done.stdout  # the second check that needs client2 refers to the first
    assert all("Your client2 never got the message meant for it" in hint and "while the message waited for it, a thread of it "
               "waited on another thread (a lock, join(), Event.wait(), queue.get()) with a timeout" in hint
               for hint in hints), done.stdout
    assert '      Same cause as "your client2 answers a Ping with a Pong"' in _said(done.stdout, "together")


SCREEN_LINES = 40


@pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
@pytest.mark.parametrize("name", ["server_receives_twice_before_forwarding", "client2_compares_with_a_string",
                                  "server_closes_before_the_last_forward", "client2_busy_waits"])
def test_a_one_mistake_submission_fits_a_screen_and_is_told_once(tmp_path, name):
    """Each check that fails for the one cause refers to the first, which explains it; a program stopped
    while it waited says at which line, and not the error the stop caused."""
    done = _check(_handout_with(CATALOGUE / name, tmp_path / "student"))
    lines = done.stdout.splitlines()
    hints = [line for line in lines if line.startswith("      Hint: ")]
    assert len(lines) <= SCREEN_LINES and len(hints) == 1, done.stdout
    assert sum("      Same cause as " in line for line in lines) == sum(line.startswith("FAIL  ") for line in lines) - 1
    if name == "server_receives_twice_before_forwarding":
        assert "      It was waiting for a message at line 20 of server_student.py:\n" \
               "        pong = server.receive_message()\n" in done.stdout, done.stdout
        assert "ConnectionError" not in done.stdout, done.stdout  # the stop's own error, not the program's
