"""The harness's side of the network: the only witness whose word counts.

In every scene the harness plays the reference roles itself (the server, or
client1 and client2) on real sockets, and puts a tap on any connection
between two student programs. Every frame that crosses a harness socket is
written down as an `Event` with the time the harness saw it; what a student
program prints is never read for a verdict.

One rule keeps the verdicts deterministic: the harness delivers nothing to a
student program until that program is quiet (every process of it asleep,
waiting). Whatever a program sends before it was given a reason to, it sent
unprompted, and the log shows it so on every run, however loaded the machine.
"""

from __future__ import annotations

import math
import os
import selectors
import socket
import time
from dataclasses import dataclass, field

from . import readiness, sandbox
from .handout import referee, utils2

HOST = "127.0.0.1"
_ADDRESS_HOST = HOST.encode()  # as bytes: given a str, getaddrinfo loads the idna codec (5 ms)
NEVER = math.inf  # Event.passed of a frame that was sent but never delivered


@dataclass(frozen=True)
class Event:
    """A frame that went from `src` to `dst`, as the harness saw it pass."""

    frame: str  # "Ping", "Pong", "HELLO client2", or "garbage b'...'"
    src: str  # "client1", "client2" or "server"
    dst: str
    seen: float  # seconds into the scene when the harness received (or sent) it
    passed: float  # when it reached `dst`: later than seen only if held for quiet; NEVER if it did not


@dataclass
class Endpoint:
    """One harness socket: a reference role's connection, or one side of a tap."""

    sock: socket.socket
    me: str  # whom the harness speaks for on this socket
    peer: str  # who is at the other end
    student: sandbox.Program | None  # the student program at the other end, if any
    partner: Endpoint | None = None  # for a tap: the other side, where frames go on
    buffer: bytes = b""
    open: bool = True
    greeted: bool = False
    closing: bool = False  # a tap side whose partner hung up: pass that on once the outbox is delivered
    received: list[str] = field(default_factory=list)
    outbox: list[tuple[str, bytes, float]] = field(default_factory=list)


