"""Check your PingPong programs before you submit them:  python check.py

Run it in this folder, beside your server_student.py and client2_student.py.
It runs three checks, each with real programs on your own computer:

  1. your client2, with the server played by this checker;
  2. your server, with client1 and client2 played by this checker;
  3. your server and your client2 together, with client1.py.

Each check says PASS or FAIL. A failed one shows the exchange as the checker
saw it on the network, what went wrong, a hint, and the end of what your
program printed. The checker judges by the rules in referee.py, the same
file the autograder judges by, and its hints come from advice.py, as the
autograder's do. It exits with status 0 only if every check
passed.

You do not need to change this file. Standard library only, Python 3.8+.
"""

import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import advice
import referee
import utils2
import waiting

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
SERVER, CLIENT2 = "server_student.py", "client2_student.py"
SCENE_SECONDS = 5.0  # one run, start to hang-up; a program still running then is stopped
EXIT_SECONDS = 1.0  # how long programs get to end by themselves once the exchange is over
QUIET_SECONDS = 0.25  # without /proc: a program silent this long is taken to be waiting
WATCHES_WAITING = waiting.can_see_waiting()
NEVER = float("inf")  # Event.passed of a frame that was sent but never delivered
# POSIX sessions (Linux, macOS): each program starts in one of its own, so that stopping it stops all it
# started, and the checker binds your server's port and hands it over. Where there are none (Windows),
# a program is stopped on its own, and your server binds its port itself.
SESSIONS = all(hasattr(os, name) for name in ("fork", "setsid", "killpg"))
HANDS_OVER_PORT = SESSIONS


