"""The warden: the one process between the grader and a student program.

The grader starts a Python running `warden.main` (`python -I -S -c ...`, so
that its compiled form is used) for each student program; the warden forks,
and its child becomes the student program. Why a process in between, rather
than the grader starting the program itself:

- Nothing escapes it. The warden is a child subreaper (PR_SET_CHILD_SUBREAPER),
  so every process the program starts stays its descendant, however it
  detaches: a grandchild whose parent exits, a double-forked daemon in a new
  session, all are re-parented to the warden, not to init. Ending the program
  means killing the warden's descendants, found in /proc. Process groups and
  sessions are not enough: a program can leave them.
- Limits and user are set in the child between fork and exec, by this small
  single-threaded program; no Python code runs in a fork of the threaded grader.
- It shields the grader: the program's parent is the warden, so
  `os.kill(os.getppid(), 9)` cannot reach the grader. As root the warden stays
  root's, and a program running as the sandbox user cannot signal it at all.
  Not root, the program may kill the warden (and is killed with it): the
  grader sees the warden die of a signal, and the run then counts for nothing.
- It reports, on a pipe only it holds: the program's pid, that it let the
  program go, then its exit status and CPU time (the grader needs both to
  name a limit the program hit).

On SIGTERM (the grader ending the program, or the grader dying: the warden
asks for SIGTERM as its parent-death signal; on Linux, a SIGTERM from anyone
else is ignored) it kills every descendant, reaps them, and exits; as root it
then kills every process of the program's user, wherever it is. It also exits
by itself once it has no descendant left.

Standard library only: it runs in isolated mode, with no site, and imports
only what it needs: it starts once for every student program.
"""

import sys
import time

import posix  # the C module behind os: importing os itself, with no site to have done it, costs a warden 3 ms

try:  # the same calls and numbers as `signal`, without its enums: 7 ms off every program's start
    import _signal as signal
except ImportError:  # not CPython
    import signal

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
END_SECONDS = 5.0  # the longest the warden spends killing; a process stuck in the kernel is left then


def _exists(path: str) -> bool:
    try:
        posix.stat(path)
    except OSError:
        return False
    return True


_HAS_PROC = _exists("/proc/self/stat")
_CHILDREN_FILES = _exists(f"/proc/{posix.getpid()}/task/{posix.getpid()}/children")


_found: dict = {}  # libc's functions, once looked for: their callers, or None where there is none


def libc(name: str):
    """A caller of the C library's function `name`, taking its integer arguments as a tuple; None if none.

    Called through `_ctypes`, the C half of ctypes, which makes the very call
    ctypes makes for a function given no argument types. Importing ctypes
    itself (its Python types, struct) made every warden's CPU time 19.5 ms
    instead of 15 (process accounting, 80 wardens), and a warden starts for
    every student program. Should `_ctypes` ever lack these private names,
    ctypes stands in.
    """
    if name not in _found:
        _found[name] = _find(name)
    return _found[name]


def _find(name: str):
    try:
        import _ctypes

        address, call = _ctypes.dlsym(_ctypes.dlopen(None), name), _ctypes.call_function
        return lambda arguments: call(address, arguments)
    except OSError:
        return None  # not in this C library (prctl on macOS): ctypes would find none either
    except (ImportError, AttributeError):
        pass
    try:
        import ctypes

        function = getattr(ctypes.CDLL(None), name)
        return lambda arguments: function(*arguments)
    except (ImportError, OSError, AttributeError):
        return None


def prctl(option: int, value: int) -> bool:
    """Linux's prctl(2); False where there is none."""
    call = libc("prctl")
    if call is None:
        return False
    try:
        return call((option, value, 0, 0, 0)) == 0
    except (OSError, TypeError, ValueError):
        return False


def stat(pid: int) -> list[bytes] | None:
    """Fields 3 onward of /proc/PID/stat (state, ppid, pgrp, session, ...), or None if gone."""
    try:
        fd = posix.open(f"/proc/{pid}/stat", posix.O_RDONLY)
    except OSError:
        return None
    try:
        raw = posix.read(fd, 4096)
    except OSError:
        return None
    finally:
        posix.close(fd)
    return raw[raw.rfind(b")") + 2 :].split()


