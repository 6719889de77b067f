"""The harness's question "is this program waiting for a message?", asked of
the kernel (waiting.state). A wrong "yes" hands a message to a program that
was about to act on its own, and an unprompted send then looks like an answer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from autograder.handout import waiting

pytestmark = pytest.mark.skipif(not waiting.can_see_waiting(), reason="waiting is seen through Linux's /proc")
SAMPLES = 5000  # a program that wakes 2000 times a second is caught waking hundreds of times in these


def program(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            start_new_session=True)  # what it forks is killed with it (os.killpg)


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


# The program's main thread ends blocked in a read of `c`, a TCP connection: with no `connections` given,
# any TCP socket counts as one. The entries start another thread (or process, or timer) before that.
TCP = ("listening = socket.create_server(('127.0.0.1', 0))\n"
       "c = socket.create_connection(listening.getsockname())\n")
RCVTIMEO = "{}.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack('ll', 60, 0))\n"
TIMERFD = ("clock = libc.timerfd_create(1, 0)\n"
           "libc.timerfd_settime(clock, 0, ctypes.create_string_buffer(struct.pack('qqqq', 0, 0, 60, 0)), None)\n")
NESTED = "inner, outer = select.epoll(), select.epoll()\nouter.register(inner.fileno(), select.EPOLLIN)\n"
PAIR_WAIT = "a, b = socket.socketpair()\nselect.select([a], [], [])"
OUTSIDE = f"\0pingpong-waiting-{os.getpid()}"  # a Unix socket the test listens on: outside the program
WAITS = {
    "nothing else": ("", waiting.READY),
    # Another thread or process of its own, waited for with no timeout, is judged itself.
    "Event().wait()": ("threading.Thread(target=threading.Event().wait).start()", waiting.READY),
    "Lock().acquire() of a held lock": ("held = threading.Lock()\nheld.acquire()\n"
                                        "threading.Thread(target=held.acquire).start()", waiting.READY),
    "a reader thread, joined": ("reader = threading.Thread(target=c.recv, args=(1,))\nreader.start()\n"
                                "threading.Thread(target=reader.join).start()", waiting.READY),
    "a child that sleeps, waited for": ("child = os.fork()\nif child == 0:\n    time.sleep(60)\n"
                                        "threading.Thread(target=os.waitpid, args=(child, 0)).start()",
                                        waiting.SLEEPING),
    "a child that reads the connection, waited for": ("child = os.fork()\nif child == 0:\n    c.recv(1)\n"
                                                      "threading.Thread(target=os.waitpid, args=(child, 0)).start()",
                                                      waiting.READY),
    "a zombie child": ("if os.fork() == 0:\n    os._exit(0)", waiting.READY),
    "a thread that ended": ("ended = threading.Thread(target=print)\nended.start()\nended.join()", waiting.READY),
    # The clock ends these.
    "threading.Timer(60, ...)": ("threading.Timer(60, print).start()", waiting.SLEEPING),
    "Event().wait(60)": ("threading.Thread(target=threading.Event().wait, args=(60,)).start()", waiting.SLEEPING),
    "Queue().get(timeout=60)": ("threading.Thread(target=queue.Queue().get, kwargs={'timeout': 60}).start()",
                                waiting.SLEEPING),
    "signal.sigtimedwait(..., 60)": ("threading.Thread(target=signal.sigtimedwait, args=({signal.SIGUSR1}, 60)).start()",
                                     waiting.SLEEPING),
    "a read of a timerfd": (TIMERFD + "threading.Thread(target=os.read, args=(clock, 8)).start()", waiting.SLEEPING),
    "an epoll of an epoll of a timerfd": (TIMERFD + NESTED + "inner.register(clock, select.EPOLLIN)\n"
                                          "threading.Thread(target=outer.poll).start()", waiting.SLEEPING),
    # A thread may have a table of files of its own (unshare CLONE_FILES): a number means what it means there.
    "a read of a timerfd given the connection's number in the thread's own table of files": (
        TIMERFD + "def own():\n    libc.unshare(0x400)\n    os.dup2(clock, c.fileno())\n    os.read(c.fileno(), 8)\n"
        "threading.Thread(target=own).start()", waiting.SLEEPING),
    # Whatever else it waits on is no connection: no message comes on it.
    "signal.sigwaitinfo(...)": ("threading.Thread(target=signal.sigwaitinfo, args=({signal.SIGUSR1},)).start()",
                                waiting.SLEEPING),
    "select([a pipe], [], [], 60)": ("pipe = os.pipe()\n"
                                     "threading.Thread(target=select.select, args=([pipe[0]], [], [], 60)).start()",
                                     waiting.SLEEPING),
    "epoll on a pipe, .poll(60)": ("pipe, ep = os.pipe(), select.epoll()\nep.register(pipe[0])\n"
                                   "threading.Thread(target=ep.poll, args=(60,)).start()", waiting.SLEEPING),
    "a socketpair's recv": ("a, b = socket.socketpair()\n"  # its timeout (SO_RCVTIMEO) could not be seen
                            "threading.Thread(target=a.recv, args=(1,)).start()", waiting.SLEEPING),
    "select([a Unix socket whose other end another program holds], [], [])": (
        f"u = socket.socket(socket.AF_UNIX)\nu.connect({OUTSIDE!r})\n"
        "threading.Thread(target=select.select, args=([u], [], [])).start()", waiting.SLEEPING),
    # A pipe, eventfd or socketpair both ends of which only the program holds is written by the program alone:
    # a wait on it with no timeout ends only when another of its threads acts, and that one is judged itself.
    "select([a pipe], [], [])": ("pipe = os.pipe()\n"
                                 "threading.Thread(target=select.select, args=([pipe[0]], [], [])).start()",
                                 waiting.READY),
    "a read of a pipe": ("pipe = os.pipe()\nthreading.Thread(target=os.read, args=(pipe[0], 1)).start()",
                         waiting.READY),
    "a read of a pipe whose write end only a child holds, the child reading the connection": (
        "pipe = os.pipe()\nif os.fork() == 0:\n    os.close(pipe[0])\n    c.recv(1)\nos.close(pipe[1])\n"
        "threading.Thread(target=os.read, args=(pipe[0], 1)).start()", waiting.READY),
    "select([a TCP connection, a pipe], [], [])": ("pipe = os.pipe()\nthreading.Thread(target=select.select, "
                                                   "args=([c, pipe[0]], [], [])).start()", waiting.READY),
    "an epoll of an epoll of an eventfd": ("ready = libc.eventfd(0, 0)\n" + NESTED +
                                           "inner.register(ready, select.EPOLLIN)\n"
                                           "threading.Thread(target=outer.poll).start()", waiting.READY),
    "an epoll of a socketpair": ("a, b = socket.socketpair()\nep = select.epoll()\nep.register(a, select.EPOLLIN)\n"
                                 "threading.Thread(target=ep.poll).start()", waiting.READY),
    # The main thread, where Python runs signal handlers, away from the connection (it never reaches c.recv below).
    "the main thread in select([a socketpair], [], []), a thread on the connection": (
        "threading.Thread(target=c.recv, args=(1,)).start()\n" + PAIR_WAIT, waiting.READY),
    "... and a SIGALRM handler (an alarm could be set: no one can see it)": (
        "signal.signal(signal.SIGALRM, print)\nthreading.Thread(target=c.recv, args=(1,)).start()\n" + PAIR_WAIT,
        waiting.SLEEPING),
    "... and a POSIX timer": ("libc.timer_create(1, None, ctypes.byref(ctypes.c_void_p()))\n"
                              "threading.Thread(target=c.recv, args=(1,)).start()\n" + PAIR_WAIT, waiting.SLEEPING),
    "the main thread on a lock, a thread on the connection, a SIGALRM handler": (
        "signal.signal(signal.SIGALRM, print)\nthreading.Thread(target=c.recv, args=(1,)).start()\n"
        "threading.Event().wait()", waiting.SLEEPING),
    # A timer's signal ends any thread's wait on the program itself (its handler may release the lock).
    "a thread on a lock, the main thread on the connection, a SIGALRM handler": (
        "signal.signal(signal.SIGALRM, print)\nheld = threading.Lock()\nheld.acquire()\n"
        "threading.Thread(target=held.acquire).start()", waiting.SLEEPING),
    # A timer of CPU time cannot fire while every thread is blocked.
    "a thread on a lock, the main thread on the connection, ITIMER_VIRTUAL and its handler": (
        "signal.signal(signal.SIGVTALRM, print)\nsignal.setitimer(signal.ITIMER_VIRTUAL, 60)\n"
        "held = threading.Lock()\nheld.acquire()\nthreading.Thread(target=held.acquire).start()", waiting.READY),
    "no thread on the connection: a read of a pipe": ("pipe = os.pipe()\nos.read(pipe[0], 1)", waiting.SLEEPING),
    "a socketpair's recv with settimeout(60)": ("a, b = socket.socketpair()\na.settimeout(60)\n"
                                                "threading.Thread(target=a.recv, args=(1,)).start()", waiting.SLEEPING),
    "a socketpair's recv with SO_RCVTIMEO": ("a, b = socket.socketpair()\n" + RCVTIMEO.format("a") +
                                             "threading.Thread(target=a.recv, args=(1,)).start()", waiting.SLEEPING),
    "a UDP socket's recv": ("u = socket.socket(type=socket.SOCK_DGRAM)\nu.bind(('127.0.0.1', 0))\n"
                            "threading.Thread(target=u.recv, args=(1,)).start()", waiting.SLEEPING),
    "a read of stdin (a pipe)": ("threading.Thread(target=sys.stdin.read).start()", waiting.SLEEPING),
    "an epoll of a pipe whose number now names a TCP connection (dup2), .poll(60)": (
        "pipe, ep = os.pipe(), select.epoll()\nep.register(pipe[0], select.EPOLLIN)\nkept = os.dup(pipe[0])\n"
        "os.dup2(c.fileno(), pipe[0])\nthreading.Thread(target=ep.poll, args=(60,)).start()", waiting.SLEEPING),
    # A write or a connect is no wait for a message, even on a TCP socket (and SO_SNDTIMEO shows in no file).
    "a TCP connection's sendall, the other end not reading": ("threading.Thread(target=c.sendall, args=(bytes(1 << 26),))"
                                                             ".start()", waiting.SLEEPING),
    "a connect to a listener whose queue is full": (
        "full = socket.socket()\nfull.bind(('127.0.0.1', 0))\nfull.listen(0)\n"
        "queued = socket.create_connection(full.getsockname())\n"
        "threading.Thread(target=socket.socket().connect, args=(full.getsockname(),)).start()", waiting.SLEEPING),
    # A wait for input on the connection alone, timeout or not: a message ends it first.
    "a TCP connection's recv with settimeout(60)": ("c.settimeout(60)\n"
                                                    "threading.Thread(target=c.recv, args=(1,)).start()", waiting.READY),
    "a TCP connection's recv with SO_RCVTIMEO": (RCVTIMEO.format("c") +
                                                 "threading.Thread(target=c.recv, args=(1,)).start()", waiting.READY),
    "select([a TCP connection], [], [], 60)": ("threading.Thread(target=select.select, args=([c], [], [], 60))"
                                               ".start()", waiting.READY),
    "select([], [], [a TCP connection], 60)": ("threading.Thread(target=select.select, args=([], [], [c], 60))"
                                               ".start()", waiting.SLEEPING),  # not for input: no message ends it
    "an epoll of an epoll of a TCP connection": (NESTED + "inner.register(c, select.EPOLLIN)\n"
                                                 "threading.Thread(target=outer.poll).start()", waiting.READY),
    # A signal's handler runs when it comes, whatever the program waits in: what counts is what it waits in.
    # (signal.alarm with a handler is a timeout on the read of the connection, as settimeout is.)
    "a SIGALRM handler (signal.alarm's)": ("signal.signal(signal.SIGALRM, print)\nsignal.alarm(60)", waiting.READY),
    "a POSIX timer (timer_create)": ("libc.timer_create(1, None, ctypes.byref(ctypes.c_void_p()))", waiting.READY),
}


# What a hint says was seen (waiting.State.why), for some of the waits above.
WORDS = {
    "nothing else": "",
    "a child that sleeps, waited for": "a process it started slept (time.sleep)",
    "Event().wait(60)": "a thread of it waited on another thread (a lock, join(), Event.wait(), queue.get()) "
                        "with a timeout",
    "epoll on a pipe, .poll(60)": "a thread of it waited on an epoll (a selector, or asyncio's event loop) with a "
                                  "60 s timeout",
    "a read of a timerfd": "a thread of it waited on a timer (timerfd)",
    "a socketpair's recv": "a thread of it waited on a socketpair, read directly: its timeout (SO_RCVTIMEO) cannot "
                           "be seen, so wait on it with a selector",
    "a read of stdin (a pipe)": "a thread of it waited on a pipe it does not hold both ends of",
    "... and a SIGALRM handler (an alarm could be set: no one can see it)":
        "its main thread waited on select(), and it handles SIGALRM (signal.alarm, signal.setitimer), whose timer "
        "cannot be seen",
    "no thread on the connection: a read of a pipe": "no thread of it waited on its connection; its main thread "
                                                      "read a pipe of its own",
}


@pytest.fixture(scope="module")
def outside():
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(OUTSIDE)
        listening.listen(8)
        yield


@pytest.mark.parametrize("wait", list(WAITS))
def test_a_program_waits_for_a_message_only_when_nothing_else_can_wake_it(wait, outside):
    """threading.Timer, Event.wait(1) and a timerfd wake by the clock as time.sleep does, and a file by
    whatever outside writes to it: a Pong sent when they do is unprompted. A wait with no timeout on another
    thread, a child or a pipe of its own ends only when another part of it acts, and that one is judged itself."""
    start, expected = WAITS[wait]
    waiter = program(f"import ctypes, os, queue, select, signal, socket, struct, sys, threading, time\n"
                     f"libc = ctypes.CDLL(None)\n{TCP}{start}\nc.recv(1)\n")
    try:
        seen = [waiting.state(family(waiter.pid)) for _ in range(SAMPLES)]  # it starts, then all of it blocks
    finally:
        os.killpg(waiter.pid, signal.SIGKILL)
        waiter.wait()
    assert seen[-1] == expected, (seen[-1].why, seen[-20:])
    assert seen[-1].why == WORDS.get(wait, seen[-1].why)


@pytest.mark.parametrize("machine, bits", [("armv7l", 64), ("riscv64", 64), ("x86_64", 32), ("aarch64", 32)])
def test_where_the_syscall_numbers_are_not_known_it_cannot_see(monkeypatch, machine, bits):
    """Elsewhere no syscall would be read as a wait on the connection, and every honest program would be
    'not waiting': check.py and the grader must fall back on what they can see instead."""
    assert waiting.can_see_waiting()
    monkeypatch.setattr(waiting, "_MACHINE", machine)
    monkeypatch.setattr(waiting.sys, "maxsize", 2 ** (bits - 1) - 1)
    assert not waiting.can_see_waiting()
    assert waiting.state([os.getpid()]) == waiting.BUSY


def family(pid: int) -> set[int]:
    """The process and its children, as the harness asks about them."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as stream:
        return {pid, *map(int, stream.read().split())}


