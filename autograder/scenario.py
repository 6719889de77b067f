"""The three scenes a submission is graded in, each a short script.

    client2   the harness plays the server (and client1); the student's client2
    server    the student's server; the harness plays client1 and client2
    together  the student's server and client2; the harness plays client1 and
              taps the connection between the two student programs

Each scene only records what happened (a `Trace`); `rules` decides what it
was worth. Scenes are independent and run side by side.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox
from .handout import FOLDER, compiled, utils2
from .scene import Event, Scene

Ping, Pong = utils2.Message.Ping, utils2.Message.Pong
SCENARIOS = ("client2", "server", "together")


@dataclass(frozen=True)
class Limits(sandbox.Caps):  # and what each student program may use: memory_mib, cpu_seconds, ...
    scenario_seconds: float = 5.0  # the whole scene, from its programs' start to hang-up
    settle_seconds: float = 1.0  # after the exchange, longest wait for a busy program to go quiet (see rubric.toml)
    exit_seconds: float = 1.0  # how long programs get to end by themselves after the exchange


@dataclass(frozen=True)
class Trace:
    """What one scene saw: the frames, in order, and how each student program ran."""

    scenario: str
    events: tuple[Event, ...]
    runs: dict[str, sandbox.ProgramRun] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # student files the scene needed and did not have
    greeted_as: dict[str, str] = field(default_factory=dict)  # program -> role it claimed
    dropped: tuple[str, ...] = ()  # roles that connected a second time and were dropped, as the server does
    unlogged: int = 0  # frames past the log's end (the scene ended there)
    undelivered: dict[str, str] = field(default_factory=dict)  # program -> its state when frames for it were held
    at_end: dict[str, str] = field(default_factory=dict)  # program -> its state when the scene hung up
    out_of_time: bool = False  # the scene hung up because its time was up
    closed: tuple[str, ...] = ()  # programs seen to close a connection before the hang-up, in that order


def _workspace(root: Path, name: str, student_file: Path) -> Path:
    """A fresh folder with the grader's utils2.py (and its compiled form) and one student file."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    shutil.copyfile(FOLDER / "utils2.py", folder / "utils2.py")
    cached, data = compiled("utils2")
    (folder / "__pycache__").mkdir(mode=0o700)
    (folder / "__pycache__" / cached).write_bytes(data)
    shutil.copyfile(student_file, folder / student_file.name)
    return folder


def _client2(files: dict[str, Path | None], limits: Limits, root: Path, halt: int | None) -> Trace:
    scene = Scene(limits.scenario_seconds, limits.settle_seconds, limits, halt)
    listening = scene.listener()
    folder = _workspace(root, "client2", files["client2_student.py"])
    client2 = scene.start("client2", folder / "client2_student.py", folder, listening.getsockname()[1])
    scene.serve(listening, client2, "client2")
    try:
        greeted = lambda: next((p for p in scene.endpoints if p.greeted), None)  # noqa: E731
        scene.wait(lambda: greeted() is not None or scene.gone(client2))
        link = greeted()
        if link is not None:
            scene.send(link, Ping)  # client1's Ping, forwarded once client2 is waiting
            scene.wait(lambda: bool(link.received) or not link.open)
        scene.settle()
        claimed = {"client2": link.peer} if link is not None else {}
    finally:
        listening.close()
        runs = scene.close(limits.exit_seconds)
    return Trace("client2", tuple(scene.events), runs, greeted_as=claimed, dropped=tuple(scene.dropped),
                 unlogged=scene.unlogged, undelivered=scene.undelivered, **_seen(scene))


