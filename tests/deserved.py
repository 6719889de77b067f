"""What each catalogue entry deserves under the rubric in force.

tests/catalogue/expected.toml says which tests an entry fails, never what they
are worth: the points are the rubric's, so an instructor who changes them (or
`must_end`) keeps a catalogue, and a test suite, that still holds. Every
reader of the catalogue (the tests, the image test, the soak) asks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from autograder import rubric

CATALOGUE = Path(__file__).resolve().parent / "catalogue"
GRADED = rubric.GRADED
INFORMATIONAL = tuple(test.key for test in rubric.TESTS if test.key not in GRADED)
# The warnings of a passed test whose programs did not end by themselves: under `must_end`, a failure.
NOT_ENDING = ("does-not-end", "wait-on-each-other")
KEYS = {"about", "fails", "says", "hint"}


@dataclass(frozen=True)
class Entry:
    name: str
    about: str
    fails: frozenset[str]  # the tests it fails under any rubric
    says: dict[str, str]  # test -> words its output holds
    hint: dict[str, tuple[str, str]]  # test -> (the hint's key, words its output holds)

    def passes(self, key: str, chosen: rubric.Rubric) -> bool:
        test = next(test for test in chosen.tests if test.key == key)
        return key not in self.fails and not (test.must_end and self.hint.get(key, ("",))[0] in NOT_ENDING)

    def scores(self, chosen: rubric.Rubric) -> dict[str, float | bool]:
        """Points for the graded tests, pass or fail for the informational ones: as tests read a grade."""
        return {test.key: (test.points if self.passes(test.key, chosen) else 0.0) if test.key in GRADED
                else self.passes(test.key, chosen) for test in chosen.tests}

    def total(self, chosen: rubric.Rubric) -> float:
        return sum(test.points for test in chosen.tests if test.key in GRADED and self.passes(test.key, chosen))


def read(path: Path = CATALOGUE / "expected.toml") -> dict[str, Entry]:
    """The catalogue's entries; one not as this module reads it is refused, named, with what is wrong."""
    table = rubric.toml().loads(path.read_text(encoding="utf-8"))
    known = set(GRADED + INFORMATIONAL)
    entries = {}
    for name, raw in table.items():
        fails, says, hint = raw.get("fails"), raw.get("says", {}), raw.get("hint", {})
        wrong = [
            *([f"unknown keys {sorted(set(raw) - KEYS)}"] if set(raw) - KEYS else []),
            *([] if raw.get("about") else ["no `about`: say what it is, and why it deserves its verdicts"]),
            *([] if isinstance(fails, list) and set(fails) <= known
              else [f"`fails` must list tests of {sorted(known)}"]),
            *([] if set(says) <= known else ["`says.<test>` must name a test"]),
            *([] if set(hint) <= set(GRADED) and all(_pair(pair) for pair in hint.values())
              else ["`hint.<graded test>` must be [key, words]"]),
        ]
        if wrong:
            raise ValueError(f"{path}: [{name}]: {'; '.join(wrong)}")
        entries[name] = Entry(name, raw["about"], frozenset(fails), dict(says),
                              {key: (pair[0], pair[1]) for key, pair in hint.items()})
    return entries


def _pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(word, str) for word in value)


@cache
def catalogue() -> dict[str, Entry]:
    return read()