def pids() -> list[int]:
    """Every process there is now (none where there is no /proc)."""
    try:
        return [int(entry) for entry in posix.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def _parents() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc (or, without it, from ps)."""
    children: dict[int, list[int]] = {}
    if _HAS_PROC:
        for pid in pids():
            fields = stat(pid)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(pid)
        return children
    import subprocess  # macOS: slower, and only what is still a descendant (there is no subreaper)

    try:
        table = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True,
                               timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return children
    for line in table.splitlines():
        pid, ppid = (int(word) for word in line.split())
        children.setdefault(ppid, []).append(pid)
    return children


def alive(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def kill(pid: int) -> None:
    try:
        posix.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = posix.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as stream:
                found.extend(int(child) for child in stream.read().split())
        except OSError:
            pass
    return found


def family(root: int) -> set[int]:
    """Every live descendant of `root`, not `root` itself."""
    parents = None if _CHILDREN_FILES else _parents()
    found: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        for child in (_children_of(pid) if parents is None else parents.get(pid, ())):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _limits(values: list[int]) -> list[tuple[int, int, int]]:
    import resource

    cpu, memory, processes, file_bytes, open_files = values
    wanted = [(resource.RLIMIT_CORE, 0, 0)]
    if cpu > 0:  # SIGXCPU at the soft limit, SIGKILL a second later should it be caught
        wanted.append((resource.RLIMIT_CPU, cpu, cpu + 1))
    if memory > 0:
        wanted.append((resource.RLIMIT_AS, memory, memory))
    if processes > 0 and hasattr(resource, "RLIMIT_NPROC"):
        wanted.append((resource.RLIMIT_NPROC, processes, processes))
    if file_bytes > 0:
        wanted.append((resource.RLIMIT_FSIZE, file_bytes, file_bytes))
    if open_files > 0:
        wanted.append((resource.RLIMIT_NOFILE, open_files, open_files))
    return wanted


def _become_student(keep: set[int], limits: list[int], uid: int, gid: int, argv: list[str], warden_pid: int) -> None:
    """In the child: keep only the files it needs, take the limits and the user, and run the program."""
    import resource

    try:
        highest = posix.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        highest = 65536
    start = 3
    for fd in sorted(keep) + [highest]:
        posix.closerange(start, fd)
        start = fd + 1
    for which, soft, hard in _limits(limits):
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            if sys.platform.startswith("linux"):
                raise  # elsewhere some limits do not exist; Linux has them all
    _first_to_go_when_memory_runs_out()
    if uid >= 0:
        posix.setgroups([])
        posix.setresgid(gid, gid, gid)
        posix.setresuid(uid, uid, uid)
        if posix.getuid() != uid or posix.geteuid() != uid:
            raise OSError("the user did not change")
    posix.umask(0o077)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the user change, which clears it
    if posix.getppid() != warden_pid:  # it died before that: the signal will never come
        posix._exit(127)
    posix.execv(argv[0], argv)


def _first_to_go_when_memory_runs_out() -> None:
    """Make the program (and all it forks) the kernel's first choice when memory runs out: a program
    that forks as many processes as it may, each as large as it may be, can fill the machine, and
    the OOM killer then picks the largest process, which may be the grader. A program could lower
    it again, to where it was and no further: only one that means to, and then it is as before."""
    try:
        fd = posix.open("/proc/self/oom_score_adj", posix.O_WRONLY)
    except OSError:
        return  # not Linux
    try:
        posix.write(fd, b"1000")
    except OSError:
        pass
    finally:
        posix.close(fd)


def _report(status_fd: int, line: str) -> None:
    try:
        posix.write(status_fd, line.encode())
    except OSError:
        pass  # the grader is gone; SIGTERM is on its way


def _reap(child: int, status_fd: int) -> bool:
    """Reap every dead child now; False once no child is left at all."""
    while True:
        try:
            pid, status, usage = posix.wait4(-1, posix.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        if pid == child:
            _report(status_fd, f"exit {status} {usage.ru_utime + usage.ru_stime:.3f}\n")


def kill_until_none(find, seconds: float = END_SECONDS) -> bool:
    """Kill the processes `find()` names, again and again, until it names none; False if time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        targets = find()
        if not targets:
            return True
        for pid in targets:
            kill(pid)
        time.sleep(0.001)  # killed processes take a moment to die; bounded by the deadline
    return False


def end(me: int, child: int, status_fd: int) -> bool:
    """Kill every descendant until none is left alive, then reap them all; False if time ran out.

    Not one is reaped before all are dead: a zombie keeps its place in its user's count of
    processes, so a fork bomb finds no place freed to fork into, and its kill ends (reaped on the
    way, a bomb with a few hundred places outran it, not root).
    """
    if not kill_until_none(lambda: {pid for pid in family(me) if alive(pid)}):
        return False
    deadline = time.monotonic() + END_SECONDS
    while _reap(child, status_fd):  # the killed are dying: they are reaped as they become zombies
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def sweep(uid: int, gid: int) -> bool:
    """Kill every process of the sandbox user `uid`; True once none is left (bounded).

    A child running as that user does it: kill(-1) then reaches exactly the
    user's processes, at once, in the kernel. Whether any is left, the kernel
    says too: with RLIMIT_NPROC at 2, the child can fork only while it is the
    user's one process (kill's own answer cannot tell: it succeeds whenever
    any process exists, signalled or not). Zombies count there but run no
    code: if they are all that is left, /proc says so.
    """
    helper = posix.fork()
    if helper == 0:
        code = 1
        try:
            import resource

            if any(ipc_of(uid, kind) for kind in IPC_KINDS):  # removing them takes _ctypes, found now:
                for kind in IPC_KINDS:  # as the user, the grader's Python's library may be out of reach
                    libc(_IPC_CONTROL[kind])
            posix.setgroups([])
            posix.setresgid(gid, gid, gid)
            posix.setresuid(uid, uid, uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (2, 2))
            deadline = time.monotonic() + END_SECONDS
            while time.monotonic() < deadline:
                posix.kill(-1, signal.SIGKILL)
                if _alone() or not any(uid_of(pid) == uid and alive(pid) for pid in pids() if pid != posix.getpid()):
                    code = 0
                    remove_ipc(uid)  # as the user, who made them: no privilege needed
                    break
                time.sleep(0.001)  # for the killed to die and be reaped
        except BaseException:  # noqa: BLE001 - the exit status says it failed
            pass
        posix._exit(code)
    _, status = posix.waitpid(helper, 0)
    return status == 0


IPC_KINDS = ("shm", "sem", "msg")  # as /proc/sysvipc names them
_IPC_CONTROL = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}  # each kind's call, which IPC_RMID removes
_IPC_RMID = 0
# Their arguments, after the id: shmctl and msgctl (IPC_RMID, no buffer), semctl (a semaphore's number, IPC_RMID).
_IPC_REMOVE = {"shm": (_IPC_RMID, None), "sem": (0, _IPC_RMID), "msg": (_IPC_RMID, None)}


