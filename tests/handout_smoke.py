"""The handout as a student meets it:  python tests/handout_smoke.py dist/handout.zip solution

Unpacks the handout zip three times. Into one copy go the two files of a
solution (a folder holding server_student.py and client2_student.py); then
the three programs run in the order the students' README gives (server,
client2, client1), each must exit 0 and print exactly the lines that README
shows, and `python check.py` must pass every check and exit 0. Into another
go only the solution's client2, as a student has it after step 1. Each step
is then run against its working partner, as the README's "Running it" says:
step 1 is server.py, the student's client2 and client1.py; step 2 the
student's server, client2.py and client1.py; each in all six start orders,
each program started once the one before it has printed its first line.
There `python check.py client2` must pass in at most 5 lines, and `python
check.py` must pass that check and say in one line that the server is step
2. In the last copy, left untouched, `python check.py` must say so of both
files and exit 1, as the README promises. The README must name the port
utils2.py sets, and no other: `make dist` writes it there.

Everything runs with the Python that runs this script, so CI runs it under
each Python and system of its matrix; the test suite runs it under 3.8.
Standard library only, Python 3.8+, on Linux, macOS and Windows: output is
read by threads, never by select() on pipes, which Windows lacks.
Exits 0 if all held; otherwise prints what did not and exits 1.
"""

import itertools
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

FOLDER = "pingpong"  # what the handout zip unpacks to
STUDENT_FILES = ("server_student.py", "client2_student.py")
PROGRAMS = ("server", "client2", "client1")  # in the order the README starts them
YOURS = {"server": "server_student.py", "client2": "client2_student.py", "client1": "client1.py"}
STEPS = {"step 1": dict(YOURS, server="server.py"), "step 2": dict(YOURS, client2="client2.py")}  # and partners
FIRST_LINE = {"server": r"^server: listening on ", "client2": r"^client2: (connected to|waiting for) the server",
              "client1": r"^client1: (connected to|waiting for) the server"}
START_SECONDS = 15.0  # for a program to print its first line, or to finish, on a slow CI machine
CHECK_SECONDS = 120.0  # one run of check.py: about a second, 5 s more when a program hangs
CHECKS = 4
STEP_LINES = 5  # at most, for `check.py client2` passing


class Failed(Exception):
    """What did not hold."""