class Program:
    """One of your programs (or client1.py), running in this folder, its output in files."""

    def __init__(self, name, script, port, folder, listening=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
        env.update(PINGPONG_HOST=HOST, PINGPONG_PORT=str(port), PINGPONG_CONNECT_TIMEOUT=str(SCENE_SECONDS),
                   PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1")
        options = {}
        if SESSIONS:
            options["start_new_session"] = True  # so that stopping it stops all it started
        else:
            options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows
        if listening is not None and HANDS_OVER_PORT:  # no other program can take the port meanwhile
            env["PINGPONG_LISTEN_FD"] = str(listening.fileno())
            options["pass_fds"] = (listening.fileno(),)
        self.name = name
        self.paths = [os.path.join(folder, name + ".out"), os.path.join(folder, name + ".err")]
        with open(self.paths[0], "wb") as out, open(self.paths[1], "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-B", script], cwd=HERE, env=env,
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=err, **options)
        self.heard = time.monotonic()  # when it last sent the checker anything, was handed a message, or started
        self.run = None

    def exited(self):
        return self.process.poll() is not None

    def pids(self):
        """Its live processes, children included (Linux); elsewhere just its own."""
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            try:
                for task in os.listdir("/proc/{}/task".format(pid)):
                    with open("/proc/{}/task/{}/children".format(pid, task)) as stream:
                        todo.extend(int(child) for child in stream.read().split() if int(child) not in found)
            except (OSError, ValueError):
                pass
        return found

    def left_behind(self):
        """Once it has ended: the processes it started that still run in its session (Linux)."""
        found = set()
        if not WATCHES_WAITING:
            return found
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/{}/stat".format(entry), "rb") as stream:
                    raw = stream.read().decode("ascii", "replace")
            except OSError:
                continue  # not a process, or gone
            fields = raw[raw.rfind(")") + 2:].split()
            if len(fields) > 3 and fields[3] == str(self.process.pid) and fields[0] not in ("Z", "X"):
                found.add(int(entry))
        return found

    def stop(self, grace, doing=""):
        """Wait up to `grace` s for it to end, then stop it and all it started; what it did.
        `doing`: what it was doing just before, if it is stopped (see advice.Seen.at_stop)."""
        if self.run is None:
            killed = False
            try:
                self.process.wait(timeout=max(0.0, grace))
            except subprocess.TimeoutExpired:
                killed = True
            try:
                if SESSIONS:
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            except OSError:
                pass
            self.process.wait()
            out, err = (_tail(path) for path in self.paths)
            self.run = Run(self.name, None if killed else self.process.returncode, killed, out, err,
                           doing if killed else "")
        return self.run


class Run:
    def __init__(self, name, returncode, killed, stdout, stderr, at_stop=""):
        self.name, self.returncode, self.killed, self.stdout, self.stderr = name, returncode, killed, stdout, stderr
        self.at_stop = at_stop  # stopped: what it was doing then
        start = stderr.rfind("Traceback (most recent call last):")
        self.traceback = stderr[start:].strip() if start >= 0 else ""
        self.crashed = returncode not in (0, None) and not killed


def _tail(path, limit=4000):
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


class Link:
    """One checker socket: a role the checker plays, or one side of a tap between two programs."""

    def __init__(self, sock, me, peer, program):
        self.sock, self.me, self.peer, self.program = sock, me, peer, program
        self.partner = None  # for a tap: the other side, where frames go on
        self.buffer = b""
        self.open, self.greeted, self.closing = True, False, False
        self.received = []
        self.outbox = []  # (frame, bytes, when it was queued)


class Scene:
    """One run: sockets, programs, and the log of every frame, with bounded waits."""

    def __init__(self, folder):
        self.folder = folder
        self.t0 = time.monotonic()
        self.deadline = self.t0 + SCENE_SECONDS
        self.events, self.programs, self.links, self.taps = [], {}, [], {}
        self.unlogged = 0  # frames past referee.MAX_EVENTS: counted, not written down
        self.dropped = []  # roles that connected a second time to the server the checker plays
        self.served = {}  # listening socket -> the role the program the checker serves is to connect as
        self.last_seen = {}  # program name -> its state (waiting.READY, ...) when last looked at
        self.undelivered = {}  # program name -> its state, if a message for it was held to the end
        # What a program's wait ends on when a message comes (see connections): the program's ends of the
        # checker's connections (the checker's socket -> the inode of the program's end, once found), and
        # the listening socket handed to your server (program name -> its inode).
        self.far_ends, self.handed = {}, {}
        # For the hint only (see advice.hint): each program's state when the run hung up, whether its time
        # was up then, and your programs seen to close a connection before that, in order.
        self.at_end, self.out_of_time, self.closed = {}, False, []
        self.selector = selectors.DefaultSelector()

    def now(self):
        return time.monotonic() - self.t0

    def _log(self, event):
        """Write a frame down; past referee.MAX_EVENTS, only count it."""
        if len(self.events) < referee.MAX_EVENTS:
            self.events.append(event)
        else:
            self.unlogged += 1
        self._bound()

    def _bound(self):
        """End the run now once more than MAX_EVENTS frames have passed or wait, held for a busy program."""
        if len(self.events) + self.unlogged + sum(len(k.outbox) for k in self.links) > referee.MAX_EVENTS:
            self.deadline = min(self.deadline, time.monotonic())

    def listener(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))  # a port nothing else uses, chosen by the system
        sock.listen(8)
        return sock

    def start_server(self, script):
        """Your server, on a port the checker holds (POSIX) or has just found free (Windows)."""
        listening = self.listener()
        port = listening.getsockname()[1]
        if not HANDS_OVER_PORT:
            listening.close()  # free for your server to take: it binds it itself
        try:
            if HANDS_OVER_PORT:
                self.handed["server"] = os.fstat(listening.fileno()).st_ino
            self.programs["server"] = Program("server", script, port, self.folder, listening)
        finally:
            listening.close()  # your server has its own copy now
        return port

    def start(self, name, script, port):
        self.programs[name] = Program(name, script, port, self.folder)
        return self.programs[name]

    def connect(self, port, program):
        """A connection to your server, once it listens (at once when the checker holds the port)."""
        while True:
            try:
                return socket.create_connection((HOST, port), timeout=max(0.1, self.left()))
            except OSError:
                if program.exited() or self.left() <= 0:
                    return None
                time.sleep(0.02)  # nothing announces that a server has started listening

    def play(self, me, port, program):
        """The checker plays client `me`: connect to your server and say who it is."""
        sock = self.connect(port, program)
        if sock is None:
            return None
        link = self._add(sock, me, "server", program)
        link.greeted = True
        sock.sendall(utils2.encode(me))
        return link

    def serve(self, listening, program, role):
        """The checker plays the server for `program`, which is to connect to `listening` as `role`."""
        self.served[listening] = role
        self.selector.register(listening, selectors.EVENT_READ, ("serve", program))

    def tap(self, listening, server_port, server, client):
        """Relay what connects to `listening` on to your server, writing every frame down.

        `client`: your client2, or None for client1.py, which needs no waiting for.
        """
        self.taps[listening] = (server_port, server, client)
        self.selector.register(listening, selectors.EVENT_READ, ("tap", None))

    def stop_listening(self, listening):
        """Close a socket the checker listened on: out of the selector first, as a closed socket in
        select() is an error (Windows; Linux's epoll and macOS's kqueue forget it by themselves)."""
        try:
            self.selector.unregister(listening)
        except (KeyError, ValueError):
            pass  # never registered
        listening.close()

    def _add(self, sock, me, peer, program):
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = Link(sock, me, peer, program)
        self.links.append(link)
        self.selector.register(sock, selectors.EVENT_READ, link)
        return link

    def send(self, link, msg):
        link.outbox.append((msg.value, utils2.encode(msg), self.now()))

    def _flush(self, link):
        """Deliver what waits for `link`'s program, once that program is waiting for it."""
        if not link.outbox or not link.open:
            return
        if link.program is not None and not self._settled(link.program, link.outbox[0][2]):
            return
        while link.outbox:
            frame, data, seen = link.outbox[0]
            try:
                link.sock.sendall(data)
            except OSError:
                self._closed(link)
                return
            link.outbox.pop(0)
            if link.program is not None:  # without /proc: its silence counts from now, as it has work to do
                link.program.heard = time.monotonic()
            # seen: when its sender sent it (the checker's roles: when they chose to), even if held since
            self._log(referee.Event(frame, self._sender(link), link.peer, seen, self.now()))
        if link.closing:
            self._hang_up(link)

    @staticmethod
    def _sender(link):
        """Who sent what waits in `link`'s outbox: the checker's role, or the program across the tap."""
        return link.me if link.partner is None else link.partner.peer

    def _settled(self, program, since):
        """Is `program` waiting for a message (or gone), with all it sent so far read?

        A running program may be about to send, and one blocked on anything but
        its connections (asleep, a timer, a pipe) will send when it wakes
        without being asked: neither is waiting. Only
        where waiting cannot be seen does a spell of silence stand in for it.
        """
        pids = program.pids()
        if program.exited():
            pids = program.left_behind()  # a process it forked may still send
            if not pids:
                self.last_seen[program.name] = "gone"
                return self._nothing_readable()  # what it sent before it ended comes first in the log
        if not WATCHES_WAITING:
            return time.monotonic() - max(program.heard, self.t0 + since) >= QUIET_SECONDS
        ends = self.connections(program)
        now = self.last_seen[program.name] = waiting.state(pids, ends)
        if now != waiting.READY:
            return False
        return self._nothing_readable() and waiting.state(pids, ends) == waiting.READY

    def connections(self, program):
        """The inodes of `program`'s sockets that a message from the checker comes on: its ends of the
        connections it greeted on, and the listening socket it was handed (see waiting.py)."""
        socks = [link.sock for link in self.links if link.program is program and link.open and link.greeted]
        ends = waiting.far_ends(socks, self.far_ends)
        if ends is not None and program.name in self.handed:
            ends.add(self.handed[program.name])
        return ends

    def _nothing_readable(self):
        return not self._ready(0)

    def _ready(self, timeout):
        """What can be read now, waiting up to `timeout`. (Windows refuses select() on no sockets.)"""
        if not self.selector.get_map():
            time.sleep(timeout)
            return []
        return self.selector.select(timeout)

    def left(self):
        return max(0.0, self.deadline - time.monotonic())

    def wait(self, done, polling=False):
        """Handle traffic until done() or the run's time is up; returns done()."""
        while True:
            for link in list(self.links):
                self._flush(link)
            if done():
                return True
            if self.left() <= 0:
                return bool(done())
            pending = any(link.outbox and link.open for link in self.links)
            nap = 0.002 if pending or polling else 0.05  # a program's exit wakes nothing: look often
            for key, _ in self._ready(min(self.left(), nap)):
                self._handle(key)

    def settle(self):
        """Wait until every program is waiting or gone (bounded)."""
        since = self.now()
        self.wait(lambda: all(self._settled(p, since) for p in self.programs.values()), polling=True)

    def _handle(self, key):
        if isinstance(key.data, Link):
            self._read(key.data)
            return
        kind, program = key.data
        sock, _ = key.fileobj.accept()
        if kind == "serve":
            self._add(sock, "server", self.served[key.fileobj], program)
            return
        port, server, client = self.taps[key.fileobj]
        outer = self._add(sock, "server", "client?", client)
        onward = self.connect(port, server)
        if onward is None:
            self._closed(outer)
            return
        inner = self._add(onward, "client?", "server", server)
        inner.greeted = True  # servers do not introduce themselves
        outer.partner, inner.partner = inner, outer

    def _read(self, link):
        try:
            chunk = link.sock.recv(4096)
        except OSError:
            chunk = b""
        if link.program is not None:  # the program at the other end just spoke (or hung up)
            link.program.heard = time.monotonic()
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
            if link.partner is None and link.me == "server" and any(
                    other is not link and other.partner is None and other.me == "server" and other.greeted
                    and other.peer == item[1] for other in self.links):
                self.dropped.append(item[1])  # a server drops a second client of the same name
                self._closed(link)
                return
            link.greeted, link.peer = True, item[1]
            if link.partner is not None:
                link.partner.me = item[1]
                if link.partner.open:  # a server that dropped the relayed connection gets no hello
                    try:
                        link.partner.sock.sendall(raw)
                    except OSError:
                        self._closed(link.partner)
            return
        frame = item.value if isinstance(item, utils2.Message) else referee.garbage(raw, utils2.MAX_FRAME)
        if not link.greeted:
            frame += " before saying who it is"
        if link.partner is None:
            link.received.append(frame)
            self._log(referee.Event(frame, link.peer, link.me, self.now(), self.now()))
            if not link.greeted:  # a server drops a client that does not say who it is first
                self._closed(link)
        elif link.partner.open:
            link.partner.outbox.append((frame, raw, self.now()))
            self._bound()
        else:  # the other side has gone: sent all the same, and the log shows it never delivered
            self._log(referee.Event(frame, link.peer, link.partner.peer, self.now(), NEVER))

    def _closed(self, link):
        if not link.open:
            return
        link.open = False
        self.selector.unregister(link.sock)
        link.sock.close()
        held, link.outbox = link.outbox, []  # out of the outbox first: _bound counts each frame once
        for frame, _, seen in held:  # sent all the same: the log shows it, never delivered
            self._log(referee.Event(frame, self._sender(link), link.peer, seen, NEVER))
        partner = link.partner
        if partner is not None and partner.open:
            if partner.outbox:  # a tap still delivers what it holds, then passes the close on
                partner.closing = True
            else:
                self._hang_up(partner)

    def _hang_up(self, link):
        """Pass a close on through a tap, as TCP does: the program reads the end of the stream,
        and what it still sends is read and logged (never delivered) until it closes too."""
        try:
            link.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._closed(link)

    def doing(self, program):
        """What a program that has not ended is doing: waiting.READY, BUSY or SLEEPING; "" where unseen."""
        return waiting.state(program.pids(), self.connections(program)) if WATCHES_WAITING else ""

    def close(self, relay=False):
        """Hang up, give the programs a moment to end by themselves, stop the rest.

        `relay`: the exchange is over; the checker's taps go on relaying between your programs (and
        client1.py) until they end or are stopped, as a wire would: two that wait on each other are then
        still waiting when stopped, as they would be in a real run.
        """
        self.out_of_time = self.left() <= 0
        for name, program in self.programs.items():
            gone = program.exited() and not program.left_behind()
            self.at_end[name] = "gone" if gone else self.doing(program)
        for key, _ in self._ready(0):  # what arrived before the hang-up goes in the log
            self._handle(key)
        for link in list(self.links):
            self._flush(link)
            if link.open and link.outbox and link.program is not None:  # held to the end: keep why
                self.undelivered[link.program.name] = self.last_seen.get(link.program.name, "")
            if not (relay and link.partner is not None):
                self._closed(link)
        self.deadline = time.monotonic() + EXIT_SECONDS  # for the programs to end by themselves
        self.wait(lambda: all(p.exited() for p in self.programs.values()), polling=True)
        doing = {name: self.doing(p) for name, p in self.programs.items() if not p.exited()}  # before any is stopped
        runs = {name: p.stop(0, doing.get(name, "")) for name, p in self.programs.items()}
        for link in list(self.links):
            self._closed(link)
        self.selector.close()
        return runs


