"""Is a student program ready for a message? Asked of the kernel, not the program.

The harness hands a student program a message only once it is waiting for
one. "Waiting" means every thread of every process is blocked in the kernel,
and none of them is merely sleeping by the clock: a program that does
`time.sleep(1)` and then sends a Pong it was never asked for is not waiting
for a Ping, and must not be given one during its nap, or its unprompted Pong
would look like an answer.

So there are three answers:
    READY     blocked, waiting for input (or for another thread or process)
    BUSY      some thread is running: it may be about to send something
    SLEEPING  some thread sleeps by the clock (sleep(), or select() on no files)

Linux only (/proc); elsewhere every program is BUSY, and the harness falls
back to its time bound.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable

READY, BUSY, SLEEPING = "ready", "busy", "sleeping"

_BLOCKED = {"S", "Z", "X", "T", "t", "I"}  # states of a thread that is not running

# Syscall numbers: sleeping by the clock, and waits that sleep when given no files.
_ARCH = {
    "x86_64": {"sleep": {35, 230}, "no_files_sleep": {7, 23, 270, 271}},  # nanosleep, clock_nanosleep; poll, select, pselect6, ppoll
    "aarch64": {"sleep": {101, 115}, "no_files_sleep": {72, 73}},  # nanosleep, clock_nanosleep; pselect6, ppoll
}
_SYSCALLS = _ARCH.get(platform.machine(), {"sleep": set(), "no_files_sleep": set()})


def state(pids: Iterable[int]) -> str:
    """READY, BUSY or SLEEPING for the processes `pids` taken together."""
    if not os.path.exists("/proc/self/stat"):
        return BUSY
    answer = READY
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone
        for task in tasks:
            thread = f"/proc/{pid}/task/{task}"
            letter = _state_letter(thread)
            if letter is None or letter in ("Z", "X"):
                continue
            if letter not in _BLOCKED:
                return BUSY
            if _sleeping_by_clock(thread):
                answer = SLEEPING
    return answer


def _state_letter(thread: str) -> str | None:
    try:
        with open(f"{thread}/stat", "rb") as stream:
            raw = stream.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :][:1]


def _sleeping_by_clock(thread: str) -> bool:
    """True if the thread is blocked in a timed sleep; False if unknown."""
    try:
        with open(f"{thread}/syscall") as stream:
            fields = stream.read().split()
    except OSError:
        return False  # not ours to read: judge by the state letter alone
    if not fields or not fields[0].lstrip("-").isdigit():
        return False  # "running" or "-1": not in a syscall
    number = int(fields[0])
    if number in _SYSCALLS["sleep"]:
        return True
    # select(0, ...) and poll(NULL, 0, ...) are how some Pythons sleep (3.8-3.10: time.sleep).
    if number in _SYSCALLS["no_files_sleep"] and len(fields) > 2:
        count = fields[2] if number in (7, 271, 73) else fields[1]
        return int(count, 16) == 0
    return False
