"""From what a student uploaded to the two files the grader runs.

Students upload a zip with the files at its root, a zip of a folder, or the
bare files; they name files "Server_Student.py" or "server_student (1).py".
Intake finds the expected files wherever they are, says what it did, and
refuses, with a reason, what it cannot safely take.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .handout import LIBRARY_FILES, STUDENT_FILES

MAX_FILES = 200
MAX_BYTES = 20 * 1024 * 1024  # uncompressed, all entries together
IGNORED_PARTS = {"__MACOSX", ".DS_Store", "__pycache__", ".git", ".idea", ".vscode"}


@dataclass
class Intake:
    files: dict[str, Path | None]  # expected name -> the file to run, or None
    notes: list[str] = field(default_factory=list)  # for the student: what intake did
    problem: str = ""  # why nothing could be graded at all, if so


def take(sources: list[Path], dest: Path) -> Intake:
    """Find the student files in `sources` (a zip, a folder, or files), copied under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    unpacked = dest / "unpacked"
    unpacked.mkdir()
    notes: list[str] = []
    for source in sources:
        if not source.exists():
            return _refused(f"nothing was found at {source}")
        if source.is_dir():
            _copy_tree(source, unpacked / source.name)
        elif zipfile.is_zipfile(source):
            problem = _unzip(source, unpacked / source.stem)
            if problem:
                return _refused(problem)
        elif source.suffix == ".zip":
            return _refused(f"{source.name} is not a valid zip file. Expected a zip of "
                            f"{' and '.join(STUDENT_FILES)}, or the two files themselves.")
        else:
            shutil.copyfile(source, unpacked / source.name)
    candidates = [p for p in unpacked.rglob("*") if p.is_file() and not _ignored(p.relative_to(unpacked))]
    if not candidates:
        return _refused(f"the submission holds no files. Expected {' and '.join(STUDENT_FILES)}.")
    files: dict[str, Path | None] = {}
    for name in STUDENT_FILES:
        found = _find(name, candidates, notes)
        files[name] = _ready(found, name, dest, notes) if found else None
        if found is None:
            notes.append(f"{name} was not found in your submission; the tests that need it score 0.")
    for name in LIBRARY_FILES:
        if any(p.name == name for p in candidates):
            notes.append(f"Your {name} was ignored: the grader always uses its own copy.")
    return Intake(files, notes)


def _refused(problem: str) -> Intake:
    return Intake({name: None for name in STUDENT_FILES}, [], problem)


def _ignored(relative: Path) -> bool:
    return any(part in IGNORED_PARTS or part.startswith("._") or part.endswith("~") for part in relative.parts)


def _key(filename: str) -> str:
    """A name as a forgiving eye reads it: 'Server_Student (1).py.txt' -> 'server_student.py'."""
    name = filename.lower().strip()
    name = re.sub(r"\.(txt|bak|orig)$", "", name)
    name = re.sub(r"\s*\(\d+\)(?=\.py$)|\s*-\s*copy(?=\.py$)|(?<=[a-z0-9])[ -](?=[a-z0-9])", lambda m: "_" if m.group(0) in (" ", "-") else "", name)
    return name


def _find(name: str, candidates: list[Path], notes: list[str]) -> Path | None:
    exact = sorted((p for p in candidates if p.name == name), key=lambda p: len(p.parts))
    if exact:
        return exact[0]
    near = sorted((p for p in candidates if _key(p.name) == name), key=lambda p: len(p.parts))
    if near:
        notes.append(f"Used {near[0].name!r} as {name}: please name it exactly {name} next time.")
        return near[0]
    return None


def _ready(found: Path, name: str, dest: Path, notes: list[str]) -> Path | None:
    """A copy of the file, checked to be text Python can read."""
    data = found.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        notes.append(f"{name} is not UTF-8 text (byte {error.start} cannot be read), so it could not be run. "
                     "Save it as UTF-8 in your editor and submit again.")
        return None
    target = dest / "files" / name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(data)
    return target


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, ignore=lambda d, names: [n for n in names if Path(d, n).is_symlink()])


def _unzip(archive: Path, target: Path) -> str:
    """Extract safely; return why not, or ''."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            entries = zipped.infolist()
            if len(entries) > MAX_FILES:
                return f"{archive.name} holds {len(entries)} entries; at most {MAX_FILES} are accepted."
            if sum(e.file_size for e in entries) > MAX_BYTES:
                return f"{archive.name} unpacks to more than {MAX_BYTES // 2**20} MiB; the two files are far smaller."
            for entry in entries:
                path = PurePosixPath(entry.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts or re.match(r"^[a-zA-Z]:", entry.filename):
                    return f"{archive.name} has an entry that points outside the zip ({entry.filename!r}); it was refused."
                if (entry.external_attr >> 16) & 0o170000 == 0o120000:
                    return f"{archive.name} holds a symbolic link ({entry.filename!r}); it was refused."
            for entry in entries:
                if entry.is_dir():
                    continue
                out = target / PurePosixPath(entry.filename.replace("\\", "/"))
                out.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(entry) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
        return f"{archive.name} could not be unpacked ({error}). Expected a zip of {' and '.join(STUDENT_FILES)}."
    return ""
