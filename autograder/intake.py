"""From what a student uploaded to the two files the grader runs.

Students upload a zip with the files at its root, a zip of a folder, or the
bare files (Gradescope unzips an upload into a folder, which comes here as
one); they name files "Server_Student.py", "server_student (1).py" or
"server_student.py.txt". Intake finds the expected files wherever they are,
says what it did, and refuses, with a reason, what it cannot safely take.

Nothing a submission holds chooses where intake writes: each file it keeps
is copied under a name of intake's own, and only files that could be one of
the expected ones are copied at all, each bounded in size as it is written
(a zip's declared sizes can lie). A zip that climbs out (`../`), names an
absolute path, holds a symbolic link, or holds too many files or bytes is
refused whole.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .handout import CHECKER, LIBRARY_FILES, STUDENT_FILES

MAX_ENTRIES = 1000  # files in a zip or a folder: a whole project with its .git fits
MAX_BYTES = 50 * 1024 * 1024  # uncompressed, all entries of a zip together
MAX_FILE_BYTES = 1024 * 1024  # one source file (the handout's are a few KiB)
IGNORED_PARTS = {"__MACOSX", ".DS_Store", "__pycache__", ".git", ".idea", ".vscode", ".venv", "venv",
                 "node_modules", "Thumbs.db", "desktop.ini"}
BACKUP = re.compile(r"(~|\.bak|\.swp|\.swo|\.orig|\.tmp|\.pyc)$|^\.#|^#.*#$|^\._", re.IGNORECASE)
EXPECTED = f"{' and '.join(STUDENT_FILES)} (the two files, or a zip holding them)"
_KINDS = (  # what a file that is not a zip is, by its first bytes: for the message
    (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"), (b"BZh", "a bzip2 archive"),
)


@dataclass(frozen=True)
class Note:
    """What intake did, told to the student; its kind lets the grading decide, without reading the text,
    whether a person should look (grading.Concern)."""

    kind: str  # one of NOTES
    text: str
    file: str = ""  # the expected file it is about, if one


NOTES = {  # kind -> when
    "renamed": "a file named otherwise was used as an expected one",
    "missing": "an expected file was not found",
    "unrunnable": "an expected file was found but cannot be run (too big, not UTF-8)",
    "several": "more than one file could be an expected one; one was chosen",
    "ignored": "the submission holds its own copy of a handout file, which the grader never uses",
}


@dataclass
class Intake:
    files: dict[str, Path | None]  # expected name -> the file to run, or None
    notes: list[Note] = field(default_factory=list)  # for the student: what intake did
    problem: str = ""  # why nothing could be graded at all, if so
    renamed: dict[str, str] = field(default_factory=dict)  # expected name -> the file used as it, named otherwise

    @property
    def texts(self) -> list[str]:
        return [note.text for note in self.notes]


class Refused(Exception):
    """The submission cannot be taken safely; the message says why, for the student."""


@dataclass(frozen=True)
class Received:
    where: str  # its path in the submission, as the student knows it: "pingpong/server_student.py"
    copy: Path | None  # intake's copy, if it could be one of the expected files
    too_big: bool = False

    @property
    def name(self) -> str:
        return PurePosixPath(self.where).name


class _Box:
    """What the submission holds, as intake reads it: every name, and copies of the files that matter."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.received: list[Received] = []
        self.kinds: list[str] = []  # what each source was, for the message when nothing could be used
        self.written = 0

    def keep(self, where: str, opener) -> None:
        """Note a file; copy it, bounded, if it could be one we want (`opener()` gives its bytes)."""
        path = PurePosixPath(where)
        if _ignored(path):
            return
        if len(self.received) >= MAX_ENTRIES:
            raise Refused(f"the submission holds more than {MAX_ENTRIES} files. Upload only {EXPECTED}")
        copy, too_big = None, False
        if _key(path.name) in (*STUDENT_FILES, *LIBRARY_FILES):
            copy = self.store / f"{len(self.received):04}"
            with opener() as stream:
                size = _copy_bounded(stream.read, copy, MAX_FILE_BYTES)
            too_big = size < 0
            self.written += MAX_FILE_BYTES if too_big else size  # bytes as written: a zip's sizes can lie
            if self.written > MAX_BYTES:
                raise Refused(f"the submission unpacks to more than {MAX_BYTES // 2**20} MiB; the two files are "
                              f"a few KiB. Upload only {EXPECTED}")
        self.received.append(Received(where, copy, too_big))

    def take(self, source: Path) -> None:
        if source.is_dir():
            self.kinds.append(f"a folder ({source.name})")
            self._folder(source)
        elif _zipped(source):
            self._zip(source, source.name)
        else:
            self.kinds.append(f"{source.name} ({_kind(source)})")
            self.keep(source.name, lambda: open(source, "rb"))

    def _folder(self, folder: Path) -> None:
        for top, folders, files in os.walk(folder):
            folders[:] = sorted(f for f in folders if not Path(top, f).is_symlink() and not _ignored(PurePosixPath(f)))
            for name in sorted(files):
                path = Path(top, name)
                where = path.relative_to(folder).as_posix()
                if path.is_symlink():
                    if _key(name) in STUDENT_FILES:
                        raise Refused(f"{where} is a symbolic link, not a file. Upload the file itself")
                elif not stat.S_ISREG(path.lstat().st_mode):
                    continue  # a pipe or a device: reading it could block, and it is no one's code
                elif _zipped(path) and not _ignored(PurePosixPath(where)):
                    self._zip(path, where)  # a zip inside the upload: Gradescope leaves those whole
                else:
                    self.keep(where, lambda path=path: open(path, "rb"))

    def _zip(self, archive: Path, where: str) -> None:
        import zipfile  # here: Gradescope unpacks uploads itself, and zipfile costs every grading 3 ms to import

        self.kinds.append(f"a zip ({where})")
        try:
            with zipfile.ZipFile(archive) as zipped:
                entries = zipped.infolist()
                _check(entries, where)
                for entry in (e for e in entries if not e.is_dir()):
                    self.keep(f"{where}/{_inside(entry)}", lambda entry=entry: zipped.open(entry))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
                ValueError) as error:
            raise Refused(f"{where} could not be unpacked ({error}). Make the zip with your system's "
                          f"\"Compress\" (no password), or upload {' and '.join(STUDENT_FILES)} themselves") from None

    def describe(self) -> str:
        """What was received, in a few words: "a zip (hw.zip) holding notes.txt, main.py and 3 more"."""
        what = " and ".join(self.kinds) or "nothing"
        names = [r.where for r in self.received]
        if not names:
            return f"{what}, which holds no files"
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"{what}, holding {shown}"


