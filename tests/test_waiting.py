"""The harness's question "is this program waiting for a message?", asked of
the kernel (referee.state). A wrong "yes" hands a message to a program that
was about to act on its own, and an unprompted send then looks like an answer.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.handout import referee

pytestmark = pytest.mark.skipif(not referee.can_see_waiting(), reason="waiting is seen through Linux's /proc")
SAMPLES = 5000  # a program that wakes 2000 times a second is caught waking hundreds of times in these


def program(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def test_a_program_that_only_sleeps_and_wakes_is_never_waiting():
    """The state letter and the syscall are read one after the other: a thread can wake in between."""
    napper = program("import time\nwhile True:\n    time.sleep(0.0005)\n")
    try:
        seen = [referee.state([napper.pid]) for _ in range(SAMPLES)]
    finally:
        napper.kill()
        napper.wait()
    assert referee.READY not in seen, f"taken for waiting {seen.count(referee.READY)} times in {SAMPLES}"
    assert referee.SLEEPING in seen


def test_a_program_blocked_on_input_is_waiting():
    reader = program("import sys\nsys.stdin.read()\n")
    try:
        seen = [referee.state([reader.pid]) for _ in range(SAMPLES)]  # it starts, then blocks for good
    finally:
        reader.kill()
        reader.wait()
    assert seen[-1] == referee.READY, seen[-20:]


# A second thread, blocked in its wait; the main thread blocked on input (the program's stdin).
WAITS = {
    "threading.Timer(60, ...)": ("threading.Timer(60, print).start()", referee.SLEEPING),
    "Event().wait(60)": ("threading.Thread(target=threading.Event().wait, args=(60,)).start()", referee.SLEEPING),
    "Queue().get(timeout=60)": ("threading.Thread(target=queue.Queue().get, kwargs={'timeout': 60}).start()",
                                referee.SLEEPING),
    "signal.sigtimedwait(..., 60)": ("threading.Thread(target=signal.sigtimedwait, args=({signal.SIGUSR1}, 60)).start()",
                                     referee.SLEEPING),
    "Event().wait()": ("threading.Thread(target=threading.Event().wait).start()", referee.READY),
    "signal.sigwaitinfo(...)": ("threading.Thread(target=signal.sigwaitinfo, args=({signal.SIGUSR1},)).start()",
                                referee.READY),
    "Lock().acquire() of a held lock": ("held = threading.Lock()\nheld.acquire()\n"
                                        "threading.Thread(target=held.acquire).start()", referee.READY),
}


@pytest.mark.parametrize("wait", list(WAITS))
def test_a_thread_waiting_with_a_timeout_sleeps_by_the_clock_and_one_without_waits(wait):
    """threading.Timer, Event.wait(1) and signal.sigtimedwait wake by the clock as time.sleep does: a
    Pong sent when they do is as unprompted. A wait with no timeout ends only when something else acts."""
    start, expected = WAITS[wait]
    waiter = program(f"import queue, signal, sys, threading\n{start}\nsys.stdin.read()\n")
    try:
        seen = [referee.state([waiter.pid]) for _ in range(SAMPLES)]  # it starts, then both threads block
    finally:
        waiter.kill()
        waiter.wait()
    assert seen[-1] == expected, seen[-20:]