class Scene:
    """One scenario's sockets, programs and log, with bounded waits for events."""

    def __init__(self, seconds: float, settle_seconds: float, caps: sandbox.Caps | None = None,
                 halt: int | None = None) -> None:
        self.caps = caps  # what each student program may use (None: the sandbox's defaults)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + seconds
        self.settle_seconds = settle_seconds
        self.events: list[Event] = []
        self.unlogged = 0  # frames past referee.MAX_EVENTS: counted, not written down
        self.programs: dict[str, sandbox.Program] = {}
        self.endpoints: list[Endpoint] = []
        # What a program's wait ends on when a message comes (see _connections): the program's ends of the
        # harness's connections (the harness's socket -> the inode of the program's end, once found), and
        # the listening socket handed to a server (program name -> its inode).
        self._far_ends: dict[socket.socket, int | None] = {}
        self._handed: dict[str, int] = {}
        self.selector = selectors.DefaultSelector()
        self._taps: dict[socket.socket, tuple[int, sandbox.Program | None, sandbox.Program | None, str]] = {}
        self._served: dict[socket.socket, str] = {}
        self.dropped: list[str] = []  # roles that connected a second time to the server the harness plays
        self._seen_as: dict[str, str] = {}  # program -> its state (READY, BUSY, SLEEPING, "gone") when last looked at
        self.undelivered: dict[str, str] = {}  # program -> that state (HIDDEN: it hid it), if frames for it were held
        # For the hint only (see advice.hint): each program's state at the hang-up, whether the scene's time
        # was up then, and the programs seen to close a connection before it, in order.
        self.at_end: dict[str, str] = {}
        self.out_of_time = False
        self.closed: list[str] = []
        self._pidfds: list[int] = []
        self.halted = False  # told to end now (the grading was interrupted): no more waiting, no grace
        if halt is not None:  # readable once the scene is to end: wakes every wait at once
            self.selector.register(halt, selectors.EVENT_READ, "halt")

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _log(self, event: Event) -> None:
        """Write a frame down; past the referee's MAX_EVENTS, only count it."""
        if len(self.events) < referee.MAX_EVENTS:
            self.events.append(event)
        else:
            self.unlogged += 1
        self._bound()

    def _bound(self) -> None:
        """End the scene now once more than MAX_EVENTS frames have passed or wait, held for a busy
        program: a flood is judged on what came first (past the exchange's 4 frames, each breaks a rule)."""
        if len(self.events) + self.unlogged + sum(len(p.outbox) for p in self.endpoints) > referee.MAX_EVENTS:
            self.deadline = min(self.deadline, time.monotonic())

    # --- setting the scene -------------------------------------------------

    def listener(self) -> socket.socket:
        """A listening socket on a port the kernel chose: no race with other gradings."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        sock.listen(8)
        return sock

    def start(self, name: str, script, folder, port: int, listening: socket.socket | None = None) -> sandbox.Program:
        """Start one student program, to connect to `port` (a server: to serve on `listening`)."""
        return self.start_all([(name, script, folder, port, listening)])[0]

    def start_all(self, wanted: list[tuple]) -> list[sandbox.Program]:
        """Start programs side by side: (name, script, folder, port, listening or None) each.
        Those started are the scene's to stop, even when a later one fails to start."""
        launches: list[sandbox.Launch] = []
        begun = time.monotonic()
        try:
            for name, script, folder, port, listening in wanted:
                env = {"PINGPONG_HOST": HOST, "PINGPONG_PORT": str(port), "PINGPONG_CONNECT_TIMEOUT": str(self.left())}
                fds: tuple[int, ...] = ()
                if listening is not None:
                    env["PINGPONG_LISTEN_FD"] = str(listening.fileno())
                    fds = (listening.fileno(),)
                    self._handed[name] = os.fstat(listening.fileno()).st_ino
                launches.append(sandbox.launch(name, script, folder, env, fds, self.caps))
            programs = []
            while launches:
                program = launches.pop(0).started()
                self._watch(program)
                programs.append(program)
            # The scene's time is the programs' time: starting them (a sandbox user made, a warden
            # started, what a user's last program left killed) is the harness's, and takes longest
            # on a loaded machine, where charging it to the student would change the verdict.
            if not self.halted:
                self.deadline += time.monotonic() - begun
            return programs
        finally:
            failure = None
            for launch in launches:  # not started: one before them failed
                try:
                    launch.abandon()
                except Exception as error:  # noqa: BLE001 - the others are abandoned all the same
                    failure = failure or error
            if failure is not None:
                raise failure

    def _watch(self, program: sandbox.Program) -> None:
        self.programs[program.name] = program
        if hasattr(os, "pidfd_open"):
            try:  # lets a program's exit wake the selector at once
                fd = os.pidfd_open(program.pid)
                self._pidfds.append(fd)
                self.selector.register(fd, selectors.EVENT_READ, "exit")
            except OSError:
                pass

    def serve(self, listening: socket.socket, student: sandbox.Program, role: str) -> None:
        """The harness plays the server for `student`, which is to connect to `listening` as `role`."""
        self._served[listening] = role
        self.selector.register(listening, selectors.EVENT_READ, ("serve", student))

    def connect(self, me: str, port: int, student: sandbox.Program) -> Endpoint:
        """The harness plays client `me`, connecting to a student server and saying hello.

        A server that is already gone (a syntax error ends it at once) refuses
        the connection: the client's endpoint is then closed from the start.
        """
        try:
            sock = socket.create_connection((_ADDRESS_HOST, port))
        except OSError:
            point = Endpoint(socket.socket(), me, "server", student, open=False, greeted=True)
            point.sock.close()
            self.endpoints.append(point)
            return point
        point = self._add(sock, me, "server", student)
        point.greeted = True
        try:
            sock.sendall(utils2.encode(me))
        except OSError:
            self._closed(point)
        return point

    def tap(self, listening: socket.socket, server_port: int, server: sandbox.Program | None,
            client: sandbox.Program | None, role: str) -> None:
        """Relay what connects to `listening` (`client`, as `role`) on to the student server, writing all down."""
        self._taps[listening] = (server_port, server, client, role)
        self.selector.register(listening, selectors.EVENT_READ, ("tap", None))

    def _add(self, sock: socket.socket, me: str, peer: str, student: sandbox.Program | None) -> Endpoint:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        point = Endpoint(sock, me, peer, student)
        self.endpoints.append(point)
        self.selector.register(sock, selectors.EVENT_READ, point)
        return point

    # --- sending -------------------------------------------------------------

    def send(self, point: Endpoint, msg: utils2.Message) -> None:
        """Send `msg` from the role the harness plays on `point`, once its peer is quiet."""
        point.outbox.append((msg.value, utils2.encode(msg), self.now()))

    def _flush(self, point: Endpoint) -> None:
        """Deliver what waits for `point`'s student program, if it is quiet by now."""
        if not point.outbox or not point.open:
            return
        if point.student is not None and not self._settled(point.student, point.outbox[0][2]):
            return
        while point.outbox:
            frame, data, seen = point.outbox[0]
            try:
                point.sock.sendall(data)
            except OSError:
                self._closed(point)
                return
            point.outbox.pop(0)
            # seen: when the sender sent it (a reference role: when it chose to), even if held since
            self._log(Event(frame, self._sender(point), point.peer, seen, self.now()))
        if point.closing:
            self._hang_up(point)

    @staticmethod
    def _sender(point: Endpoint) -> str:
        """Who sent what waits in `point`'s outbox: the harness's role, or the program across the tap."""
        return point.me if point.partner is None else point.partner.peer

    def _settled(self, program: sandbox.Program, since: float, delivering: bool = True) -> bool:
        """Is `program` waiting for input (or gone), with all it sent so far read?

        A program blocked on anything but its connections (asleep, a timer,
        a pipe) is never settled: whatever it sends when it wakes, it sent
        without being asked. Nor, for a delivery, is a
        running one: it may be about to send, and a program that computes,
        then sends, then receives must not find a message waiting that makes
        its send look like an answer. Only where waiting cannot be seen (not
        Linux) does a time bound stand in for it. When nothing is to be
        delivered (`settle`), a program busy for that long is done enough.
        """
        if program.exited() and not program.tree():  # gone, and nothing it started lives on
            self._seen_as[program.name] = "gone"
            return self._nothing_readable()  # what it sent before it ended comes first in the log
        ends = self._connections(program)
        now = self._seen_as[program.name] = readiness.state(program.tree(), program.account, ends)
        if now == readiness.BUSY:
            bounded = not (delivering and readiness.can_see_waiting())
            return bounded and self.now() - since >= self.settle_seconds
        if now == readiness.SLEEPING:
            return False
        return self._nothing_readable() and readiness.state(program.tree(), program.account, ends) == readiness.READY

    def _connections(self, program: sandbox.Program) -> set[int] | None:
        """The inodes of `program`'s sockets that a message from the harness comes on: its ends of the
        connections it greeted on, and the listening socket it was handed. None where they cannot be
        found, and any TCP socket counts. Another connection to the harness, never greeted on, brings
        nothing: a wait on it is no wait for a message."""
        socks = [point.sock for point in self.endpoints if point.student is program and point.open and point.greeted]
        ends = readiness.far_ends(socks, self._far_ends)
        if ends is not None and program.name in self._handed:
            ends.add(self._handed[program.name])
        return ends

    def gone(self, program: sandbox.Program) -> bool:
        """Has `program` ended, with all it sent before it ended read? Only then is its end the last word:
        a client2 that greets and exits at once has greeted, however late the harness looks."""
        return program.exited() and self._nothing_readable(program)

    def _nothing_readable(self, program: sandbox.Program | None = None) -> bool:
        """No frame, hang-up or new connection is waiting to be read (given a program: on its own
        links, or on a listener)."""
        def counts(data) -> bool:
            if program is None:
                return data != "exit"
            return isinstance(data, tuple) or getattr(data, "student", None) is program
        return not any(counts(key.data) for key, _ in self.selector.select(0))

    # --- waiting -------------------------------------------------------------

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def wait(self, done, within: float | None = None, polling: bool = False) -> bool:
        """Handle traffic until done() is true or time runs out; returns done().

        `polling`: done() watches something no socket announces (a program
        going quiet), so look again every couple of milliseconds.
        """
        stop = time.monotonic() + (self.left() if within is None else min(within, self.left()))
        while True:
            for point in self.endpoints:
                self._flush(point)
            if done():
                return True
            remaining = min(stop, self.deadline) - time.monotonic()  # the deadline comes early after a flood
            if remaining <= 0:
                return bool(done())
            pending = any(point.outbox and point.open for point in self.endpoints)
            # Without pidfds (not Linux), a program's exit wakes nothing: look often.
            nap = 0.002 if pending or polling else (remaining if self._pidfds else 0.05)
            for key, _ in self.selector.select(min(remaining, nap)):
                self._handle(key)

    def settle(self) -> None:
        """Wait until every student program is quiet or gone (bounded)."""
        since = self.now()
        self.wait(lambda: all(self._settled(p, since, delivering=False) for p in self.programs.values()),
                  polling=True)

    def _handle(self, key: selectors.SelectorKey) -> None:
        data = key.data
        if data == "exit":
            self.selector.unregister(key.fileobj)
            return
        if data == "halt":  # left unread: it stays readable, for every scene told by the same file
            self.halted = True
            self.deadline = min(self.deadline, time.monotonic())
            return
        if isinstance(data, tuple):
            kind, student = data
            sock, _ = key.fileobj.accept()
            if kind == "serve":
                self._add(sock, "server", self._served[key.fileobj], student)
            else:
                port, server, client, role = self._taps[key.fileobj]
                outer = self._add(sock, "server", role, client)
                try:
                    onward = socket.create_connection((_ADDRESS_HOST, port))
                except OSError:
                    self._closed(outer)
                    return
                inner = self._add(onward, role, "server", server)
                inner.greeted = True  # servers do not introduce themselves
                outer.partner, inner.partner = inner, outer
            return
        self._read(data)

    def _read(self, point: Endpoint) -> None:
        try:
            chunk = point.sock.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            if point.buffer:  # a last frame without its newline: not a message, but sent all the same
                self._frame(point, point.buffer, complete=False)
            if point.student is not None and point.student.name not in self.closed:
                self.closed.append(point.student.name)
            self._closed(point)
            return
        try:
            frames, point.buffer = utils2.split_frames(point.buffer + chunk)
        except utils2.ProtocolError as error:  # the frames before the bad bytes count, then the bytes
            frames, point.buffer = [*error.frames, error.rest], b""
        for raw in frames:
            if not point.open:
                break
            self._frame(point, raw)

    def _frame(self, point: Endpoint, raw: bytes, complete: bool = True) -> None:
        try:
            item = utils2.decode(raw) if complete else None
        except utils2.ProtocolError:
            item = None
        if not point.greeted and isinstance(item, tuple):
            if self._taken(point, item[1]):
                # The reference server drops a second client of the same name; so does the harness.
                self.dropped.append(item[1])
                self._closed(point)
                return
            point.greeted = True
            point.peer = item[1]
            if point.partner is not None:
                point.partner.me = item[1]
                if point.partner.open:  # a server that dropped the relayed connection gets no hello
                    try:
                        point.partner.sock.sendall(raw)
                    except OSError:
                        self._closed(point.partner)
            return
        frame = item.value if isinstance(item, utils2.Message) else referee.garbage(raw, utils2.MAX_FRAME)
        if not point.greeted:
            frame = f"{frame} before saying who it is"
        now = self.now()
        if point.partner is None:
            point.received.append(frame)
            self._log(Event(frame, point.peer, point.me, now, now))
            if not point.greeted:  # the reference server drops a client that does not say who it is first
                self._closed(point)
        elif point.partner.open:
            point.partner.outbox.append((frame, raw, now))
            self._bound()
        else:  # the other side has gone: sent all the same, and the log shows it never delivered
            self._log(Event(frame, point.peer, point.partner.peer, now, NEVER))

    def _taken(self, point: Endpoint, role: str) -> bool:
        """Is `role` already connected to the server the harness plays on `point`?"""
        return point.partner is None and point.me == "server" and any(
            other is not point and other.partner is None and other.me == "server" and other.greeted
            and other.peer == role for other in self.endpoints)

    def _closed(self, point: Endpoint) -> None:
        if not point.open:
            return
        point.open = False
        self.selector.unregister(point.sock)
        point.sock.close()
        held, point.outbox = point.outbox, []  # out of the outbox first: _bound counts each frame once
        for frame, _, seen in held:  # sent all the same: the log shows it, never delivered
            self._log(Event(frame, self._sender(point), point.peer, seen, NEVER))
        partner = point.partner
        if partner is not None and partner.open:
            if partner.outbox:  # a tap still delivers what it holds, then passes the close on
                partner.closing = True
            else:
                self._hang_up(partner)

    def _hang_up(self, point: Endpoint) -> None:
        """Pass a close on through a tap, as TCP does: the program at `point` reads the end of
        the stream, and what it still sends is read and logged (never delivered) until it closes too."""
        try:
            point.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._closed(point)

    # --- ending ---------------------------------------------------------------

    def _doing(self, program: sandbox.Program) -> str:
        """What a program that has not ended is doing: at the hang-up (for a hint), and when it is stopped
        (for the warning it gets, see advice.ending)."""
        return readiness.state(program.tree(), program.account, self._connections(program))

    def close(self, grace: float, relay: bool = False) -> dict[str, sandbox.ProgramRun]:
        """Hang up every harness socket, give programs `grace` s to end (none if halted), stop them.

        `relay`: the exchange is over, and the roles the harness plays leave as the reference programs
        would (client1 ends with the Pong), but a tap is a wire between two student programs: it goes
        on relaying, so two that wait on each other are still waiting, as in a real run, when stopped.
        """
        self.out_of_time = not self.halted and time.monotonic() >= self.deadline
        for name, program in self.programs.items():
            gone = program.exited() and not program.tree()
            self.at_end[name] = "gone" if gone else self._doing(program)
        for key, _ in self.selector.select(0):  # what arrived before the hang-up goes in the log
            self._handle(key)
        for point in self.endpoints:
            self._flush(point)
            if point.open and point.outbox and point.student is not None:  # held to the end: why it was is kept
                seen = self._seen_as.get(point.student.name, "")
                if seen == readiness.BUSY and readiness.hides(point.student.tree()):
                    seen = readiness.HIDDEN
                self.undelivered[point.student.name] = seen
            if not (relay and point.partner is not None):
                self._closed(point)
        programs = list(self.programs.values())
        try:
            if relay and not self.halted:
                self.deadline = time.monotonic() + grace
                self.wait(lambda: all(program.exited() for program in programs))
                grace = 0.0
        finally:
            runs = dict(zip(self.programs, sandbox.stop_all(programs, 0.0 if self.halted else grace, self._doing)))
        for point in self.endpoints:
            self._closed(point)
        for fd in self._pidfds:
            os.close(fd)
        self.selector.close()
        return runs