def _server(files: dict[str, Path | None], limits: Limits, root: Path, halt: int | None) -> Trace:
    scene = Scene(limits.scenario_seconds, limits.settle_seconds, limits, halt)
    listening = scene.listener()
    port = listening.getsockname()[1]
    folder = _workspace(root, "server", files["server_student.py"])
    try:
        server = scene.start("server", folder / "server_student.py", folder, port, listening)
    finally:
        listening.close()  # the server has its own copy now
    try:
        client2 = scene.connect("client2", port, server)
        client1 = scene.connect("client1", port, server)
        scene.send(client1, Ping)
        scene.wait(lambda: bool(client2.received) or not client2.open)
        if client2.received[:1] == ["Ping"]:  # the reference client2 answers only a Ping
            scene.send(client2, Pong)
            scene.wait(lambda: bool(client1.received) or not client1.open)
        scene.settle()
    finally:
        runs = scene.close(limits.exit_seconds)
    return Trace("server", tuple(scene.events), runs, unlogged=scene.unlogged, undelivered=scene.undelivered,
                 **_seen(scene))


def _together(files: dict[str, Path | None], limits: Limits, root: Path, halt: int | None) -> Trace:
    scene = Scene(limits.scenario_seconds, limits.settle_seconds, limits, halt)
    listening, tapping = scene.listener(), scene.listener()
    port = listening.getsockname()[1]
    server_folder = _workspace(root, "server", files["server_student.py"])
    client_folder = _workspace(root, "client2", files["client2_student.py"])
    try:
        try:  # side by side: the two start-ups are most of the scene's time
            server, client2 = scene.start_all([
                ("server", server_folder / "server_student.py", server_folder, port, listening),
                ("client2", client_folder / "client2_student.py", client_folder, tapping.getsockname()[1], None),
            ])
        finally:
            listening.close()  # the server has its own copy now
        scene.tap(tapping, port, server, client2, "client2")
        client1 = scene.connect("client1", port, server)
        tapped = lambda: any(p.greeted and p.partner is not None for p in scene.endpoints)  # noqa: E731
        scene.wait(lambda: tapped() or scene.gone(client2) or scene.gone(server))
        scene.settle()
        scene.send(client1, Ping)
        scene.wait(lambda: bool(client1.received) or not client1.open)
        scene.settle()
    finally:
        tapping.close()
        # Once the Pong is back, client1 ends (as client1.py does); the server and client2 must end by themselves.
        runs = scene.close(limits.exit_seconds, relay=client1.received[:1] == ["Pong"])
    return Trace("together", tuple(scene.events), runs, unlogged=scene.unlogged, undelivered=scene.undelivered,
                 **_seen(scene))


def _seen(scene: Scene) -> dict:
    """What a scene saw that only words a hint (see advice.hint), as Trace fields."""
    return {"at_end": scene.at_end, "out_of_time": scene.out_of_time, "closed": tuple(scene.closed)}


_SCRIPTS = {"client2": _client2, "server": _server, "together": _together}
_NEEDS = {
    "client2": ("client2_student.py",),
    "server": ("server_student.py",),
    "together": ("server_student.py", "client2_student.py"),
}


def play(name: str, files: dict[str, Path | None], limits: Limits, root: Path, halt: int | None = None) -> Trace:
    """Run one scene, or say which student files it lacked. `halt`: a file that, once readable, ends it now."""
    missing = tuple(f for f in _NEEDS[name] if files.get(f) is None)
    if missing:
        return Trace(name, (), missing=missing)
    return _SCRIPTS[name](files, limits, root, halt)


def play_all(files: dict[str, Path | None], limits: Limits, root: Path) -> dict[str, Trace]:
    """Every scene, side by side, a thread each (plain threads: concurrent.futures costs 5 ms to import)."""
    traces: dict[str, Trace] = {}
    failures: list[BaseException] = []
    halt, halting = os.pipe()

    def one(name: str) -> None:
        try:
            traces[name] = play(name, files, limits, root, halt)
        except BaseException as error:  # noqa: BLE001 - raised below, in the caller's thread
            failures.append(error)

    threads = [threading.Thread(target=one, args=(name,), name=f"scene-{name}") for name in SCENARIOS]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:  # interrupted (Ctrl-C, a batch stopping): every scene ends now, not at its time limit
        os.write(halting, b"!")
        raise
    finally:  # and still stops its programs, in its own thread, before we go on
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()
        os.close(halt)
        os.close(halting)
    if failures:
        raise failures[0]
    return {name: traces[name] for name in SCENARIOS}
