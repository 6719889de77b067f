"""Which submissions the command line names: one, or many (a batch).

Its own module, apart from batch.py, because every `grade` without --one
asks it first: the answer must not cost importing the batch machinery
(13 to 20 ms). The rule in words is cli.DESCRIPTION's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import export


@dataclass(frozen=True)
class Submission:
    id: str  # its folder under the batch's output, and its gradebook row
    sources: tuple[Path, ...]
    submitters: tuple[export.Submitter, ...] = ()


# --- which arguments are one submission, and which are many -----------------


def _zip(path: Path) -> bool:
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix in (".zip", ".py"):  # told by the name: no need to open it
        return suffix == ".zip"
    import zipfile  # here: most arguments are folders and .py files, and zipfile takes 3 ms to import

    return zipfile.is_zipfile(path)


def _hidden(path: Path) -> bool:
    return path.name.startswith((".", "__MACOSX", "__pycache__"))


def _children(folder: Path) -> list[Path]:
    """What in a folder of submissions is one: its subfolders and zips."""
    return sorted(c for c in folder.iterdir() if not _hidden(c) and (c.is_dir() or _zip(c)))


def _collection(path: Path) -> bool:
    """A Gradescope export, or a folder of submissions with no Python file of its own."""
    if not path.is_dir():
        return False
    if export.metadata_in(path):
        return True
    own_python = any(c.is_file() and ".py" in c.name.lower() for c in path.iterdir())
    return not own_python and len(_children(path)) >= 2


def is_batch(paths: list[Path]) -> bool:
    """Whether the arguments are many submissions (see cli.DESCRIPTION for the rule in words)."""
    if any(p.is_file() and not _zip(p) for p in paths):
        return False  # loose files: together, one submission
    if len(paths) > 1:
        return True
    path = paths[0]
    return export.is_export_zip(path) if path.is_file() else _collection(path)


def _name(path: Path) -> str:
    name = path.stem if path.is_file() else path.name
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._") or "submission"


def collect(paths: list[Path], scratch: Path) -> tuple[list[Submission], list[str]]:
    """The submissions the arguments hold, and notes for the instructor."""
    found: list[Submission] = []
    notes: list[str] = []
    for path in paths:
        if path.is_file() and export.is_export_zip(path):
            found += _from_export(export.unpack(path, scratch), notes)
        elif metadata := export.metadata_in(path):  # an export folder (metadata_in checks it is a folder)
            found += _from_export(metadata.parent, notes)
        elif _collection(path):
            found += [Submission(_name(child), (child.resolve(),)) for child in _children(path)]
        else:
            found.append(Submission(_name(path), (path.resolve(),)))
    return _unique(found), notes


def _from_export(folder: Path, notes: list[str]) -> list[Submission]:
    people = export.submitters(folder / export.METADATA)
    folders = [c for c in sorted(folder.iterdir()) if c.is_dir() and not _hidden(c)]
    absent = sorted(set(people) - {c.name for c in folders})
    if absent:
        notes.append(f"{len(absent)} submission(s) in {export.METADATA} have no folder: {', '.join(absent)}")
    return [Submission(_name(c), (c.resolve(),), people.get(c.name, ())) for c in folders]


def _unique(found: list[Submission]) -> list[Submission]:
    """Each submission its own id: a repeated one gets the first free "-2", "-3", ... (an id may end so already)."""
    taken = {sub.id for sub in found}
    unique, used = [], set()
    for sub in found:
        name, n = sub.id, 1
        while name in used or (n > 1 and name in taken):
            n += 1
            name = f"{sub.id}-{n}"
        used.add(name)
        unique.append(sub if name == sub.id else Submission(name, sub.sources, sub.submitters))
    return unique
