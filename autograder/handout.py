"""The handout as the grader uses it: one copy of each file, the handout's own.

The grader runs students' programs beside its own `utils2.py` and speaks the
wire format through that same module, so the library students test against
and the one that grades them cannot drift apart. Likewise it plays the
handout's scenes (`checker/`: the scene, the scenario, the referee's rules,
whether a program waits, the hints, the feedback) with its own way of
starting a program, the sandbox: the students' self-check plays the same.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import marshal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "assignment"
SOLUTION = ROOT / "solution"
STUDENT_FILES = ("server_student.py", "client2_student.py")
LIBRARY_FILES = ("utils2.py", "client1.py")  # beside the skeletons; the grader always uses its own
PARTNERS = ("server.py", "client2.py")  # a working server and client2 to try a step against: students' only
SELF_CHECK = "check.py"
CHECKER = "checker"  # the self-check's support, and the grader's scenes: one folder, not the students' to edit
CHECKER_FILES = tuple(sorted(path.name for path in (FOLDER / CHECKER).glob("*.py")))


def _load(name: str, **neighbours):
    """The handout's `name`.py (or folder) as a module; `neighbours`: the handout modules it imports by their
    own names (beside check.py they are files in its folder), lent under those names while it loads."""
    folder = FOLDER / name
    spec = (importlib.util.spec_from_file_location(f"pingpong_{name}", folder / "__init__.py",
                                                   submodule_search_locations=[str(folder)]) if folder.is_dir()
            else importlib.util.spec_from_file_location(f"pingpong_{name}", FOLDER / f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # enum and dataclasses look modules up by name
    kept = {key: sys.modules.get(key) for key in neighbours}
    sys.modules.update(neighbours)
    try:
        spec.loader.exec_module(module)
        for part in CHECKER_FILES if folder.is_dir() else ():
            if part != "__init__.py":
                importlib.import_module(f"{spec.name}.{part[:-3]}")
    finally:
        for key, held in kept.items():
            if held is None:
                del sys.modules[key]
            else:
                sys.modules[key] = held
    return module


utils2 = _load("utils2")
checker = _load(CHECKER, utils2=utils2)
referee = checker.referee  # the rules, shared with the students' self-check
waiting = checker.waiting  # is a program waiting for a message? Likewise shared
advice = checker.advice  # the hint for a failed check: the same words in check.py
programs, scene, scenario, feedback = checker.programs, checker.scene, checker.scenario, checker.feedback
region = checker.region  # the student's part of a file, and its step


@functools.cache
def compiled(name: str) -> tuple[str, bytes]:
    """The handout's `name`.py compiled, as (file name in __pycache__, contents).

    Placed beside the copy each student program gets, it spares every program
    compiling the library at its start (5 to 10 ms of CPU each). The file is
    hash-based (PEP 552): a copy's new modification time does not make Python
    set it aside, and a source that is not the one compiled here does (a
    hash of 10 KB costs microseconds). Only a Python of the grader's own
    version (the tag in the file name) reads it; any other compiles the source.
    """
    path = FOLDER / f"{name}.py"
    source = path.read_bytes()
    # The loader's code: from the handout's own __pycache__ when it is up to date (0.2 ms, not 4 ms to compile).
    code = importlib.machinery.SourceFileLoader(name, str(path)).get_code(name)
    checked_hash = (0b11).to_bytes(4, "little")  # flags: hash-based, checked against the source
    data = importlib.util.MAGIC_NUMBER + checked_hash + importlib.util.source_hash(source) + marshal.dumps(code)
    return Path(importlib.util.cache_from_source(f"{name}.py")).name, data