# --- the three runs, as the autograder plays them -----------------------------------


class Trace:
    def __init__(self, run, events=(), runs=None, missing="", greeted_as=None, unlogged=0, undelivered=None,
                 scene=None):
        self.run, self.events, self.runs = run, tuple(events), runs or {}
        self.missing, self.greeted_as, self.unlogged = missing, greeted_as or {}, unlogged
        self.undelivered = undelivered or {}  # program name -> its state when messages for it were held
        self.at_end = scene.at_end if scene else {}  # for the hint only: see Scene
        self.out_of_time, self.closed = (scene.out_of_time, tuple(scene.closed)) if scene else (False, ())

    def seen(self):
        """Your programs in this run, as advice.hint takes them."""
        return [advice.Seen(name, run.returncode, run.traceback, self.at_end.get(name, ""), run.at_stop)
                for name, run in ((name, self.runs[name]) for name in referee.ROLES_OF[self.run] if name in self.runs)]


def run_client2(folder):
    """The checker is the server (and client1); your client2 connects to it."""
    scene = Scene(folder)
    listening = scene.listener()
    client2 = scene.start("client2", CLIENT2, listening.getsockname()[1])
    scene.serve(listening, client2, "client2")
    link = None
    try:
        greeted = lambda: next((k for k in scene.links if k.greeted), None)  # noqa: E731
        scene.wait(lambda: greeted() is not None or client2.exited())
        link = greeted()
        if link is not None:
            scene.send(link, utils2.Message.Ping)  # client1's Ping, passed on once client2 waits for it
            scene.wait(lambda: bool(link.received) or not link.open)
        scene.settle()
    finally:
        scene.stop_listening(listening)
        runs = scene.close()
    return Trace("client2", scene.events, runs, greeted_as={"client2": link.peer} if link else {},
                 unlogged=scene.unlogged, undelivered=scene.undelivered, scene=scene)


