"""The PingPong library: messages, a server and clients that talk over TCP.

You do not need to change this file. Read the docstrings of `Server` and
`Client` to learn the four calls your code uses.

Every program prints one line for each message it sends, receives or
forwards, so the three terminals together tell the story of the exchange.
"""

import enum
import os
import select
import selectors
import signal
import socket
import sys
import time

# Where the server listens. These are the defaults; to use another port
# (for example because the default one is busy), set the environment
# variable PINGPONG_PORT (and PINGPONG_HOST for the host) in every terminal.
HOST = "127.0.0.1"
PORT = 50505

# How long a client waits for the server to appear, in seconds.
CONNECT_TIMEOUT = 10.0

# Windows does not end a blocked select() or recv() when Ctrl+C is pressed: Python
# sees the key only once the call returns. There, the waits for a message return
# every quarter of a second, to let it; sends stay blocking, so a frame is never
# sent in part. (Elsewhere Ctrl+C ends them at once.)
_WAKE_SECONDS = 0.25 if sys.platform == "win32" else None

# Frames on the wire are short lines of ASCII text ending in a newline:
# "HELLO client1", "HELLO client2", "Ping", "Pong". A longer line is an error.
MAX_FRAME = 32
ROLES = ("client1", "client2")


class Message(enum.Enum):
    """The two messages of the exchange."""

    Ping = "Ping"
    Pong = "Pong"

    def __eq__(self, other):
        # A Message is never equal to a string: msg == "Ping" is always False. Said once, on
        # stderr, with the line, since the program goes on as if the message were another.
        if isinstance(other, str):
            _warn_compared(self, other)
        return NotImplemented if not isinstance(other, Message) else self is other

    __hash__ = enum.Enum.__hash__


_BY_TEXT = {message.value: message for message in Message}  # "Ping" -> Message.Ping


class ProtocolError(Exception):
    """Bytes arrived that are not a PingPong frame."""


