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
once that program is waiting for one (waiting.py) and all it wrote has left
its sockets (sent means written: a write the kernel holds back, TCP_CORK,
was sent when it was written), so whatever a program sends before it was
asked, it sent unprompted, on every run. A frame reaches a program when the
program takes it out of its socket (received means read): one still there
when the program sends something, after a peek say, had not reached it.

It writes down the first MAX_EVENTS frames of a run and ends the run there:
the exchange is 4 frames, and any frame past those breaks a rule, so the
rule a flood breaks is among the frames seen (a step after them is not).

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run: no `typing` to import

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
    passed: float  # when it reached `dst`, which took it out of its socket: later than seen only if held
    # until dst was waiting; infinity if it never did (dst had gone, never waited for it, or never read it)
    unread: bool = False  # delivered, but still in dst's socket when dst last sent something (a peek)


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
            elif delivered == 0 and any(e.dst == "client2" and e.unread for e in events[:i]):
                found.append(Broken(i, "client2 sent a Pong before it had read the Ping: the Ping was still in "
                                       "its socket (a peek leaves it there)"))
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
        elif event.unread:
            text = "{:50} <-- delivered, never read: {} left it in its socket".format(text, event.dst)
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