def test_a_wait_with_a_timeout_counts_only_on_a_socket_that_leads_to_the_harness():
    """`connections`: the program's ends of the harness's connections. A message comes only on those."""
    waiter = subprocess.Popen([sys.executable, "-c", f"import os, socket, sys, threading\n{TCP}c.settimeout(60)\n"
                               "threading.Thread(target=c.recv, args=(1,)).start()\n"
                               "print(os.fstat(c.fileno()).st_ino, flush=True)\nc.recv(1)\n"],
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


@pytest.mark.skipif(not waiting.can_see_queues(), reason="the queues are Linux's sock_diag")
def test_queues_say_what_the_other_end_holds_unsent_and_unread():
    """Sent means written, received means read: a corked write has not been sent, a peeked frame not read."""
    with socket.create_server(("127.0.0.1", 0)) as listening, socket.create_connection(listening.getsockname()) as ours:
        theirs, _ = listening.accept()
        with theirs:
            assert waiting.queues(ours) == (0, 0)
            theirs.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            theirs.sendall(b"Pong\n")
            assert waiting.queues(ours) == (0, 5)  # held back by the kernel: written, not sent
            theirs.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            assert ours.recv(5) == b"Pong\n"
            ours.sendall(b"Ping\n")
            assert theirs.recv(5, socket.MSG_PEEK) == b"Ping\n"
            assert waiting.queues(ours)[0] == 5  # peeked at: still there
            assert theirs.recv(5) == b"Ping\n"
            assert waiting.queues(ours)[0] == 0


@pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="sock_diag is Linux's")
def test_bytes_not_yet_read_at_the_far_end_are_in_flight():
    """What the harness sent and the program has not read yet is on its way: a scene where every program
    waits is not stuck while it is (nor while the program's own bytes have not reached the harness)."""
    with socket.create_server(("127.0.0.1", 0)) as listening, socket.create_connection(listening.getsockname()) as ours:
        theirs, _ = listening.accept()
        with theirs:
            assert waiting.in_flight([ours]) is False
            ours.sendall(b"Ping\n")
            assert waiting.in_flight([ours]) is True
            assert theirs.recv(16) == b"Ping\n"
            assert waiting.in_flight([ours]) is False


def test_where_sock_diag_cannot_be_asked_nothing_is_known_to_be_in_flight(monkeypatch):
    monkeypatch.setattr(waiting, "_ASKED", [False])
    assert waiting.in_flight([]) is None  # and the scene then never ends early
