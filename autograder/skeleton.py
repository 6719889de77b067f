"""The student's region in a file, and the code around it.

The handout skeletons are the solution files with their regions emptied:
one source of truth. `python -m autograder.skeleton --write` rewrites the
skeletons from the solution; the test suite fails when they drift apart.
The same cutting tells a grader whether a student changed code outside the
region they were asked to fill.
"""

from __future__ import annotations

import argparse
import re

from .handout import FOLDER as HANDOUT, SOLUTION, STUDENT_FILES, region

# Where a file is cut: the handout's own (the self-check tells an untouched region by the same cut).
START, END, Parts, normalise, split = region.START, region.END, region.Parts, region.normalise, region.split


def emptied(text: str) -> str:
    """The file with its region emptied: the skeleton of a solution file."""
    parts = split(text)
    if parts is None:
        raise ValueError("no single '*** start ***' / '*** end ***' region")
    return parts.before + "\n" + parts.after.lstrip("\n")


def outside_changes(submitted: str, skeleton: str) -> list[str]:
    """The lines changed outside the region, as a short unified diff; [] if none."""
    theirs, ours = split(submitted), split(skeleton)
    if ours is None:
        raise ValueError("the skeleton has no region")
    if theirs is None:
        return ["the '# *** start ***' and '# *** end ***' lines are missing or repeated"]
    if (theirs.before, theirs.after) == (ours.before, ours.after):
        return []  # the usual case, and no difflib to import (3 ms) for it
    import difflib

    diff = []
    for label, mine, yours in (("before", ours.before, theirs.before), ("after", ours.after, theirs.after)):
        lines = list(
            difflib.unified_diff(
                mine.splitlines(), yours.splitlines(), f"skeleton ({label} the region)", "yours", n=0, lineterm=""
            )
        )
        diff.extend(lines)
    return diff


REGION_FILE = HANDOUT / "checker" / "region.py"
_HANDED_OUT = re.compile(r"^HANDED_OUT = \{.*\}$", re.M)


def handed_out() -> str:
    """The line of checker/region.py that sums up the code around each skeleton's region, as it should read."""
    sums = {name: region.around(split(emptied((SOLUTION / name).read_text(encoding="utf-8")))) for name in
            sorted(STUDENT_FILES)}
    return "HANDED_OUT = {" + ", ".join(f'"{name}": "{digest}"' for name, digest in sums.items()) + "}"


def drift() -> list[str]:
    """Where the handout skeletons differ from the emptied solution files (and checker/region.py's sums of
    them from what they hold)."""
    problems = []
    for name in STUDENT_FILES:
        expected = emptied((SOLUTION / name).read_text(encoding="utf-8"))
        actual = (HANDOUT / name).read_text(encoding="utf-8")
        if actual != expected:
            problems.append(name)
    if handed_out() not in _HANDED_OUT.findall(REGION_FILE.read_text(encoding="utf-8")):
        problems.append("checker/region.py")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.skeleton",
        description="Check (or, with --write, rewrite) the handout skeletons against solution/.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite assignment/ from solution/")
    args = parser.parse_args(argv)
    if args.write:
        for name in STUDENT_FILES:
            text = emptied((SOLUTION / name).read_text(encoding="utf-8"))
            (HANDOUT / name).write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote assignment/{name}")
        text = REGION_FILE.read_text(encoding="utf-8")
        REGION_FILE.write_text(_HANDED_OUT.sub(handed_out(), text, count=1), encoding="utf-8", newline="\n")
        print("wrote assignment/checker/region.py's HANDED_OUT")
        return 0
    problems = drift()
    for name in problems:
        print(f"assignment/{name} is not solution/{name} with its region emptied: run `make skeletons`"
              if name in STUDENT_FILES else f"assignment/{name} does not sum up the skeletons: run `make skeletons`")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
