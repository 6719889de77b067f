"""A grading must not depend on how soon the harness looks.

On a busy machine (Gradescope's half CPU, a batch beside it) a student
program can connect, send, and end before the harness has read a byte of
it. What it sent before it ended still happened: the feedback must be the
one a quick harness gives. Each test grades a submission twice, once as
usual and once with the harness made to look only after the program has
ended, and compares what the student would read.
"""

from __future__ import annotations

import json
import os
import re
import select
import time
from pathlib import Path

import pytest

from autograder import grading, rubric, sandbox
from autograder.handout import FOLDER, SOLUTION

BOUND = 10.0  # seconds for a program that ends at once to be seen ending
GREETS_AND_ENDS = {
    "client2 crashes once connected": "raise RuntimeError('not done yet')\n",
    "client2 ends once connected": "pass\n",
}


def _late_start(real):
    """sandbox.start, returning only once a client2 has ended: the harness comes late to all it did."""
    def start(name, script, folder, env, pass_fds=(), caps=None):
        program = real(name, script, folder, env, pass_fds, caps)
        if name == "client2":
            pidfd = os.pidfd_open(program.pid)
            try:
                assert select.select([pidfd], [], [], BOUND)[0], "client2 did not end"
            finally:
                os.close(pidfd)
            deadline = time.monotonic() + BOUND
            while not program.exited() and time.monotonic() < deadline:
                pass  # the warden's report follows the exit at once
            assert program.exited()
        return program
    return start


def _submission(folder: Path, client2_region: str, with_server: bool) -> Path:
    folder.mkdir()
    text = (FOLDER / "client2_student.py").read_text(encoding="utf-8")
    (folder / "client2_student.py").write_text(text.replace("# *** start ***\n", "# *** start ***\n" + client2_region),
                                               encoding="utf-8")
    if with_server:
        (folder / "server_student.py").write_text((SOLUTION / "server_student.py").read_text(encoding="utf-8"),
                                                  encoding="utf-8")
    return folder


def _read(graded: grading.Grade) -> list[tuple[str, float, str]]:
    """What the student reads, without what differs from run to run: folders and ports."""
    text = json.dumps([(v.test.key, v.score, v.output) for v in graded.verdicts])
    text = re.sub(r'File \\"[^"]*?/([\w.-]+\.py)\\"', r'File \\"<folder>/\1\\"', text)
    return json.loads(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits for the end through a pidfd (Linux)")
@pytest.mark.parametrize("with_server", [True, False], ids=["with the reference server", "no server file"])
@pytest.mark.parametrize("case", list(GREETS_AND_ENDS))
def test_a_program_that_ends_before_the_harness_looks_is_graded_the_same(tmp_path, monkeypatch, case, with_server):
    source = _submission(tmp_path / "submission", GREETS_AND_ENDS[case], with_server)
    quick = _read(grading.grade([source], rubric.load()))
    monkeypatch.setattr(sandbox, "start", _late_start(sandbox.start))
    late = _read(grading.grade([source], rubric.load()))
    assert late == quick
    client2 = next(output for key, _, output in late if key == "client2_answers")
    assert "server --Ping--> client2" in client2, client2  # it greeted: the Ping was on its way
