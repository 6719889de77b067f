"""The referee of the PingPong exchange: the rules your programs are judged by.

check.py uses this file to check your programs, and the autograder uses
this same file to grade them, so the two judge alike. You do not need to
read it, and changing it changes nothing: the autograder uses its own copy.

What the referee watches is the network: every frame that crosses its
sockets, in order, as an event with `frame`, `src`, `dst`, `seen` (when the
referee got it) and `passed` (when it reached `dst`). What a program prints
is shown to you, never believed.

    R1  The server passes on only what it received: every frame that reaches
        a client was sent, earlier, by the other client, and each is passed
        on once.
    R2  client2 answers every Ping that reaches it with one Pong, after the
        Ping arrived, and sends nothing else.

And one rule for the referee itself: it hands a message to a program only
once that program is waiting for one (`state()` below), so whatever a
program sends before it was asked, it sent unprompted, on every run.

It writes down the first MAX_EVENTS frames of a run and ends the run there:
the exchange is 4 frames, and any frame past those breaks a rule, so the
rule a flood breaks is among the frames seen (a step after them is not).

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run: no `typing` to import

import os
import socket
import struct
from dataclasses import dataclass

OTHER = {"client1": "client2", "client2": "client1"}
MAX_EVENTS = 100  # frames a run writes down before it ends
DRAWN = 12  # frames a picture draws


@dataclass(frozen=True)
class Event:
    """A frame that went from `src` to `dst`, as the referee saw it pass."""

    frame: str  # "Ping", "Pong", or "garbage b'...'"
    src: str  # "client1", "client2" or "server"
    dst: str
    seen: float  # seconds into the run when the referee received (or sent) it
    passed: float  # when it reached `dst`: later than seen only if held until dst was waiting;
    # infinity if it never did (dst had gone, or never waited for it)


@dataclass(frozen=True)
class Broken:
    """A rule a program broke: which frame, and why, in plain words."""

    index: int  # position of the offending event
    why: str


def server_breaks(events, about=None):
    """R1: frames the server sent that no client gave it (optionally only those of the step `about`)."""
    causes = _causes(events)
    return [Broken(i, _server_why(events, i)) for i, cause in causes.items()
            if cause is None and about in (None, _step_of(events, i))]


def _causes(events):
    """For each frame the server sent: the index of the frame it passed on, or None.

    Each frame a client gave the server is passed on at most once: the
    earliest unused one of the same kind from the other client, which must
    have reached the server before the server sent its copy.
    """
    unused = [True] * len(events)
    causes = {}
    for i, event in enumerate(events):
        if event.src != "server":
            continue
        source = OTHER.get(event.dst, "?")
        cause = next(
            (
                j
                for j, earlier in enumerate(events[:i])
                if unused[j] and earlier.dst == "server" and earlier.src == source
                and earlier.frame == event.frame and earlier.passed <= event.seen
            ),
            None,
        )
        if cause is not None:
            unused[cause] = False
        causes[i] = cause
    return causes


def _step_of(events, i):
    """The step of the exchange a frame the server sent belongs to: "Ping" or "Pong".

    A server check answers for what the server did in its step, wherever it
    sent it. Every Pong belongs to the Pong step (a Pong sent back to client2
    costs the Pong step, not the Ping step that went right before it); so does
    anything sent once client2's Pong had reached the server (forwarding the
    Ping again instead of the Pong). The rest belongs to the Ping step.
    """
    event = events[i]
    pong_in = any(e.frame == "Pong" and e.src == "client2" and e.dst == "server" and e.passed <= event.seen
                  for e in events[:i])
    return "Pong" if event.frame == "Pong" or pong_in else "Ping"


def _answers_the_forwarded_ping(events, i):
    """Is the Pong the server sent at `i` the one client2 sent after the forwarded Ping reached it?"""
    causes = _causes(events)
    pong = causes.get(i)
    if pong is None:
        return False
    return any(event.frame == "Ping" and event.src == "server" and event.dst == "client2"
               and causes.get(k) is not None and event.passed <= events[pong].seen
               for k, event in enumerate(events))


def _server_why(events, i):
    event = events[i]
    if event.frame.startswith("garbage"):
        return "the server sent {} bytes that are not a message: {}".format(event.dst, event.frame[8:])
    came_from = [e for e in events[:i] if e.dst == "server" and e.frame == event.frame and e.passed <= event.seen]
    if event.frame == "Ping" and event.dst == "client1" and _step_of(events, i) == "Pong":
        return "the server sent client1 the Ping again, where client2's Pong should go"
    if came_from and all(e.src == event.dst for e in came_from):
        return "the server sent the {0} back to {1}, where it came from; it should go to {2}".format(
            event.frame, event.dst, OTHER[event.dst])
    if came_from:
        return "the server sent {} one {} more than it received".format(event.dst, event.frame)
    source = OTHER.get(event.dst, "the other client")
    if (event.dst, event.frame) in (("client2", "Ping"), ("client1", "Pong")):
        return "the server sent {} to {} before any {} from {} had reached it".format(
            event.frame, event.dst, event.frame, source)
    return "the server sent {} a {} that it never received".format(event.dst, event.frame)


def client2_breaks(events):
    """R2: frames client2 sent that were not the one Pong owed for a Ping."""
    found = []
    for i, event in enumerate(events):
        if event.src == "client2":
            delivered = sum(
                1 for e in events[:i] if e.dst == "client2" and e.frame == "Ping" and e.passed <= event.seen
            )
            answered = sum(1 for e in events[:i] if e.src == "client2" and e.frame == "Pong")
            if event.frame.startswith("garbage"):
                found.append(Broken(i, "client2 sent bytes that are not a message: {}".format(event.frame[8:])))
            elif event.frame != "Pong":
                found.append(Broken(i, "client2 sent {}; its only message is a Pong".format(event.frame)))
            elif delivered == 0:
                found.append(Broken(i, "client2 sent a Pong before any Ping had reached it"))
            elif answered >= delivered:
                found.append(Broken(i, "client2 sent a second Pong for one Ping"))
    return found


def garbage(raw, shown):
    """The name of a frame that is not a message: "garbage b'...'", its first `shown` bytes only."""
    more = len(raw) - shown
    return "garbage {!r}{}".format(raw[:shown], " and {} more bytes".format(more) if more > 0 else "")


def happened(events, frame, src, dst):
    """Index of the first such frame, or None."""
    return next((i for i, e in enumerate(events) if (e.frame, e.src, e.dst) == (frame, src, dst)), None)


@dataclass(frozen=True)
class Judgement:
    passed: bool
    broken: "Broken | None" = None  # the first rule broken, if that is why it failed
    missing: str = ""  # the step that never happened, if that is why
    step: "tuple[str, str, str] | None" = None  # that step as (frame, src, dst)


# For each check: the run it is judged on, the step that must happen, whose
# rule it checks, and how to say that the step never happened.
CHECKS = {
    "client2_answers": ("client2", ("Pong", "client2", "server"), "client2", "client2 never sent a Pong"),
    "server_forwards_ping": ("server", ("Ping", "server", "client2"), "server's Pings",
                             "the Ping never reached client2"),
    "server_forwards_pong": ("server", ("Pong", "server", "client1"), "server's Pongs",
                             "the Pong never reached client1"),
    "together": ("together", ("Pong", "server", "client1"), "both", "the Pong never came back to client1"),
}
_ABOUT = {"server's Pings": "Ping", "server's Pongs": "Pong"}


def judge(check, events, greeted_as=None):
    """Did the check's step happen, and did the program it checks keep its rule?"""
    _, step, whose, never = CHECKS[check]
    greeted_as = greeted_as or {}
    broken = []
    if whose in ("client2", "both"):
        broken += client2_breaks(events)
    if whose == "both":
        broken += server_breaks(events)
    elif whose in _ABOUT:
        broken += server_breaks(events, about=_ABOUT[whose])
    if whose == "client2" and greeted_as.get("client2", "client2") != "client2":
        return Judgement(False, missing="client2 connected saying it was " + greeted_as["client2"])
    if broken:
        return Judgement(False, broken=min(broken, key=lambda b: b.index))
    first = happened(events, *step)
    if first is None:
        return Judgement(False, missing=never, step=step)
    if whose == "server's Pongs" and not _answers_the_forwarded_ping(events, first):
        return Judgement(False, broken=Broken(first, "client2 sent this Pong in answer to a Ping that the "
                                                    "server made up, not to client1's Ping"))
    return Judgement(True)