def run_server(folder):
    """Your server; the checker is client2 and client1, which connect to it."""
    scene = Scene(folder)
    try:
        port = scene.start_server(SERVER)
        server = scene.programs["server"]
        client2 = scene.play("client2", port, server)
        client1 = scene.play("client1", port, server) if client2 else None
        if client1 is not None:
            scene.send(client1, utils2.Message.Ping)
            scene.wait(lambda: bool(client2.received) or not client2.open)
            if client2.received[:1] == ["Ping"]:  # client2 answers only a Ping
                scene.send(client2, utils2.Message.Pong)
                scene.wait(lambda: bool(client1.received) or not client1.open)
        scene.settle()
    finally:
        runs = scene.close()
    return Trace("server", scene.events, runs, unlogged=scene.unlogged, undelivered=scene.undelivered, scene=scene)


def run_together(folder):
    """Your server and your client2, and client1.py; the checker taps both connections."""
    scene = Scene(folder)
    for_client2, for_client1 = scene.listener(), scene.listener()
    try:
        port = scene.start_server(SERVER)
        server = scene.programs["server"]
        client2 = scene.start("client2", CLIENT2, for_client2.getsockname()[1])
        scene.tap(for_client2, port, server, client2)
        scene.tap(for_client1, port, server, None)
        tapped = lambda: any(k.greeted and k.partner is not None for k in scene.links)  # noqa: E731
        scene.wait(lambda: tapped() or client2.exited() or server.exited())
        scene.settle()
        if not scene.left():  # client1 starts once your programs are ready for its Ping: they never were
            scene.undelivered.update((name, seen) for name, seen in scene.last_seen.items() if seen != waiting.READY)
        client1 = scene.start("client1", "client1.py", for_client1.getsockname()[1])
        back = lambda: any(e.dst == "client1" for e in scene.events)  # noqa: E731
        scene.wait(lambda: back() or client1.exited())
        scene.settle()
    finally:
        scene.stop_listening(for_client2)
        scene.stop_listening(for_client1)
        # Once client1.py has its Pong it ends; your server and client2 must then end by themselves.
        runs = scene.close(relay=next((e.frame for e in scene.events if e.dst == "client1"), "") == "Pong")
    return Trace("together", scene.events, runs, unlogged=scene.unlogged, undelivered=scene.undelivered,
                 scene=scene)


