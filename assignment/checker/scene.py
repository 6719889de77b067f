"""The referee's side of the network: the only witness whose word counts.

In every scene the referee plays the other roles itself (the server, or
client1 and client2) on real sockets, and puts a tap on any connection
between two of your programs. Every frame that crosses its sockets is
written down as a referee.Event with the time it was seen; what a program
prints is never read for a verdict. check.py and the autograder both play
their scenes with this file; only how a program is started differs
(programs.py).

One rule keeps the verdicts the same on every run: the referee delivers
nothing to a program until that program waits for it (every process of it
blocked on its connections, as waiting.py reads it). Whatever a program
sends before it was given a reason to, it sent unprompted, and the log
shows it so however loaded the computer. Where waiting cannot be seen
(macOS, Windows), a spell of silence stands in for it, which is weaker.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

import os
import selectors
import socket
import time
from dataclasses import replace

import utils2  # beside check.py, as in the autograder (it lends its own)

from . import programs as started, referee, waiting

HOST = "127.0.0.1"
_ADDRESS = HOST.encode()  # as bytes: given a str, getaddrinfo loads the idna codec (5 ms)
NEVER = float("inf")  # Event.passed of a frame that was sent but never delivered
QUIET_SECONDS = 0.25  # where waiting cannot be seen: a program silent this long is taken to be waiting
CONFIRM_SECONDS = 0.1  # a scene where nothing more can happen is looked at again after this long, then ended
DIAL_SECONDS = 1.0  # the longest a connect to your server may take: on this machine, it takes microseconds
_PIDFD_OPEN = getattr(os, "pidfd_open", None)  # Linux, Python 3.9 or newer
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux
HIDDEN = "hidden"  # busy, as far as anyone could tell: it hid what it waits in (said of a message held to the end)


class Link:
    """One referee socket: a role it plays, or one side of a tap between two programs."""

    def __init__(self, sock, me, peer, program, open=True):
        self.sock, self.me, self.peer, self.program = sock, me, peer, program  # program: the one at the other end
        self.partner = None  # for a tap: the other side, where frames go on
        self.buffer = b""
        self.open, self.greeted = open, not open
        self.closing = False  # a tap side whose partner hung up: pass that on once the outbox is delivered
        self.received = []
        self.outbox = []  # (frame, bytes, when it was sent to the referee)
        self.written = 0  # bytes the referee wrote to the program on this socket (as TCP counts them)
        self.unread = []  # (index in the log, `written` at its end) of frames delivered, not yet known read


class Scene:
    """One scene's sockets, programs and log, with bounded waits for events.

    `start`: how programs are started (see programs.py). `halt`: a socket
    that, once readable, ends the scene now (the run was interrupted).
    """

    def __init__(self, limits, start, halt=None):
        self.start = start
        self.t0 = time.monotonic()
        self.seconds = limits.scenario_seconds
        self.deadline = self.t0 + self.seconds
        self.settle_seconds = limits.settle_seconds
        self.sees_waiting = waiting.can_see_waiting()
        self.events, self.links, self.programs = [], [], {}
        self.unlogged = 0  # frames past referee.MAX_EVENTS: counted, not written down
        self.dropped = []  # roles that connected a second time to the server the referee plays
        # program name -> the states (waiting.READY, ...; "gone") it was seen in while a message waited for it:
        # {state: (how many looks, the last State so seen)}. Why the message was held is the state seen most,
        # not the last one: a thread that wakes every 0.1 s is now and then caught running (see _why_held).
        self.held_as = {}
        self.undelivered = {}  # program name -> that state (HIDDEN: it hid it), if frames for it were held to the end
        self.heard = {}  # program name -> when it last sent anything, was handed a message, or started
        # What a program's wait ends on when a message comes (see _connections): the program's ends of the
        # referee's connections (the referee's socket -> the inode of the program's end, once found), and
        # the listening socket handed to a server (program name -> its inode).
        self.far_ends, self.handed = {}, {}
        # program name -> the listening socket it was handed, which the referee holds too until it sees the
        # program end: till then the port is this scene's, and what the referee dials there reaches your
        # server or nobody (freed while the referee might still dial it, another grading's listener was once
        # given it, and a referee greeted another grading's referee). See _let_go.
        self.kept = {}
        # For the hint only (see advice.hint): each program's state at the hang-up, whether the scene's time
        # was up then, and the programs seen to close a connection before it, in order.
        self.at_end, self.out_of_time, self.closed = {}, False, []
        # Ended early because nothing more could happen (see _stuck); `seen_stuck`: when that was first seen,
        # and how many things the referee had handled then: a second look finds the same or it starts again.
        self.stuck, self.seen_stuck, self.handled = False, None, 0
        self.stopped_at = {}  # program name -> (its state, where it said it was: programs.where) once its run was over
        self.served, self.taps, self.pidfds = {}, {}, []
        self.halted = False  # told to end now: no more waiting, no grace
        self.selector = selectors.DefaultSelector()
        if halt is not None:
            self.selector.register(halt, selectors.EVENT_READ, "halt")

    def now(self):
        return time.monotonic() - self.t0

    def left(self):
        return max(0.0, self.deadline - time.monotonic())

    def _log(self, event):
        """Write a frame down; past referee.MAX_EVENTS, only count it."""
        if len(self.events) < referee.MAX_EVENTS:
            self.events.append(event)
        else:
            self.unlogged += 1
        self._bound()

    def _bound(self):
        """End the scene now once more than MAX_EVENTS frames have passed or wait, held for a busy
        program: a flood is judged on what came first (past the exchange's 4 frames, each breaks a rule)."""
        if len(self.events) + self.unlogged + sum(len(k.outbox) for k in self.links) > referee.MAX_EVENTS:
            self.deadline = min(self.deadline, time.monotonic())

    # --- setting the scene -------------------------------------------------

    @staticmethod
    def listener():
        """A listening socket on a port the system chose: no race with anything else."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        sock.listen(8)
        return sock

    def start_all(self, wanted):
        """Start programs side by side: (name, script, port, listening socket or None) each. A server is
        handed `listening` where it can be; elsewhere it is closed, for the server to bind its port itself.
        Those started are the scene's to stop, even when a later one fails to start; every socket in
        `wanted` is the scene's to close."""
        launches, programs = [], []
        begun = time.monotonic()
        self.kept.update((name, listening) for name, _, _, listening in wanted if listening is not None)
        try:
            for name, script, port, listening in wanted:
                # A client tries to connect for the scene's whole time, which counts from when the programs
                # run (below): not what is left now, after the starts before it (none, on a loaded machine).
                env = {"PINGPONG_HOST": HOST, "PINGPONG_PORT": str(port),
                       "PINGPONG_CONNECT_TIMEOUT": str(self.seconds)}
                fds = ()
                if listening is not None and self.start.hands_over:
                    env["PINGPONG_LISTEN_FD"] = str(listening.fileno())
                    fds = (listening.fileno(),)
                    self.handed[name] = os.fstat(listening.fileno()).st_ino
                elif listening is not None:
                    self.kept.pop(name).close()
                launches.append(self.start.launch(name, script, env, fds))
            while launches:
                program = launches.pop(0).started()
                self._watch(program)
                programs.append(program)
            # The scene's time is the programs' time: starting them (for the autograder: a sandbox user
            # made, a warden started) takes longest on a loaded machine, where charging it to your
            # programs would change the verdict.
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

    def _watch(self, program):
        self.programs[program.name] = program
        self.heard[program.name] = time.monotonic()
        if _PIDFD_OPEN is not None:
            try:  # lets a program's exit wake the selector at once
                fd = _PIDFD_OPEN(program.pid)
                self.pidfds.append(fd)
                self.selector.register(fd, selectors.EVENT_READ, "exit")
            except OSError:
                pass

    def serve(self, listening, program, role):
        """The referee plays the server for `program`, which is to connect to `listening` as `role`."""
        self.served[listening] = role
        self.selector.register(listening, selectors.EVENT_READ, ("serve", program))

    def connect(self, me, port, program):
        """The referee plays client `me`, connecting to your server and saying hello. A server that was
        handed its socket and is gone already (a syntax error ends it at once) never accepts: the link
        closes once the scene sees it gone (_let_go); one that binds its port itself refuses, and the link
        is closed from the start."""
        sock = self._dial(port, program)
        if sock is None:
            link = Link(None, me, "server", program, open=False)
            self.links.append(link)
            return link
        link = self._add(sock, me, "server", program)
        link.greeted = True
        try:
            self._write(link, utils2.encode(me))
        except OSError:
            self._closed(link)
        return link

    def tap(self, listening, server_port, server, client, role):
        """Relay what connects to `listening` (`client`, as `role`) on to your server, writing all down."""
        self.taps[listening] = (server_port, server, client, role)
        self.selector.register(listening, selectors.EVENT_READ, ("tap", None))

    def stop_listening(self, listening):
        """Close a socket the referee listened on: out of the selector first, as a closed socket in
        select() is an error (Windows; Linux's epoll and macOS's kqueue forget it by themselves)."""
        try:
            self.selector.unregister(listening)
        except (KeyError, ValueError):
            pass  # never registered
        listening.close()

    def _dial(self, port, server):
        """A connection to your server: at once where it was handed its socket, else once it listens
        (nothing announces that: look again every 20 ms, while it runs and the scene has time)."""
        if server is not None and server.name in self.handed and server.name not in self.kept:
            return None  # it has ended, and its port is no longer the scene's: whoever holds it now is not it
        while True:
            try:
                # Bounded: into a full backlog (a server that accepts no more) a connect would wait it all out.
                return socket.create_connection((_ADDRESS, port), timeout=max(0.1, min(DIAL_SECONDS, self.left())))
            except OSError:
                if server is None or server.name in self.handed or server.exited() or self.left() <= 0:
                    return None
                time.sleep(0.02)

    def _add(self, sock, me, peer, program):
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = Link(sock, me, peer, program)
        self.links.append(link)
        self.selector.register(sock, selectors.EVENT_READ, link)
        return link

    # --- sending -------------------------------------------------------------

    def send(self, link, msg):
        """Send `msg` from the role the referee plays on `link`, once its program waits for it."""
        link.outbox.append((msg.value, utils2.encode(msg), self.now()))

    def _flush(self, link):
        """Deliver what waits for `link`'s program, once that program waits for it."""
        if not link.outbox or not link.open:
            return
        if link.program is not None and not self._settled(link.program, link.outbox[0][2]):
            return
        while link.outbox:
            frame, data, seen = link.outbox[0]
            try:
                self._write(link, data)
            except OSError:
                self._closed(link)
                return
            link.outbox.pop(0)
            self.held_as.pop(getattr(link.program, "name", None), None)  # a later hold starts afresh
            if link.program is not None:  # where waiting is not seen: its silence counts from now
                self.heard[link.program.name] = time.monotonic()
            if len(self.events) < referee.MAX_EVENTS:
                link.unread.append((len(self.events), link.written))
            # seen: when its sender sent it (a role the referee plays: when it chose to), even if held since
            self._log(referee.Event(frame, self._sender(link), link.peer, seen, self.now()))
        if link.closing:
            self._hang_up(link)

    @staticmethod
    def _write(link, data):
        link.sock.sendall(data)
        link.written += len(data)

    def _taken_out(self, program, reset=None):
        """Received means read: a frame the referee delivered reaches `program` when the program takes it
        out of its socket (a peek leaves it there). Asked of the kernel when the program sends something (and
        when it resets a connection, closing it with bytes unread: `reset`): a frame still there then did not
        reach it before it sent that (its `passed` is NEVER until a later look finds it read). Where the
        kernel cannot be asked, a frame delivered counts as read."""
        now = self.now()
        for link in self.links:
            if link.program is not program or not link.unread:
                continue
            if link is reset:
                left = 1  # at least its last byte
            else:
                queues = waiting.queues(link.sock) if link.open else None
                if queues is None:
                    continue  # gone, or the kernel cannot be asked: as if read
                left = queues[0]
            kept = [(index, end) for index, end in link.unread if end > link.written - left]
            for index, end in link.unread:
                unread = (index, end) in kept
                if unread != self.events[index].unread:  # found unread, or read since
                    self.events[index] = replace(self.events[index], passed=NEVER if unread else now, unread=unread)
            link.unread = kept

    def _all_sent(self, program):
        """Sent means written: has everything `program` wrote to the referee left its sockets? (TCP_CORK
        holds a write back; so does Nagle's algorithm.) Where the kernel cannot be asked, it has."""
        return not any((waiting.queues(link.sock) or (0, 0))[1] for link in self.links
                       if link.program is program and link.open)

    @staticmethod
    def _sender(link):
        """Who sent what waits in `link`'s outbox: the referee's role, or the program across the tap."""
        return link.me if link.partner is None else link.partner.peer

    def _settled(self, program, since, delivering=True, asleep_too=False):
        """Is `program` waiting for a message (or gone), with all it sent so far read?

        A program blocked on anything but its connections (asleep, a timer,
        a pipe) is never settled: whatever it sends when it wakes, it sent
        without being asked. Nor, for a delivery, is a running one: it may be
        about to send, and a program that computes, then sends, then receives
        must not find a message waiting that makes its send look like an
        answer. When nothing is to be delivered (settle), a program busy for
        settle_seconds is done enough; so is one asleep, before the exchange
        (`asleep_too`: what it sends when it wakes comes before any message was
        handed to it, which the log shows). Where waiting cannot be seen, a
        spell of silence stands in for it.
        """
        if self._ended(program):
            if delivering:
                self._seen_held(program.name, "gone")
            return self._nothing_readable()  # what it sent before it ended comes first in the log
        if not self.sees_waiting:
            return time.monotonic() - max(self.heard[program.name], self.t0 + since) >= QUIET_SECONDS
        ends = self._connections(program)
        now = self.start.state(program, ends)
        if delivering:
            self._seen_held(program.name, now)
        if now == waiting.BUSY or (asleep_too and now == waiting.SLEEPING):
            return not delivering and self.now() - since >= self.settle_seconds
        if now == waiting.SLEEPING:
            return False
        return (self._all_sent(program) and self._nothing_readable()
                and self.start.state(program, ends) == waiting.READY)

    def _seen_held(self, name, state):
        seen = self.held_as.setdefault(name, {})
        seen[state] = (seen.get(state, (0,))[0] + 1, state)

    def _why_held(self, name):
        """The state a program was seen in most while a message waited for it ('' if it was never looked at)."""
        return max(self.held_as.get(name, {}).values(), key=lambda seen: seen[0], default=(0, ""))[1]

    def _connections(self, program):
        """The inodes of `program`'s sockets that a message from the referee comes on: its ends of the
        connections it greeted on, and the listening socket it was handed. None where they cannot be
        found, and any TCP socket counts. Another connection, never greeted on, brings nothing: a wait
        on it is no wait for a message."""
        socks = [link.sock for link in self.links if link.program is program and link.open and link.greeted]
        ends = waiting.far_ends(socks, self.far_ends)
        if ends is not None and program.name in self.handed:
            ends.add(self.handed[program.name])
        return ends

    @staticmethod
    def _ended(program):
        """Gone, and nothing it started lives on."""
        return program.exited() and not program.tree()

    def gone(self, program):
        """Has `program` ended, with all it sent before it ended read? Only then is its end the last word:
        a client2 that greets and exits at once has greeted, however late the referee looks."""
        return program.exited() and self._nothing_readable(program)

    def _nothing_readable(self, program=None):
        """No frame, hang-up or new connection is waiting to be read (given a program: on its own
        links, or on a listener)."""
        def counts(data):
            if program is None:
                return data != "exit"
            return isinstance(data, tuple) or getattr(data, "program", None) is program
        return not any(counts(key.data) for key, _ in self.selector.select(0))

    # --- waiting -------------------------------------------------------------

    def wait(self, done, within=None, polling=False):
        """Handle traffic until done() is true or time runs out; returns done().

        `polling`: done() watches something no socket announces (a program
        going quiet), so look again every couple of milliseconds.
        """
        stop = time.monotonic() + (self.left() if within is None else min(within, self.left()))
        while True:
            self._let_go()
            for link in self.links:
                self._flush(link)
            if done():
                return True
            remaining = min(stop, self.deadline) - time.monotonic()  # the deadline comes early after a flood
            if remaining <= 0:
                return bool(done())
            pending = any(link.outbox and link.open for link in self.links)
            if not pending and self._stuck():
                return bool(done())
            # Without pidfds (not Linux), a program's exit wakes nothing: look often. Where waiting is seen,
            # look again soon whether nothing more can happen.
            nap = 0.002 if pending or polling else CONFIRM_SECONDS / 2 if self.sees_waiting else \
                (remaining if self.pidfds else 0.05)
            for key, _ in self.selector.select(min(remaining, nap)):
                self._handle(key)

    def _let_go(self):
        """Close the listening socket handed to a program once it has ended (whatever it started may hold
        it still): the port is free again, and what waited unaccepted in its backlog is reset, so the
        referee's links to it close."""
        for name in [name for name in self.kept if name in self.programs and self.programs[name].exited()]:
            self.kept.pop(name).close()

    def _stuck(self):
        """Can nothing more happen? Every program of the scene is gone or waits for a message only the
        referee could send (waiting.READY, with no timeout or timer that could wake it), the referee
        holds nothing for any and has nothing to read, and nothing is on its way over a connection
        (waiting.in_flight; where that cannot be asked, never).
        Seen twice, CONFIRM_SECONDS apart with nothing handled between, it is so: the scene ends now
        (its deadline is now), not at its time limit. Where waiting cannot be seen, never."""
        if not self.sees_waiting or self.halted:
            return False
        still = self._nothing_readable() and all(
            self._ended(program) or self._waits_for_good(program)
            for program in self.programs.values()) and \
            waiting.in_flight([link.sock for link in self.links if link.open]) is False
        now = time.monotonic()
        if not still or self.seen_stuck is None or self.seen_stuck[1] != self.handled:
            self.seen_stuck = (now, self.handled) if still else None
            return False
        if now - self.seen_stuck[0] < CONFIRM_SECONDS:
            return False
        self.stuck, self.deadline = True, min(self.deadline, now)
        return True

    def _waits_for_good(self, program):
        seen = self._doing(program)
        return seen == waiting.READY and not getattr(seen, "wakes", "")

    def settle(self, before=False):
        """Wait until every program waits or is gone (bounded). `before` the exchange, a program asleep
        holds it up no longer than a busy one: the first message would only be held for it, and the scene
        would run out of time before sending it (then how far your other programs got in the last
        milliseconds chose the hint). After, one asleep is waited for to the end: it may still send."""
        since = self.now()
        self.wait(lambda: all(self._settled(p, since, delivering=False, asleep_too=before)
                              for p in self.programs.values()), polling=True)

    def _handle(self, key):
        self.handled += 1
        data = key.data
        if data == "exit":
            self.selector.unregister(key.fileobj)
            return
        if data == "halt":  # left unread: it stays readable, for every scene told by the same socket
            self.halted = True
            self.deadline = min(self.deadline, time.monotonic())
            return
        if isinstance(data, Link):
            self._read(data)
            return
        kind, program = data
        sock, _ = key.fileobj.accept()
        if kind == "serve":
            self._add(sock, "server", self.served[key.fileobj], program)
            return
        port, server, client, role = self.taps[key.fileobj]
        outer = self._add(sock, "server", role, client)
        onward = self._dial(port, server)
        if onward is None:
            self._closed(outer)
            return
        inner = self._add(onward, role, "server", server)
        inner.greeted = True  # servers do not introduce themselves
        outer.partner, inner.partner = inner, outer

    def _read(self, link):
        reset = None
        try:
            chunk = link.sock.recv(4096)
            if _QUICKACK is not None:  # acknowledged at once: until then, what it wrote counts as unsent
                link.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except ConnectionResetError:
            chunk, reset = b"", link
        except OSError:
            chunk = b""
        if link.program is not None:  # the program at the other end just spoke (or hung up)
            self.heard[link.program.name] = time.monotonic()
            if chunk or reset:
                self._taken_out(link.program, reset)
        if not chunk:
            if link.buffer:  # a last frame without its newline: not a message, but sent all the same
                self._frame(link, link.buffer, complete=False)
            if link.program is not None and link.program.name not in self.closed:
                self.closed.append(link.program.name)
            self._closed(link)
            return
        try:
            frames, link.buffer = utils2.split_frames(link.buffer + chunk)
        except utils2.ProtocolError as error:  # the frames before the bad bytes count, then the bytes
            frames, link.buffer = [*error.frames, error.rest], b""
        for raw in frames:
            if not link.open:
                break
            self._frame(link, raw)

    def _frame(self, link, raw, complete=True):
        try:
            item = utils2.decode(raw) if complete else None
        except utils2.ProtocolError:
            item = None
        if not link.greeted and isinstance(item, tuple):
            if self._taken(link, item[1]):  # a server drops a second client of the same name; so does the referee
                self.dropped.append(item[1])
                self._closed(link)
                return
            link.greeted, link.peer = True, item[1]
            if link.partner is not None:
                link.partner.me = item[1]
                if link.partner.open:  # a server that dropped the relayed connection gets no hello
                    try:
                        self._write(link.partner, raw)
                    except OSError:
                        self._closed(link.partner)
            return
        frame = item.value if isinstance(item, utils2.Message) else referee.garbage(raw, utils2.MAX_FRAME)
        if not link.greeted:
            frame += " before saying who it is"
        now = self.now()
        if link.partner is None:
            link.received.append(frame)
            self._log(referee.Event(frame, link.peer, link.me, now, now))
            if not link.greeted:  # a server drops a client that does not say who it is first
                self._closed(link)
        elif link.partner.open:
            link.partner.outbox.append((frame, raw, now))
            self._bound()
        else:  # the other side has gone: sent all the same, and the log shows it never delivered
            self._log(referee.Event(frame, link.peer, link.partner.peer, now, NEVER))

    def _taken(self, link, role):
        """Is `role` already connected to the server the referee plays on `link`?"""
        return link.partner is None and link.me == "server" and any(
            other is not link and other.partner is None and other.me == "server" and other.greeted
            and other.peer == role for other in self.links)

    def _closed(self, link):
        if not link.open:
            return
        link.open = False
        self.selector.unregister(link.sock)
        link.sock.close()
        held, link.outbox = link.outbox, []  # out of the outbox first: _bound counts each frame once
        if held and link.program is not None:
            self.held_as.pop(link.program.name, None)
        for frame, _, seen in held:  # sent all the same: the log shows it, never delivered
            self._log(referee.Event(frame, self._sender(link), link.peer, seen, NEVER))
        partner = link.partner
        if partner is not None and partner.open:
            if partner.outbox:  # a tap still delivers what it holds, then passes the close on
                partner.closing = True
            else:
                self._hang_up(partner)

    def _hang_up(self, link):
        """Pass a close on through a tap, as TCP does: the program at `link` reads the end of the
        stream, and what it still sends is read and logged (never delivered) until it closes too."""
        try:
            link.sock.shutdown(socket.SHUT_WR)
            link.written += 1  # the end of the stream takes a byte of it, in its receive queue until read
        except OSError:
            self._closed(link)

    # --- ending ---------------------------------------------------------------

    def _doing(self, program):
        """What a program that has not ended is doing: at the hang-up (for a hint), and when it is stopped
        (for the warning it gets, see advice.ending); "" where waiting cannot be seen."""
        return self.start.state(program, self._connections(program)) if self.sees_waiting else ""

    def _ask_where(self, program, doing):
        """The run over for a program still there (it is stopped, or nothing more could happen, or time was
        up), ask it once where it is (programs.where): the line you read, with what it was `doing` then."""
        if doing not in ("", "gone") and not self.halted and program.name not in self.stopped_at:
            self.stopped_at[program.name] = (doing, started.where(program))

    def _stopping(self, program):
        """What a program is doing when it is stopped (see _doing); it is asked where it is."""
        doing = self._doing(program)
        self._ask_where(program, doing)
        return doing

    def close(self, grace, relay=False):
        """Hang up every referee socket, give programs `grace` s to end (none if halted), stop them;
        a programs.Run for each.

        `relay`: the exchange is over, and the roles the referee plays leave as the reference programs
        would (client1 ends with the Pong), but a tap is a wire between two of your programs: it goes
        on relaying, so two that wait on each other are still waiting, as in a real run, when stopped.
        """
        self.out_of_time = not self.halted and time.monotonic() >= self.deadline
        for name, program in self.programs.items():
            self.at_end[name] = "gone" if self._ended(program) else self._doing(program)
        for key, _ in self.selector.select(0):  # what arrived before the hang-up goes in the log
            self._handle(key)
        for link in list(self.links):
            self._flush(link)
            if link.open and link.outbox and link.program is not None:  # held to the end: why it was is kept
                seen = self._why_held(link.program.name)
                if seen == waiting.BUSY and waiting.hides(link.program.tree()):
                    seen = HIDDEN
                self.undelivered[link.program.name] = seen
        # Asked after the last look (the question wakes a program's wait, which then starts again), before
        # the hang-up (which moves it on); what it sends meanwhile is not read: it came too late.
        for name, program in self.programs.items():
            if self.out_of_time and not relay:
                self._ask_where(program, self.at_end[name])
        for link in list(self.links):
            if not (relay and link.partner is not None):
                self._closed(link)
        programs = list(self.programs.values())
        try:
            try:
                if relay and not self.halted:
                    self.deadline = time.monotonic() + grace
                    self.wait(lambda: all(program.exited() for program in programs))
                    grace = 0.0
            finally:
                runs = dict(zip(self.programs, self.start.stop_all(programs, 0.0 if self.halted else grace,
                                                                     self._stopping)))
        finally:  # stopped or not (interrupted, or a program could not be), the scene lets go of all it holds
            for link in list(self.links):
                self._closed(link)
            for listening in self.kept.values():
                listening.close()
            self.kept.clear()
            for fd in self.pidfds:
                os.close(fd)
            self.selector.close()
        return runs