# --- how it is told -------------------------------------------------------------

ROLES_OF = {"client2": ("client2",), "server": ("server",), "together": ("server", "client2")}


def _line(frame, src, dst):
    shown = frame[:40]
    if "client1" in (src, dst):
        arrow = "--{}-->".format(shown) if src == "client1" else "<--{}--".format(shown)
        return "client1 {} server".format(arrow)
    arrow = "<--{}--".format(shown) if src == "client2" else "--{}-->".format(shown)
    return "                  server {} client2".format(arrow)


def picture(run, events, judgement, others="reference", unlogged=0):
    """The exchange, one numbered line per frame, the bad step marked; `unlogged`: frames past MAX_EVENTS.

    At most DRAWN lines (more only to reach the marked one): a flood is told in one line.
    """
    yours = ROLES_OF[run]
    cast = ", ".join("{}: {}".format(role, "yours" if role in yours else others)
                     for role in ("client1", "server", "client2"))
    lines = ["({})".format(cast)]
    drawn = max(DRAWN, judgement.broken.index + 1 if judgement.broken else 0)
    for number, event in enumerate(events[:drawn], 1):
        text = "{:2}. {}".format(number, _line(event.frame, event.src, event.dst))
        if judgement.broken and judgement.broken.index == number - 1:
            text = "{:50} <-- wrong: {}".format(text, judgement.broken.why)
        elif event.passed == float("inf"):
            text = "{:50} <-- never delivered: {} was gone, or never waited for it".format(text, event.dst)
        lines.append(text)
    hidden = max(0, len(events) - drawn)
    if unlogged:
        lines.append("    ... and {} more frames (the run was ended once {} had passed; the exchange is 4)".format(
            hidden + unlogged, len(events)))
    elif hidden:
        lines.append("    ... and {} more frames, not drawn".format(hidden))
    if judgement.step and not judgement.broken:
        if unlogged:
            lines.append("    {:46} <-- expected; the run was ended before it".format(_line(*judgement.step).strip()))
        else:
            lines.append("{:2}. {:46} <-- expected, never happened".format(len(events) + 1, _line(*judgement.step)))
    return "\n".join(lines)


