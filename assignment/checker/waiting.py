"""Is a program waiting for a message? Asked of the kernel, not of the program.

check.py and the autograder both ask this file, so the two hand your
programs their messages alike. You do not need to read it, and changing it
changes nothing: the autograder uses its own copy.

A program is waiting for a message when every thread of it is blocked in
the kernel in one of these, and nothing else:
  - a read of, or a wait for input on, sockets a message comes on and no
    other file (`connections`: its ends of its connections to the other
    side, and the listening socket it was handed), directly or through
    epolls of any depth (recv, accept, select, poll, epoll). A timeout on
    such a wait does no harm: a message ends it first;
  - a wait with no timeout on another thread or child process of its own
    (a lock, Thread.join(), Event.wait(), os.wait()): those are judged
    themselves (the kernel does not say whose lock: any such wait counts).
Anything else is not waiting: a sleep, a wait with a timeout on a thread,
a wait on a pipe, a timer, a signal or any other file, and a wait whose
files cannot be looked at. A program that sent a Pong it was never asked
for when such a wait ended must not have been handed a Ping during it, or
its Pong would look like an answer. Threads that ended and zombies count
for nothing; a program that hides what it waits in (not dumpable) is never
waiting, and a thread whose wait /proc shows no one (it does not hide it)
is judged by its state letter alone. Files are looked up in the
thread's own table of files (a thread may have one of its own). Not seen:
a read already blocked on a file whose number is then given to the
connection (dup2), and an inner epoll whose number is given to another
epoll. Linux only (/proc), on x86_64 and aarch64 with a 64-bit Python
(the syscall numbers below); elsewhere the answer is always BUSY and the
caller falls back on what it can see.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

READY, BUSY, SLEEPING = "ready", "busy", "sleeping"
_BLOCKED = {"S", "Z", "X", "T", "t", "I"}  # states of a thread that is not running
# Syscall numbers. "reads": of the file in the first argument (read, pread64, readv, recvfrom, recvmsg,
# recvmmsg, accept, accept4). "files": waits on files (poll, ppoll, select, pselect6, epoll_wait,
# epoll_pwait, epoll_pwait2). "others": waits on another thread (futex, futex_waitv) or child (wait4,
# waitid), mapped to the argument that holds their timeout (0 there: none), or None (they have none).
_ARCH = {
    "x86_64": {"reads": {0, 17, 19, 45, 47, 299, 43, 288},
               "files": {7: "poll", 271: "poll", 23: "select", 270: "select", 232: "epoll", 281: "epoll", 441: "epoll"},
               "others": {202: 3, 449: 3, 61: None, 247: None}},
    "aarch64": {"reads": {63, 67, 65, 207, 212, 243, 202, 242},
                "files": {73: "poll", 72: "select", 22: "epoll", 441: "epoll"},
                "others": {98: 3, 449: 3, 260: None, 95: None}},
}
_MACHINE = os.uname().machine if hasattr(os, "uname") else ""  # `platform` costs 4 ms to import; only Linux needs it
_SYSCALLS = _ARCH.get(_MACHINE, {"reads": set(), "files": {}, "others": {}})


def can_see_waiting():
    """Whether state() can tell on this system: it needs Linux's /proc, and the syscall numbers of this
    machine (a 32-bit Python, even on a 64-bit kernel, shows another table's numbers)."""
    return _MACHINE in _ARCH and sys.maxsize > 2 ** 32 and os.path.exists("/proc/self/stat")


def state(pids, connections=None):
    """READY, BUSY or SLEEPING (blocked, not waiting for a message) for the processes `pids` taken together.

    `connections`: the inodes of the program's sockets that lead to the
    other side (see far_end), on which a message ends a wait. None: any
    TCP socket counts as one.
    """
    if not can_see_waiting():
        return BUSY
    answer = READY
    for pid in pids:
        if _hides(pid):
            return BUSY
        try:
            tasks = os.listdir("/proc/{}/task".format(pid))
        except OSError:
            continue  # gone
        for task in tasks:
            thread = "/proc/{}/task/{}".format(pid, task)
            letter = _letter(thread)
            if letter is None or letter in ("Z", "X"):
                continue
            if letter not in _BLOCKED:
                return BUSY
            waits = _waits_for_a_message(thread, connections)
            if waits is None:
                return BUSY
            if not waits:
                answer = SLEEPING
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


def _letter(thread):
    """The thread's state letter; None if it is gone."""
    try:
        raw = _read(thread + "/stat").decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:][:1] or None


def _waits_for_a_message(thread, connections):
    """Is the blocked thread waiting for a message (see the top)? None if it is running after all.

    None: the state letter said blocked, but the thread woke up before its
    syscall could be read. The letter is old news then: a program waking
    from a sleep is about to act, not waiting.
    """
    try:
        fields = _read(thread + "/syscall").decode("ascii", "replace").split()
    except OSError:
        return True  # not ours to read, though it does not hide (see _hides): judge by the state letter
    if fields[:1] == ["running"]:
        return None
    if len(fields) < 7 or not fields[0].isdigit():
        return False  # "-1": blocked in no syscall (stopped)
    number, args = int(fields[0]), [int(field, 16) for field in fields[1:7]]
    if number in _SYSCALLS["others"]:
        timeout_at = _SYSCALLS["others"][number]
        return timeout_at is None or args[timeout_at] == 0
    try:
        return _only_connections(thread, _watched(thread, number, args), connections, 0)
    except (OSError, ValueError, OverflowError, struct.error):
        return False  # cannot be looked at


_POLLIN = 0x1 | 0x40  # POLLIN, POLLRDNORM; the same bits in epoll's events


def _watched(thread, number, args):
    """The files a thread's syscall waits on: (fd, its inode or None, whether for input) each; [] if none."""
    if number in _SYSCALLS["reads"]:
        return [(args[0], None, True)]
    kind = _SYSCALLS["files"].get(number)
    if kind == "epoll":
        return _epoll(thread, args[0])
    count = args[1] if kind == "poll" else args[0]  # poll(files, count, ...), select(count, sets...)
    if kind is None or count == 0:
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


def _only_connections(thread, files, connections, depth):
    """Do `files` (see _watched) wait for input, and only on sockets a message comes on?"""
    return any(for_input for _, _, for_input in files) and all(
        _leads_over(thread, fd, inode, connections, depth) for fd, inode, _ in files)


def _leads_over(thread, fd, inode, connections, depth):
    """Is the file a socket that leads to the other side (in `connections`; None: any TCP socket), or an
    epoll that waits only on such sockets?"""
    if connections is not None and inode in connections:
        return True
    path = "{}/fd/{}".format(thread, fd)
    target = os.readlink(path)
    # Linux nests epolls 5 deep at most. An inner epoll is found by its number: all epolls share one
    # inode, so another epoll given that number (dup2) would be read in its place.
    if target == "anon_inode:[eventpoll]" and depth < 5:
        return _only_connections(thread, _epoll(thread, fd), connections, depth + 1)
    if not target.startswith("socket:[") or inode is not None and int(target[8:-1]) != inode:
        return False
    if connections is not None:
        return int(target[8:-1]) in connections
    try:
        protocol = os.getxattr(path, "system.sockprotoname")
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


def _read(path, size=4096):
    """Up to `size` bytes of a file at once: for /proc, quicker than open() by half."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)
