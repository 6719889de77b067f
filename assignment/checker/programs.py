"""How a scene starts your programs, and what it keeps of each run.

A scene is handed one thing from outside: how to start a program. check.py
hands it `Processes`, below: plain processes on your computer, run in your
folder. The autograder hands it its sandbox (its own users, limits and
cleanup), which keeps the same few promises:

    launch(name, script, env, fds)  start `python script`; what it returns has
                                    started() (the Program, once running) and
                                    abandon() (stop it: a later start failed)
    hands_over                      can a listening socket be passed to a program
                                    (`fds`)? If not, a server binds its port itself
    state(program, connections)     waiting.py's answer for the program
    stop_all(programs, grace, look) give them `grace` s to end by themselves (one
                                    deadline for all), then ask look(program) what
                                    each still running is doing (all of them, before
                                    any is stopped), stop those; a Run each

and a Program has `name`, `pid`, `exited()` (its own process has ended),
`tree()` (its live processes: itself, and all it started that still runs) and
`outputs` (the files its stdout and stderr go to, which where() reads).

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import utils2  # beside check.py, as in the autograder (it lends its own)

from . import waiting

OUTPUT_KEPT = 64 * 1024  # bytes of each stream kept for what you read
WHERE_SECONDS = 0.5  # the longest a program is given to say where it waits
# POSIX sessions (Linux, macOS): each program starts in one of its own, so that stopping it stops all it
# started, and the checker binds your server's port and hands it over. Where there are none (Windows),
# a program is stopped on its own, and your server binds its port itself.
SESSIONS = all(hasattr(os, name) for name in ("fork", "setsid", "killpg"))


@dataclass(frozen=True)
class Output:
    """What a program printed to one stream: all of it, or its head and tail."""

    text: str
    dropped: int = 0  # bytes left out

    def tail(self, lines=20):
        return "\n".join(self.text.rstrip("\n").split("\n")[-lines:]) if self.text.strip() else ""


def where(program):
    """Where each thread of a running program is in the student's file, asked of the program itself:
    ("line 20 of server_student.py: pong = server.receive_message()", ...), main thread first; () if it
    cannot say (it handles no SIGUSR1: it never made a Server or Client; or no SIGUSR1 here).

    utils2 answers the signal on stderr and the program goes on as it was (see utils2._tell_where).
    """
    ask = getattr(signal, "SIGUSR1", None)
    if ask is None or not waiting.catches(program.pid, ask):
        return ()
    errors = program.outputs[1].fileno()
    start = os.fstat(errors).st_size
    try:
        os.kill(program.pid, ask)
    except OSError:
        return ()
    end = time.monotonic() + WHERE_SECONDS
    while True:  # nothing announces the answer: look again every few milliseconds, while it has time
        told = os.pread(errors, 1 << 16, start).decode("utf-8", "replace")
        if utils2.WHERE + ".\n" in told or time.monotonic() > end:
            return tuple(line[len(utils2.WHERE + "at "):] for line in told.split("\n")
                         if line.startswith(utils2.WHERE + "at "))
        time.sleep(0.005)


@dataclass(frozen=True)
class Run:
    """What one program did, as the scene saw it."""

    name: str
    returncode: "int | None"  # None: still running when stopped
    killed: bool  # the scene had to stop it
    stdout: Output
    stderr: Output
    limit: str = ""  # a limit it went over, in plain words (the autograder's limits), or ""
    at_stop: str = ""  # killed: what it was doing when stopped ("busy", ...; see advice.Seen.at_stop)
    escaped: bool = False  # it killed the process the autograder ran it under: its run proves nothing

    @property
    def ended_by_itself(self):
        """Neither stopped by the scene nor by a limit it went over (whose error it may have caught)."""
        return not self.killed and not (self.limit and self.returncode != 0)

    @property
    def crashed(self):
        return self.returncode not in (0, None) and not self.killed

    @property
    def compared(self):
        """Where the program compared a message with a string, and which (utils2's warning):
        "'Ping' (line 17 of client2_student.py)"; '' if it did not."""
        for line in self.stderr.text.splitlines():
            where, said, text = line.partition(": warning: ")[2].partition(" " + utils2.COMPARED + " ")
            if said:
                return "{} ({})".format(text.split(": a message is")[0], where)
        return ""

    @property
    def errors(self):
        """What it printed to stderr, without the lines it answered where() with."""
        return "".join(line for line in self.stderr.text.splitlines(True) if not line.startswith(utils2.WHERE))

    @property
    def traceback(self):
        """The last Python traceback the program printed, or ''."""
        text = self.errors
        start = text.rfind("Traceback (most recent call last):")
        return text[start:].strip() if start >= 0 else ""


class Program:
    """One of your programs, running in its folder, its output in files."""

    def __init__(self, name, script, folder, env, fds):
        given, env = env, {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
        env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1", **given)
        options = {"pass_fds": fds} if fds else {}
        if SESSIONS:
            options["start_new_session"] = True  # so that stopping it stops all it started
        else:
            options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows
        self.name = name
        self.outputs = (tempfile.TemporaryFile(), tempfile.TemporaryFile())  # a full pipe would stall it
        try:
            self.process = subprocess.Popen([sys.executable, "-B", str(script)], cwd=folder, env=env,
                                            stdin=subprocess.DEVNULL, stdout=self.outputs[0],
                                            stderr=self.outputs[1], **options)
        except BaseException:
            for stream in self.outputs:
                stream.close()
            raise
        self.pid = self.process.pid
        self.run = None

    def started(self):
        return self

    def abandon(self):
        self.stop(0.0)

    def exited(self):
        return self.process.poll() is not None

    def tree(self):
        """Its live processes: running, itself and its children (Linux; elsewhere itself); once it has
        ended, what it started that still runs in its session (Linux)."""
        if self.exited():
            return self._left_behind()
        found, todo = set(), [self.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            try:
                for task in os.listdir("/proc/{}/task".format(pid)):
                    with open("/proc/{}/task/{}/children".format(pid, task)) as stream:
                        todo.extend(int(child) for child in stream.read().split() if int(child) not in found)
            except (OSError, ValueError):
                pass
        return found

    def _left_behind(self):
        found = set()
        if not SESSIONS or not waiting.can_see_waiting():
            return found
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/{}/stat".format(entry), "rb") as stream:
                    raw = stream.read().decode("ascii", "replace")
            except OSError:
                continue  # not a process, or gone
            fields = raw[raw.rfind(")") + 2:].split()
            if len(fields) > 3 and fields[3] == str(self.pid) and fields[0] not in ("Z", "X"):
                found.add(int(entry))
        return found

    def stop(self, grace, doing=""):
        """Wait up to `grace` s for it to end, then stop it and all it started; what it did.
        `doing`: what it was doing just before, if it is stopped."""
        if self.run is None:
            killed = False
            try:
                self.process.wait(timeout=max(0.0, grace))
            except subprocess.TimeoutExpired:
                killed = True
            try:
                if SESSIONS:
                    os.killpg(self.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            except OSError:
                pass
            self.process.wait()
            out, err = (_kept(stream) for stream in self.outputs)
            self.run = Run(self.name, None if killed else self.process.returncode, killed, out, err,
                           at_stop=doing if killed else "")
        return self.run


def _kept(stream):
    """The end of what a program wrote to a file, at most OUTPUT_KEPT bytes of it; the file is closed."""
    try:
        with stream:
            stream.seek(0)
            data = stream.read()
    except OSError:
        data = b""
    return Output(data[-OUTPUT_KEPT:].decode("utf-8", "replace"), max(0, len(data) - OUTPUT_KEPT))


class Processes:
    """check.py's way to start a program: `python script` in `folder`, your folder."""

    hands_over = SESSIONS  # passing a socket to a child needs POSIX

    def __init__(self, folder):
        self.folder = folder

    def launch(self, name, script, env, fds):
        return Program(name, script, self.folder, env, fds)

    @staticmethod
    def state(program, connections):
        return waiting.state(program.tree(), connections)

    @staticmethod
    def stop_all(programs, grace, look=None):
        end = time.monotonic() + grace
        for program in programs:
            try:
                program.process.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        doing = {program.name: look(program) for program in programs if look is not None and not program.exited()}
        return [program.stop(0.0, doing.get(program.name, "")) for program in programs]