def crash_place(traceback):
    """' (line N of your_file.py)' from a traceback, if it passes through a student file."""
    found = ""
    for line in traceback.splitlines():
        line = line.strip()
        if line.startswith('File "') and "_student.py" in line:
            name = line.split('"')[1].replace("\\", "/").split("/")[-1]
            found = " (line {} of {})".format(line.split("line ")[-1].split(",")[0], name)
    return found


def hint(judgement, crashed="", crash_where="", stopped="", seconds=0.0, flooded=False, sleeping=""):
    """One piece of advice, for the most telling thing that went wrong.

    `crashed` / `stopped`: the name of your program that stopped with an
    error / was still running when the run's time was up, if one did.
    `flooded`: the run was ended at MAX_EVENTS frames. `sleeping`: the name
    of your program that a message was held for, to the end, and that was
    sleeping by the clock when last looked at.
    """
    if judgement.broken:
        why = judgement.broken.why
        if "Pong should go" in why:
            return ("Forward the message you just received: pong = server.receive_message(), "
                    "then server.forward_message(pong).")
        if "back to" in why:
            return ("server.send_message(msg) answers the client you last heard from; "
                    "to pass a message on to the other client, use server.forward_message(msg).")
        if why.startswith("client2 sent a Pong before"):
            return "Wait for the Ping first: msg = client.receive_message(), and answer only once it has arrived."
        if "second Pong" in why or "more than it received" in why:
            return "Send each message once: one Ping in, one Ping out; one Pong in, one Pong out."
        if "before" in why or "made up" in why:
            return "Only pass on what you received: receive the message first, then forward that message."
        if why.startswith("the server sent"):
            return ("The server sends only what it received, passed on with server.forward_message(msg): "
                    "it makes up nothing of its own.")
        return "client2 answers a Ping with Message.Pong, and sends nothing else."
    if flooded:
        return ("Your programs sent more than {} frames, where the exchange is 4, and the run was ended "
                "there: send each message once.".format(MAX_EVENTS))
    if crashed:
        return "Your {} stopped with an error{}: read the traceback below.".format(crashed, crash_where)
    if judgement.missing.startswith("client2 connected saying"):
        return 'Create your client as Client("client2"): the server tells the clients apart by that name.'
    if sleeping:
        return ("Your {} never got the message meant for it: when last looked at, it was sleeping by the "
                "clock (time.sleep, threading.Timer, a wait with a timeout such as Event.wait(1) or "
                "queue.get(timeout=1) or on anything but its connection, or a timer: signal.alarm), and a "
                "message is handed only to a program that waits for one. Wait for the message itself, with "
                "receive_message(), and do not sleep.".format(sleeping))
    if stopped:
        return ("Your {} was still running after {:g} s without doing this step: it may be waiting for "
                "a message that never comes, or stuck in a loop.".format(stopped, seconds))
    return "Your program ended before this step: check that your code between the markers does each step in order."