class Running:
    """A program started with its output read line by line on a thread of its own."""

    def __init__(self, name, script, folder, env):
        self.name = name
        self.lines = queue.Queue()
        self.printed = []
        self.process = subprocess.Popen([sys.executable, script], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.lines.put(None)

    def wait_for(self, pattern, seconds):
        """Block until a line matches `pattern` (a regular expression); the line."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Failed("{} printed no line like {!r} within {:g} s; it printed:\n{}".format(
                    self.name, pattern, seconds, "\n".join(self.printed))) from None
            if line is None:
                raise Failed("{} ended without printing a line like {!r}; it printed:\n{}".format(
                    self.name, pattern, "\n".join(self.printed)))
            self.printed.append(line)
            if re.search(pattern, line):
                return line

    def finish(self, seconds):
        """Wait for it to end; its exit status and every line it printed."""
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self.reader.join(seconds)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.printed.append(line)
        self.process.stdout.close()
        return code, self.printed

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.finish(START_SECONDS)


def unpack(archive, into):
    with zipfile.ZipFile(archive) as handout:
        handout.extractall(into)
    folder = os.path.join(into, FOLDER)
    if not os.path.isfile(os.path.join(folder, "check.py")):
        raise Failed("{} holds no {}/check.py".format(archive, FOLDER))
    return folder


def readme_lines(folder):
    """What the students' README says each program prints: {name: [lines]}, from its
    "Terminal N, the server:" blocks."""
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as stream:
        text = stream.read()
    shown = {}
    for name, block in re.findall(r"Terminal \d, (?:the )?(\w+):\s*```\n(.*?)```", text, re.S):
        shown[name] = block.strip("\n").split("\n")
    if set(shown) != set(PROGRAMS):
        raise Failed("the README shows no output for {}".format(
            ", ".join(sorted(set(PROGRAMS) - set(shown))) or "an unknown program"))
    return shown


def handout_port(folder):
    """The port utils2.py sets, once the README is seen to name it and no other wherever it names a port."""
    with open(os.path.join(folder, "utils2.py"), encoding="utf-8") as stream:
        found = re.search(r"^PORT = (\d+)\s*$", stream.read(), re.M)
    if found is None:
        raise Failed("utils2.py sets no `PORT = <number>`")
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as stream:
        text = stream.read()
    named = [int(number) for number in re.findall(r"(?:127\.0\.0\.1:|\bport )(\d+)", text)]
    if not named or set(named) != {int(found.group(1))} or re.search(r"\{\w*port\}", text):
        raise Failed("the README names the port {}{}, but utils2.py sets {}: make dist writes it there".format(
            " and ".join(map(str, sorted(set(named)))) or "nowhere",
            "".join(" and leaves " + hole for hole in sorted(set(re.findall(r"\{\w*port\}", text)))),
            found.group(1)))
    return int(found.group(1))


def free_port(avoid):
    """A port free now, for the three programs to meet on (not the handout's, where a student's server may wait)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != avoid:
            return port


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", **extra)
    return env


def exchange(folder, scripts, order, shown, handout):
    """The three programs (`scripts`: name -> file), started in `order`, each once the one before it is up,
    and once the server, if running, has seen it connect: each must exit 0 and print the README's lines,
    after the line saying it waited for the server if it started first, as the README says it does."""
    port = free_port(handout)
    env = environment(PINGPONG_PORT=str(port))
    expected = {name: [line.replace(":{}".format(handout), ":{}".format(port)) for line in lines]
                for name, lines in shown.items()}
    started = {}
    try:
        for name in order:
            program = started[name] = Running(name, scripts[name], folder, env)
            first = program.wait_for(FIRST_LINE[name], START_SECONDS)
            if "waiting for the server" in first:
                expected[name] = ["{}: waiting for the server at 127.0.0.1:{} ...".format(name, port)] + expected[name]
            elif name != "server" and "server" in started:
                started["server"].wait_for(r"^server: {} connected$".format(name), START_SECONDS)
        problems = []
        for program in started.values():
            code, printed = program.finish(START_SECONDS)
            if program.name == "server":  # it says who connected in the order they did
                printed = _connections_as_shown(printed)
            if code != 0:
                problems.append("{} exited with status {}, expected 0".format(program.name, code))
            if printed != expected[program.name]:
                problems.append("{} ({}) printed:\n  {}\nexpected (the README's lines):\n  {}".format(
                    program.name, scripts[program.name], "\n  ".join(printed), "\n  ".join(expected[program.name])))
        if problems:
            raise Failed("started in the order {}:\n{}".format(", ".join(scripts[name] for name in order),
                                                               "\n".join(problems)))
    finally:
        for program in started.values():
            program.stop()
    return ["{} ({}): exit 0, {} lines as the README shows".format(name, scripts[name], len(expected[name]))
            for name in order]


def _connections_as_shown(printed):
    """The server's lines with its two "connected" lines in the README's order, client2 first."""
    lines = list(printed)
    for i in range(len(lines) - 1):
        if (lines[i], lines[i + 1]) == ("server: client1 connected", "server: client2 connected"):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return lines


def every_order(folder, step, shown, handout):
    """A step against its working partner, the three programs started in each of the six orders."""
    scripts = STEPS[step]
    for order in itertools.permutations(PROGRAMS):
        exchange(folder, scripts, order, shown, handout)
    return "{} ({}) in all 6 start orders: each exit 0, the README's lines".format(
        step, ", ".join(scripts[name] for name in PROGRAMS))


def self_check(folder, args, verdicts, code, most_lines=None):
    """`python check.py ARGS`: its verdict lines in order (the word of a PASS or FAIL line, a TODO line whole),
    its exit status, and at most `most_lines` lines printed, if given."""
    try:
        done = subprocess.run([sys.executable, "check.py", *args], cwd=folder, env=environment(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=CHECK_SECONDS)
    except subprocess.TimeoutExpired:
        raise Failed("check.py did not finish within {:g} s".format(CHECK_SECONDS)) from None
    out, err = (stream.decode("utf-8", "replace").replace("\r\n", "\n") for stream in (done.stdout, done.stderr))
    lines = out.rstrip("\n").split("\n")
    got = [line if line.startswith("TODO  ") else line.split("  ", 1)[0]
           for line in lines if line.startswith(("PASS  ", "FAIL  ", "TODO  "))]
    if got != verdicts or done.returncode != code or err or (most_lines and len(lines) > most_lines):
        raise Failed("python check.py{} in {}: expected {} and exit {}{}, got {} and exit {} in {} lines\n{}{}".format(
            "".join(" " + arg for arg in args), folder, verdicts, code,
            " in at most {} lines".format(most_lines) if most_lines else "",
            got, done.returncode, len(lines), out, err))
    return "python check.py{}: {}, exit {}{}".format("".join(" " + arg for arg in args), ", ".join(got), code,
                                                    ", {} lines".format(len(lines)) if most_lines else "")


def todo(name, step):
    """The line check.py gives a file whose part is still as handed out, as the README shows it."""
    return "TODO  {}: your part is still empty: that is step {}".format(name, step)


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    archive, solution = argv[1], argv[2]
    print("Python {} on {}".format(sys.version.split()[0], sys.platform), flush=True)
    scratch = tempfile.mkdtemp(prefix="pingpong-smoke-")
    try:
        solved, step_1, untouched = (unpack(archive, os.path.join(scratch, name))
                                     for name in ("solved", "step-1", "untouched"))
        for name in STUDENT_FILES:
            shutil.copy(os.path.join(solution, name), solved)
        shutil.copy(os.path.join(solution, "client2_student.py"), step_1)
        shown, port = readme_lines(solved), handout_port(solved)
        for line in exchange(solved, YOURS, PROGRAMS, shown, port):
            print("ok  " + line, flush=True)
        print("ok  " + every_order(step_1, "step 1", shown, port), flush=True)
        print("ok  " + every_order(solved, "step 2", shown, port), flush=True)
        print("ok  solution: " + self_check(solved, [], ["PASS"] * CHECKS, 0), flush=True)
        print("ok  step 1 done: " + self_check(step_1, ["client2"], ["PASS"], 0, most_lines=STEP_LINES), flush=True)
        print("ok  step 1 done: " + self_check(step_1, [], ["PASS", todo("server_student.py", 2)], 1), flush=True)
        print("ok  untouched: " + self_check(
            untouched, [], [todo("client2_student.py", 1), todo("server_student.py", 2)], 1), flush=True)
    except Failed as failure:
        print("FAILED  {}".format(failure), flush=True)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("The handout works as its README says.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
