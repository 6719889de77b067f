"""The hints: one piece of advice for a check that failed, chosen from what was seen.

check.py and the autograder both ask this file, so the two say the same
words. You do not need to read it, and changing it changes nothing: the
autograder uses its own copy.

A hint never decides anything: referee.py judges on the frames alone, and
a hint is chosen only once a check has failed, from the frames, which
program the exchange stopped at, who was waiting when the run was hung
up, how each program ended and the last line of its traceback. Each hint
has a short key that stays the same when its words change (a course
report counts failures by it).

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

from dataclasses import dataclass

from .referee import happened


# waiting.py's READY, BUSY and SLEEPING (this file does not need the rest of it): blocked so that only a message can
# wake it, running, and able to wake by itself (asleep, a timer, a timeout) or blocked on anything else. What
# waiting.py returns also says what was seen, in words (its `why`), which a hint quotes.
WAITING, BUSY, SLEEPING = "ready", "busy", "sleeping"
STEPS = (("Ping", "client1", "server"), ("Ping", "server", "client2"),
         ("Pong", "client2", "server"), ("Pong", "server", "client1"))


@dataclass(frozen=True)
class Seen:
    """One of your programs as the referee saw it run, for choosing a hint.

    `traceback` is what your program printed, and a program can print
    anything: it only chooses the words of a hint for a check that already
    failed on what crossed the network. A forged traceback changes that
    wording, never a verdict or a score.
    """

    name: str
    returncode: "int | None"  # None: still running at the end, so it was stopped
    traceback: str = ""
    at_end: str = ""  # when the run was hung up: waiting.py's "ready", "busy" or "sleeping" (with its why), or "gone"
    # Stopped, not having ended by itself (or, in the autograder, stopped by a limit it went over): what it was
    # doing then, "ready", "busy" or "sleeping" ("busy" for a limit, reached by working); "" if it ended, or unknown
    at_stop: str = ""
    compared: str = ""  # it compared a message with a string: which, and where (utils2 says so on stderr)

    @property
    def stopped(self):
        """It did not end by itself: it was stopped (by the end of the run, or by a limit)."""
        return self.returncode is None or bool(self.at_stop)

    @property
    def crashed(self):
        return self.returncode not in (0, None)

    @property
    def error(self):
        """The traceback's last line: "TypeError: ..." ('' if none)."""
        lines = [line.strip() for line in self.traceback.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@dataclass(frozen=True)
class Advice:
    """A hint, and the name it goes by: the same `key` for the same mistake, whatever the details
    ("client2-crashed", whatever the line), in check.py and the autograder alike (the course report
    groups failures by it)."""

    key: str
    text: str


def crash_place(traceback):
    """' (line N of your_file.py)' from a traceback, if it passes through a student file."""
    found = ""
    for line in traceback.splitlines():
        line = line.strip()
        if line.startswith('File "') and "_student.py" in line:
            name = line.split('"')[1].replace("\\", "/").split("/")[-1]
            found = " (line {} of {})".format(line.split("line ")[-1].split(",")[0], name)
    return found


def holder(events):
    """Whom the exchange waited on: the sender of its first step that was never sent ("" if all were)."""
    return next((src for frame, src, dst in STEPS if happened(events, frame, src, dst) is None), "")


def hint(judgement, events=(), programs=(), seconds=0.0, flooded=False, held=None, out_of_time=False, closed=(),
         stuck=False):
    """One piece of advice, for the most telling thing that went wrong.

    `judgement`: referee.judge's, for a check that failed. `programs`: yours
    in this run (Seen). `flooded`: the run was ended at referee.MAX_EVENTS
    frames, all in `events`. `held`: your programs that a message was held
    for, to the end, each with the state it was seen in most while held (a program
    blocked in something other than a wait for it is never handed one).
    `out_of_time`: the run was hung up because its `seconds` were up, or
    (`stuck`) at once, because nothing more could happen.
    `closed`: your programs, in the order they were seen to close a
    connection before the run hung up. Where the exchange stopped at one of
    your programs, the hint is about that one: the other then only waited,
    or stopped because it left.
    """
    if judgement.broken:
        return _broken(judgement.broken, events)
    if flooded:
        return Advice("flooded", "Your programs sent more than {} frames, where the exchange is 4, and the run was "
                             "ended there: send each message once.".format(len(events)))
    focus = [p for p in programs if p.name == holder(events)] or list(programs)
    compared = next((p for p in focus if p.compared), None)
    if compared is not None:
        return _compares_with_a_string(compared)
    sleeping = next((p.name for p in focus if (held or {}).get(p.name) == SLEEPING), "")
    everyone_waited = out_of_time and all(p.at_end == WAITING for p in programs)
    stuck_early, stuck = stuck, focus[0] if everyone_waited and focus else None
    crashed = next((p for p in focus + list(programs) if p.crashed and not (out_of_time and p.at_end == WAITING)),
                   None)  # the error of a program that was waiting when the time was up came from the stop
    if stuck is not None and crashed is None:
        return _stuck(stuck, events, "at once" if stuck_early else "after {:g} s".format(seconds))
    left = next((p for p in programs if closed[:1] == (p.name,)), None)
    if crashed is not None and left not in (None, crashed) and _disconnected(crashed) and \
            ".close() was called before" not in crashed.error:
        return _left_first(left, events, closed)  # its send failed because the other had gone: the other's mistake
    if crashed is not None:
        return _crash(crashed, events, closed)
    if judgement.missing.startswith("client2 connected saying"):
        return Advice("client2-name", 'Create your client as Client("client2"): the server tells the clients apart '
                                  'by that name.')
    if sleeping:
        why = getattr(held[sleeping], "why", "") or "it was asleep or waiting with a timeout"  # waiting.State's words
        return Advice(sleeping + "-sleeping", "Your {} never got the message meant for it: a message is handed only "
                    "to a program that nothing but a message can wake, and while the message waited for it, {}. Wait for the "
                    "message itself, with receive_message(), and do not sleep or wait with a timeout.".format(
                        sleeping, why))
    stopped = next((p for p in focus if p.returncode is None), None)
    if stopped is not None and stopped.at_end == BUSY:
        receive = "server.receive_message()" if stopped.name == "server" else "client.receive_message()"
        return Advice("busy-loop", "Your {} was still running after {:g} s without doing this step, busy all the "
                    "while: a loop that does not call receive_message() gets no message, and a message is handed "
                    "only to a program that waits for it. Call {} where you need the next message: it waits until "
                    "one comes, so no loop of your own is needed to wait.".format(stopped.name, seconds, receive))
    if stopped is not None:
        return Advice(stopped.name + "-still-running", "Your {} was still running after {:g} s without doing "
                    "this step: it may be waiting for a message that never comes, or stuck in a loop.".format(stopped.name, seconds))
    ended = next((p for p in focus + list(programs) if p.returncode == 0), None)
    return _ended(ended.name if ended else "", events)


def _broken(broken, events):
    why, sent = broken.why, events[broken.index]
    if "Pong should go" in why:
        return Advice("forward-the-pong", "Your server sent client1 the Ping again, where client2's Pong should "
                    "go. Forward the message you just received: pong = server.receive_message(), then "
                    "server.forward_message(pong).")
    if "back to" in why:
        return Advice("forward-not-send", "Your server sent the {} back to {}, who sent it. "
                    "server.send_message(msg) answers the client you last heard from; to pass a message on to the "
                    "other client, use server.forward_message(msg).".format(sent.frame, sent.dst))
    if why.startswith("client2 sent a Pong before"):
        return Advice("wait-for-the-ping", "Wait for the Ping first: msg = client.receive_message(), and answer "
                                               "only once it has arrived.")
    if "second Pong" in why:
        pongs = sum(1 for e in events if e.src == "client2" and e.frame == "Pong")
        return Advice("answers-twice", "Your client2 answered one Ping with {} Pongs: send one Pong for each Ping you "
                    "receive, one client.send_message(Message.Pong) after each receive_message().".format(pongs))
    if "more than it received" in why:
        return Advice("send-once", "Your server passed on one {} more than it received: forward each message "
                    "once, right after you receive it.".format(sent.frame))
    if "before" in why or "made up" in why:
        return Advice("receive-first", "Only pass on what you received: receive the message first, "
                                                       "then forward that message.")
    if why.startswith("the server sent"):
        return Advice("server-makes-up", "The server sends only what it received, passed on with "
                    "server.forward_message(msg): it makes up nothing of its own.")
    if why.startswith("client2 sent Ping;"):
        return Advice("client2-echoes", "Your client2 sent the Ping back: it answers with a Pong, "
                                      "client.send_message(Message.Pong), not with the message it received.")
    return Advice("client2-sends-only-a-pong", "client2 answers a Ping with Message.Pong, and sends nothing else.")


def _stuck(program, events, when):
    """Everyone was waiting for someone when the time was up: say who waited for what.

    A program counts as waiting whether it waited for a message or for something else (an Event, a lock),
    and a message is handed to a waiting program whether or not it then reads it: so the words hold both
    ways, "was still waiting" and "had been sent to it", never "it read it".
    """
    stop = "Nothing more could happen, so the run was stopped {}.".format(when)
    if program.name == "client2":
        return Advice("waits-instead-of-answering", "Your client2 was still waiting (for another message, or for "
                    "something else) while the server was waiting for its Pong: the Ping had been sent to it, and it "
                    "had not answered. {} Answer as soon as the Ping arrives: msg = client.receive_message(), then "
                    "client.send_message(Message.Pong); if you compare what you received, compare it with "
                    "Message.Ping, not with a string such as \"Ping\".".format(stop))
    received = [e for e in events if e.dst == "server" and e.passed != float("inf")]
    passed_on = sum(1 for e in events if e.src == "server")
    if len(received) <= passed_on and happened(events, "Ping", "server", "client2") is None:
        return Advice("never-forwards-the-ping", "Your server did not forward client1's Ping to client2, so no Pong could "
                    "come back, and it then kept waiting for something that could not come. {} Forward the Ping to "
                    "client2 with server.forward_message(ping).".format(stop))
    if len(received) <= passed_on:
        return Advice("waits-for-nothing", "Your {} was still waiting (for a message, or for something else), and so "
                    "was everyone else. {}".format(program.name, stop))
    pending = received[passed_on]
    if pending.frame == "Ping":
        waiters = "both clients were waiting for it (client2 for the Ping, client1 for the Pong)"
    else:
        waiters = "{} was waiting for it".format("client2" if pending.src == "client1" else "client1")
    return Advice("receives-again-before-forwarding",
                "Your server was still waiting (for {} message, or for something else) while {}: {}'s {} had been "
                "sent to it, and it had not forwarded it. {} "
                "Forward each message as soon as you receive it: ping = server.receive_message(), "
                "server.forward_message(ping), and only then pong = server.receive_message(), "
                "server.forward_message(pong).".format("a second" if len(received) == 1 else "another", waiters,
                                                       pending.src, pending.frame, stop))


def _compares_with_a_string(program):
    if program.name == "server":
        right = "did not forward it. The server passes on what it receives without looking: " \
                "ping = server.receive_message(), then server.forward_message(ping)"
    else:
        right = "did not answer it. Compare it with the Message itself: msg = client.receive_message(), then " \
                "if msg == Message.Ping: client.send_message(Message.Pong)"
    return Advice("compares-with-a-string", "Your {} compared the message it received with the string {}: a message "
                "is Message.Ping or Message.Pong, never equal to a string, so the comparison was False and it "
                "{}.".format(program.name, program.compared, right))


def _one_edit(wrong, right):
    """Is `right` one edit from `wrong` (a letter added, left out, changed, or two swapped)?"""
    if wrong == right or abs(len(wrong) - len(right)) > 1:
        return False
    if len(wrong) == len(right):
        differ = [i for i, (a, b) in enumerate(zip(wrong, right)) if a != b]
        return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1 and
                                    wrong[differ[0]] == right[differ[1]] and wrong[differ[1]] == right[differ[0]])
    short, long = sorted((wrong, right), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _complaint(kind, said):
    """(the name Python complains about, whose attribute it was: "Message", "Client"... or ""), from a NameError's
    or an AttributeError's words, whatever Python's version: "name 'ping' is not defined", "'Client' object has no
    attribute 'forward_message'", an enum's bare "ping" (Python 3.11 and older); since 3.10 each may end with
    ". Did you mean: 'Ping'?", Python's guess, which is not the name it complains about."""
    said = said.split(". Did you ")[0].strip()
    if kind == "NameError" and said.startswith("name '"):
        return said.split("'")[1], ""
    if kind == "AttributeError" and " has no attribute '" in said:
        owner, _, name = said.partition(" has no attribute '")
        return name.split("'")[0], owner.split("'")[1] if owner.count("'") >= 2 else ""
    if kind == "AttributeError" and said.isidentifier():
        return said, "Message"  # only an Enum says just the name: Message.ping
    return "", ""


def _sent(said):
    """What utils2's TypeError says was sent: "'Pong'", "True", "<enum 'Message'>" (a repr)."""
    shown = said.partition(", not ")[2]
    return (shown.rpartition(". ")[0] or shown.rstrip(".")).strip()


def _disconnected(program):
    """Did its error come from the other end having gone?"""
    kind = program.error.partition(":")[0]
    return kind in ("ConnectionError", "BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError") or \
        "disconnected" in program.error


def _left_first(program, events, closed):
    """The hint for the program that closed its connection first, whose leaving made the other's send fail."""
    if program.crashed:
        return _crash(program, events, closed)
    if program.returncode == 0:
        return _ended(program.name, events)
    return _closes_too_early(program.name, "")


def _closes_too_early(name, at):
    if name == "client2":
        return Advice("closes-too-early", "Your client2 closed its connection (client.close(), or by ending) before "
                    "it sent its Pong{}, so the Pong had nowhere to go: close only at the very end.".format(at))
    return Advice("closes-too-early", "Your server closed its connections (server.close()) before it had passed on "
                "every message{}, so there was nobody left to send to: close only at the very end.".format(at))


def _crash(program, events, closed):
    name, error, at = program.name, program.error, crash_place(program.traceback)
    kind, _, said = error.partition(":")
    said = said.strip()
    sent = _sent(said) if "takes a Message" in said else ""  # utils2's TypeError: what was sent, as a repr
    if sent == "None":
        if name == "client2":
            return Advice("sends-none", "Your client2 tried to send None{}: client.receive_message() returns None once "
                        "the server has closed the connection. Answer a Ping with Message.Pong, and stop when what "
                        "you received is None.".format(at))
        return Advice("sends-none", "Your server tried to send None{}: server.receive_message() returns None once both "
                    "clients have gone. Forward only a message you received, and stop when what you received is "
                    "None (if msg is None: break).".format(at))
    if sent[:1] in ("'", '"'):  # a string's repr
        right = ("Write client.send_message(Message.Pong)." if name == "client2" else
                 "Pass on the message as you received it: server.forward_message(ping), not ping.value or 'Ping'.")
        return Advice("sends-a-string", "Your {} tried to send a string{}: a message is Message.Ping or Message.Pong, "
                    "not the text 'Ping' or 'Pong'. {}".format(name, at, right))
    if sent.startswith("<bound method "):  # "<bound method Client.receive_message of <utils2.Client ...>>"
        owner, _, method = sent[len("<bound method "):].split(" ")[0].rpartition(".")
        mine = "server" if owner == "Server" else "client"
        return Advice("call-without-parentheses", "Your {} passed {}.{}{} where a message goes: without () a method "
                    "is only named, not called. Call it: msg = {}.{}(), then pass on msg.".format(
                        name, mine, method, at, mine, method))
    if sent:
        sent = sent if len(sent) <= 40 else sent[:37] + "..."
        right = ("send Message.Pong: client.send_message(Message.Pong)." if name == "client2" else
                 "forward the message you received: ping = server.receive_message(), then server.forward_message(ping).")
        return Advice("sends-not-a-message", "Your {} tried to send {}{}, which is not a Message: {}".format(
            name, sent, at, right))
    if "needs a message received first" in said:
        return Advice("forwards-before-receiving", "Your {} called {} before it had received anything{}: it can only "
                    "pass on a message it has received. Receive first, then forward what you received: "
                    "ping = server.receive_message(), then server.forward_message(ping).".format(
                        name, said.split()[0], at))
    wrong, owner = _complaint(kind, said)
    if owner == "Message" or (not owner and wrong in ("Ping", "Pong")) or \
            (not owner and name == "client2" and wrong in ("ping", "pong")):
        return Advice("wrong-name", "Your {} used {}{}, a name Python does not know here: the messages are Message.Ping "
                    "and Message.Pong, spelled so (from utils2 import Message).".format(
                        name, "Message." + wrong if owner else wrong, at))
    if kind == "NameError" and wrong in ("receive_message", "send_message", "forward_message", "close"):
        return Advice("call-without-its-object", "Your {} called {}{} on its own: it belongs to your {}, so write "
                    "{}.{}(...).".format(name, wrong, at, name, "server" if name == "server" else "client", wrong))
    if kind == "NameError" and name == "client2" and wrong == "server":
        return Advice("client2-uses-server", "Your client2 used server{}, which is the server's name for its "
                    "connection: in client2 the connection is client (client = Client(\"client2\"), at the top of "
                    "the file). Write msg = client.receive_message(), then client.send_message(Message.Pong).".format(
                        at))
    meant = said.partition(". Did you mean: '")[2].split("'")[0]  # Python's guess, since 3.10
    if kind == "NameError" and meant and _one_edit(wrong, meant) and wrong.lower() != meant.lower():  # case: below
        return Advice("misspelled-name", "Your {} used {}{}, a name it never set: did you mean {}? Python tells names "
                    "apart letter by letter, so write it as you set it.".format(name, wrong, at, meant))
    if kind == "EOFError":
        return Advice("input-in-a-run", "Your {} called input(){}, which waits for someone to type: when your "
                    "programs are checked or graded, nobody is at the keyboard, so input() fails at once (EOFError). "
                    "Take it out: your program gets what it needs with receive_message().".format(name, at))
    if kind == "NameError" and wrong[:1].islower():
        receive = "server.receive_message()" if name == "server" else "client.receive_message()"
        return Advice("name-never-set", "Your {} used {}{} before it was ever given a value (Python tells names apart "
                    "by case too: ping and Ping are two names). Set it first: {} = {}.".format(
                        name, wrong, at, wrong, receive))
    if owner == "Client" and wrong == "forward_message":
        return Advice("client-forwards", "A client cannot forward{}: only the server passes messages on. "
                    "client2 answers with client.send_message(Message.Pong).".format(at))
    if _disconnected(program) and (closed[:1] == (name,) or ".close() was called before" in said):
        return _closes_too_early(name, at)
    return Advice(name + "-crashed", "Your {} stopped with an error{}: read the traceback below.".format(name, at))


def _ended(name, events):
    delivered = lambda frame, dst: any(e.frame == frame and e.dst == dst and e.passed != float("inf")  # noqa: E731
                                       for e in events)
    if name == "client2" and delivered("Ping", "client2") and not any(e.src == "client2" for e in events):
        return Advice("ends-without-answering", "Your client2 received the Ping and ended without sending a Pong. "
                    "receive_message() returns Message.Ping, a Message, never the string \"Ping\": if you compare "
                    "what you received, compare it with Message.Ping (msg == Message.Ping), then answer with "
                    "client.send_message(Message.Pong).")
    if name == "client2" and not delivered("Ping", "client2"):
        return Advice("ends-before-the-ping", "Your client2 ended before the Ping reached it: receive it first, "
                    "msg = client.receive_message(), then answer it with client.send_message(Message.Pong).")
    if name == "server" and not delivered("Ping", "server"):
        return Advice("ends-before-the-ping", "Your server ended before client1's Ping reached it: receive it first, "
                    "ping = server.receive_message(), then forward it with server.forward_message(ping).")
    if name == "server" and delivered("Ping", "server") and happened(events, "Ping", "server", "client2") is None:
        return Advice("ends-without-forwarding", "Your server received client1's Ping and ended without forwarding it: "
                    "after ping = server.receive_message(), call server.forward_message(ping).")
    if name == "server" and happened(events, "Pong", "server", "client1") is None and \
            happened(events, "Ping", "server", "client2") is not None:
        return Advice("ends-before-the-pong", "Your server forwarded the Ping and then ended, before it passed on "
                    "client2's Pong: receive it and forward it too, pong = server.receive_message(), then "
                    "server.forward_message(pong).")
    return Advice("ended-early", "Your program ended before this step: check that your code between the markers does "
                              "each step in order.")


def stopped_waiting(program, out_of_time):
    """Did the program's error come from the run being stopped while it waited (its next send failed)?"""
    return out_of_time and program.at_end == WAITING and program.crashed


def ending(programs, seconds):
    """A warning for a run that passed: a program of yours that did not end by itself after the exchange.

    Said from what it was doing when it was stopped, not when the others hung up: a loop with no None check
    waits until then, and spins after."""
    stopped = [p for p in programs if p.stopped]
    if not stopped:
        return None
    if len(stopped) > 1 and all(p.at_stop == WAITING for p in stopped):
        return Advice("wait-on-each-other", "Your server and your client2 waited on each other after the exchange: "
                    "once client1 had gone, your server was waiting for client2 (for a message, or for it to close "
                    "its connection) and your client2 for the server, so in a real run neither would ever end. Both "
                    "were stopped, as nothing more could happen. One of them has to end first: for instance your "
                    "client2, once it has sent its Pong (then your server's receive_message() returns None, as both clients have gone, "
                    "and it can end too).")
    program = next((p for p in stopped if p.at_stop != WAITING), stopped[0])  # what the others waited on, if any
    none = ("server.receive_message() returns None once both clients have gone" if program.name == "server"
            else "client.receive_message() returns None once the server has closed the connection")
    done = "once it has forwarded the Pong" if program.name == "server" else "once it has sent its Pong"
    how = {  # what it was doing when it was stopped, as far as was seen
        WAITING: "It was waiting (for another message, or for something else). {}: if you loop, end your loop then "
                 "(if msg is None: break).".format(none),
        BUSY: "It was busy, still looping. {}: end your loop then (if msg is None: break).".format(none),
        SLEEPING: "When it was stopped, {}: your program is done {}, so let it end there, without sleeping or "
                  "waiting after it.".format(getattr(program.at_stop, "why", "") or "it was asleep", done),
    }.get(program.at_stop, "Your program is done {}: let it end there. If you loop, {}: end your loop then "
                           "(if msg is None: break).".format(done, none))
    return Advice("does-not-end", "Your {} did not end by itself after the exchange, so it was stopped (a program "
                "gets {:g} s to end once the others have hung up). {}".format(program.name, seconds, how))