def address():
    """The (host, port) to use: the environment's choice, else the defaults."""
    host = os.environ.get("PINGPONG_HOST") or HOST
    port_text = os.environ.get("PINGPONG_PORT") or str(PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError("PINGPONG_PORT must be a number, not {!r}".format(port_text)) from None
    return host, port


def _seconds(variable, default):
    """A positive number of seconds from the environment, or the default."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError("{} must be a number of seconds above 0, not {!r}".format(variable, text))
    return value


def encode(item):
    """The bytes of one frame: a Message, or a role name for the greeting."""
    if isinstance(item, Message):
        return item.value.encode("ascii") + b"\n"
    return "HELLO {}\n".format(item).encode("ascii")


def decode(frame):
    """A frame (one line, newline included) as a Message or ("HELLO", role)."""
    text = frame.rstrip(b"\n").decode("ascii", "replace")
    if text in _BY_TEXT:
        return _BY_TEXT[text]
    parts = text.split(" ")
    if len(parts) == 2 and parts[0] == "HELLO" and parts[1] in ROLES:
        return ("HELLO", parts[1])
    raise ProtocolError("received {!r}, which is not a PingPong frame".format(frame))


def split_frames(buffer):
    """Cut complete frames off the front of `buffer`: (frames, rest).

    TCP delivers a stream of bytes, not messages: one read may hold two
    frames, or half of one. Frames end in a newline; the rest waits for more.
    """
    frames = []
    while True:
        end = buffer.find(b"\n", 0, MAX_FRAME)
        if end < 0:
            break
        frames.append(buffer[: end + 1])
        buffer = buffer[end + 1 :]
    if len(buffer) >= MAX_FRAME:
        error = ProtocolError(
            "received {!r}, which is not a PingPong frame".format(buffer[:MAX_FRAME])
        )
        error.frames, error.rest = frames, buffer  # the frames before the bad bytes, and those bytes
        raise error
    return frames, buffer


def _say(who, text):
    # The line in one write: print() writes the text and the newline apart, two system
    # calls where output is unbuffered (the autograder runs programs so).
    stream = sys.stdout
    if stream is not None:  # None under pythonw (Windows), where print() does nothing either
        stream.write("{}: {}\n".format(who, text))
        stream.flush()


class _QuietCtrlC:
    """Ctrl+C ends a program with one line, not a traceback: it is how you stop a
    program that waits, not an error in it. Any other error shows its traceback."""

    def __init__(self, rest):
        self.rest = rest  # the hook for every other error
        self.who = ""

    def __call__(self, kind, error, trace):
        if not issubclass(kind, KeyboardInterrupt):
            self.rest(kind, error, trace)
        elif sys.stderr is not None:
            sys.stderr.write("{}: stopped by Ctrl+C\n".format(self.who))
            sys.stderr.flush()


def _quiet_ctrl_c(who):
    if not isinstance(sys.excepthook, _QuietCtrlC):
        sys.excepthook = _QuietCtrlC(sys.excepthook)
    sys.excepthook.who = _WHO[0] = who
    _tell_where_on_request()


CLOSED_BEFORE = "{}.close()"  # what a send after it says was called before it
COMPARED = "compared a message with the string"  # how that warning says it
_WHO = ["your program"]  # who says so: the name of the Server or Client made, once made


def _warn_compared(msg, text):
    if _WHO[1:] or sys.stderr is None:
        return  # said already
    _WHO.append(True)
    where = _place(sys._getframe(2))
    sys.stderr.write("{}: warning: {} {} {!r}: a message is never equal to a string, so that comparison "
                     "is False. Compare it with {}.\n".format(_WHO[0], where or "your code", COMPARED, text,
                                                              "Message." + msg.name))
    sys.stderr.flush()


def _place(frame):
    """'line 17 of client2_student.py', the innermost line of the student's files in the stack; '' if none."""
    while frame is not None and not frame.f_code.co_filename.endswith("_student.py"):
        frame = frame.f_back
    if frame is None:
        return ""
    return "line {} of {}".format(frame.f_lineno, os.path.basename(frame.f_code.co_filename))


# When a run is over (your programs waited on each other, or time was up), check.py and
# the autograder ask each program still running where it is (the signal SIGUSR1), to show
# you the line. The answer goes to stderr, one line per thread that is in your file, and
# the program goes on as before. Only POSIX systems have SIGUSR1.
WHERE = "[checker] "  # how the answer's lines begin


def _tell_where(signum, frame):
    import threading  # noqa: PLC0415 - only when asked

    main = threading.get_ident()  # a signal handler runs in the main thread
    stacks = [frame] + [f for ident, f in sys._current_frames().items() if ident != main]
    lines = []
    for stack in stacks:
        while stack is not None and not stack.f_code.co_filename.endswith("_student.py"):
            stack = stack.f_back
        if stack is not None:
            lines.append("{}at {}: {}\n".format(WHERE, _place(stack), _line(stack.f_code.co_filename,
                                                                                stack.f_lineno)))
    lines.append(WHERE + ".\n")
    try:
        os.write(2, "".join(lines).encode("utf-8", "replace"))
    except OSError:
        pass


def _line(path, number):
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as source:
            for at, text in enumerate(source, 1):
                if at == number:
                    return text.strip()
    except OSError:
        pass
    return ""


def _tell_where_on_request():
    if hasattr(signal, "SIGUSR1"):
        try:
            signal.signal(signal.SIGUSR1, _tell_where)
        except ValueError:
            pass  # not the main thread: only it may set a handler


def _check_message(msg, call):
    if isinstance(msg, Message):
        return
    if isinstance(msg, str) and msg in Message.__members__:
        hint = "Write {}(Message.{}) instead.".format(call, msg)
    else:
        hint = "For example: {}(Message.Pong).".format(call)
    raise TypeError(
        "{} takes a Message (Message.Ping or Message.Pong), not {!r}. {}".format(call, msg, hint)
    )


class _Link:
    """One TCP connection, with the bytes read so far that are not yet a frame."""

    def __init__(self, sock, name):
        self.sock = sock
        self.name = name
        self.buffer = b""
        self.open = True

    def send(self, item):
        self.sock.sendall(encode(item))

    def read(self):
        """The frames that one read completes ([] if none); None at end of stream."""
        if _WAKE_SECONDS is not None and not select.select([self.sock], [], [], _WAKE_SECONDS)[0]:
            return []  # a wake-up on Windows (see _WAKE_SECONDS): nothing yet
        try:
            data = self.sock.recv(4096)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        if not data:
            self.open = False
            if self.buffer:
                raise ProtocolError(
                    "{} closed the connection in the middle of a frame: {!r}".format(
                        self.name, self.buffer
                    )
                )
            return None
        frames, self.buffer = split_frames(self.buffer + data)
        return [decode(frame) for frame in frames]

    def close(self):
        self.open = False
        try:
            self.sock.close()
        except OSError:
            pass


def _listen(host, port):
    inherited = os.environ.get("PINGPONG_LISTEN_FD")
    if inherited:
        # The autograder binds the port itself and hands the socket over.
        return socket.socket(fileno=int(inherited))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sys.platform == "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
    else:
        # Lets a new server start at once after the last one ended.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            "the server cannot listen on {}:{}: {}. Is another server still running? "
            "Stop it, or pick another port by setting PINGPONG_PORT in every terminal, "
            "for example PINGPONG_PORT={}.".format(
                host, port, error.strerror or error, port + 1 if port < 65535 else 50506
            )
        ) from None
    sock.listen(8)
    return sock


