"""Walks the file system for the reference answers, and says every place it could read one.

Into client2, on the skeletons (so the upload itself holds no answer). It
walks the grader's checkout (named on its warden's command line), then the
folders the test names (@TOPS@: in the image test the temporary folders,
every home folder and /autograder), opening every file it may read, every
zip member and every git object (loose, and the entries of packs), and says
every place that holds a reference region, verbatim. The test hands it the
regions hex-encoded (@MARKS@), so this file holds none. Bounded in files,
bytes and time; its last line says how far it got. It then ends without
answering. As root, it must find nothing.
"""
import os
import pwd
import stat
import sys
import time
import zipfile
import zlib

_marks = [bytes.fromhex(word) for word in "@MARKS@".split(",")]
_limits = {"files": 100000, "bytes": 1 << 30, "seconds": 3.5, "file": 64 << 20, "member": 16 << 20}
_started = time.monotonic()
_seen = set()
_count = {"files": 0, "bytes": 0, "members": 0, "objects": 0, "too large": 0}
_places = []


def _holds(data):
    return any(mark in data for mark in _marks)


def _inflate(view, at):
    """The zlib stream at `at` in `view`, inflated, and where it ends."""
    inflater, parts = zlib.decompressobj(), []
    while not inflater.eof and at < len(view):
        chunk = view[at:at + 65536]
        parts.append(inflater.decompress(chunk, _limits["member"]))
        at += len(chunk) - len(inflater.unused_data)
        if inflater.unconsumed_tail:  # more than a member may be: the rest is not looked at
            _count["too large"] += 1
            raise zlib.error("too large")
    return b"".join(parts), at


def _pack(path, data):
    """Every entry of a git pack, inflated: whole objects, and the data deltas insert."""
    view, at = memoryview(data), 12
    for index in range(int.from_bytes(data[8:12], "big")):
        byte = data[at]
        kind, at = (byte >> 4) & 7, at + 1
        while byte & 0x80:
            byte, at = data[at], at + 1
        if kind == 6:  # a delta against an object at an offset
            byte, at = data[at], at + 1
            while byte & 0x80:
                byte, at = data[at], at + 1
        elif kind == 7:  # a delta against an object by its name
            at += 20
        body, at = _inflate(view, at)
        _count["objects"] += 1
        if _holds(body):
            _places.append(f"{path} (git pack, object {index})")


def _look(path, info):
    if info.st_size > _limits["file"] or _count["bytes"] + info.st_size > _limits["bytes"]:
        _count["too large"] += 1
        return
    with open(path, "rb") as stream:
        data = stream.read(4)
        if data == b"\x7fELF":  # machine code: no source in it, and most of the bytes there are
            return
        data += stream.read()
    _count["files"] += 1
    _count["bytes"] += len(data)
    if _holds(data):
        _places.append(path)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                _count["members" if member.file_size <= _limits["member"] else "too large"] += 1
                if member.file_size <= _limits["member"] and _holds(archive.read(member)):
                    _places.append(f"{path} (zip member {member.filename})")
    elif data[:4] == b"PACK":
        _pack(path, data)
    elif os.sep + "objects" + os.sep in path and len(os.path.basename(path)) == 38:  # a loose git object
        _count["objects"] += 1
        if _holds(_inflate(memoryview(data), 0)[0]):
            _places.append(f"{path} (git object)")


class _OutOfTime(Exception):
    pass


def _bounded():
    if _count["files"] >= _limits["files"] or time.monotonic() - _started > _limits["seconds"]:
        raise _OutOfTime


def _walk(top):
    for folder, folders, files in os.walk(top):
        _bounded()
        if "pyvenv.cfg" in files:  # a virtual environment: Python and libraries, most of the files there are
            folders.clear()
            continue
        folders.sort()
        for name in sorted(files):
            _bounded()
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in _seen:
                    _seen.add((info.st_dev, info.st_ino))
                    _look(path, info)
            except (OSError, ValueError, IndexError, zlib.error, zipfile.BadZipFile, RuntimeError, EOFError):
                pass  # unreadable, or not what it seemed


def _checkout():
    """The grader's folder, from the warden's command line: sys.path.append('/.../autograder')."""
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as stream:
            words = stream.read().decode().split("\0")
    except OSError:
        return []
    return [word[word.rfind("'", 0, at) + 1:at] for word in words for at in [word.find("/autograder'")] if at >= 0]


_homes = sorted({entry.pw_dir for entry in pwd.getpwall() if entry.pw_uid == 0 or entry.pw_uid >= 1000})
_tops = [*_checkout(), *(top for word in "@TOPS@".split(",") for top in (_homes if word == "~" else [word]))]
_cut = False
try:
    for _top in dict.fromkeys(_tops):
        _walk(_top)
except _OutOfTime:
    _cut = True
if _places:  # on one line: the feedback shows a program's last lines only
    print(f"FOUND {len(_places)}:", " | ".join(_places[:500]))
print(f"WALKED: {' '.join(dict.fromkeys(_tops))}; {_count['files']} files, {_count['members']} zip members, "
      f"{_count['objects']} git objects, {_count['bytes'] >> 20} MiB in {time.monotonic() - _started:.1f} s; "
      f"{_count['too large']} too large to read; found {len(_places)}; "
      f"complete: {'no' if _cut or _count['too large'] else 'yes'}", flush=True)
