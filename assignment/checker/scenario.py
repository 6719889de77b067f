"""The three scenes, each a short script, played alike by check.py and the autograder:

    client2   the referee plays the server (and client1); your client2
    server    your server; the referee plays client1 and client2
    together  your server and your client2; the referee plays client1 and taps
              the connection between your two programs

Each scene only records what happened (a Trace); referee.py decides what it
was worth. The scenes are independent and run side by side.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

import socket
import threading
from dataclasses import dataclass, field

import utils2  # beside check.py, as in the autograder (it lends its own)

from .scene import Scene

Ping, Pong = utils2.Message.Ping, utils2.Message.Pong
SCENARIOS = ("client2", "server", "together")
NEEDS = {"client2": ("client2_student.py",), "server": ("server_student.py",),
         "together": ("server_student.py", "client2_student.py")}


@dataclass(frozen=True)
class Limits:
    scenario_seconds: float = 5.0  # the whole scene, from its programs' start to hang-up
    settle_seconds: float = 1.0  # the longest wait for a busy program, or before the exchange an asleep one
    exit_seconds: float = 1.0  # how long programs get to end by themselves after the exchange


@dataclass(frozen=True)
class Trace:
    """What one scene saw: the frames, in order, and how each of your programs ran."""

    scenario: str
    events: tuple = ()  # referee.Event each
    runs: dict = field(default_factory=dict)  # program name -> programs.Run
    missing: tuple = ()  # your files the scene needed and did not have
    greeted_as: dict = field(default_factory=dict)  # program -> the role it claimed
    dropped: tuple = ()  # roles that connected a second time and were dropped, as the server does
    unlogged: int = 0  # frames past the log's end (the scene ended there)
    undelivered: dict = field(default_factory=dict)  # program -> its state when frames for it were held to the end
    at_end: dict = field(default_factory=dict)  # program -> its state when the scene hung up
    out_of_time: bool = False  # the scene hung up because its time was up, or (stuck) nothing more could happen
    stuck: bool = False  # it hung up early: every program waited on another, and nothing was in flight
    closed: tuple = ()  # programs seen to close a connection before the hang-up, in that order
    stopped_at: dict = field(default_factory=dict)  # program -> (its state, where it was) once its run was over


def _trace(name, scene, runs, **more):
    return Trace(name, tuple(scene.events), runs, dropped=tuple(scene.dropped), unlogged=scene.unlogged,
                 undelivered=scene.undelivered, at_end=scene.at_end, out_of_time=scene.out_of_time,
                 stuck=scene.stuck, closed=tuple(scene.closed), stopped_at=scene.stopped_at, **more)


def _client2(files, limits, start, halt):
    scene = Scene(limits, start, halt)
    listening = scene.listener()
    link = None
    try:
        client2, = scene.start_all([("client2", files["client2_student.py"], listening.getsockname()[1], None)])
        scene.serve(listening, client2, "client2")
        greeted = lambda: next((k for k in scene.links if k.greeted), None)  # noqa: E731
        scene.wait(lambda: greeted() is not None or scene.gone(client2))
        link = greeted()
        if link is not None:
            scene.send(link, Ping)  # client1's Ping, passed on once client2 waits for it
            scene.wait(lambda: bool(link.received) or not link.open)
        scene.settle()
    finally:
        scene.stop_listening(listening)
        runs = scene.close(limits.exit_seconds)
    return _trace("client2", scene, runs, greeted_as={"client2": link.peer} if link is not None else {})


def _server(files, limits, start, halt):
    scene = Scene(limits, start, halt)
    listening = scene.listener()
    port = listening.getsockname()[1]
    try:
        server, = scene.start_all([("server", files["server_student.py"], port, listening)])
        client2 = scene.connect("client2", port, server)
        client1 = scene.connect("client1", port, server)
        scene.send(client1, Ping)
        scene.wait(lambda: bool(client2.received) or not client2.open)
        if client2.received[:1] == ["Ping"]:  # client2 answers only a Ping
            scene.send(client2, Pong)
            scene.wait(lambda: bool(client1.received) or not client1.open)
        scene.settle()
    finally:
        runs = scene.close(limits.exit_seconds)
    return _trace("server", scene, runs)


def _together(files, limits, start, halt):
    scene = Scene(limits, start, halt)
    listening, tapping = scene.listener(), scene.listener()
    port = listening.getsockname()[1]
    client1 = None
    try:
        server, client2 = scene.start_all([  # side by side: the two start-ups are most of the scene's time
            ("server", files["server_student.py"], port, listening),
            ("client2", files["client2_student.py"], tapping.getsockname()[1], None),
        ])
        scene.tap(tapping, port, server, client2, "client2")
        client1 = scene.connect("client1", port, server)
        tapped = lambda: any(k.greeted and k.partner is not None for k in scene.links)  # noqa: E731
        scene.wait(lambda: tapped() or scene.gone(client2) or scene.gone(server))
        scene.settle(before=True)
        scene.send(client1, Ping)
        scene.wait(lambda: bool(client1.received) or not client1.open)
        scene.settle()
    finally:
        scene.stop_listening(tapping)
        # Once the Pong is back, client1 ends (as client1.py does); the server and client2 must end by themselves.
        runs = scene.close(limits.exit_seconds, relay=client1 is not None and client1.received[:1] == ["Pong"])
    return _trace("together", scene, runs)


_SCRIPTS = {"client2": _client2, "server": _server, "together": _together}


def play(name, files, limits, start, halt=None):
    """Play one scene, or say which of your files it lacked. `files`: file name -> its path, or None."""
    missing = tuple(f for f in NEEDS[name] if files.get(f) is None)
    if missing:
        return Trace(name, missing=missing)
    return _SCRIPTS[name](files, limits, start, halt)


def play_all(files, limits, start, names=SCENARIOS):
    """The scenes `names` (all of them unless told), side by side, a thread each; interrupted (Ctrl+C),
    every scene ends now, not at its time limit, and stops its programs before this returns. (Plain
    threads: concurrent.futures costs 5 ms to import.)"""
    traces, failures = {}, []
    halt, halting = socket.socketpair()  # readable once the scenes are to end: wakes every wait at once

    def one(name):
        try:
            traces[name] = play(name, files, limits, start, halt)
        except BaseException as error:  # noqa: BLE001 - raised below, in the caller's thread
            failures.append(error)

    threads = [threading.Thread(target=one, args=(name,), name="scene-" + name) for name in names]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        halting.send(b"!")
        raise
    finally:
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()
        halt.close()
        halting.close()
    if failures:
        raise failures[0]
    return {name: traces[name] for name in names}
