"""The documentation stays true to the package: README.md and docs/*.md.

Every relative link resolves (files, and #anchors by GitHub's rules), and
every command the pages show exists: `make TARGET` in the Makefile, and
each subcommand and flag of `python -m autograder ...`, `python -m
autograder.X ...` and `bench/*.py` in that program's own --help. A page that
names a target or a flag that is gone fails here, with the page and the
words. No grading runs: each program is asked for its --help once.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
README_LINES = 160  # "a README a newcomer reads in five minutes": detail goes to docs/

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
PATH = re.compile(r"^(?:autograder|assignment|solution|tests|bench|docs)/[\w./-]+\.(?:py|toml|md|svg|png)$")


# --- what the package offers ----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))


@functools.lru_cache(maxsize=None)
def help_of(*command: str) -> tuple[int, str]:
    """The exit status and the whole text of `python COMMAND --help`, run from the repository."""
    done = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stdout + done.stderr


def flags_of(*command: str) -> frozenset[str]:
    return frozenset(FLAG.findall(help_of(*command)[1]))


def every_flag() -> frozenset[str]:
    """Any flag of the package's programs: what a bare `--flag` in the prose may name."""
    programs = [("-m", "autograder", "grade"), ("-m", "autograder.sandbox"), ("-m", "autograder.skeleton"),
                ("-m", "autograder.bundle"), ("bench/run.py",), ("bench/soak.py",)]
    return frozenset().union(*(flags_of(*p) for p in programs))


# --- reading a page -------------------------------------------------------------------------------


def code_of(text: str) -> list[str]:
    """Each command line a page shows: the lines of its code blocks, and its inline code."""
    lines = []
    for block in FENCE.finditer(text):
        lines += block.group(0).splitlines()[1:-1]
    lines += [" ".join(span.split()) for span in INLINE.findall(FENCE.sub("", text))]
    return lines


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote in prose: take the words as they are
        return line.split()


def _flags(words: list[str]) -> list[str]:
    """The flags among a command's words, up to the end of the command (`|`, `&&`, `)`, ...)."""
    found = []
    for word in words:
        if word and set(word) <= set("();<>|&"):
            break
        word = word.strip("[]")
        if FLAG.fullmatch(word):
            found.append(word)
    return found