def remove_ipc(uid: int) -> bool:
    """Remove the System V IPC objects (shared memory, semaphore sets, message queues) that `uid` owns
    or made; True if none is left. They outlive every process, and hold kernel memory (a segment as
    large as the machine's RAM) until removed. Their maker may remove them, and root where it holds
    CAP_SYS_ADMIN (not in a default container): the sweep does it as the user."""
    left = [(kind, ident) for kind in IPC_KINDS for ident in ipc_of(uid, kind)]
    for kind, ident in left:  # shared memory goes once no process has it attached: none is left by now
        control = libc(_IPC_CONTROL[kind])
        if control is not None:
            control((ident, *_IPC_REMOVE[kind]))
    return not any(ipc_of(uid, kind) for kind, _ in left)


def ipc_of(uid: int, kind: str) -> list[int]:
    """The ids of the IPC objects of `kind` that `uid` owns or made (an owner may give one away; who
    made it stays). Read from /proc: none where there is none."""
    try:
        with open(f"/proc/sysvipc/{kind}", "rb") as stream:
            header, *rows = stream.read().decode("ascii").splitlines()
        names = header.split()
        at = (names.index("uid"), names.index("cuid"))
        return [int(fields[1]) for fields in map(str.split, rows) if uid in (int(fields[at[0]]), int(fields[at[1]]))]
    except (OSError, ValueError, IndexError):
        return []


