"""Running one student program: apart, limited, watched, and stopped for sure.

A student program is untrusted. As root (Gradescope, CI) it runs as a
sandbox user of its own (see accounts.py), in a folder only that user may
enter, holding the library and its file; the grader's files are closed to
it. Not root (an instructor's laptop), it runs as the current user with the
same limits, and the grade says so once.

Every process of a program is limited (`Caps`: memory, CPU time, processes,
file size, open files), its environment is scrubbed, its standard input is
empty, and its output goes to unnamed files only the grader holds (a full
pipe would stall it; a named file it could swap), read back capped, head and
tail. A limit it went over is named in plain words in its `ProgramRun`.

Ending a program is sure: it runs under a warden (see warden.py), and every
process it starts stays a descendant of the warden, however it detaches;
when its scene ends the warden kills them all. As root, every process of the
program's user is then killed besides, and only then is the user given to
another program.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import accounts, leftovers, warden
from .handout import programs
from .accounts import SANDBOX_USER, SandboxError, caveats, scratch  # noqa: F401 - the sandbox's face to the grader

OUTPUT_CAP = 64 * 1024  # bytes of each stream kept for the report: head and tail
MIB = 1024 * 1024
START_SECONDS = 10.0  # for the warden to say the program started
END_SECONDS = warden.END_SECONDS + 2.0  # for the warden to kill everything and exit
WARDEN = Path(warden.__file__).resolve()
# Imported, not run as a script: a script is compiled anew each time, a module once (__pycache__).
# Appended to the path, so nothing beside it can stand in for a standard module.
_RUN_WARDEN = f"import sys; sys.path.append({str(WARDEN.parent)!r}); import warden; warden.run()"
_HAS_PROC = Path("/proc/self/stat").exists()
# Not root: room in the one count of processes for what starts beside a program while it runs (a
# grading starts about 20). Not more: the limit is also what stops a fork bomb (with 256, one is still
# killed in full, and runs to about 300 processes first).
BESIDE = 128
_lock = threading.Lock()
_done_once: set[str] = set()
_wardens: set[int] = set()  # pids of running wardens: the grader's own children


@dataclass(frozen=True)
class Caps:
    """What each student program may use, every process of it (RLIMIT_*).

    The one place for their defaults; rubric.toml's [limits] changes them.
    """

    memory_mib: int = 512  # address space of each process
    cpu_seconds: int = 10  # CPU time of each process; longer than a scene, so only runaway helpers meet it
    processes: int = 32  # processes and threads at once, all of the program's together
    file_mib: int = 64  # the largest file it may write, its captured output included
    open_files: int = 64  # files and sockets open at once, in each process

    def describe(self, limit: str) -> str:
        """A limit the program went over, in plain words: 'used more than 512 MiB of memory'."""
        return {
            "memory": f"used more than {self.memory_mib} MiB of memory",
            "cpu": f"used more than {self.cpu_seconds} s of CPU time",
            "processes": f"tried to run more than {self.processes} processes or threads at once",
            "file": f"wrote more than {self.file_mib} MiB (to a file, or printed)",
            "open_files": f"had more than {self.open_files} files or sockets open at once",
        }[limit]


Output, ProgramRun = programs.Output, programs.Run  # what a program did: the handout's record of it


def read_capped(stream, cap: int = OUTPUT_CAP) -> Output:
    """The file's text, or its head and tail with a note of what was left out."""
    try:
        fd = stream.fileno()
        size = os.fstat(fd).st_size
        if size <= cap:
            data, dropped = os.pread(fd, size, 0), 0
        else:
            head, tail = os.pread(fd, cap // 2, 0), os.pread(fd, cap // 2, size - cap // 2)
            dropped = size - len(head) - len(tail)
            data = head + f"\n[... {dropped} bytes left out ...]\n".encode() + tail
    except (OSError, ValueError):
        return Output("", 0)
    return Output(data.decode("utf-8", "replace"), dropped)


# --- one program ----------------------------------------------------------------


@dataclass
class Program:
    """A started student program. Use as a context manager: leaving stops it."""

    name: str
    keeper: subprocess.Popen  # its warden
    pid: int  # the student program's own process
    folder: Path  # its working folder, its alone
    caps: Caps
    outputs: tuple  # its stdout and stderr: unnamed files only the grader holds
    status: int  # the read end of the warden's report; -1 once the warden is gone
    account: accounts.Account | None = None
    slot: int | None = None  # the lock that keeps `account` this program's
    started: float = field(default_factory=time.monotonic)
    _buffer: bytes = b""
    _exit: tuple[int, float] | None = None  # wait status and CPU seconds, as the warden reported them
    _most: int = 0  # the most processes it was seen to run at once
    _run: ProgramRun | None = None
    _halted: tuple[bool, bool] | None = None  # once halted: (killed by us, ran as many processes as it may)
    _at_stop: str = ""  # what it was doing just before it was halted, if it was looked at
    _forced: bool = False  # we killed its warden (it would not end): the warden did not die by the program's hand

    def _read_status(self, timeout: float) -> None:
        """Take in what the warden reported, waiting up to `timeout` s for the program's exit."""
        deadline = time.monotonic() + timeout
        while self._exit is None and self.status >= 0:
            left = deadline - time.monotonic()
            if not select.select([self.status], [], [], max(0.0, left))[0]:
                return
            chunk = os.read(self.status, 4096)
            if not chunk:  # the warden is gone
                os.close(self.status)
                self.status = -1
                return
            *lines, self._buffer = (self._buffer + chunk).split(b"\n")
            for words in (line.split() for line in lines):
                if words[:1] == [b"exit"]:
                    self._exit = (int(words[1]), float(words[2]))

    def exited(self) -> bool:
        """Whether the program's own process has ended (what it started may live on, until stop())."""
        if self._exit is None:
            self._read_status(0)
            if self._exit is None and _HAS_PROC and not warden.alive(self.pid):
                self._read_status(1.0)  # it is gone: the warden reports it at once
        return self._exit is not None or self.status < 0

    def tree(self) -> set[int]:
        """The program's live processes: itself and all it started, wherever they went."""
        if not _HAS_PROC:
            return set() if self.exited() else {self.pid}
        found = warden.family(self.keeper.pid)
        self._most = max(self._most, len(found))
        return found

    def stop(self, grace: float = 0.0) -> ProgramRun:
        """Wait up to `grace` seconds for it to end by itself, then kill all that is left of it."""
        return stop_all([self], grace)[0]

    def _halt(self) -> None:
        """Say whether it ended by itself, then have the warden kill everything of it (not waiting)."""
        if self._halted is not None:
            return
        self._read_status(0)  # an end reported since the grace ran out is an end by itself
        killed = self._exit is None and self.status >= 0
        self.tree()
        # A fork bomb that catches its errors says nothing: what it ran says it (seen from /proc, where a
        # process being born or reaped can be missed, so one short of the limit counts).
        self._halted = (killed, self._most >= self.caps.processes - 1)
        self.keeper.send_signal(signal.SIGTERM)

    def _finish(self) -> ProgramRun:
        """Once halted: make sure nothing of it is left, and read what it wrote."""
        if self._run is not None:
            return self._run
        self._halt()
        killed, crowded = self._halted
        try:
            self._end()
            stdout, stderr = (read_capped(stream) for stream in self.outputs)
            biggest = max(os.fstat(stream.fileno()).st_size for stream in self.outputs)
        finally:
            for stream in self.outputs:
                stream.close()
            if self.slot is not None:
                os.close(self.slot)  # nothing of this program is left: its user may serve another
                self.slot = None
        if self._exit is not None:
            code, cpu = os.waitstatus_to_exitcode(self._exit[0]), self._exit[1]
        else:  # stopped by us, or (not root) it killed its warden, which killed it
            code, cpu = (None if killed else -signal.SIGKILL), None
        limit = "processes" if crowded else _limit(self.caps, code, cpu, stderr.text, biggest)
        # A warden ends by itself (0), or when we tell it to; dead of a signal we did not send, the program
        # killed it (not root, it may): what the run showed after that proves nothing.
        escaped = self.keeper.returncode is not None and self.keeper.returncode < 0 and not self._forced
        self._run = ProgramRun(self.name, None if killed else code, killed, stdout, stderr,
                               self.caps.describe(limit) if limit else "", self._at_stop if killed else "",
                               escaped)
        return self._run

    def _end(self) -> None:
        """Wait for the warden to have killed everything of the program; then make sure, the surest way there is."""
        try:
            _wait_for(self.keeper, END_SECONDS)
        except BaseException as error:  # too slow, or interrupted: it must not live on unknown to us
            self._forced = True
            self.keeper.kill()
            self.keeper.wait()
            if not isinstance(error, subprocess.TimeoutExpired):
                raise
        finally:
            if self.keeper.returncode is not None:  # reaped: its pid is no longer a warden's
                with _lock:
                    _wardens.discard(self.keeper.pid)
        self._read_status(0)
        if self.status >= 0:
            os.close(self.status)
            self.status = -1
        _make_sure(self.keeper, self.account)

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_sure(keeper: subprocess.Popen, account: accounts.Account | None) -> None:
    """After the warden: if it did not end well, kill what may be left of its program the surest way
    there is; as root, remove what the program's user left in the shared folders and in System V IPC."""
    if account is None:
        if keeper.returncode != 0 and _HAS_PROC:
            _kill_stragglers(keeper.pid)
        return
    if keeper.returncode != 0:  # the warden could not make sure: nothing else runs as this user
        accounts.kill_user(account.uid)
    leftovers.remove(account.uid, ipc=keeper.returncode != 0)  # a warden that ended well swept IPC itself


def stop_all(programs: list[Program], grace: float = 0.0,
             look: Callable[[Program], str] | None = None) -> list[ProgramRun]:
    """Stop programs together: each may end by itself within `grace` s (one deadline for all), then
    the wardens of all that are left kill them side by side, not one after the other.

    `look`: what a program still running is doing (its ProgramRun.at_stop), asked of all of them before
    any is killed: the end of one wakes another that waited on it."""
    end = time.monotonic() + grace
    failure: BaseException | None = None
    try:
        for program in programs:
            if program._halted is None:
                program._read_status(max(0.0, end - time.monotonic()))
        for program in programs:
            if look is not None and program._halted is None and not program.exited():
                program._at_stop = look(program)
    except BaseException as error:  # noqa: BLE001 - interrupted: stop them all now, then raise
        failure = error
    for step in (Program._halt, Program._finish):
        for program in programs:  # one that fails to stop does not keep the others running
            try:
                step(program)
            except BaseException as error:  # noqa: BLE001 - raised below, once all are stopped
                failure = failure or error
    if failure is not None:
        raise failure
    return [program._run for program in programs]


def _wait_for(process: subprocess.Popen, timeout: float) -> None:
    """process.wait(timeout), woken by the exit itself where Linux gives a pidfd, not by polling."""
    if process.returncode is None and hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(process.pid)
        except OSError:  # already reaped, or no pidfds here
            fd = -1
        if fd >= 0:
            try:
                select.select([fd], [], [], timeout)
            finally:
                os.close(fd)
            timeout = min(timeout, 0.1)  # it has ended, or the bound is up: no more waiting than that
    process.wait(timeout=timeout)


def _kill_stragglers(session: int) -> None:
    """Not root, the warden may have died first (the program can kill it): kill what is left in its
    session, and what came to us, the subreaper, in a session of its own (bounded)."""
    me = os.getpid()

    def left() -> set[int]:
        seen = {pid: warden.stat(pid) for pid in warden.pids()}
        # A warden looks just like an orphan that came to us. Taken after the scan, under the lock held
        # from a warden's fork to its registration, this covers every warden the scan can have seen.
        with _lock:
            ours = set(_wardens)
        roots = set()
        for pid, fields in seen.items():
            if not fields or pid in ours:
                continue
            adopted = int(fields[1]) == me
            if fields[0] in (b"Z", b"X"):
                if adopted:
                    _reap(pid)
            elif int(fields[3]) == session or (adopted and int(fields[3]) == pid):
                roots.add(pid)
        return roots.union(*(warden.family(pid) for pid in roots))

    warden.kill_until_none(left, END_SECONDS)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


_SAID = (  # what Python prints when a limit stops it
    ("memory", re.compile(r"\bMemoryError\b|\[Errno 12\] Cannot allocate memory")),
    ("open_files", re.compile(r"\[Errno 24\] Too many open files")),
    ("file", re.compile(r"\[Errno 27\] File too large")),
    ("processes", re.compile(r"can't start new thread|(fork|_fork_exec|spawn)[\s\S]{0,300}\[Errno 11\]")),
)


def _limit(caps: Caps, code: int | None, cpu: float | None, stderr: str, biggest: int) -> str:
    """Which limit the program went over, or ''."""
    if code == -signal.SIGXCPU or (cpu is not None and cpu >= caps.cpu_seconds):
        return "cpu"
    if code == -signal.SIGXFSZ or biggest >= caps.file_mib * MIB:
        return "file"
    return next((limit for limit, pattern in _SAID if pattern.search(stderr)), "")


def _once(key: str, action) -> None:
    with _lock:
        if key not in _done_once:
            action()
            _done_once.add(key)


def start(name: str, script: Path, folder: Path, env: dict[str, str], pass_fds: tuple[int, ...] = (),
          caps: Caps | None = None) -> Program:
    """Start `python script` in `folder` under a warden, limited, its output captured."""
    return launch(name, script, folder, env, pass_fds, caps).started()


@dataclass
class Launch:
    """A warden on its way, its program not yet known to run: several can start side by side."""

    name: str
    keeper: subprocess.Popen
    folder: Path
    caps: Caps
    outputs: tuple
    status: int
    account: accounts.Account | None
    slot: int | None

    def started(self) -> Program:
        """The running program, once its warden reports it (bounded); on failure nothing is left."""
        try:
            pid = _started(self.status)
        except BaseException:
            self.abandon()
            raise
        if pid is None:
            self.abandon()
            raise SandboxError(f"the warden did not start the program (it ended with status {self.keeper.returncode})")
        return Program(self.name, self.keeper, pid, self.folder, self.caps, self.outputs, self.status,
                       self.account, self.slot)

    def abandon(self) -> None:
        """Kill the warden (its program dies with it) and let go of all the launch held."""
        self.keeper.kill()
        self.keeper.wait()
        with _lock:
            _wardens.discard(self.keeper.pid)
        try:
            _make_sure(self.keeper, self.account)  # the program may have started, and outlive its warden
        finally:
            os.close(self.status)
            for stream in self.outputs:
                stream.close()
            if self.slot is not None:
                os.close(self.slot)


def launch(name: str, script: Path, folder: Path, env: dict[str, str], pass_fds: tuple[int, ...] = (),
           caps: Caps | None = None) -> Launch:
    """Start the warden that will run `python script`; Launch.started() waits for the program."""
    caps = caps or Caps()
    account, slot, outputs = None, None, ()
    if accounts.as_root():
        _once("seal", accounts.seal)
        account, slot = accounts.take()
    else:
        _once("adopt", accounts.adopt_orphans)
    try:
        python = accounts.python_for(account)
        if account is not None:
            accounts.hand_over(folder, account)
        clean = {"PATH": accounts.PATH, "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8",
                 "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        clean.update(env)
        # Not root, the limit on processes counts all of ours: the program gets that many more than
        # we run now, its warden (one more), and room for what starts beside it meanwhile (other
        # programs, ours): counted against the same limit, they made an honest program's fork fail.
        processes = caps.processes + (0 if account is not None else accounts.tasks_of(os.getuid()) + 1 + BESIDE)
        limits = [caps.cpu_seconds, caps.memory_mib * MIB, processes, caps.file_mib * MIB, caps.open_files]
        user = (account.uid, account.gid) if account is not None else (-1, -1)
        outputs = (tempfile.TemporaryFile(prefix=f"{name}-out-"), tempfile.TemporaryFile(prefix=f"{name}-err-"))
        status, report = os.pipe()
        command = [sys.executable, "-I", "-S", "-c", _RUN_WARDEN, str(report), str(os.getpid()), *map(str, user),
                   ",".join(map(str, pass_fds)), ",".join(map(str, limits)), "--", python, "-B", "-s", script.name]
        try:
            with _lock:  # known as ours from its first instant: see _kill_stragglers
                keeper = subprocess.Popen(command, cwd=folder, env=clean, stdin=subprocess.DEVNULL, stdout=outputs[0],
                                          stderr=outputs[1], pass_fds=(*pass_fds, report), start_new_session=True)
                _wardens.add(keeper.pid)
        except BaseException:
            os.close(status)
            raise
        finally:
            os.close(report)
    except BaseException:
        for stream in outputs:
            stream.close()
        if slot is not None:
            os.close(slot)
        raise
    return Launch(name, keeper, folder, caps, outputs, status, account, slot)


def _started(status: int) -> int | None:
    """The program's pid, once its warden reports that it let the program go; None if it never
    reported the pid (bounded).

    Not at the pid: until the go-ahead, the program's process is blocked on a pipe, and a
    harness that asked then whether it waits for a message would hear yes. A warden that dies
    after the pid leaves a program to be handled like one that killed its warden; one that says
    nothing more in time is taken for one that did not start it.
    """
    pid = None
    line = b""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if not select.select([status], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return None
        chunk = os.read(status, 1)  # byte by byte: what follows is the Program's to read
        if not chunk:
            return pid
        line += chunk
        if not line.endswith(b"\n"):
            continue
        words, line = line.split(), b""
        if words[:1] == [b"pid"]:
            pid = int(words[1])
        elif words == [b"running"]:
            return pid


USAGE = """usage: python -m autograder.sandbox --ensure-user | --remove-users

  --ensure-user   create the users student programs run as (setup.sh does, as root)
  --remove-users  remove them all, with whatever they still run or left behind
                  (in /tmp and the other folders everyone may write to, and
                  System V IPC objects), as root when no grading runs: one that
                  a grading holds is left, named"""


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder.sandbox --ensure-user | --remove-users`: the sandbox users, made or removed."""
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["--ensure-user"], ["--remove-users"]):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        if argv == ["--ensure-user"]:
            for account in accounts.ensure_users():
                print(f"student programs can run as {account.name} (uid {account.uid})")
        else:
            said, all_gone = accounts.remove_users()
            print("\n".join(said) or "there are no sandbox users to remove")
            return 0 if all_gone else 1
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
