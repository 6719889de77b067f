"""Your part of each file: the region between the markers, and the step of the assignment it is.

The assignment comes in two steps: first client2 (answer the Ping), then
the server (forward both messages). A file still as handed out (no code in
its region, and the code around it the handout's) is a step not begun, not
a mistake: check.py and the autograder say so in one line for it, instead
of explaining each of its checks that failed. A file with code of its own
outside the region is explained in full: that code ran.
The autograder cuts files at the same markers to see what changed outside
them.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

import hashlib
import re
from dataclasses import dataclass

from . import advice, referee, scenario

START = "# *** start ***"
END = "# *** end ***"
_REGION = re.compile(r"^[ \t]*# \*\*\* start \*\*\*[ \t]*$(.*?)^[ \t]*# \*\*\* end \*\*\*[ \t]*$", re.M | re.S)
STEPS = {"client2_student.py": 1, "server_student.py": 2}  # the order the assignment sets
# The code around each skeleton's region, as around() sums it up: `make skeletons` writes this line.
HANDED_OUT = {"client2_student.py": "c6a33bbb0d09128b", "server_student.py": "fd0b5807b8f9d83d"}


@dataclass(frozen=True)
class Parts:
    before: str
    region: str
    after: str


def normalise(text):
    """Line endings and trailing space do not count as changes."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n") + "\n"


def split(text):
    """The file cut at its markers, or None when the markers are not both there once."""
    text = normalise(text)
    matches = list(_REGION.finditer(text))
    if len(matches) != 1:
        return None
    match = matches[0]
    return Parts(text[: match.start(1)], match.group(1), text[match.end(1):])


def _code(text):
    """Its lines of code: blank lines and comment lines left out (a comment with your name is no change)."""
    return [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def around(parts):
    """A short digest of the code around the region."""
    return hashlib.sha256("\n".join(_code(parts.before + "\n" + parts.after)).encode("utf-8")).hexdigest()[:16]


def untouched(name, path):
    """Is the file `name`, at `path`, still as handed out: no code in its region, and around it the
    skeleton's? One that cannot be read, or has lost its markers, has been touched."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as stream:
            parts = split(stream.read())
    except OSError:
        return False
    return parts is not None and not _code(parts.region) and around(parts) == HANDED_OUT.get(name)


def not_written(check, files):
    """For a check that failed: the one line to say instead of why, when a file it needs is untouched
    (the first such file), else None; its text names the file first. `files`: file name -> its path,
    or None (missing: said otherwise)."""
    needs = scenario.NEEDS[referee.CHECKS[check][0]]
    empty = next((name for name in needs if files.get(name) is not None and untouched(name, files[name])), None)
    if empty is None:
        return None
    return advice.Advice("part-empty", "{}: your part is still empty: that is step {}".format(empty, STEPS[empty]))
