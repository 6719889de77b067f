"""Is a program waiting for a message? Asked of the kernel, not of the program.

check.py and the autograder both ask this file, so the two hand your
programs their messages alike. You do not need to read it, and changing it
changes nothing: the autograder uses its own copy.

The rule, stated once (docs/grading.md says why): a program is waiting for a
message when none of its threads can wake up by itself, so that only a
message can move it. Every thread is blocked, each on its connections (its
ends of its connections to the other side, and a listening socket it was
handed), or with no timeout on the program itself: another thread (a lock,
join(), queue.get()), a child (os.wait()), or a pipe, eventfd or socketpair
both ends of which its own processes hold, directly or through select, poll
and epolls of any depth; at least one thread waits for input on its
connections; and where a thread waits on the program itself, its process
holds no timer (the signal of which could end that wait, or make a handler
end it). Anything else (running,
asleep, a timeout on any other wait, a timerfd, a wait on anything else) is
not waiting. A wait on its connections may keep a timeout: the message is
handed over as soon as the program is seen waiting, and ends it first.

Two more facts come from the kernel's queues (queues(), asked by scene.py):
a program whose connections still hold bytes it wrote (TCP_CORK, Nagle) is
not settled, since sent means written; and a frame still in its socket when
it sends something (after a peek) has not reached it, since received means
read.

Only what can be seen from outside counts. alarm() cannot be, so a process
that handles SIGALRM holds a timer; nor can SO_RCVTIMEO, so a read of a
socketpair itself is not waiting (a select or selector on it is). Whether a
process outside the program holds an end of its pipe too is not looked for
(it would take a look at every process). A program that hides what it waits
in (not dumpable) is never waiting; a thread whose wait /proc shows no one
(it does not hide it) is judged by its state letter alone. Linux only
(/proc), on x86_64 and aarch64 with a 64-bit Python (the syscall numbers
below); elsewhere the answer is always BUSY and the caller falls back on what
it can see.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

READY, BUSY, SLEEPING = "ready", "busy", "sleeping"
_BLOCKED = {"S", "Z", "X", "T", "t", "I"}  # states of a thread that is not running
# What a blocked thread may wait in, by syscall number: (kind, the argument that holds its timeout, "ms" for an
# int in milliseconds, none if negative, or "ptr" for a pointer, none if NULL). Kinds: "read" of the file in the
# first argument (read, pread64, readv, recvfrom, recvmsg, recvmmsg, accept, accept4); waits on files: "poll"
# (poll, ppoll), "select" (select, pselect6), "epoll" (epoll_wait, epoll_pwait, epoll_pwait2); "thread" (futex,
# futex_waitv); "child" (wait4, waitid); named only for the hint: "sleep" (nanosleep, clock_nanosleep) and
# "signal" (pause, rt_sigsuspend, rt_sigtimedwait).
_READ, _CHILD, _SLEEP, _SIGNAL = ("read", None, ""), ("child", None, ""), ("sleep", None, ""), ("signal", None, "")
_ARCH = {
    "x86_64": {**dict.fromkeys((0, 17, 19, 45, 47, 299, 43, 288), _READ), 7: ("poll", 2, "ms"),
               271: ("poll", 2, "ptr"), 23: ("select", 4, "ptr"), 270: ("select", 4, "ptr"), 232: ("epoll", 3, "ms"),
               281: ("epoll", 3, "ms"), 441: ("epoll", 3, "ptr"), 202: ("thread", 3, "ptr"),
               449: ("thread", 3, "ptr"), 61: _CHILD, 247: _CHILD, 35: _SLEEP, 230: _SLEEP, 34: _SIGNAL,
               130: _SIGNAL, 128: _SIGNAL},
    "aarch64": {**dict.fromkeys((63, 67, 65, 207, 212, 243, 202, 242), _READ), 73: ("poll", 2, "ptr"),
                72: ("select", 4, "ptr"), 22: ("epoll", 3, "ms"), 441: ("epoll", 3, "ptr"), 98: ("thread", 3, "ptr"),
                449: ("thread", 3, "ptr"), 260: _CHILD, 95: _CHILD, 101: _SLEEP, 115: _SLEEP, 133: _SIGNAL,
                137: _SIGNAL},
}
_MACHINE = os.uname().machine if hasattr(os, "uname") else ""  # `platform` costs 4 ms to import; only Linux needs it
_SYSCALLS = _ARCH.get(_MACHINE, {})
_DOING = {"thread": "waited on another thread (a lock, join(), Event.wait(), queue.get())",
          "child": "waited for a child process", "sleep": "slept (time.sleep)",
          "signal": "waited for a signal (signal.pause(), sigwait)", "read": "read a pipe of its own",
          "poll": "waited on poll()", "select": "waited on select()",
          "epoll": "waited on an epoll (a selector, or asyncio's event loop)"}


class State(str):
    """READY, BUSY or SLEEPING, equal to that word, with what was seen in words for a hint (`why`:
    "its main thread waited on an epoll ... with a 1 s timeout"): callers that only compare it need not know.
    A READY program may still wake by itself, through a timeout on its wait for a message or a timer: `wakes`
    says how ('' if it cannot), so that a scene never takes it for stuck."""

    why = wakes = ""


def _state(word, why="", wakes=""):
    found = State(word)
    found.why, found.wakes = why, wakes
    return found


def can_see_waiting():
    """Whether state() can tell on this system: it needs Linux's /proc, and the syscall numbers of this
    machine (a 32-bit Python, even on a 64-bit kernel, shows another table's numbers)."""
    return _MACHINE in _ARCH and sys.maxsize > 2 ** 32 and os.path.exists("/proc/self/stat")


def state(pids, connections=None):
    """READY, BUSY or SLEEPING (blocked, not waiting for a message) for the processes `pids` taken together,
    as a State that says why.

    `connections`: the inodes of the program's sockets that lead to the
    other side (see far_end), on which a message ends a wait. None: any
    TCP socket counts as one.
    """
    if not can_see_waiting():
        return _state(BUSY)
    pids = set(pids)
    held, found = _Held(pids), []  # (kind, pid, main thread?, what it does in words) of each blocked thread
    for pid in pids:
        if _hides(pid):
            return _state(BUSY, "it hid what it waited in")
        for task in _listdir("/proc/{}/task".format(pid)):
            thread = "/proc/{}/task/{}".format(pid, task)
            letter, parent = _stat(thread)
            if letter is None or letter in ("Z", "X"):
                continue  # ended
            kind, doing, timed = _wait(thread, connections, held) if letter in _BLOCKED else (None, "was running", "")
            who = "a process it started" if parent in pids else "its main thread" if task == str(pid) else \
                "a thread of it"
            if kind is None:
                return _state(BUSY, who + " " + doing)
            found.append((kind, pid, task == str(pid), who + " " + doing, timed))
    for kind, pid, main, doing, timed in found:
        if not kind:
            return _state(SLEEPING, doing)
    # A signal ends any wait of its process (its handler runs in the main thread).
    for kind, pid, main, doing, timed in found:
        timer = _timer(pid) if kind == "inside" else ""
        if timer:
            return _state(SLEEPING, "{}, and {}".format(doing, timer))
    if not any(kind == "message" for kind, *_ in found):
        return _state(SLEEPING, "; ".join(["no thread of it waited on its connection"]
                                          + [doing for _, _, main, doing, _ in found if main]))
    wakes = next((doing + timed for kind, _, _, doing, timed in found if timed), "") or \
        next(filter(None, (_timer(pid) for pid in {pid for _, pid, *_ in found})), "")
    return _state(READY, wakes=wakes)


def hides(pids):
    """Does any of the processes `pids` hide what it waits in (so that it is never counted as waiting)?"""
    return any(_hides(pid) for pid in pids)


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
    """The thread's state letter and its process's parent; (None, None) if it is gone."""
    try:
        raw = _read(thread + "/stat").decode("ascii", "replace")
    except OSError:
        return None, None
    fields = raw[raw.rfind(")") + 2:].split(None, 2)
    return (fields[0], int(fields[1])) if len(fields) > 1 else (None, None)


def _wait(thread, connections, held):
    """What a blocked thread waits in: ("message", words, timeout) with its connections among it, ("inside",
    words, "") with no timeout on the program itself alone, ("", words, timeout) on anything else; (None, words,
    "") if it is running. `timeout`: the wait's timeout in words ("" if none).

    Running: the state letter said blocked, but the thread woke up before
    its syscall could be read. The letter is old news then: a program
    waking from a sleep is about to act, not waiting.
    """
    try:
        fields = _read(thread + "/syscall").decode("ascii", "replace").split()
    except OSError:
        return "message", "", ""  # not ours to read, though it does not hide (see _hides): judge by the state letter
    if fields[:1] == ["running"]:
        return None, "was running", ""
    if len(fields) < 7 or not fields[0].isdigit():
        return "", "was stopped", ""  # "-1": blocked in no syscall
    number, args = int(fields[0]), [int(field, 16) for field in fields[1:7]]
    kind, at, form = _SYSCALLS.get(number, ("", None, ""))
    timed = ""  # none: no such argument, a negative number of milliseconds, or no pointer
    if at is not None and (not args[at] & 0x80000000 if form == "ms" else args[at]):
        timed = " with a {:g} s timeout".format((args[at] & 0xFFFFFFFF) / 1000) if form == "ms" else " with a timeout"
    doing = _DOING.get(kind, "was blocked in something other than a wait (a write, say)")
    found = "inside" if kind in ("thread", "child") else ""
    if kind in ("read", "poll", "select", "epoll"):
        try:
            files = _watched(thread, kind, args)
            found = _files(thread, files, connections, held, 0, kind == "read")
        except (OSError, ValueError, OverflowError, struct.error):
            return "", "waited on files that could not be looked at", timed
        if not files:
            return "", _DOING["sleep"] if timed else _DOING["signal"], timed
        if found not in ("message", "inside"):
            return "", "waited on " + found, timed
    if found == "inside" and timed:
        return "", doing + timed, timed
    return found, doing, timed


_POLLIN = 0x1 | 0x40  # POLLIN, POLLRDNORM; the same bits in epoll's events


def _watched(thread, kind, args):
    """The files a thread's syscall waits on: (fd, its inode or None, whether for input) each; [] if none."""
    if kind == "read":
        return [(args[0], None, True)]
    if kind == "epoll":
        return _epoll(thread, args[0])
    count = args[1] if kind == "poll" else args[0]  # poll(files, count, ...), select(count, sets...)
    if count == 0:
        return []
    if count > 65536:
        raise ValueError("not a count of files")
    if kind == "poll":  # struct pollfd {int fd; short events, revents;}
        raw = _memory(thread, args[0], 8 * count)
        return [(fd, None, bool(events & _POLLIN)) for fd, events, _ in struct.iter_unpack("ihh", raw) if fd >= 0]
    files = []  # select: up to three fd_sets (read, write, except), bit n for file n
    for at in (1, 2, 3):
        if args[at]:
            bits = int.from_bytes(_memory(thread, args[at], (count + 7) // 8), "little")
            files.extend((fd, None, at == 1) for fd in range(count) if bits >> fd & 1)
    return files


def _memory(thread, address, size):
    """`size` bytes of the thread's memory at `address` (the kernel lets whoever may read its syscall)."""
    with open(thread + "/mem", "rb", buffering=0) as memory:
        memory.seek(address)
        raw = memory.read(size)
    if len(raw) != size:
        raise ValueError("memory not all there")
    return raw


def _epoll(thread, epoll):
    """The files an epoll watches, as _watched says them.

    An epoll goes on watching the file a number was given for when the
    number is closed or given to another file (dup2): it says the inode.
    """
    found = []  # "tfd: 5 events: 19 data: 5  pos:0 ino:35d9a4 sdev:f"
    for line in _read("{}/fdinfo/{}".format(thread, epoll), 1 << 20).decode("ascii", "replace").splitlines():
        words = line.split()
        if words[:1] == ["tfd:"]:
            inode = next((int(word[4:], 16) for word in words if word.startswith("ino:")), None)
            found.append((int(words[1]), inode, bool(int(words[3], 16) & _POLLIN)))
    return found


def _files(thread, files, connections, held, depth, read=False):
    """"message" if each of `files` (see _watched) is a connection or the program's own, and a connection
    is watched for input; "inside" if each is the program's own; otherwise what another one is, in words."""
    found = "inside"
    for fd, inode, for_input in files:
        what = _file(thread, fd, inode, connections, held, depth, read)
        if what not in ("message", "inside"):
            return what
        if what == "message" and for_input:
            found = what
    return found


def _file(thread, fd, inode, connections, held, depth, read):
    """"message": a socket that leads to the other side (in `connections`; None: any TCP socket), or an
    epoll of such; "inside": the program's own pipe, eventfd or socketpair (watched, not read: see the top),
    or an epoll of such; otherwise what the file is, in words."""
    if connections is not None and inode in connections:
        return "message"
    path = "{}/fd/{}".format(thread, fd)
    target = os.readlink(path)
    # Linux nests epolls 5 deep at most. An inner epoll is found by its number: all epolls share one
    # inode, so another epoll given that number (dup2) would be read in its place.
    if target == "anon_inode:[eventpoll]" and depth < 5:
        return _files(thread, _epoll(thread, fd), connections, held, depth + 1)
    kind, _, number = target[:-1].partition(":[")
    if inode is not None and number.isdigit() and int(number) != inode:
        return "a file whose number was given to another (dup2)"
    if kind == "socket":
        if int(number) in (connections or ()) or connections is None and _tcp(path):
            return "message"
        if not held.socketpair(int(number)):
            return "a socket that is none of its connections"
        return "inside" if not read else "a socketpair, read directly: its timeout (SO_RCVTIMEO) cannot be " \
                                         "seen, so wait on it with a selector"
    if kind == "pipe":
        return "inside" if held.pipe(int(number)) else "a pipe it does not hold both ends of"
    if target == "anon_inode:[eventfd]":
        return "inside"
    return "a timer (timerfd)" if target == "anon_inode:[timerfd]" else "{}, none of its connections".format(target)


def _tcp(path):
    """Is the socket TCP? (What counts as a connection where sock_diag cannot name them.)"""
    try:
        return os.getxattr(path, "system.sockprotoname").rstrip(b"\0") in (b"TCP", b"TCPv6")
    except (OSError, AttributeError):
        return True  # cannot tell: as before sockets were told apart


class _Held:
    """The pipes and sockets open in a program's processes, read once a question, when first needed."""

    def __init__(self, pids):
        self.pids, self._found = pids, None

    def _files(self):
        """"pipe:[inode]" or "socket:[inode]" -> the modes of their links (a pipe's: 0o400 read end, 0o200 write)."""
        if self._found is None:
            self._found = {}
            for pid in self.pids:
                folder = "/proc/{}/fd/".format(pid)
                for fd in _listdir(folder):
                    try:
                        target = os.readlink(folder + fd)
                        if target.startswith("pipe:"):
                            self._found[target] = self._found.get(target, 0) | os.lstat(folder + fd).st_mode
                        elif target.startswith("socket:"):
                            self._found[target] = 0
                    except OSError:
                        pass  # closed meanwhile
        return self._found

    def pipe(self, inode):
        """Are both ends of the pipe open in the program?"""
        return self._files().get("pipe:[{}]".format(inode), 0) & 0o600 == 0o600

    def socketpair(self, inode):
        """Is the Unix socket's other end open in the program?"""
        peer = _unix_peer(inode)
        return peer is not None and "socket:[{}]".format(peer) in self._files()


def _timer(pid):
    """A timer whose signal may wake the process's main thread though no wait shows it, in words ('' if none).
    alarm() and setitimer() cannot be seen from outside: only that the process handles their SIGALRM."""
    if catches(pid, 14):  # SIGALRM
        return "it handles SIGALRM (signal.alarm, signal.setitimer), whose timer cannot be seen"
    try:
        return "it holds a POSIX timer" if _read("/proc/{}/timers".format(pid)).strip() else ""
    except OSError:
        return ""  # gone; or no /proc/PID/timers on this kernel


def catches(pid, signum):
    """Does the process handle the signal (/proc's SigCgt)? Where that cannot be read: no."""
    try:
        status = _read("/proc/{}/status".format(pid)).decode("ascii", "replace")
        return bool(int(status.split("SigCgt:", 1)[1].split()[0], 16) >> (signum - 1) & 1)
    except (OSError, IndexError, ValueError):
        return False


def _listdir(folder):
    try:
        return os.listdir(folder)
    except OSError:
        return []  # gone


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
    return (_ask(sock) or (None,))[0]


def far_ends(socks, known):
    """The inodes at the other ends of `socks` (see far_end), each found once and kept in `known`
    (socket -> inode); None where they cannot be found, and any TCP socket has to count."""
    try:
        for sock in socks:
            if known.get(sock) is None:
                known[sock] = far_end(sock)
    except OSError:
        return None
    return {known[sock] for sock in socks if known[sock]}


def can_see_queues():
    """Whether queues() can tell on this system (Linux's sock_diag)."""
    return _can_ask()


def queues(sock):
    """(unread, unsent) at the other end of `sock`, a TCP connection on this machine: the bytes sent to the
    program that it has not read yet (a peek leaves them there), and the bytes it wrote that have not reached
    `sock` (held by TCP_CORK or Nagle's algorithm, or not yet acknowledged); None where sock_diag cannot be
    asked or finds no other end (then the caller assumes both are 0)."""
    found = _ask(sock) if can_see_queues() else None
    return found[1:] if found and found[0] else None


_ASKED = []  # whether sock_diag answers here, once found out


def _can_ask():
    """Does sock_diag find the other end of a connection of our own? (Asked once: about a millisecond.)"""
    if not _ASKED:
        try:
            with socket.create_server(("127.0.0.1", 0)) as listening:
                with socket.create_connection(listening.getsockname()) as ours:
                    theirs, _ = listening.accept()
                    with theirs:
                        _ASKED.append((_ask(ours) or (None,))[0] == os.fstat(theirs.fileno()).st_ino)
        except (OSError, AttributeError):
            _ASKED.append(False)
    return _ASKED[0]


def in_flight(socks):
    """Are bytes on their way over any of the TCP connections `socks` (ours, each to a program on this
    machine), either way? Sent by the program and not yet taken in by us (its end's bytes not yet
    acknowledged: loopback delivers them later on a loaded machine), or sent by us and not yet read by it.
    None where sock_diag cannot be asked."""
    if not _can_ask():
        return None
    return any(found and any(found[1:]) for sock in socks for found in (_ask(sock), _ask(sock, own=True)))


def _ask(sock, own=False):
    """(inode, unread, unsent) of the socket at the other end of `sock` (`own`: of `sock` itself), from
    inet_diag_msg (inode None once its program has let it go); None if none (or it cannot be asked)."""
    try:
        family, local, remote = sock.family, sock.getsockname(), sock.getpeername()
        if own:
            local, remote = remote, local

        def address(host):
            raw = socket.inet_pton(family, host)
            return raw + bytes(16 - len(raw))

        # Its local address is our remote one. Cookie: none (all ones).
        reply = _diag(struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
                      + struct.pack(">HH", remote[1], local[1]) + address(remote[0]) + address(local[0])
                      + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))
    except (OSError, AttributeError, ValueError):
        return None
    if len(reply) < 88:
        return None  # an error: no such socket (yet)
    unread, unsent, _, inode = struct.unpack_from("=IIII", reply, 72)  # past the header: idiag_rqueue, wqueue, ...
    return inode or None, unread, unsent


def _unix_peer(inode):
    """The inode of the other end of the Unix socket `inode`, from sock_diag; None if none, or if it cannot
    be asked (then no socket is the program's own, as before socketpairs were told apart)."""
    try:  # unix_diag_req: the socket by its inode, any state, its peer shown; cookie: none (all ones)
        reply = _diag(struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, _UDIAG_SHOW_PEER,
                                  0xFFFFFFFF, 0xFFFFFFFF))
    except (OSError, AttributeError):
        return None
    at = 32  # past the header and unix_diag_msg: attributes, each (length, type, value), 4-aligned
    while 4 <= at + 4 <= len(reply):
        length, kind = struct.unpack_from("=HH", reply, at)
        if kind == _UNIX_DIAG_PEER and length >= 8:
            return struct.unpack_from("=I", reply, at + 4)[0]
        at += max(4, (length + 3) & ~3)
    return None


def _diag(wanted):
    """sock_diag's reply to one request, past nothing; b"" for an error (no such socket)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.sendto(struct.pack("=IHHII", 16 + len(wanted), _SOCK_DIAG_BY_FAMILY, 1, 0, 0) + wanted, (0, 0))
        reply = diag.recv(4096)
    return reply if reply[4:6] == struct.pack("=H", _SOCK_DIAG_BY_FAMILY) else b""


_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY, _UDIAG_SHOW_PEER, _UNIX_DIAG_PEER = 4, 20, 4, 2


def _read(path, size=4096):
    """Up to `size` bytes of a file at once: for /proc, quicker than open() by half."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)
