"""Is a student program ready for a message? Asked of the kernel, not the program.

The harness hands a student program a message only once it is waiting for
one: when none of its threads can wake up by itself (a program that sleeps
and then sends a Pong it was never asked for is not waiting for a Ping; the
rule is stated once, in the handout's `waiting.py`). The answer, READY,
BUSY or SLEEPING, with what was seen in words for the hint, is read from
/proc by `waiting.py`, so the students' self-check waits exactly as the
grader does. Linux only; elsewhere every program is BUSY and the harness
falls back on its time bound.

What a thread waits in (/proc/PID/task/TID/syscall, and the files and
timers it names) the kernel shows only to whom may trace it. Root in a container usually may not trace another
user's process: Docker leaves out CAP_SYS_PTRACE. The referee then sees
only that a thread is blocked, and a sandboxed program that sleeps would
look as if it waited. So, there, the thread that asks takes on the
program's user for file access (setfsuid: that thread only, for the
question's length), as which it may: it is the program's ancestor, and
the program's user may look at its own processes.

A program that stops that (it makes itself not dumpable) is never counted
as waiting: it hid whether it was (waiting.state).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cache

from . import warden
from .accounts import Account
from .handout import waiting

_CAP_SYS_PTRACE = 19


def state(pids: set[int], account: Account | None = None, connections: set[int] | None = None) -> str:
    """READY, BUSY or SLEEPING for a program's processes, run by `account` (None: by us), whose
    sockets that lead to the harness are `connections` (inodes; None: any TCP socket counts)."""
    with _reading_as(account):
        return waiting.state(pids, connections)


@contextmanager
def _reading_as(account: Account | None):
    """This thread opens files as `account`'s user while in the block, if it could not read its /proc otherwise."""
    if account is None or not _needs_file_ids():
        yield
        return
    setfsuid, setfsgid = warden.libc("setfsuid"), warden.libc("setfsgid")
    ours = os.geteuid(), os.getegid()  # what file access follows, but for setfsuid
    try:
        setfsgid((account.gid,))
        setfsuid((account.uid,))
        yield
    finally:
        setfsuid((ours[0],))
        setfsgid((ours[1],))
        if (setfsuid((-1,)), setfsgid((-1,))) != ours:  # -1 changes nothing and says what it is
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
