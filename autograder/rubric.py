"""The tests, what each is worth, and the instructor's file that sets it.

The tests themselves are fixed here; an instructor changes only their
points, their visibility on Gradescope, whether a program that does not end
by itself after the exchange loses them (`must_end`), and the time limits, in
`rubric.toml`. A mistake there is refused with the key that is wrong, before
any student code runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .handout import feedback
from .scene import Limits

DEFAULT_FILE = Path(__file__).with_name("rubric.toml")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Test:
    key: str
    name: str
    expected: str  # what should happen, in a student's words
    points: float = 0.0
    visibility: str = "visible"
    must_end: bool = False  # passes only if its programs also end by themselves after the exchange


EXPECTED = {key: expected for key, (_, expected) in feedback.CHECKS.items()}  # the self-check's words
TESTS = (
    Test("client2_answers", "client2 answers a Ping with a Pong", EXPECTED["client2_answers"], 40),
    Test("server_forwards_ping", "server forwards the Ping from client1 to client2",
         EXPECTED["server_forwards_ping"], 20),
    Test("server_forwards_pong", "server forwards the Pong from client2 to client1",
         EXPECTED["server_forwards_pong"], 20),
    Test("together", "your server and client2 complete the exchange together", EXPECTED["together"], 20),
    Test("files_present", "the expected files are present (informational)",
         "server_student.py and client2_student.py in your submission"),
    Test("outside_unchanged", "code outside the *** start *** / *** end *** regions is unchanged (informational)",
         "your changes only between the '# *** start ***' and '# *** end ***' lines"),
)
GRADED = ("client2_answers", "server_forwards_ping", "server_forwards_pong", "together")


class ConfigError(ValueError):
    """The rubric file is wrong; the message names the key."""


@dataclass(frozen=True)
class Rubric:
    tests: tuple[Test, ...]
    limits: Limits

    @property
    def max_score(self) -> float:
        return sum(test.points for test in self.tests)


def load(path: Path | None = None) -> Rubric:
    path = path or DEFAULT_FILE
    text = _read(path)
    data = _parsed_before(path, text)
    return parse(_parse_toml(path, text) if data is None else data, str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None


def toml():
    """This Python's TOML reader, imported only when a file must be read as TOML (see below)."""
    if sys.version_info >= (3, 11):
        import tomllib  # novermin: 3.11 and newer only, as the line above says
    else:  # Gradescope's Ubuntu 22.04 has Python 3.10
        import tomli as tomllib
    return tomllib


def _parse_toml(path: Path, text: str) -> dict:
    tomllib = toml()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None


# --- the rubric, parsed ahead -------------------------------------------------
# Reading TOML costs every grading about 15 ms of CPU (tomllib, and the typing
# and datetime modules it imports, measured on 2 cores). So setup.sh and
# make parse the file once, as they compile the grader to bytecode, and leave
# the result beside it, with the text it came from: a grading takes it only if
# that text is the file's, character for character, and reads the TOML
# otherwise. Editing rubric.toml can never be overlooked.

def _parsed_file(path: Path) -> Path:
    return path.parent / "__pycache__" / f"{path.name}.json"


def _parsed_before(path: Path, text: str) -> dict | None:
    try:
        saved = json.loads(_parsed_file(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("toml") != text or not isinstance(saved.get("data"), dict):
        return None
    return saved["data"]


def parse_ahead(path: Path = DEFAULT_FILE) -> None:
    """Parse `path` now and save the result for gradings to come (see above); checked first, so a
    broken rubric fails here, at setup, with its key named."""
    text = _read(path)
    data = _parse_toml(path, text)
    parse(data, str(path))
    try:
        saved = json.dumps({"toml": text, "data": data}, allow_nan=False)
    except (TypeError, ValueError):  # a value JSON cannot hold (parse refuses all such): gradings read the TOML
        return
    target = _parsed_file(path)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(exist_ok=True)
        temporary.write_text(saved, encoding="utf-8")
        os.replace(temporary, target)  # whole or not at all: a batch's gradings may be reading it
    except OSError:  # best effort: beside a rubric in a folder one cannot write, gradings read the TOML
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def parse(data: dict, where: str = "rubric") -> Rubric:
    _only(data, {"limits", "tests"}, where, "")
    limits = Limits()
    raw_limits = data.get("limits", {})
    _only(raw_limits, set(Limits.__dataclass_fields__), where, "limits.")
    for key, value in raw_limits.items():
        whole = isinstance(getattr(limits, key), int)  # the sandbox's limits: memory_mib, processes, ...
        if not _number(value) or value <= 0 or (whole and value != int(value)):
            kind = "a whole number, 1 or more" if whole else "a number of seconds above 0"
            raise ConfigError(f"{where}: limits.{key} must be {kind}, not {value!r}")
        limits = replace(limits, **{key: int(value) if whole else float(value)})
    tests = {test.key: test for test in TESTS}
    raw_tests = data.get("tests", {})
    _only(raw_tests, set(tests), where, "tests.")
    for key, settings in raw_tests.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: tests.{key} must be a table of settings")
        allowed = {"points", "visibility", "must_end"} if key in GRADED else {"visibility"}
        _only(settings, allowed, where, f"tests.{key}.")
        points = settings.get("points", tests[key].points)
        if not _number(points) or points < 0:
            raise ConfigError(f"{where}: tests.{key}.points must be a number of points, 0 or more, not {points!r}")
        visibility = settings.get("visibility", tests[key].visibility)
        if visibility not in VISIBILITIES:
            raise ConfigError(f"{where}: tests.{key}.visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
        must_end = settings.get("must_end", tests[key].must_end)
        if not isinstance(must_end, bool):
            raise ConfigError(f"{where}: tests.{key}.must_end must be true or false, not {must_end!r}")
        tests[key] = replace(tests[key], points=float(points), visibility=visibility, must_end=must_end)
    # A graded test left out would keep points the instructor never sees: each must be given its own.
    unpointed = [key for key in GRADED if not isinstance(raw_tests.get(key), dict) or "points" not in raw_tests[key]]
    if unpointed:
        raise ConfigError(f"{where}: no points for {', '.join(f'tests.{key}' for key in unpointed)}: every graded "
                          f"test needs its table with its points (0 to grade it for nothing)")
    return Rubric(tuple(tests[test.key] for test in TESTS), limits)


def _number(value: object) -> bool:
    """A plain, finite number: TOML also has booleans, inf and nan, and none of them is a limit or points."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _only(table: object, allowed: set[str], where: str, prefix: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'the file'} must be a table")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {prefix}{key} (known: {', '.join(sorted(allowed))})")


if __name__ == "__main__":  # python -m autograder.rubric [FILE]: parse ahead (setup.sh and make do)
    try:
        parse_ahead(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE)
    except (ConfigError, OSError) as error:
        sys.exit(f"error: {error}")
    if len(sys.argv) > 1:  # an instructor's quick check of a rubric file says that it passed
        print(f"{sys.argv[1]}: a valid rubric")