# --- is a program waiting for a message? ----------------------------------------
#
# Asked of the kernel, not of the program: "waiting" means every thread is
# blocked, none of them in a wait that the clock ends. A program that does
# time.sleep(1) and then sends a Pong it was never asked for is not waiting
# for a Ping, and must not be handed one during its nap, or its unprompted
# Pong would look like an answer. The clock ends:
#   - a sleep (time.sleep), and a wait on another thread or for a signal
#     with a timeout (threading.Timer, Event.wait(1), queue.get(timeout=1));
#   - a wait on files with a timeout (select, poll, a socket's timeout),
#     unless it waits for input on a socket a message comes on
#     (`connections`: its connection, or the listening socket it was
#     handed): a message ends that wait before its clock does;
#   - a read or write of any other socket: it may have a timeout of its
#     own (SO_RCVTIMEO), which no file shows;
#   - a wait for SIGALRM (signal.alarm, signal.setitimer) or on a timerfd;
#   - any wait at all, in a program that handles SIGALRM or has a POSIX
#     timer: the timer's signal interrupts whatever it waits in.
# A program that hides what it waits in (not dumpable) is never waiting.
# Linux only (/proc); elsewhere the answer is always BUSY and the caller
# falls back on what it can see.

READY, BUSY, SLEEPING = "ready", "busy", "sleeping"
_BLOCKED = {"S", "Z", "X", "T", "t", "I"}  # states of a thread that is not running
_SIGALRM_BIT = 1 << 13  # signal 14, in /proc's signal masks
# Syscall numbers. "sleep": sleeping by the clock. "timed_if_given": a wait on another thread (futex)
# or for a signal (rt_sigtimedwait), mapped to the argument that holds its timeout (0 there: none).
# "io": reads and writes, of the file in the first argument.
# "files": waits on files, as (how they are named, argument of the files, of their count, of the
# timeout, and whether the timeout is in milliseconds (-1: none) or behind a pointer (0: none)).
_ARCH = {
    "x86_64": {"sleep": {35, 230},  # nanosleep, clock_nanosleep
               "timed_if_given": {202: 3, 449: 3, 128: 2},  # futex, futex_waitv, rt_sigtimedwait
               "signal_wait": 128,  # rt_sigtimedwait
               # read, pread64, readv, recvfrom, recvmsg, recvmmsg, accept, accept4; write, writev, sendto,
               # sendmsg, sendmmsg, sendfile; connect
               "io": {0, 17, 19, 45, 47, 299, 43, 288, 1, 20, 44, 46, 307, 40, 42},
               "files": {7: ("poll", 0, 1, 2, "ms"), 271: ("poll", 0, 1, 2, "ptr"),  # poll, ppoll
                         23: ("select", 1, 0, 4, "ptr"), 270: ("select", 1, 0, 4, "ptr"),  # select, pselect6
                         232: ("epoll", 0, None, 3, "ms"), 281: ("epoll", 0, None, 3, "ms"),  # epoll_(p)wait
                         441: ("epoll", 0, None, 3, "ptr")}},  # epoll_pwait2
    "aarch64": {"sleep": {101, 115},
                "timed_if_given": {98: 3, 449: 3, 137: 2},
                "signal_wait": 137,
                "io": {63, 67, 65, 207, 212, 243, 202, 242, 64, 66, 206, 211, 269, 71, 203},
                "files": {73: ("poll", 0, 1, 2, "ptr"), 72: ("select", 1, 0, 4, "ptr"),
                          22: ("epoll", 0, None, 3, "ms"), 441: ("epoll", 0, None, 3, "ptr")}},
}
_MACHINE = os.uname().machine if hasattr(os, "uname") else ""  # `platform` costs 4 ms to import; only Linux needs it
_SYSCALLS = _ARCH.get(_MACHINE, {"sleep": set(), "timed_if_given": {}, "signal_wait": None, "io": set(), "files": {}})


