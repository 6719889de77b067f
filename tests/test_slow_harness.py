"""A grading must not depend on how soon the harness looks.

On a busy machine (Gradescope's half CPU, a batch beside it) a student
program can connect, send, and end before the harness has read a byte of
it. What it sent before it ended still happened: the feedback must be the
one a quick harness gives. Each test grades a submission twice, once as
usual and once with the harness made to look only after the program has
ended, and compares what the student would read.

Nor on how soon the warden lets a program go, once it has reported it:
until then the program's process sits blocked on a pipe, which looks, to
the harness, like a program waiting for a message.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import shutil
import socket
import time
from pathlib import Path

import pytest

from autograder import grading, readiness, rubric, sandbox
from autograder.handout import FOLDER, SOLUTION, programs, scene as scenes, utils2, waiting
from autograder.scene import Limits

from survivors import open_folder
from deserved import CATALOGUE, catalogue

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


# A warden that, having reported its program's pid, loses the CPU for a while (a busy machine).
SLOW_WARDEN = sandbox._RUN_WARDEN.replace("warden.run()", """\
report = warden._report
def _report(status_fd, line):
    report(status_fd, line)
    if line.startswith("pid"):
        warden.time.sleep(0.2)
warden._report = _report
warden.run()""")


@pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
def test_a_program_is_under_way_when_it_is_said_to_have_started(monkeypatch):
    """Until its warden's go-ahead, a program's process sits blocked on a pipe: asked then, the
    kernel says it waits for a message. A harness that handed it the Ping then made a server that
    computes, then makes up the Ping, look as if it forwarded (CI saw it, 1 start in about 20)."""
    assert SLOW_WARDEN != sandbox._RUN_WARDEN
    monkeypatch.setattr(sandbox, "_RUN_WARDEN", SLOW_WARDEN)
    spin = "import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 0.1:\n    pass\n"
    place = open_folder("pingpong-slow-warden-")
    try:
        for number in range(3):
            folder = place / f"client2-{number}"
            folder.mkdir(mode=0o700)
            # Under way, it ends waiting on a TCP connection: a message's (any TCP socket counts, untold).
            (folder / "program.py").write_text(spin + "import socket\nlistening = socket.create_server(('127.0.0.1', 0))\n"
                                               "socket.create_connection(listening.getsockname()).recv(1)\n",
                                               encoding="utf-8")
            with sandbox.start("client2", folder / "program.py", folder, {}) as program:
                seen = [readiness.state(program.tree()) for _ in range(20)]
                program.stop()
            assert waiting.READY not in seen, seen
    finally:
        shutil.rmtree(place, ignore_errors=True)


@pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
def test_a_server_that_computes_then_makes_up_the_ping_fails_however_slow_its_warden(monkeypatch):
    entry = "cheat_server_spins_then_invents_the_ping"
    chosen = rubric.load()
    monkeypatch.setattr(sandbox, "_RUN_WARDEN", SLOW_WARDEN)
    graded = grading.grade([CATALOGUE / entry], chosen)
    scores = {v.test.key: v.score for v in graded.verdicts if v.test.key in rubric.GRADED}
    assert len(scores) == 4 and scores == {key: catalogue()[entry].scores(chosen)[key] for key in scores}, scores


# The harness's own start of a program, slowed as on a loaded machine (a sandbox user made, a warden's
# Python, the kill of what a user's last program left), where it can take longer than a whole scene:
# in the warden, before it runs the program, or in launching it, before the next program is launched.
STALLED_WARDEN = sandbox._RUN_WARDEN.replace("warden.run()", "warden.time.sleep(1.2)\nwarden.run()")


def _stalled_launch(real):
    def launch(name, *args, **kwargs):
        if name == "server":  # the first of the together scene's two
            time.sleep(1.2)
        return real(name, *args, **kwargs)
    return launch


@pytest.mark.parametrize("stall", ["in the warden", "in launching"])
def test_the_time_the_harness_takes_to_start_a_program_is_not_the_programs(monkeypatch, stall):
    """A scene's time limit counts from its programs' start. Counted from the scene's own, a slow
    start left the solution's programs no time, and it scored 0 (once in CI, two catalogue entries
    whose scenes ran out of time before the programs could answer). So does a client's time to connect:
    taken from what was left of the scene when it was launched, a slow launch of the server before it
    left client2 none ('PINGPONG_CONNECT_TIMEOUT must be ... above 0, not '0.0''), and 'together' scored 0
    (issue 25's asyncio client2, 4 gradings in 48 at load 70)."""
    if stall == "in the warden":
        assert STALLED_WARDEN != sandbox._RUN_WARDEN
        monkeypatch.setattr(sandbox, "_RUN_WARDEN", STALLED_WARDEN)
    else:
        monkeypatch.setattr(sandbox, "launch", _stalled_launch(sandbox.launch))
    loaded = rubric.load()
    brief = dataclasses.replace(loaded, limits=dataclasses.replace(loaded.limits, scenario_seconds=1.0))
    graded = grading.grade([SOLUTION], brief)
    assert graded.seconds > 1.2, "the start was not slowed: this test tests nothing"
    failed = {v.test.key: v.output for v in graded.verdicts if not v.passed}
    assert not failed and graded.score == graded.max_score, failed


def test_a_client2_that_speaks_after_the_server_dropped_it_is_logged_and_grading_goes_on():
    """The together scene relays client2's connection to the student server. When the server
    drops it (it crashed) and the harness reads that before client2's hello, the hello has
    nowhere to go: it used to crash the grading (a closed socket written to)."""
    scene = scenes.Scene(Limits(scenario_seconds=BOUND, settle_seconds=0.1), programs.Processes(FOLDER))
    server, tapping = scene.listener(), scene.listener()  # server: stands in for the student server
    scene.tap(tapping, server.getsockname()[1], None, None, "client2")
    client2 = socket.create_connection(tapping.getsockname(), timeout=BOUND)
    try:
        assert scene.wait(lambda: len(scene.links) == 2, within=BOUND), "the tap did not connect onward"
        outer, inner = scene.links
        relayed, _ = server.accept()
        relayed.close()
        assert scene.wait(lambda: not inner.open, within=BOUND), "the harness did not see the server hang up"
        client2.sendall(utils2.encode("client2") + utils2.encode(utils2.Message.Pong))
        assert scene.wait(lambda: bool(scene.events), within=BOUND), "what client2 sent was not logged"
        assert [(e.frame, e.src, e.dst, e.passed) for e in scene.events] == [("Pong", "client2", "server", scenes.NEVER)]
    finally:
        client2.close()
        server.close()
        tapping.close()
        scene.close(0.0)


def test_the_port_handed_to_a_server_stays_the_scenes_until_the_scene_has_seen_it_end(tmp_path):
    """Nor on who grades beside it. A server that ends at once freed its port, and another grading's
    listener could be given it before the referee dialed: the referee greeted another grading's
    referee, and an honest submission graded beside lost its points. The port stays the scene's until
    the scene has seen the server end; a dial then reaches no one, and its link closes."""
    script = tmp_path / "server_student.py"
    script.write_text("pass\n")  # ends at once, never accepting
    scene = scenes.Scene(Limits(scenario_seconds=BOUND, settle_seconds=0.1), programs.Processes(FOLDER))
    listening = scene.listener()
    port = listening.getsockname()[1]

    def taken(port: int) -> bool:
        other = socket.socket()
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, never past a listener
        try:
            other.bind((scenes.HOST, port))
        except OSError:
            return True
        finally:
            other.close()
        return False

    try:
        server, = scene.start_all([("server", script, port, listening)])
        assert _within(BOUND, server.exited), "the server did not end"
        assert taken(port), "the server's port was free before the scene saw it end"
        link = scene.connect("client1", port, server)
        assert scene.wait(lambda: not link.open, within=BOUND), "a dial into the ended server's port stayed open"
        assert not taken(port)
    finally:
        scene.close(0.0)


def _within(seconds: float, done) -> bool:
    """Whether done() comes true within `seconds` (looked at every 10 ms: nothing announces it here)."""
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True
