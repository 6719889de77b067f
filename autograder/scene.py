"""The grader's side of the scenes: the handout's, played with its sandbox.

The three scenes, the harness that plays the reference roles and logs every
frame, and the rules they are judged by are the handout's (`checker/`), so
the students' self-check plays exactly what grades them. The grader hands
them one thing of its own, how a program is started (`Sandboxed`): each
student program in a fresh folder holding its file and the grader's
`utils2.py`, as a sandbox user of its own, limited, and stopped for sure
(see sandbox.py). And the limits, which `rubric.toml` sets.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import readiness, sandbox
from .handout import FOLDER, compiled, scenario, scene

Trace = scenario.Trace
HIDDEN = scene.HIDDEN


@dataclass(frozen=True)
class Limits(scenario.Limits, sandbox.Caps):
    """The scenes' times (scenario_seconds, settle_seconds, exit_seconds) and what each student program
    may use (memory_mib, cpu_seconds, ...)."""


class Sandboxed:
    """How the grader starts a student program (the handout's start protocol, checker/programs.py)."""

    hands_over = True

    def __init__(self, root: Path, caps: sandbox.Caps) -> None:
        self.root, self.caps = root, caps

    def launch(self, name: str, script: Path, env: dict[str, str], fds: tuple[int, ...]) -> sandbox.Launch:
        folder = _workspace(self.root, name, Path(script))
        return sandbox.launch(name, folder / Path(script).name, folder, env, fds, self.caps)

    @staticmethod
    def state(program: sandbox.Program, connections: set[int] | None) -> str:
        return readiness.state(program.tree(), program.account, connections)

    @staticmethod
    def stop_all(programs: list[sandbox.Program], grace: float, look=None) -> list[sandbox.ProgramRun]:
        return sandbox.stop_all(programs, grace, look)


def _workspace(root: Path, name: str, student_file: Path) -> Path:
    """A fresh folder with the grader's utils2.py (and its compiled form) and one student file."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    shutil.copyfile(FOLDER / "utils2.py", folder / "utils2.py")
    cached, data = compiled("utils2")
    (folder / "__pycache__").mkdir(mode=0o700)
    (folder / "__pycache__" / cached).write_bytes(data)
    shutil.copyfile(student_file, folder / student_file.name)
    return folder


def play_all(files: dict[str, Path | None], limits: Limits, root: Path) -> dict[str, Trace]:
    """Every scene, side by side; interrupted, every scene ends now and stops its programs first."""
    return scenario.play_all(files, limits, Sandboxed(root, limits))