def can_see_waiting():
    """Whether state() can tell on this system (it needs Linux's /proc)."""
    return os.path.exists("/proc/self/stat")


def state(pids, connections=None):
    """READY, BUSY or SLEEPING for the processes `pids` taken together.

    `connections`: the inodes of the program's sockets that lead to the
    other side (see far_end), on which a message ends a wait. None: any
    TCP socket counts as one.
    """
    if not can_see_waiting():
        return BUSY
    answer = READY
    caught = {}  # pid -> the signals it handles (the same for all its threads)
    for pid in pids:
        if _hides(pid):
            return BUSY
        try:
            tasks = os.listdir("/proc/{}/task".format(pid))
        except OSError:
            continue  # gone
        for task in tasks:
            thread = "/proc/{}/task/{}".format(pid, task)
            letter, signals = _stat(thread)
            caught[pid] = caught.get(pid, 0) | signals
            if letter is None or letter in ("Z", "X"):
                continue
            if letter not in _BLOCKED:
                return BUSY
            clock = _sleeping_by_clock(pid, thread, connections)
            if clock is None:
                return BUSY
            if clock:
                answer = SLEEPING
    if answer == READY and any(_has_a_timer(pid, signals) for pid, signals in caught.items()):
        return SLEEPING
    return answer


def _hides(pid):
    """Has the process made itself not dumpable (prctl PR_SET_DUMPABLE 0)? Then it shows what it waits in
    to no one but a tracer with CAP_SYS_PTRACE, and /proc names root as the owner of its files."""
    try:
        if os.stat("/proc/{}/syscall".format(pid)).st_uid != 0:
            return False
        status = _read("/proc/{}/status".format(pid)).decode("ascii", "replace")
    except OSError:
        return False  # gone, or no /proc/PID/syscall on this kernel
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if fields.get("State", "").split()[:1] in (["Z"], ["X"]):
        return False  # a zombie has no memory: its files are root's, and it hides nothing
    if fields.get("Uid", "0 0").split()[1] != "0":
        return True
    # Root's own process: its files are root's either way. Root may read them, unless it hides.
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    try:
        _read("/proc/{}/syscall".format(pid))
    except PermissionError:
        return True
    except OSError:
        pass
    return False


def _stat(thread):
    """The thread's state letter, and the signals its process handles (a mask); None, 0 if gone."""
    try:
        raw = _read(thread + "/stat").decode("ascii", "replace")
    except OSError:
        return None, 0
    fields = raw[raw.rfind(")") + 2:].split()
    return fields[0][:1] if fields else None, int(fields[31]) if len(fields) > 31 else 0