class Server:
    """The server. `Server()` returns once client1 and client2 have both connected.

    server.receive_message()   the next Message from either client
                               (None once both clients have gone)
    server.send_message(msg)   send msg back to the client you last received from
    server.forward_message(msg)  send msg to the other client
    server.close()
    """

    def __init__(self):
        _quiet_ctrl_c("server")
        host, port = address()
        self._listener = _listen(host, port)
        self._links = {}
        self._inbox = []
        self._last = None
        self._said_gone = False
        self._closed = False
        self._selector = selectors.DefaultSelector()
        _say("server", "listening on {}:{}, waiting for client1 and client2".format(host, port))
        self._accept_both()

    def _accept_both(self):
        self._selector.register(self._listener, selectors.EVENT_READ)
        pending = []
        while len(self._links) < len(ROLES):
            for key, _ in self._selector.select(_WAKE_SECONDS):
                if key.fileobj is self._listener:
                    sock, _ = self._listener.accept()
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    link = _Link(sock, "a new connection")
                    pending.append(link)
                    self._selector.register(sock, selectors.EVENT_READ, link)
                elif key.data in pending:
                    self._greet(key.data, pending)
                else:
                    # A client that has already said who it is may send (or
                    # leave) while the server still waits for the other one.
                    self._take(key.data)
        self._selector.unregister(self._listener)
        self._listener.close()

    def _greet(self, link, pending):
        """Read a new connection's first frame, which says who it is."""
        try:
            frames = link.read()
            if frames is None:
                raise ProtocolError("a client closed its connection before saying who it is")
            if not frames:
                return
            first = frames[0]
            if not (isinstance(first, tuple) and first[0] == "HELLO"):
                raise ProtocolError("a client sent {} before saying who it is".format(first))
            role = first[1]
            if role in self._links:
                raise ProtocolError("a second {} tried to connect".format(role))
        except ProtocolError as error:
            _say("server", "dropped a connection: {}".format(error))
            pending.remove(link)
            self._selector.unregister(link.sock)
            link.close()
            return
        pending.remove(link)
        link.name = role
        self._links[role] = link
        _say("server", "{} connected".format(role))
        for frame in frames[1:]:
            self._queue(link, frame)

    def _take(self, link):
        """Queue the messages one read from a connected client brings."""
        frames = link.read()
        if frames is None:
            self._selector.unregister(link.sock)
            _say("server", "{} disconnected".format(link.name))
            return
        for frame in frames:
            self._queue(link, frame)

    def _queue(self, link, frame):
        if not isinstance(frame, Message):
            raise ProtocolError("{} sent {} after its greeting".format(link.name, frame))
        self._inbox.append((link, frame))

    def receive_message(self):
        """Wait for the next Message from either client and return it.

        Returns None once both clients have closed their connections (and
        again on every later call; the line saying so is printed once).
        """
        while not self._inbox:
            if not any(link.open for link in self._links.values()):
                if not self._said_gone:  # once: a loop that asks again gets None again, quietly
                    _say("server", "both clients have disconnected")
                    self._said_gone = True
                return None
            for key, _ in self._selector.select(_WAKE_SECONDS):
                self._take(key.data)
        link, msg = self._inbox.pop(0)
        self._last = link
        _say("server", "received {} from {}".format(msg.name, link.name))
        return msg

    def _after_receive(self, call):
        if self._last is None:
            raise RuntimeError(
                "{} needs a message received first: call server.receive_message() "
                "before it, so the server knows which client to answer.".format(call)
            )
        return self._last

    def send_message(self, msg):
        """Send msg back to the client whose message was received last."""
        _check_message(msg, "server.send_message")
        link = self._after_receive("server.send_message")
        self._deliver(link, msg, "sent {} to {}".format(msg.name, link.name))

    def forward_message(self, msg):
        """Send msg to the other client: the one you did not last receive from."""
        _check_message(msg, "server.forward_message")
        source = self._after_receive("server.forward_message")
        other = "client2" if source.name == "client1" else "client1"
        self._deliver(
            self._links[other], msg, "forwarded {} from {} to {}".format(msg.name, source.name, other)
        )

    def _deliver(self, link, msg, story):
        if self._closed:
            raise ConnectionError("cannot send {} to {}: {} was called before".format(
                msg.name, link.name, CLOSED_BEFORE.format("server")))
        try:
            if not link.open:
                # Its end of the stream has already been read: nobody would get msg.
                raise ConnectionError
            link.send(msg)
        except OSError:
            raise ConnectionError(
                "cannot send {} to {}: it has disconnected".format(msg.name, link.name)
            ) from None
        _say("server", story)

    def close(self):
        """Close both connections; the clients then see the server has gone."""
        self._closed = True
        for link in self._links.values():
            link.close()
        self._selector.close()


