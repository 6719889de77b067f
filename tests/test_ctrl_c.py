"""Ctrl+C in any of the three programs, or in check.py, ends it with one line, no traceback.

Real SIGINTs to real programs, each while it waits: the server for its
clients, a client for the server to appear, client2 for its Ping, client1
for its Pong. On Linux a signal ends the wait at once. Windows cannot be
run here: there Ctrl+C does not end a blocked select() or recv(), so
utils2 wakes from them every quarter of a second (_WAKE_SECONDS) to let it
through. The same tests run with that path switched on (as on Windows,
where the signal would only get through at a wake-up), and the whole
exchange runs on it too.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.bundle import HANDOUT_FILES
from conftest import ASSIGNMENT, BOUND, SOLUTION, free_port

STOP_SECONDS = 5.0  # from Ctrl+C to the program's end; it takes milliseconds (a wake-up, on Windows' path)
CHECK_STOP_SECONDS = 15.0  # check.py lets its runs end first: each within its 5 s, and 1 s to stop programs
# Runs a program with utils2's waits woken up as on Windows, at 50 ms.
WINDOWS_WAITS = ("import runpy, sys; sys.path.insert(0, '.'); import utils2; utils2._WAKE_SECONDS = 0.05; "
                 "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
WAITS = {"as here": [], "as on Windows": ["-c", WINDOWS_WAITS]}


def _sigint_as_usual():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a test runner started in the background may ignore it


class Running:
    def __init__(self, folder: Path, script: str, port: int, waits: list[str]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
        env.update(PINGPONG_PORT=str(port), PYTHONUNBUFFERED="1", PINGPONG_CONNECT_TIMEOUT=str(BOUND))
        self.process = subprocess.Popen([sys.executable, *waits, script], cwd=folder, env=env, text=True,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=_sigint_as_usual)
        self.lines: queue.Queue = queue.Queue()
        self.printed: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout], daemon=True).start()

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + BOUND
        while not any(text in line for line in self.printed):
            try:
                self.printed.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r}: {self.printed}") from None

    def stopped_by_ctrl_c(self, seconds: float = STOP_SECONDS) -> tuple[int, str, float]:
        began = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {seconds:g} s after Ctrl+C: {self.printed}") from None
        return code, self.process.stderr.read(), time.monotonic() - began

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(BOUND)
        self.process.stdout.close()
        self.process.stderr.close()


def _listener() -> socket.socket:
    listening = socket.socket()
    listening.bind(("127.0.0.1", free_port()))
    listening.listen(2)
    listening.settimeout(BOUND)
    return listening


def _waiting(program: str, waits: list[str], folder: Path) -> tuple[Running, list]:
    """`program` started, and waiting; what to close afterwards."""
    if program == "the server, for its clients":
        running = Running(folder, "server_student.py", free_port(), waits)
        running.wait_for("server: listening on")
        return running, []
    if program == "client1, for the server to appear":
        running = Running(folder, "client1.py", free_port(), waits)
        running.wait_for("client1: waiting for the server")
        return running, []
    listening = _listener()
    script, line = {"client2, for its Ping": ("client2_student.py", "client2: connected to the server"),
                    "client1, for its Pong": ("client1.py", "client1: sent Ping")}[program]
    running = Running(folder, script, listening.getsockname()[1], waits)
    accepted, _ = listening.accept()
    running.wait_for(line)
    return running, [accepted, listening]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for source in (ASSIGNMENT / "utils2.py", ASSIGNMENT / "client1.py", SOLUTION / "server_student.py",
                   SOLUTION / "client2_student.py"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    return tmp_path


@pytest.mark.parametrize("waits", list(WAITS), ids=lambda w: w.replace(" ", "-"))
@pytest.mark.parametrize("program", ["the server, for its clients", "client1, for the server to appear",
                                     "client2, for its Ping", "client1, for its Pong"])
def test_ctrl_c_ends_a_waiting_program_with_one_line(folder, program, waits):
    running, held = _waiting(program, WAITS[waits], folder)
    try:
        code, stderr, took = running.stopped_by_ctrl_c()
    finally:
        running.kill()
        for sock in held:
            sock.close()
    who = program.split(",")[0].replace("the ", "")
    assert stderr == f"{who}: stopped by Ctrl+C\n"
    assert code == -signal.SIGINT  # ended by the signal, as Python ends on Ctrl+C: shells show 130
    assert took < STOP_SECONDS


def test_other_errors_still_show_their_traceback(folder):
    """The quiet exit is for Ctrl+C only: a student's mistake must still show where it is."""
    client2 = folder / "client2_student.py"
    client2.write_text(client2.read_text(encoding="utf-8").replace(
        "client.send_message(Message.Pong)", "client.send_message('Pong')"), encoding="utf-8")
    listening = _listener()
    running = Running(folder, "client2_student.py", listening.getsockname()[1], [])
    try:
        accepted, _ = listening.accept()
        accepted.sendall(b"Ping\n")
        code = running.process.wait(BOUND)
        stderr = running.process.stderr.read()
    finally:
        running.kill()
        listening.close()
    assert code == 1
    assert "Traceback (most recent call last):" in stderr and "TypeError: client.send_message takes" in stderr


def test_the_exchange_runs_on_windows_waits(folder):
    """The three programs, each waking every 50 ms as on Windows, still pass the Ping and Pong round."""
    port = free_port()
    started = []
    try:
        for script, ready in (("server_student.py", "server: listening on"),
                              ("client2_student.py", "client2: connected to the server"),
                              ("client1.py", "client1: connected to the server")):
            started.append(Running(folder, script, port, WAITS["as on Windows"]))
            started[-1].wait_for(ready)
        for running, last in zip(started, ("forwarded Pong from client2 to client1", "client2: sent Pong",
                                           "client1: the Ping went round and came back as a Pong. Done.")):
            running.wait_for(last)
            assert running.process.wait(BOUND) == 0, running.process.stderr.read()
    finally:
        for running in started:
            running.kill()


def _running_in(folder: Path) -> list[int]:
    """The processes whose working folder is `folder` (check.py runs your programs in its own)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/cwd") == str(folder):
                found.append(int(entry))
        except OSError:
            pass  # gone, or not ours to see
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds check.py's programs through Linux's /proc")
def test_ctrl_c_ends_check_py_with_one_line_and_its_programs_with_it(tmp_path):
    """check.py is the students' fourth program: Ctrl+C while it runs a server that hangs."""
    (tmp_path / "checker").mkdir()
    for name in HANDOUT_FILES:
        (tmp_path / name).write_bytes((ASSIGNMENT / name).read_bytes())
    hangs = Path(__file__).resolve().parent / "catalogue" / "server_waits_forever"
    for name in ("server_student.py", "client2_student.py"):
        (tmp_path / name).write_bytes((hangs / name).read_bytes())
    running = Running(tmp_path, "check.py", free_port(), [])
    try:
        running.wait_for("Checking the PingPong programs in")
        deadline = time.monotonic() + BOUND
        while len(_running_in(tmp_path)) < 3:  # check.py and at least two of the programs it runs
            assert time.monotonic() < deadline, "check.py started no programs"
            time.sleep(0.01)  # nothing announces a process has started: look again
        code, stderr, took = running.stopped_by_ctrl_c(seconds=CHECK_STOP_SECONDS)
    finally:
        running.kill()
    assert stderr == "check.py: stopped by Ctrl+C\n"
    assert code == 130
    assert _running_in(tmp_path) == [], "programs check.py started were left running"