def _sleeping_by_clock(pid, thread, connections):
    """True if the thread is blocked in a wait the clock ends; False if not, or unknown; None if it is running.

    None: the state letter said blocked, but the thread woke up before its
    syscall could be read. The letter is old news then, and "blocked, not
    sleeping by the clock" would be wrong: a program waking from a sleep is
    about to act, not waiting.
    """
    try:
        fields = _read(thread + "/syscall").decode("ascii", "replace").split()
    except OSError:
        return False  # not ours to read: judge by the state letter alone
    if fields[:1] == ["running"]:
        return None
    if not fields or not fields[0].lstrip("-").isdigit():
        return False  # "running" or "-1": not in a syscall
    number = int(fields[0])
    args = [int(field, 16) for field in fields[1:7]]
    if number in _SYSCALLS["sleep"]:
        return True
    if len(args) < 6:
        return False
    timeout_at = _SYSCALLS["timed_if_given"].get(number)
    if timeout_at is not None and args[timeout_at] != 0:
        return True
    try:
        if number == _SYSCALLS["signal_wait"]:  # for SIGALRM, which signal.alarm sends, or a timer's signal?
            waited = int.from_bytes(_memory(thread, args[0], 8), "little")
            return bool(waited & _SIGALRM_BIT) or bool(waited) and _has_posix_timers(pid)
        if number in _SYSCALLS["io"]:  # a socket's own timeout (SO_RCVTIMEO) shows in no file
            target = _target(pid, args[0])
            return target == "anon_inode:[timerfd]" or _is_socket(target) and not _leads_over(pid, args[0],
                                                                                             target, connections)
        wait = _SYSCALLS["files"].get(number)
        if wait is None:
            return False
        kind, files_at, count_at, timeout_at, unit = wait
        files = [(fd, inode) for fd, inode, for_input in _watched(pid, thread, kind, args, files_at, count_at)
                 if for_input]
    except (OSError, ValueError, OverflowError, struct.error):
        return False  # cannot tell: judge by the state letter alone
    timeout = args[timeout_at]
    targets = [_target(pid, fd, inode) for fd, inode in files]
    if unit == "ms" and (timeout & 0xFFFFFFFF) >= 0x80000000 or unit == "ptr" and timeout == 0:
        return any(target in ("anon_inode:[timerfd]", "?") for target in targets)  # no timeout: a file ends it
    # A timeout ends it, unless a message comes first: on a connection watched for input.
    return not any(_leads_over(pid, fd, target, connections) for (fd, _), target in zip(files, targets))


_POLLIN = 0x1 | 0x40  # POLLIN, POLLRDNORM; the same bits in epoll's events


