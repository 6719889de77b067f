"""Is a program waiting for a message? Asked of the kernel, not of the program.

check.py and the autograder both ask this file, so the two hand your
programs their messages alike. You do not need to read it, and changing it
changes nothing: the autograder uses its own copy.

"Waiting" means every thread is
blocked, none of them in a wait that the clock ends. A program that does
time.sleep(1) and then sends a Pong it was never asked for is not waiting
for a Ping, and must not be handed one during its nap, or its unprompted
Pong would look like an answer. The clock ends:
  - a sleep (time.sleep), and a wait on another thread or for a signal
    with a timeout (threading.Timer, Event.wait(1), queue.get(timeout=1));
  - a wait on files with a timeout (select, poll, a socket's timeout),
    unless it waits for input on a socket a message comes on
    (`connections`: its connection, or the listening socket it was
    handed): a message ends that wait before its clock does;
  - a read or write of any other socket: it may have a timeout of its
    own (SO_RCVTIMEO), which no file shows;
  - a wait for SIGALRM (signal.alarm, signal.setitimer) or on a timerfd;
  - any wait at all, in a program that handles SIGALRM or has a POSIX
    timer: the timer's signal interrupts whatever it waits in.
A program that hides what it waits in (not dumpable) is never waiting.
Linux only (/proc); elsewhere the answer is always BUSY and the caller
falls back on what it can see.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations

import os
import socket
import struct

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