RUNS = {"client2": (run_client2, (CLIENT2,)), "server": (run_server, (SERVER,)),
        "together": (run_together, (SERVER, CLIENT2))}

# (the check in referee.py, its name, what should happen)
CHECKS = (
    ("client2_answers", "your client2 answers a Ping with a Pong",
     "your client2 receives the Ping (from the checker's server) and answers it with one Pong"),
    ("server_forwards_ping", "your server forwards the Ping from client1 to client2",
     "your server receives client1's Ping and forwards it, once, to client2"),
    ("server_forwards_pong", "your server forwards the Pong from client2 to client1",
     "your server receives client2's Pong and forwards it, once, to client1"),
    ("together", "your server and your client2 complete the exchange with client1.py",
     "client1's Ping reaches your client2 through your server, and its Pong comes back to client1"),
)


def play(run, folder):
    os.mkdir(folder)
    script, needs = RUNS[run]
    missing = [name for name in needs if not os.path.isfile(os.path.join(HERE, name))]
    if missing:
        return Trace(run, missing=missing[0])
    return script(folder)


# --- what you read -------------------------------------------------------------------


def _indented(text, by="        "):
    return "\n".join(by + line for line in text.rstrip("\n").split("\n"))


def explain(expected, trace, judgement):
    """Why a check failed: expected, what went wrong, the exchange drawn, a hint, your output."""
    lines = ["      Expected: {}.".format(expected)]
    if trace.missing:
        lines.append("      Hint: Put {} beside check.py: it could not be found.".format(trace.missing))
        return "\n".join(lines)
    if judgement.broken or judgement.missing:
        lines.append("      Went wrong: {}.".format(judgement.broken.why if judgement.broken else judgement.missing))
    lines += ["      What happened (as the checker saw it on the network):",
              _indented(referee.picture(trace.run, trace.events, judgement,
                                        others="client1.py" if trace.run == "together" else "checker",
                                        unlogged=trace.unlogged))]
    programs = [(name, trace.runs[name]) for name in referee.ROLES_OF[trace.run] if name in trace.runs]
    lines.append("      Hint: " + advice.hint(judgement, trace.events, trace.seen(), seconds=SCENE_SECONDS,
                                             flooded=bool(trace.unlogged), held=trace.undelivered,
                                             out_of_time=trace.out_of_time, closed=trace.closed).text)
    for (name, run), program in zip(programs, trace.seen()):
        status = "was still running, so it was stopped" if run.killed else "exited with status {}{}".format(
            run.returncode, advice.after_the_stop(program, trace.out_of_time))
        lines.append("      Your {} {}.".format(name, status))
        if run.traceback:
            lines.append(_indented(run.traceback[-2000:]))
        printed = "\n".join(run.stdout.rstrip("\n").split("\n")[-10:]) if run.stdout.strip() else ""
        if printed:
            lines += ["      Last lines it printed:", _indented(printed)]
    return "\n".join(lines)


