"""Shared helpers: run the PingPong programs as real processes on loopback.

Each test gets its own free port (never the default 50505), so tests can run
side by side and beside a server someone left running. Every wait is for an
event (a line printed, a process ending) and has a bound; every process a
test starts is killed when the test ends, pass or fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignment"
SOLUTION = ROOT / "solution"
if str(ROOT) not in sys.path:  # `import autograder` also under a bare `pytest`
    sys.path.insert(0, str(ROOT))

SCRIPTS = {"server": "server_student.py", "client1": "client1.py", "client2": "client2_student.py"}
BOUND = 10.0  # seconds to wait for any one event
DEFAULT_PORT = 50505


def free_port() -> int:
    """A port nothing listens on now: bind port 0 on loopback, read it, close."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != DEFAULT_PORT:
            return port


class Program:
    """One program running as its own process; threads read what it prints."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]):
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._lines: list[str] = []
        self._errors: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\r\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._errors.append(line)

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    @property
    def stdout(self) -> str:
        return "\n".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self._errors)

    def report(self) -> str:
        return "\n--- {0} stdout ---\n{1}\n--- {0} stderr ---\n{2}".format(self.name, self.stdout, self.stderr)

    def wait_for_line(self, text: str, timeout: float = BOUND) -> str:
        """The first line printed that contains `text`, waiting for it if need be."""

        def found():
            return next((line for line in self._lines if text in line), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self._ended, timeout)
            line = found()
        if line is None:
            why = "it closed its output first" if self._ended else "within {:g} s".format(timeout)
            raise AssertionError("{} printed no line with {!r}: {}{}".format(self.name, text, why, self.report()))
        return line

    def wait(self, timeout: float = BOUND) -> int:
        """Its exit code, once it has ended by itself and its output is all read."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("{} did not end within {:g} s{}".format(self.name, timeout, self.report())) from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(BOUND)
        finally:
            for reader in self._readers:
                reader.join(BOUND)
            self.proc.stdout.close()
            self.proc.stderr.close()


class Launcher:
    """Starts programs on one test's port and stops them all at teardown."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.started: list[Program] = []

    def start(self, script, folder, *, python=sys.executable, env=None, name=None) -> Program:
        """Run `script` (a role from SCRIPTS, or a file name) with `folder` as its cwd."""
        script = SCRIPTS.get(script, script)
        program = Program(name or script, [python, script], folder, dict(self.env, **(env or {})))
        self.started.append(program)
        return program

    def start_in_order(self, order, folders, *, python=sys.executable) -> dict[str, Program]:
        """Start the three programs in `order`, each once the last one is really up.

        A client started before the server has printed that it waits for the
        server; one started after it has been greeted by the server.
        """
        programs: dict[str, Program] = {}
        for role in order:
            programs[role] = self.start(role, folders[role], python=python, name=role)
            if role == "server":
                programs[role].wait_for_line("listening on")
            elif "server" in programs:
                programs["server"].wait_for_line("{} connected".format(role))
            else:
                programs[role].wait_for_line("waiting for the server")
        return programs

    def stop_all(self) -> None:
        for program in self.started:
            program.stop()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def env(port) -> dict[str, str]:
    """The environment for programs: this test's port, nothing inherited that steers them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    env.update(
        PINGPONG_PORT=str(port),
        PINGPONG_HOST="127.0.0.1",
        PINGPONG_CONNECT_TIMEOUT=str(3 * BOUND),  # longer than any wait of ours
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


@pytest.fixture
def launcher(env):
    launcher = Launcher(env)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture
def reference_folder(tmp_path) -> Path:
    """The reference programs: solution/ plus the handout's utils2.py and client1.py."""
    folder = tmp_path / "reference"
    folder.mkdir()
    for path in [*SOLUTION.glob("*.py"), ASSIGNMENT / "utils2.py", ASSIGNMENT / "client1.py"]:
        shutil.copy(path, folder)
    return folder


def fill(skeleton: str, region: str) -> str:
    """A skeleton file with `region` written between its markers."""
    from autograder.skeleton import split

    parts = split(skeleton)
    body = "".join(line + "\n" for line in region.strip("\n").splitlines())
    return parts.before + "\n" + body + parts.after


@pytest.fixture
def student_folder(tmp_path):
    """Make a folder as a student has it: the handout, with their two files.

    Each of `server` and `client2` is "solution" (the solution file copied
    in), "skeleton" (the handout file as given) or the code for the region.
    """

    def make(name="student", server="solution", client2="solution") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for path in ASSIGNMENT.glob("*.py"):
            shutil.copy(path, folder)
        for filename, choice in ((SCRIPTS["server"], server), (SCRIPTS["client2"], client2)):
            if choice == "solution":
                shutil.copy(SOLUTION / filename, folder)
            elif choice != "skeleton":
                text = fill((ASSIGNMENT / filename).read_text(encoding="utf-8"), choice)
                (folder / filename).write_text(text, encoding="utf-8")
        return folder

    return make


@pytest.fixture(scope="session")
def utils2():
    """The handout's utils2.py, imported into the test process."""
    spec = importlib.util.spec_from_file_location("utils2", ASSIGNMENT / "utils2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def results_are_gradescopes(monkeypatch):
    """Every results dict or file the grader makes in a test's process is checked against Gradescope's format."""
    import gradescope_results
    from autograder import report

    made, written = report.results, report.write

    def results(grade):
        return gradescope_results.check(made(grade))

    def write(data, path):
        written(data, path)
        gradescope_results.check_file(path)

    monkeypatch.setattr(report, "results", results)
    monkeypatch.setattr(report, "write", write)