def _zipped(path: Path) -> bool:
    """A zip by its first bytes, or by its name (then a broken one, refused as such)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(4)
    except OSError:
        return False
    return head in (b"PK\x03\x04", b"PK\x05\x06") or path.suffix.lower() == ".zip"


def _check(entries: list[zipfile.ZipInfo], where: str) -> None:
    """Refuse a zip whole, before anything of it is written, if any entry is unsafe."""
    if len(entries) > MAX_ENTRIES:
        raise Refused(f"{where} holds {len(entries)} files; at most {MAX_ENTRIES} are accepted. Upload only {EXPECTED}")
    if sum(entry.file_size for entry in entries) > MAX_BYTES:
        raise Refused(f"{where} unpacks to more than {MAX_BYTES // 2**20} MiB; the two files are a few KiB. "
                      f"Upload only {EXPECTED}")
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if path.is_absolute() or re.match(r"^[a-zA-Z]:", name) or ".." in path.parts:
            raise Refused(f"{where} has an entry that points outside the zip ({entry.filename!r}); it was refused")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise Refused(f"{where} holds a symbolic link ({entry.filename!r}); it was refused. "
                          "Zip the files themselves")


def _inside(entry: zipfile.ZipInfo) -> str:
    return PurePosixPath(entry.filename.replace("\\", "/")).as_posix()


def _copy_bounded(read, target: Path, bound: int) -> int:
    """Copy what `read` gives to a new file, at most `bound` bytes: how many, or -1 if there was more."""
    written = 0
    with open(target, "xb") as out:
        while True:
            chunk = read(min(65536, bound + 1 - written))
            if not chunk:
                return written
            written += len(chunk)
            if written > bound:
                return -1
            out.write(chunk)


def _kind(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except OSError:
        return "unreadable"
    if not head:
        return "an empty file"
    if path.suffix.lower() == ".zip":
        return "not a valid zip"
    return next((kind for magic, kind in _KINDS if head.startswith(magic)), "not a zip")


def take(sources: list[Path], dest: Path) -> Intake:
    """Find the student files in `sources` (zips, folders or files), copied under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # the student's code is not for other programs to read
    store = dest / "received"
    store.mkdir()
    box = _Box(store)
    try:
        for source in sources:
            if not source.exists():
                raise Refused(f"nothing was found at {source}")
            box.take(source)
    except Refused as refusal:
        return _refused(str(refusal))
    except OSError as error:
        return _refused(f"the submission could not be read ({error.strerror or error}). Expected {EXPECTED}")
    if not box.received:
        return _refused(f"we received {box.describe()}. Expected {EXPECTED}.")
    if not any(_key(r.name) in STUDENT_FILES for r in box.received):
        return _refused(f"we received {box.describe()}; none of it is {' or '.join(STUDENT_FILES)}. "
                        f"Expected {EXPECTED}.")
    notes: list[Note] = []
    renamed: dict[str, str] = {}
    files = {name: _choose(name, box.received, dest, notes, renamed) for name in STUDENT_FILES}
    for name in LIBRARY_FILES:
        if any(r.name == name for r in box.received):
            notes.append(Note("ignored", f"Your {name} was ignored: the grader always uses its own copy."))
    if any(CHECKER in PurePosixPath(r.where).parts[:-1] for r in box.received):
        notes.append(Note("ignored", f"Your {CHECKER}/ folder was ignored: the grader always uses its own."))
    return Intake(files, notes, renamed=renamed)


