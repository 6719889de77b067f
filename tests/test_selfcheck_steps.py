"""The self-check's command line, as a student uses it step by step: `python check.py client2` (step 1),
`python check.py server` (step 2), everything with no argument; `--help`; a wrong argument; a closed pipe.

A file whose part is still as handed out is a step not begun: one TODO line for it, its checks not done.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.handout import SOLUTION

from deserved import CATALOGUE
from survivors import survivors
from test_selfcheck import CHECK_SECONDS, CLEAN_ENV, _handout_with

STEP_1_DONE = CATALOGUE / "only_client2_written"  # the solution's client2, the handout's server
CLIENT2 = "PASS  your client2 answers a Ping with a Pong"
SERVER_TODO = "TODO  server_student.py: your part is still empty: that is step 2"
USAGE = "usage: python check.py [client2 | server]\n"


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "check.py", *args], cwd=folder, env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=CHECK_SECONDS)


def _verdict_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:6] in ("PASS  ", "FAIL  ", "TODO  ")]


@pytest.fixture(scope="module")
def step_1_done(tmp_path_factory) -> Path:
    return _handout_with(STEP_1_DONE, tmp_path_factory.mktemp("steps") / "student")


def test_step_1_checks_client2_alone_in_five_lines(step_1_done):
    done = _run(step_1_done, "client2")
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    lines = done.stdout.rstrip("\n").split("\n")
    assert len(lines) <= 5 and _verdict_lines(done.stdout) == [CLIENT2], done.stdout
    assert lines[0] == f"Checking your client2 (step 1) in {step_1_done}" and "The check passed." in lines


def test_everything_says_in_one_line_that_the_server_is_step_2(step_1_done):
    done = _run(step_1_done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdict_lines(done.stdout) == [CLIENT2, SERVER_TODO], done.stdout
    assert "3 of 4 checks are not done yet." in done.stdout and "Hint:" not in done.stdout


def test_step_2_checks_the_server_alone(step_1_done, tmp_path):
    done = _run(step_1_done, "server")
    assert done.returncode == 1 and _verdict_lines(done.stdout) == [SERVER_TODO], done.stdout
    assert "2 of 2 checks are not done yet." in done.stdout
    solved = _run(_handout_with(SOLUTION, tmp_path / "solved"), "server")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert _verdict_lines(solved.stdout) == ["PASS  your server forwards the Ping from client1 to client2",
                                             "PASS  your server forwards the Pong from client2 to client1"]
    assert "All 2 checks passed." in solved.stdout


def test_help_says_what_each_check_does_and_what_the_exit_status_means(step_1_done):
    done = _run(step_1_done, "--help")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith(USAGE) and "Checking" not in done.stdout
    for said in ("python check.py client2   step 1: your client2", "python check.py server    step 2: your server",
                 "python check.py           everything", "Exit status: 0 if every check it ran passed, 1 if one "
                 "failed or is not done\nyet, 2 if the command was not understood."):
        assert said in done.stdout, done.stdout


@pytest.mark.parametrize("args", [["server_student.py"], ["together"], ["client2", "server"], ["--verbose"]])
def test_a_command_not_understood_gets_the_usage_and_status_2_and_runs_nothing(step_1_done, args):
    done = _run(step_1_done, *args)
    assert (done.returncode, done.stdout) == (2, ""), done.stdout + done.stderr
    assert done.stderr.startswith(USAGE) and "Traceback" not in done.stderr, done.stderr


def test_a_closed_pipe_ends_the_output_quietly(tmp_path):
    """`python check.py | head -1` on a submission with a long failure: no traceback, the verdict's status,
    and nothing of it left running."""
    folder = _handout_with(CATALOGUE / "cheat_server_echoes", tmp_path / "student")
    running = subprocess.Popen([sys.executable, "check.py"], cwd=folder, env=CLEAN_ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        first = running.stdout.readline()
        running.stdout.close()  # as head does once it has its line
        _, err = running.communicate(timeout=CHECK_SECONDS)
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate()
    assert first.startswith("Checking the PingPong programs in ")
    assert (running.returncode, err) == (1, ""), err
    assert survivors(str(folder)) == []