def _alone() -> bool:
    try:
        probe = posix.fork()
    except BlockingIOError:
        return False
    if probe == 0:
        posix._exit(0)
    posix.waitpid(probe, 0)
    return True


def uid_of(pid: int) -> int | None:
    """A process's real user id, from /proc/PID/status (PID's folder may be root's: see PR_SET_DUMPABLE)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as stream:
            for line in stream:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


_SI_USER = 0  # siginfo's si_code for kill() and the parent-death signal; sigqueue() gives a negative one


def _next_signal(grader: int) -> int:
    """The next SIGCHLD, or SIGTERM from the grader (its kill(), or the kernel's when the grader dies, in
    its name). Not root, the program runs as our user and may send us SIGTERM too: that one is not its to
    give, and changes nothing (sigqueue() could claim to come from the grader, but not as kill() does).
    It may send SIGKILL, which nothing can ignore: the grader sees we died of it.
    Without sigwaitinfo (macOS) the sender cannot be told: any SIGTERM counts."""
    while True:
        if not hasattr(signal, "sigwaitinfo"):
            return signal.sigwait({signal.SIGTERM, signal.SIGCHLD})
        info = signal.sigwaitinfo({signal.SIGTERM, signal.SIGCHLD})
        if info.si_signo != signal.SIGTERM or (info.si_pid == grader and info.si_code == _SI_USER):
            return info.si_signo


def main(argv: list[str]) -> int:
    """warden.py STATUS_FD GRADER_PID UID GID KEEP_FDS LIMITS -- PROGRAM ARGS..."""
    status_fd, grader, uid, gid = (int(value) for value in argv[:4])
    keep = {int(fd) for fd in argv[4].split(",") if fd}
    limits = [int(value) for value in argv[5].split(",")]
    program = argv[7:]
    # Both are taken by sigwait alone, when the warden is ready for them: no handler ever cuts in.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if posix.getppid() != grader:
        return 1  # the grader died before the warden could watch for it
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    if uid >= 0 and not sweep(uid, gid):  # what a grader that died holding this user left running
        return 3
    told, tell = posix.pipe()  # the program starts only once its pid is reported: it could kill us first
    me = posix.getpid()  # before the fork: the child's getppid() already names a new parent if we died
    child = posix.fork()
    if child == 0:
        try:
            posix.close(status_fd)
            posix.close(tell)
            go = posix.read(told, 1)
            posix.close(told)
            if go != b"!":  # the warden died before it reported us: nobody would watch the program
                posix._exit(127)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            for number in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; a program's own start does not
                signal.signal(number, signal.SIG_DFL)
            _become_student(keep, limits, uid, gid, program, me)
        except BaseException as error:  # noqa: BLE001 - whatever it was, the program did not start
            posix.write(2, f"The grader could not start this program: {error}\n".encode())
        posix._exit(127)
    _report(status_fd, f"pid {child}\n")
    posix.close(told)
    try:
        posix.write(tell, b"!")
    except OSError:
        pass  # the child is gone already: reaped below
    posix.close(tell)
    # Only now is the program on its way. Until the byte above, its process sat blocked on a pipe, and to
    # the harness it looked like a program waiting for a message: handed one then, it would find it
    # there, whatever it did first.
    _report(status_fd, "running\n")
    while True:
        if _next_signal(grader) == signal.SIGTERM:
            if not end(me, child, status_fd):
                return 3  # the grader makes sure, as it can (see sandbox._make_sure)
            break
        if not _reap(child, status_fd):
            break  # nothing is left of the program
    # As root, the program ran as a user of its own: nothing of that user may outlive it, wherever it is.
    return 0 if uid < 0 or sweep(uid, gid) else 3


def run() -> None:
    """The warden's whole life: no interpreter teardown after it, nothing is left to flush."""
    posix._exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
