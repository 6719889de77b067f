"""The two zips a course needs: Gradescope's autograder and the students' handout.

    dist/autograder.zip   setup.sh and run_autograder at its root, and only what
                          grading needs: the grader, the reference solution,
                          the handout files the grader runs or compares
                          against, and the pinned requirements.
    dist/handout.zip      exactly the student handout, in a folder `pingpong/`:
                          at its top what a student opens or runs (the
                          brief's six files, the README and check.py), the
                          self-check's support in `checker/`; never
                          anything from solution/. Its README names the
                          port the programs meet on where the source says
                          {port}: the PORT set at the top of utils2.py, the
                          one place an instructor changes it. Its
                          `checker/rubric.json` holds what the self-check
                          needs from the rubric in force: the scenes' time
                          limits and which tests need programs to end by
                          themselves (`must_end`), so check.py fails what
                          the grader fails.

The file lists are explicit, so a stray file (a cache, a backup, a test)
cannot ship by accident, and the zips are deterministic: entries sorted,
timestamps fixed, permissions set here rather than taken from the checkout,
so the same sources always give the same bytes. `make dist` runs this, and
refuses a rubric the grader would refuse, with the grader's message: better
than a Gradescope build that fails, or an autograder that fails every student.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .handout import (CHECKER, CHECKER_FILES, FOLDER, LIBRARY_FILES, PARTNERS, ROOT, SELF_CHECK, SOLUTION,
                      STUDENT_FILES, scenario)

if TYPE_CHECKING:
    from .rubric import Rubric

PACKAGE = Path(__file__).resolve().parent
DIST = ROOT / "dist"
HANDOUT_FOLDER = "pingpong"  # what a student's unzip makes
CHECKER_PATHS = tuple(f"{CHECKER}/{name}" for name in CHECKER_FILES)  # what the grader plays its scenes with
HANDOUT_FILES = ("README.md", SELF_CHECK, *LIBRARY_FILES, *PARTNERS, *STUDENT_FILES, *CHECKER_PATHS)
SELF_CHECK_RUBRIC = f"{CHECKER}/rubric.json"  # check.py's RUBRIC: written here, from the rubric in force
ENTRY_POINTS = ("setup.sh", "run_autograder")  # executable, at the zip's root
TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold
SKIPPED_PARTS = {"__pycache__", "tests"}
SKIPPED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp", ".tmp"}


@dataclass(frozen=True)
class Entry:
    name: str  # the path inside the zip
    source: Path
    executable: bool = False
    data: bytes | None = None  # what it holds, when not the source's bytes as they are


def port() -> int:
    """The port the handout's programs meet on, as utils2.py sets it."""
    found = re.search(r"^PORT = (\d+)\s*$", (FOLDER / "utils2.py").read_text(encoding="utf-8"), re.M)
    if found is None:
        raise ValueError(f"{FOLDER / 'utils2.py'} sets no `PORT = <number>`: the README could not name the port")
    return int(found[1])


def readme(text: str, chosen: int) -> str:
    """The students' README, naming the port in force, and another to try when it is busy."""
    other = chosen + 1 if chosen < 65535 else chosen - 1
    return text.replace("{port}", str(chosen)).replace("{other_port}", str(other))


def _shippable(relative: Path) -> bool:
    return not (
        any(part in SKIPPED_PARTS or part.startswith(".") for part in relative.parts)
        or relative.suffix in SKIPPED_SUFFIXES
        or relative.name.endswith("~")
    )


def _package() -> list[Entry]:
    """Every file of the grader package, whatever modules it gains, without caches."""
    return [
        Entry(f"autograder/{path.relative_to(PACKAGE).as_posix()}", path)
        for path in PACKAGE.rglob("*")
        if path.is_file() and _shippable(path.relative_to(PACKAGE))
    ]


def self_check_rubric(chosen: Rubric) -> bytes:
    """What check.py needs of the rubric, as JSON (Python 3.8's standard library reads no TOML)."""
    scenes = {field.name: getattr(chosen.limits, field.name) for field in dataclasses.fields(scenario.Limits)}
    data = {"about": "Written by make dist from the autograder's rubric, for check.py: the scenes' time limits, "
                     "and the checks that fail where your programs do not end by themselves after the exchange.",
            "limits": scenes, "must_end": [test.key for test in chosen.tests if test.must_end]}
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def handout_entries(chosen: Rubric | None = None) -> list[Entry]:
    """The handout's files; what its self-check needs of a rubric, from `chosen` (default: the one in force)."""
    if chosen is None:
        from . import rubric  # noqa: PLC0415 - reading TOML needs tomli before Python 3.11: only when asked

        chosen = rubric.load()
    entries = [Entry(f"{HANDOUT_FOLDER}/{name}", FOLDER / name) for name in HANDOUT_FILES if name != "README.md"]
    text = readme((FOLDER / "README.md").read_text(encoding="utf-8"), port())
    entries.append(Entry(f"{HANDOUT_FOLDER}/README.md", FOLDER / "README.md", data=text.encode("utf-8")))
    entries.append(Entry(f"{HANDOUT_FOLDER}/{SELF_CHECK_RUBRIC}", PACKAGE / "rubric.toml",
                         data=self_check_rubric(chosen)))
    return sorted(entries, key=lambda e: e.name)


def autograder_entries() -> list[Entry]:
    entries = [Entry(name, ROOT / name, executable=True) for name in ENTRY_POINTS]
    entries.append(Entry("requirements.txt", ROOT / "requirements.txt"))
    entries += _package()
    entries += [Entry(f"solution/{name}", SOLUTION / name) for name in STUDENT_FILES]
    entries += [Entry(f"assignment/{name}", FOLDER / name) for name in (*LIBRARY_FILES, *STUDENT_FILES, *CHECKER_PATHS)]
    return sorted(entries, key=lambda e: e.name)


def write_zip(path: Path, entries: list[Entry]) -> None:
    """Write the zip atomically: the same entries always give the same bytes."""
    missing = [str(e.source.relative_to(ROOT)) for e in entries if not e.source.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build {path.name}: missing {', '.join(missing)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(temporary, "w") as zipped:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, TIMESTAMP)
            info.create_system = 3  # Unix, so unzip honours the permissions below
            info.external_attr = (0o100755 if entry.executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, entry.source.read_bytes() if entry.data is None else entry.data, compresslevel=9)
    os.replace(temporary, path)


def build(dist: Path = DIST, chosen: Rubric | None = None) -> dict[str, Path]:
    """Both zips, written under `dist`; the handout's self-check follows `chosen` (default: the rubric in force)."""
    made = {"autograder": dist / "autograder.zip", "handout": dist / "handout.zip"}
    write_zip(made["autograder"], autograder_entries())
    write_zip(made["handout"], handout_entries(chosen))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bundle", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=DIST, help=f"where to write the zips (default: {DIST})")
    args = parser.parse_args(argv)
    from . import rubric  # noqa: PLC0415 - reading TOML needs tomli before Python 3.11: only here

    try:
        chosen = rubric.load()
    except rubric.ConfigError as error:
        print(f"error: {error}\nmake dist wrote nothing: fix the rubric and run it again", file=sys.stderr)
        return 1
    for path in build(args.dist, chosen).values():
        with zipfile.ZipFile(path) as zipped:
            count = len(zipped.infolist())
        print(f"wrote {path} ({count} files, {path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
