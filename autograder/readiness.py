"""Is a student program ready for a message? Asked of the kernel, not the program.

The harness hands a student program a message only once it is waiting for
one: every thread blocked, none running, none sleeping by the clock (a
program that sleeps and then sends a Pong it was never asked for is not
waiting for a Ping). The answer, READY, BUSY or SLEEPING, is read from
/proc by the handout's `referee.py`, so the students' self-check waits
exactly as the grader does. Linux only; elsewhere every program is BUSY and
the harness falls back on its time bound.

What a thread waits in (/proc/PID/task/TID/syscall) the kernel shows only
to whom may trace it. Root in a container usually may not trace another
user's process: Docker leaves out CAP_SYS_PTRACE. The referee then sees
only that a thread is blocked, and a sandboxed program that sleeps would
look as if it waited. So, there, the thread that asks takes on the
program's user for file access (setfsuid: that thread only, for the
question's length), as which it may: it is the program's ancestor, and
the program's user may look at its own processes.

Unless the program stops that: a process that is not dumpable (prctl
PR_SET_DUMPABLE, 0, or a set-user-ID program) shows what it waits in to
no one but a tracer with CAP_SYS_PTRACE, and /proc says so by naming root
as the owner of its files. Such a program is never counted as waiting: it hid whether
it was.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cache

from . import warden
from .accounts import Account
from .handout import referee

READY, BUSY, SLEEPING = referee.READY, referee.BUSY, referee.SLEEPING
can_see_waiting = referee.can_see_waiting
_CAP_SYS_PTRACE = 19


def state(pids: set[int], account: Account | None = None, ports: set[int] | None = None) -> str:
    """READY, BUSY or SLEEPING for a program's processes, run by `account` (None: by us), whose
    connections to the harness go to or from `ports` (None: any TCP connection counts as one)."""
    owner = os.geteuid() if account is None else account.uid
    if any(_owner(pid) not in (owner, None) for pid in pids):
        return BUSY  # it hid what it waits in (see above)
    with _reading_as(account):
        return referee.state(pids, ports)


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/syscall").st_uid
    except OSError:
        return None  # gone, or no /proc


@contextmanager
def _reading_as(account: Account | None):
    """This thread opens files as `account`'s user while in the block, if it could not read its /proc otherwise."""
    if account is None or not _needs_file_ids():
        yield
        return
    setfsuid, setfsgid = warden.libc("setfsuid"), warden.libc("setfsgid")
    setfsgid((account.gid,))
    setfsuid((account.uid,))
    try:
        yield
    finally:
        setfsuid((0,))
        setfsgid((0,))
        if setfsuid((-1,)) != 0:  # -1 changes nothing and says what it is
            raise RuntimeError(f"could not take back file access from {account.name}")


@cache
def _needs_file_ids() -> bool:
    """Root that may not trace everyone, where setfsuid is (Linux): the reads need the program's user."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or _may_trace_anyone():
        return False
    return warden.libc("setfsuid") is not None and warden.libc("setfsgid") is not None


def _may_trace_anyone() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            effective = next(line.split()[1] for line in stream if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return True  # cannot tell: leave things as they are
    return bool(int(effective, 16) >> _CAP_SYS_PTRACE & 1)