def _refused(problem: str) -> Intake:
    return Intake({name: None for name in STUDENT_FILES}, [], problem)


def _ignored(path: PurePosixPath) -> bool:
    return any(part in IGNORED_PARTS or BACKUP.search(part) for part in path.parts)


def _key(filename: str) -> str:
    """A name as a forgiving eye reads it: 'Server_Student (1).py.txt' -> 'server_student.py'."""
    name = filename.lower().strip()
    name = re.sub(r"\.txt$", "", name)
    name = re.sub(r"(\.py)+$", ".py", name)
    name = re.sub(r"(\s*\(\d+\)|\s*-\s*copy|\s+copy|[-_ ]\d)(?=\.py$)", "", name)
    return re.sub(r"[\s-]+", "_", name)


def _choose(name: str, received: list[Received], dest: Path, notes: list[Note], renamed: dict) -> Path | None:
    """The file to run as `name`: named exactly so, or else the nearest miss, shallowest first."""
    exact = [r for r in received if r.name == name]
    near = [r for r in received if _key(r.name) == name and r.name != name]
    ranked = sorted(exact, key=_depth) or sorted(near, key=lambda r: (_depth(r), r.name))
    if not ranked:
        notes.append(Note("missing", f"{name} was not found in your submission; the tests that need it score 0. "
                          f"Name the file exactly {name}.", name))
        return None
    chosen = ranked[0]
    if not exact:
        renamed[name] = chosen.where
        notes.append(Note("renamed", f"Used {chosen.name!r} as {name}: please name it exactly {name} next time.",
                          name))
    others = [r.where for r in ranked[1:] if _depth(r) == _depth(chosen)]
    if others:
        notes.append(Note("several", f"Your submission holds more than one {name}; {chosen.where} was used, "
                          f"not {', '.join(others)}.", name))
    if chosen.too_big:
        notes.append(Note("unrunnable", f"{chosen.where} is larger than {MAX_FILE_BYTES // 2**20} MiB, so it could "
                          "not be run; the handout's is a few KiB: is it the right file?", name))
        return None
    return _ready(chosen, name, dest, notes)


def _depth(received: Received) -> int:
    return len(PurePosixPath(received.where).parts)


def _ready(found: Received, name: str, dest: Path, notes: list[Note]) -> Path | None:
    """The file as UTF-8 with LF line ends, or None (with a note) if it is not text Python can read."""
    data = found.copy.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append(Note("unrunnable", f"{name} is saved as UTF-16, so it could not be run. Save it as UTF-8 in "
                          "your editor (\"Save with encoding\") and submit again.", name))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        notes.append(Note("unrunnable", f"{name} is not UTF-8 text (line {line} holds a byte that cannot be read: "
                          f"{data[error.start:error.start + 1]!r}), so it could not be run. Save it as UTF-8 "
                          "in your editor and submit again.", name))
        return None
    target = dest / "files" / name
    target.parent.mkdir(exist_ok=True)
    target.write_text(text.replace("\r\n", "\n").replace("\r", "\n"), encoding="utf-8", newline="\n")
    return target
