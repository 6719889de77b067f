"""Running one student program: started apart, watched, and stopped for sure.

A student program is untrusted and often broken. It gets a folder of its
own, an empty standard input and a scrubbed environment; its output goes
to files (a full pipe would stall it) and is read back capped, head and
tail; when its scene ends, its whole process tree is killed.

The harness also needs to know when a student program has done all it
will do without new input: `quiet()` is true when every process of the
program is asleep (blocked in a receive, say). A program that was about to
send something is running, not asleep, so waiting for quiet, rather than
for a fixed time, makes "did it send before it was asked?" deterministic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_CAP = 64 * 1024  # bytes of each stream kept for the report: head and tail
_ASLEEP = {"S", "Z", "X", "T", "t", "I"}
_HAS_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class Output:
    text: str
    dropped: int  # bytes left out of the middle

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text.rstrip("\n").split("\n")[-lines:]) if self.text else ""


@dataclass(frozen=True)
class ProgramRun:
    """What one student program did, as the harness saw it."""

    name: str
    returncode: int | None  # None: still running when stopped
    killed: bool  # the harness had to stop it
    stdout: Output
    stderr: Output
    seconds: float

    @property
    def crashed(self) -> bool:
        return self.returncode not in (0, None) and not self.killed

    @property
    def traceback(self) -> str:
        """The last Python traceback the program printed, or ''."""
        text = self.stderr.text
        start = text.rfind("Traceback (most recent call last):")
        return text[start:].strip() if start >= 0 else ""


def read_capped(path: Path, cap: int = OUTPUT_CAP) -> Output:
    """The file's text, or its head and tail with a note of what was left out."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            if size <= cap:
                data, dropped = stream.read(), 0
            else:
                head = stream.read(cap // 2)
                stream.seek(size - cap // 2)
                tail = stream.read()
                dropped = size - len(head) - len(tail)
                data = head + f"\n[... {dropped} bytes left out ...]\n".encode() + tail
    except OSError:
        return Output("", 0)
    return Output(data.decode("utf-8", "replace"), dropped)


@dataclass
class Program:
    """A started student program. Use as a context manager: leaving stops it."""

    name: str
    process: subprocess.Popen
    folder: Path
    started: float = field(default_factory=time.monotonic)
    _run: ProgramRun | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> bool:
        return self.process.poll() is not None

    def tree(self) -> set[int]:
        """The program's live processes: itself and all it started that are still its own."""
        if not _HAS_PROC:
            return set() if self.exited() else {self.pid}
        found: set[int] = set()
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            if pid in found or _stat(pid) is None:
                continue
            found.add(pid)
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    with open(f"/proc/{pid}/task/{task}/children") as stream:
                        todo.extend(int(child) for child in stream.read().split())
                except OSError:
                    pass
        return found

    def session(self) -> set[int]:
        """Every process still in the program's session, wherever its parent went."""
        if not _HAS_PROC:
            return set()
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                fields = _stat(int(entry))
                if fields and int(fields[3]) == self.pid:
                    found.add(int(entry))
        return found

    def quiet(self) -> bool:
        """True when every process of the program is asleep or gone."""
        if not _HAS_PROC:
            return False
        for pid in self.tree():
            task_dir = f"/proc/{pid}/task"
            try:
                tasks = os.listdir(task_dir)
            except OSError:
                continue
            for task in tasks:
                fields = _stat(int(task), f"{task_dir}/{task}/stat")
                if fields and fields[0] not in _ASLEEP:
                    return False
        return True

    def stop(self, grace: float = 0.0) -> ProgramRun:
        """Wait up to `grace` seconds for it to end by itself, then kill what is left."""
        if self._run is not None:
            return self._run
        killed = False
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            killed = True
        self._kill_all()
        if self.process.poll() is None:
            self.process.wait()
        code = None if killed else self.process.returncode
        self._run = ProgramRun(
            self.name,
            code,
            killed,
            read_capped(self.folder / f"{self.name}.stdout"),
            read_capped(self.folder / f"{self.name}.stderr"),
            time.monotonic() - self.started,
        )
        return self._run

    def _kill_all(self) -> None:
        for _ in range(3):
            targets = self.tree() | self.session()
            if not targets:
                return
            if hasattr(os, "killpg"):
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in targets:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.process.poll()

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stat(pid: int, path: str | None = None) -> list[str] | None:
    """Fields 3 onward of /proc/PID/stat (state, ppid, pgrp, session, ...)."""
    try:
        with open(path or f"/proc/{pid}/stat", "rb") as stream:
            raw = stream.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def start(
    name: str,
    script: Path,
    folder: Path,
    env: dict[str, str],
    pass_fds: tuple[int, ...] = (),
) -> Program:
    """Start `python script` in `folder`, its output captured to files there."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
             "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8"}
    clean.update(env)
    with open(folder / f"{name}.stdout", "wb") as out, open(folder / f"{name}.stderr", "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-B", script.name],
            cwd=folder,
            env=clean,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            pass_fds=pass_fds,
            start_new_session=True,
            close_fds=True,
        )
    return Program(name, process, folder)
