"""The harness's question "is this program waiting for a message?", asked of
the kernel (waiting.state). A wrong "yes" hands a message to a program that
was about to act on its own, and an unprompted send then looks like an answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from autograder.handout import waiting

pytestmark = pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
SAMPLES = 5000  # a program that wakes 2000 times a second is caught waking hundreds of times in these


def program(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def test_a_program_that_only_sleeps_and_wakes_is_never_waiting():
    """The state letter and the syscall are read one after the other: a thread can wake in between."""
    napper = program("import time\nwhile True:\n    time.sleep(0.0005)\n")
    try:
        seen = [waiting.state([napper.pid]) for _ in range(SAMPLES)]
    finally:
        napper.kill()
        napper.wait()
    assert waiting.READY not in seen, f"taken for waiting {seen.count(waiting.READY)} times in {SAMPLES}"
    assert waiting.SLEEPING in seen


def test_a_program_blocked_on_input_is_waiting():
    reader = program("import sys\nsys.stdin.read()\n")
    try:
        seen = [waiting.state([reader.pid]) for _ in range(SAMPLES)]  # it starts, then blocks for good
    finally:
        reader.kill()
        reader.wait()
    assert seen[-1] == waiting.READY, seen[-20:]


# A second thread, blocked in its wait; the main thread blocked on input (the program's stdin).
TCP = ("listening = socket.create_server(('127.0.0.1', 0))\n"
       "c = socket.create_connection(listening.getsockname())\n")
RCVTIMEO = "{}.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack('ll', 60, 0))\n"
WAITS = {
    "threading.Timer(60, ...)": ("threading.Timer(60, print).start()", waiting.SLEEPING),
    "Event().wait(60)": ("threading.Thread(target=threading.Event().wait, args=(60,)).start()", waiting.SLEEPING),
    "Queue().get(timeout=60)": ("threading.Thread(target=queue.Queue().get, kwargs={'timeout': 60}).start()",
                                waiting.SLEEPING),
    "signal.sigtimedwait(..., 60)": ("threading.Thread(target=signal.sigtimedwait, args=({signal.SIGUSR1}, 60)).start()",
                                     waiting.SLEEPING),
    "Event().wait()": ("threading.Thread(target=threading.Event().wait).start()", waiting.READY),
    "signal.sigwaitinfo(...)": ("threading.Thread(target=signal.sigwaitinfo, args=({signal.SIGUSR1},)).start()",
                                waiting.READY),
    "Lock().acquire() of a held lock": ("held = threading.Lock()\nheld.acquire()\n"
                                        "threading.Thread(target=held.acquire).start()", waiting.READY),
    # A wait on files with a timeout ends by the clock, unless a file is a connection: a message ends it first.
    "select([a pipe], [], [], 60)": ("pipe = os.pipe()\n"
                                     "threading.Thread(target=select.select, args=([pipe[0]], [], [], 60)).start()",
                                     waiting.SLEEPING),
    "epoll on a pipe, .poll(60)": ("pipe, ep = os.pipe(), select.epoll()\nep.register(pipe[0])\n"
                                   "threading.Thread(target=ep.poll, args=(60,)).start()", waiting.SLEEPING),
    "a socketpair's recv with settimeout(60)": ("a, b = socket.socketpair()\na.settimeout(60)\n"
                                                "threading.Thread(target=a.recv, args=(1,)).start()", waiting.SLEEPING),
    "a TCP connection's recv with settimeout(60)": (TCP + "c.settimeout(60)\n"
                                                    "threading.Thread(target=c.recv, args=(1,)).start()", waiting.READY),
    "select([a TCP connection], [], [], 60)": (TCP + "threading.Thread(target=select.select, args=([c], [], [], 60))"
                                               ".start()", waiting.READY),
    "select([], [], [a TCP connection], 60)": (TCP + "threading.Thread(target=select.select, args=([], [], [c], 60))"
                                               ".start()", waiting.SLEEPING),  # not for input: no message ends it
    # A socket's own timeout shows in no file: a read or write of a socket that is no connection ends by the clock.
    "a socketpair's recv with SO_RCVTIMEO": ("a, b = socket.socketpair()\n" + RCVTIMEO.format("a") +
                                             "threading.Thread(target=a.recv, args=(1,)).start()", waiting.SLEEPING),
    "a UDP socket's recv": ("u = socket.socket(type=socket.SOCK_DGRAM)\nu.bind(('127.0.0.1', 0))\n"
                            "threading.Thread(target=u.recv, args=(1,)).start()", waiting.SLEEPING),
    "a TCP connection's recv with SO_RCVTIMEO": (TCP + RCVTIMEO.format("c") +
                                                 "threading.Thread(target=c.recv, args=(1,)).start()", waiting.READY),
    "an epoll of a pipe whose number now names a TCP connection (dup2), .poll(60)": (
        TCP + "pipe, ep = os.pipe(), select.epoll()\nep.register(pipe[0], select.EPOLLIN)\nkept = os.dup(pipe[0])\n"
        "os.dup2(c.fileno(), pipe[0])\nthreading.Thread(target=ep.poll, args=(60,)).start()", waiting.SLEEPING),
    "select([a pipe], [], [])": ("pipe = os.pipe()\n"
                                 "threading.Thread(target=select.select, args=([pipe[0]], [], [])).start()", waiting.READY),
    # Timers: what waits for their signal, or for them, waits for the clock.
    "signal.sigwaitinfo({SIGALRM})": ("threading.Thread(target=signal.sigwaitinfo, args=({signal.SIGALRM},)).start()",
                                      waiting.SLEEPING),
    "a SIGALRM handler (signal.alarm's)": ("signal.signal(signal.SIGALRM, print)", waiting.SLEEPING),
    "a read of a timerfd": ("fd = libc.timerfd_create(1, 0)\nthreading.Thread(target=os.read, args=(fd, 8)).start()",
                            waiting.SLEEPING),
    "a POSIX timer (timer_create)": ("libc.timer_create(1, None, ctypes.byref(ctypes.c_void_p()))", waiting.SLEEPING),
}


@pytest.mark.parametrize("wait", list(WAITS))
def test_a_thread_waiting_with_a_timeout_sleeps_by_the_clock_and_one_without_waits(wait):
    """threading.Timer, Event.wait(1) and signal.sigtimedwait wake by the clock as time.sleep does: a
    Pong sent when they do is as unprompted. A wait with no timeout ends only when something else acts."""
    start, expected = WAITS[wait]
    waiter = program(f"import ctypes, os, queue, select, signal, socket, struct, sys, threading\n"
                     f"libc = ctypes.CDLL(None)\n{start}\nsys.stdin.read()\n")
    try:
        seen = [waiting.state([waiter.pid]) for _ in range(SAMPLES)]  # it starts, then both threads block
    finally:
        waiter.kill()
        waiter.wait()
    assert seen[-1] == expected, seen[-20:]


def test_a_wait_with_a_timeout_counts_only_on_a_socket_that_leads_to_the_harness():
    """`connections`: the program's ends of the harness's connections. A message comes only on those."""
    waiter = subprocess.Popen([sys.executable, "-c", f"import os, socket, sys, threading\n{TCP}c.settimeout(60)\n"
                               "threading.Thread(target=c.recv, args=(1,)).start()\n"
                               "print(os.fstat(c.fileno()).st_ino, flush=True)\nsys.stdin.read()\n"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        inode = int(waiter.stdout.readline())
        seen = [waiting.state([waiter.pid], {inode}) for _ in range(SAMPLES)]
        assert seen[-1] == waiting.READY, seen[-20:]
        assert waiting.state([waiter.pid], {inode + 1}) == waiting.SLEEPING  # a connection, but not to us
        assert waiting.state([waiter.pid], set()) == waiting.SLEEPING
        assert waiting.state([waiter.pid]) == waiting.READY  # not told: any TCP connection counts
    finally:
        waiter.kill()
        waiter.wait()


def test_a_connect_that_waits_on_a_socket_of_its_own_ends_by_the_clock():
    """SO_SNDTIMEO bounds a connect as SO_RCVTIMEO a recv, and shows in no file: a connect to a listener
    whose queue is full waits for the clock, unless the socket leads to the harness."""
    waiter = program("import socket, struct, sys, threading\n"
                     "listening = socket.socket()\nlistening.bind(('127.0.0.1', 0))\nlistening.listen(0)\n"
                     "full = socket.create_connection(listening.getsockname())\n"
                     "s = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 60, 0))\n"
                     "threading.Thread(target=s.connect, args=(listening.getsockname(),)).start()\nsys.stdin.read()\n")
    try:
        seen = [waiting.state([waiter.pid], set()) for _ in range(SAMPLES)]
    finally:
        waiter.kill()
        waiter.wait()
    assert seen[-1] == waiting.SLEEPING, seen[-20:]


@pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="sock_diag is Linux's")
def test_far_end_finds_the_other_end_of_a_connection_once_it_is_accepted():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        with socket.create_connection(listening.getsockname()) as ours:
            assert waiting.far_end(ours) is None  # not accepted yet: it has no file
            theirs, _ = listening.accept()
            with theirs:
                assert waiting.far_end(ours) == os.fstat(theirs.fileno()).st_ino
                assert waiting.far_end(theirs) == os.fstat(ours.fileno()).st_ino


def test_where_sock_diag_cannot_be_asked_far_end_says_so(monkeypatch):
    """The callers then count any TCP socket as a connection, not none of them (which would fail every program)."""
    monkeypatch.setattr(waiting, "_ASKED", [False])
    with socket.create_server(("127.0.0.1", 0)) as listening, socket.create_connection(listening.getsockname()) as ours:
        with pytest.raises(OSError, match="sock_diag"):
            waiting.far_end(ours)