def command_problems(line: str) -> list[str]:
    """What in one command line names something the package does not have."""
    words = _tokens(line)
    problems = []
    for i, word in enumerate(words):
        if word == "make":
            for target in words[i + 1:]:
                if set(target) <= set("();<>|&") or target.startswith("-"):
                    break
                if "=" in target:
                    name, _, value = target.partition("=")
                    if name == "BENCH_ARGS":
                        problems += [f"bench/run.py has no {f} (in {line!r})"
                                     for f in _flags(value.split()) if f not in flags_of("bench/run.py")]
                    continue
                if target not in make_targets():
                    problems.append(f"the Makefile has no target {target!r} (in {line!r})")
        elif word == "-m" and i + 1 < len(words) and words[i + 1].split(".")[0] == "autograder":
            module, rest = words[i + 1], words[i + 2:]
            if module == "autograder":
                if not rest or rest[0].startswith("-"):
                    continue
                command = ("-m", "autograder", rest[0])
                if help_of(*command)[0] != 0:
                    problems.append(f"`python -m autograder` has no command {rest[0]!r} (in {line!r})")
                    continue
                rest = rest[1:]
            else:
                if not (ROOT / Path(*module.split("."))).with_suffix(".py").exists():
                    problems.append(f"there is no module {module} (in {line!r})")
                    continue
                command = ("-m", module)
            problems += [f"`python {' '.join(command)}` has no {f} (in {line!r})"
                         for f in _flags(rest) if f not in flags_of(*command)]
        elif re.fullmatch(r"(?:\./)?bench/[\w/]+\.py", word):
            script = word.removeprefix("./")
            if not (ROOT / script).exists():
                problems.append(f"there is no {script} (in {line!r})")
            elif _flags(words[i + 1:]):
                problems += [f"{script} has no {f} (in {line!r})"
                             for f in _flags(words[i + 1:]) if f not in flags_of(script)]
        elif PATH.match(word) and not (ROOT / word).exists():
            problems.append(f"there is no {word} (in {line!r})")
    if words and FLAG.fullmatch(words[0].strip("[]")) and words[0].strip("[]") not in every_flag():
        problems.append(f"no program of the package has {words[0]} (in {line!r})")
    return problems


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", page.read_text(encoding="utf-8")),
                              re.MULTILINE):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def link_problems(text: str, page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(FENCE.sub("", INLINE.sub("", text))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... not ours to check
            continue
        path, _, anchor = target.partition("#")
        goal = (page.parent / path).resolve() if path else page
        if not goal.exists():
            problems.append(f"{target}: there is no {goal.relative_to(ROOT) if goal.is_relative_to(ROOT) else goal}")
        elif anchor and (goal.suffix != ".md" or anchor not in anchors(goal)):
            problems.append(f"{target}: {goal.name} has no heading whose anchor is #{anchor}")
    return problems


# --- the pages ------------------------------------------------------------------------------------


def _id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_link_resolves(page):
    assert link_problems(page.read_text(encoding="utf-8"), page) == []


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_command_shown_exists(page):
    problems = [p for line in code_of(page.read_text(encoding="utf-8")) for p in command_problems(line)]
    assert problems == []


def test_the_readme_is_short():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_LINES, f"README.md has {lines} lines: move the detail to a page in docs/"


@pytest.mark.parametrize("page", PAGES[1:], ids=_id)
def test_each_page_says_who_it_is_for_and_shows_commands(page):
    text = page.read_text(encoding="utf-8")
    first = text.split("\n\n")[1]  # the paragraph under the title
    assert first.startswith("For "), f"{_id(page)}: start with who the page is for"
    assert FENCE.search(text), f"{_id(page)}: show the commands a reader can run to see what it says"


# --- the checks themselves can fail ---------------------------------------------------------------


@pytest.mark.parametrize("line, words", [
    ("make tset", "no target 'tset'"),
    ("PYTHON=python3.12 make grde SUBMISSION=x", "no target 'grde'"),
    ('make bench BENCH_ARGS="--agianst REF"', "bench/run.py has no --agianst"),
    (".venv/bin/python -m autograder grade x --no-such-flag", "has no --no-such-flag"),
    (".venv/bin/python -m autograder regrade x", "no command 'regrade'"),
    ("sudo .venv/bin/python -m autograder.sandbox --remove-user", "has no --remove-user"),
    ("python -m autograder.nothing", "no module autograder.nothing"),
    (".venv/bin/python bench/soak.py --rounds 3", "bench/soak.py has no --rounds"),
    ("bench/missing.py", "there is no bench/missing.py"),
    (".venv/bin/python -m pytest tests/test_nothing.py", "there is no tests/test_nothing.py"),
    ("--resume DIR", "no program of the package has --resume"),
])
def test_a_command_that_does_not_exist_is_caught(line, words):
    problems = command_problems(line)
    assert any(words in p for p in problems), problems


@pytest.mark.parametrize("line", [
    "make grade SUBMISSION=path RESULTS=path",
    'make bench BENCH_ARGS="--against 430ac42 --runs 5"',
    ".venv/bin/python -m autograder grade a.zip --out grades -j 8 --force  # a comment --nonsense",
    "(cd $AUTOGRADER_ROOT && ./run_autograder) && make dist",
    ".venv/bin/python -m autograder grade SUBMISSION [--results FILE] [-v]",
    "sudo .venv/bin/python -m autograder.sandbox --remove-users",
    "-j N",
])
def test_a_command_that_exists_passes(line):
    assert command_problems(line) == []


def test_a_broken_link_is_caught():
    page = ROOT / "docs" / "grading.md"
    text = ("[a](course.md) [b](course.md#the-export-format) [c](nowhere.md) [d](course.md#no-such-heading) "
            "[e](#the-two-rules-stated-once) [f](#nope) ![g](images/nothing.png) [h](https://example.com/x)")
    problems = link_problems(text, page)
    assert len(problems) == 4, problems
    assert any("nowhere.md" in p for p in problems)
    assert any("#no-such-heading" in p for p in problems)
    assert any("#nope" in p for p in problems)
    assert any("nothing.png" in p for p in problems)


def test_anchors_follow_githubs_rules(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Deploying to Gradescope\n## What `--one` does, step 1\n## Notes\n## Notes\n"
                    "```\n# not a heading\n```\n", encoding="utf-8")
    assert anchors(page) == {"deploying-to-gradescope", "what---one-does-step-1", "notes", "notes-1"}