def _watched(pid, thread, kind, args, files_at, count_at):
    """The files a thread's poll, select or epoll wait watches: (fd, its inode or None, whether for input) each.

    An epoll goes on watching the file a number was given for when the
    number is closed or given to another file (dup2): it says the inode.
    """
    if kind == "epoll":  # "tfd: 5 events: 19 data: 5  pos:0 ino:35d9a4 sdev:f"
        lines = _read("/proc/{}/fdinfo/{}".format(pid, args[files_at]), 1 << 20).decode("ascii", "replace")
        found = []
        for words in (line.split() for line in lines.splitlines() if line.startswith("tfd:")):
            inode = next((int(word[4:], 16) for word in words if word.startswith("ino:")), None)
            found.append((int(words[1]), inode, bool(int(words[3], 16) & _POLLIN)))
        return found
    count = args[count_at]
    if count == 0:
        return []
    if count > 65536:
        raise ValueError("not a count of files")
    if kind == "poll":  # struct pollfd {int fd; short events, revents;}
        raw = _memory(thread, args[files_at], 8 * count)
        return [(fd, None, bool(events & _POLLIN)) for fd, events, _ in struct.iter_unpack("ihh", raw) if fd >= 0]
    files = []  # select: up to three fd_sets (read, write, except), bit n for file n
    for at in (files_at, files_at + 1, files_at + 2):
        if args[at]:
            bits = int.from_bytes(_memory(thread, args[at], (count + 7) // 8), "little")
            files.extend((fd, None, at == files_at) for fd in range(count) if bits >> fd & 1)
    return files


def _memory(thread, address, size):
    """`size` bytes of the thread's memory at `address` (the kernel lets whoever may read its syscall)."""
    with open(thread + "/mem", "rb", buffering=0) as memory:
        memory.seek(address)
        raw = memory.read(size)
    if len(raw) != size:
        raise ValueError("memory not all there")
    return raw


def _target(pid, fd, inode=None):
    """What file `fd` of `pid` is: a path, "socket:[INODE]", "pipe:[INODE]", "anon_inode:[timerfd]"...;
    "?" if it is no longer the file of inode `inode` (None: not known)."""
    path = "/proc/{}/fd/{}".format(pid, fd)
    try:
        if inode is not None and os.stat(path).st_ino != inode:
            return "?"
        return os.readlink(path)
    except OSError:
        return "?" if inode is not None else ""


def _is_socket(target):
    return target.startswith("socket:[")


def _leads_over(pid, fd, target, connections):
    """Is the file a socket that leads to the other side (in `connections`; None: any TCP socket)?"""
    if not _is_socket(target):
        return False
    if connections is not None:
        return int(target[len("socket:["):-1]) in connections
    try:
        protocol = os.getxattr("/proc/{}/fd/{}".format(pid, fd), "system.sockprotoname")
    except (OSError, AttributeError):
        return True  # cannot tell: as before sockets were told apart
    return protocol.rstrip(b"\0") in (b"TCP", b"TCPv6")


def far_end(sock):
    """The inode of the socket at the other end of `sock`, a TCP connection on this machine; None if none yet.

    Asked of Linux's sock_diag by the connection's two addresses: the
    other end's socket is one the program holds, and a wait on it ends when
    a message comes. None until the other end is accepted. Raises OSError
    where sock_diag cannot be asked (not Linux, or left out of the kernel):
    then any TCP socket has to count as a connection.
    """
    if not _can_ask():
        raise OSError("sock_diag cannot tell this machine's connections apart")
    return _ask(sock)


_ASKED = []  # whether sock_diag answers here, once found out


def _can_ask():
    """Does sock_diag find the other end of a connection of our own? (Asked once: about a millisecond.)"""
    if not _ASKED:
        try:
            with socket.create_server(("127.0.0.1", 0)) as listening:
                with socket.create_connection(listening.getsockname()) as ours:
                    theirs, _ = listening.accept()
                    with theirs:
                        _ASKED.append(_ask(ours) == os.fstat(theirs.fileno()).st_ino)
        except (OSError, AttributeError):
            _ASKED.append(False)
    return _ASKED[0]


def _ask(sock):
    try:
        family, local, remote = sock.family, sock.getsockname(), sock.getpeername()

        def address(host):
            raw = socket.inet_pton(family, host)
            return raw + bytes(16 - len(raw))

        # Its local address is our remote one. Cookie: none (all ones).
        wanted = (struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
                  + struct.pack(">HH", remote[1], local[1]) + address(remote[0]) + address(local[0])
                  + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
            diag.sendto(struct.pack("=IHHII", 16 + len(wanted), _SOCK_DIAG_BY_FAMILY, 1, 0, 0) + wanted, (0, 0))
            reply = diag.recv(4096)
    except (OSError, AttributeError, ValueError):
        return None
    if len(reply) < 88 or struct.unpack_from("=H", reply, 4)[0] != _SOCK_DIAG_BY_FAMILY:
        return None  # an error: no such socket (yet)
    return struct.unpack_from("=I", reply, 84)[0] or None  # inet_diag_msg's inode, past the header


_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY = 4, 20


def _has_a_timer(pid, caught):
    """Has the process set a timer that signals it? Then any wait of it may end by the clock."""
    if caught & _SIGALRM_BIT:
        return True  # it handles SIGALRM, which signal.alarm and signal.setitimer send
    return _has_posix_timers(pid)


def _has_posix_timers(pid):
    """timer_create's timers, whatever signal they send."""
    try:
        return bool(_read("/proc/{}/timers".format(pid), 1))
    except OSError:
        return False


def _read(path, size=4096):
    """Up to `size` bytes of a file at once: for /proc, quicker than open() by half."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)