class Client:
    """A client. `Client("client1")` or `Client("client2")` connects to the server.

    client.send_message(msg)   send msg to the server
    client.receive_message()   wait for the next Message from the server
                               (None once the server has closed the connection)
    client.close()
    """

    def __init__(self, role):
        if role not in ROLES:
            raise ValueError("Client takes 'client1' or 'client2', not {!r}".format(role))
        _quiet_ctrl_c(role)
        self.role = role
        self._inbox = []
        self._said_gone = False
        self._closed = False
        self._link = _Link(self._connect(), "the server")
        self._link.send(role)
        _say(role, "connected to the server")

    def _connect(self):
        host, port = address()
        limit = _seconds("PINGPONG_CONNECT_TIMEOUT", CONNECT_TIMEOUT)
        deadline = time.monotonic() + limit
        said = False
        while True:
            try:
                # An ASCII name as bytes: given a str, getaddrinfo loads the idna codec (5 ms a start).
                name = host.encode("ascii") if host.isascii() else host
                sock = socket.create_connection((name, port), timeout=limit)
                sock.settimeout(None)  # blocking: a send is never cut short (Windows wakes by select, in read)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except (ConnectionRefusedError, socket.timeout):
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        "{} found no server at {}:{} after {:g} s. Start the server first, "
                        "and use the same PINGPONG_PORT in every terminal.".format(
                            self.role, host, port, limit
                        )
                    ) from None
                if not said:
                    _say(self.role, "waiting for the server at {}:{} ...".format(host, port))
                    said = True
                # No event announces that a server has started listening:
                # trying again a little later is the only way to find out.
                time.sleep(0.05)

    def send_message(self, msg):
        """Send msg to the server."""
        _check_message(msg, "client.send_message")
        if self._closed:
            raise ConnectionError("{} cannot send {}: {} was called before".format(
                self.role, msg.name, CLOSED_BEFORE.format("client")))
        try:
            self._link.send(msg)
        except OSError:
            raise ConnectionError(
                "{} cannot send {}: the server has closed the connection".format(self.role, msg.name)
            ) from None
        _say(self.role, "sent {}".format(msg.name))

    def receive_message(self):
        """Wait for the next Message from the server; None if the server has gone (and again on
        every later call; the line saying so is printed once)."""
        while not self._inbox:
            frames = self._link.read() if self._link.open else None
            if frames is None:
                if not self._said_gone:  # once: a loop that asks again gets None again, quietly
                    _say(self.role, "the server closed the connection")
                    self._said_gone = True
                return None
            for frame in frames:
                if not isinstance(frame, Message):
                    raise ProtocolError("the server sent {}, not a Message".format(frame))
                self._inbox.append(frame)
        msg = self._inbox.pop(0)
        _say(self.role, "received {}".format(msg.name))
        return msg

    def close(self):
        """Close the connection to the server."""
        self._closed = True
        self._link.close()