AUTOGRADER_ALSO = (
    "The autograder also checks what this cannot: it runs the two files you upload, with its own "
    "utils2.py and client1.py (your changes to those are not used), against its own reference programs, "
    "with limits on time and memory, and it reports any change outside the "
    "'# *** start ***' / '# *** end ***' markers.")
NOT_WATCHED = (
    " On this computer the checker cannot see when your program waits for a message (only Linux shows "
    "it), so its timing checks are weaker here: it waits for {:g} s of silence instead. The autograder "
    "sees it exactly, and a program that sends before it is asked fails there.".format(QUIET_SECONDS))


def main():
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # your programs' output may not fit the console
    print("Checking the PingPong programs in {}".format(HERE), flush=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="pingpong-check-") as folder:
        with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:  # the runs are independent: side by side
            started = {run: pool.submit(play, run, os.path.join(folder, run)) for run in RUNS}
            traces = {run: future.result() for run, future in started.items()}
        for key, name, expected in CHECKS:
            trace = traces[referee.CHECKS[key][0]]
            if trace.missing:
                judgement = referee.Judgement(False, missing="{} is missing".format(trace.missing))
            else:
                judgement = referee.judge(key, trace.events, trace.greeted_as)
            print("{}  {}".format("PASS" if judgement.passed else "FAIL", name), flush=True)
            warning = advice.ending(trace.seen(), EXIT_SECONDS) if judgement.passed else None
            if warning is not None:
                print("      Warning: " + warning.text, flush=True)
            if not judgement.passed:
                failed += 1
                print(explain(expected, trace, judgement), flush=True)
    print()
    print("All {} checks passed.".format(len(CHECKS)) if not failed
          else "{} of {} checks failed.".format(failed, len(CHECKS)))
    print(AUTOGRADER_ALSO + ("" if WATCHES_WAITING else NOT_WATCHED))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the runs under way end first (within a run's time), stopping your programs
        print("check.py: stopped by Ctrl+C", file=sys.stderr)
        sys.exit(130)
