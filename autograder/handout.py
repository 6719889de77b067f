"""The handout as the grader uses it: one copy of each file, the handout's own.

The grader runs students' programs beside its own `utils2.py` and speaks the
wire format through that same module, so the library students test against
and the one that grades them cannot drift apart. Likewise it judges by the
handout's `referee.py`, the rules the students' self-check judges by.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "assignment"
SOLUTION = ROOT / "solution"
STUDENT_FILES = ("server_student.py", "client2_student.py")
LIBRARY_FILES = ("utils2.py", "client1.py", "referee.py")  # the grader always uses its own


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"pingpong_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # enum and dataclasses look modules up by name
    spec.loader.exec_module(module)
    return module


utils2 = _load("utils2")
referee = _load("referee")  # the rules, shared with the students' self-check
