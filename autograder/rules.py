"""The rules of the exchange, stated once, and how a trace measures up to them.

    R1  The server passes on only what it received: every frame that reaches
        a client was sent, earlier, by the other client, and each is passed
        on once.
    R2  client2 answers every Ping that reaches it with one Pong, after the
        Ping arrived, and sends nothing else.

A test asks a scene two things: did the step it is about happen (the Ping
reached client2, say), and did the party it grades keep its rule? Only the
harness's log is read; nothing a student program printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .scene import Event
from .scenario import Trace

OTHER = {"client1": "client2", "client2": "client1"}


@dataclass(frozen=True)
class Broken:
    """A rule a student program broke: which frame, and why, in plain words."""

    index: int  # position of the offending event in the trace
    why: str


def server_breaks(events: tuple[Event, ...], towards: str | None = None) -> list[Broken]:
    """R1: frames the server sent that no client gave it (optionally only those to `towards`)."""
    unused = [True] * len(events)
    found = []
    for i, event in enumerate(events):
        if event.src != "server" or (towards and event.dst != towards):
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
            continue
        found.append(Broken(i, _server_why(events, i)))
    return found


def _server_why(events: tuple[Event, ...], i: int) -> str:
    event = events[i]
    if event.frame.startswith("garbage"):
        return f"the server sent {event.dst} bytes that are not a message: {event.frame[8:]}"
    came_from = [e for e in events[:i] if e.dst == "server" and e.frame == event.frame]
    if came_from and all(e.src == event.dst for e in came_from):
        return (
            f"the server sent the {event.frame} back to {event.dst}, where it came from; "
            f"it should go to {OTHER[event.dst]}"
        )
    if came_from:
        return f"the server sent {event.dst} one {event.frame} more than it received"
    source = OTHER.get(event.dst, "the other client")
    return f"the server sent {event.frame} to {event.dst} before {source} had sent any {event.frame}"


def client2_breaks(events: tuple[Event, ...]) -> list[Broken]:
    """R2: frames client2 sent that were not the one Pong owed for a Ping."""
    found = []
    for i, event in enumerate(events):
        if event.src == "client2":
            delivered = sum(
                1 for e in events[:i] if e.dst == "client2" and e.frame == "Ping" and e.passed <= event.seen
            )
            answered = sum(1 for e in events[:i] if e.src == "client2" and e.frame == "Pong")
            if event.frame != "Pong":
                shown = event.frame[8:] if event.frame.startswith("garbage") else event.frame
                found.append(Broken(i, f"client2 sent {shown}; its only message is a Pong"))
            elif delivered == 0:
                found.append(Broken(i, "client2 sent a Pong before any Ping had reached it"))
            elif answered >= delivered:
                found.append(Broken(i, "client2 sent a second Pong for one Ping"))
    return found


def happened(events: tuple[Event, ...], frame: str, src: str, dst: str) -> int | None:
    """Index of the first such frame, or None."""
    return next((i for i, e in enumerate(events) if (e.frame, e.src, e.dst) == (frame, src, dst)), None)


@dataclass(frozen=True)
class Judgement:
    passed: bool
    broken: Broken | None = None  # the first rule broken, if that is why it failed
    missing: str = ""  # the step that never happened, if that is why
    step: tuple[str, str, str] | None = None  # that step as (frame, src, dst)


# For each test: its scene, the step that must happen, whose rule it checks,
# and how to say that the step never happened.
CHECKS = {
    "client2_answers": ("client2", ("Pong", "client2", "server"), "client2", "client2 never sent a Pong"),
    "server_forwards_ping": ("server", ("Ping", "server", "client2"), "server to client2",
                             "the Ping never reached client2"),
    "server_forwards_pong": ("server", ("Pong", "server", "client1"), "server to client1",
                             "the Pong never reached client1"),
    "together": ("together", ("Pong", "server", "client1"), "both", "the Pong never came back to client1"),
}


def judge(test: str, trace: Trace) -> Judgement:
    _, step, whose, never = CHECKS[test]
    events = trace.events
    broken: list[Broken] = []
    if whose in ("client2", "both"):
        broken += client2_breaks(events)
    if whose == "both":
        broken += server_breaks(events)
    elif whose.startswith("server to "):
        broken += server_breaks(events, towards=whose.split()[-1])
    if whose == "client2" and trace.greeted_as.get("client2", "client2") != "client2":
        return Judgement(False, missing="client2 connected saying it was " + trace.greeted_as["client2"])
    if broken:
        return Judgement(False, broken=min(broken, key=lambda b: b.index))
    if happened(events, *step) is None:
        return Judgement(False, missing=never, step=step)
    return Judgement(True)
