"""The two bundles `make dist` writes: what is in them, and what must never be.

The handout goes to every student, so it must hold exactly the handout and
not one line of the reference solution. The autograder zip goes to
Gradescope, so it must hold everything grading needs, its two entry points
runnable, and none of the project's tests, caches or environments.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import bundle, rubric, skeleton
from autograder.handout import FOLDER, LIBRARY_FILES, PARTNERS, ROOT, SOLUTION, STUDENT_FILES

EXECUTABLE = 0o100755
CACHE_PARTS = {"__pycache__", ".pytest_cache", ".venv", "venv", "tests", "dist", ".git"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The bundles, built by the same command `make dist` runs, into a folder of the test's own."""
    folder = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "autograder.bundle", "--dist", str(folder)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    """The files of a source folder as they should ship: no caches, no hidden files."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
        and path.suffix != ".pyc"
    }


def _contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zipped:
        return {info.filename: zipped.read(info) for info in zipped.infolist()}


def solution_lines() -> set[str]:
    """Every non-blank line of the solution's filled-in regions, stripped."""
    lines = set()
    for name in STUDENT_FILES:
        parts = skeleton.split((SOLUTION / name).read_text(encoding="utf-8"))
        assert parts is not None, f"solution/{name} has no single region"
        lines |= {line.strip() for line in parts.region.splitlines() if line.strip()}
    assert lines, "the solution's regions are empty: there would be nothing to look for"
    return lines


def leaks(handout_zip: Path) -> list[str]:
    """Each line of a handout file that is a line of the solution's regions."""
    wanted = solution_lines()
    found = []
    for name, data in _contents(handout_zip).items():
        text = skeleton.normalise(data.decode("utf-8", "replace"))
        found += [f"{name}: {line.strip()}" for line in text.splitlines() if line.strip() in wanted]
    return found


def test_handout_holds_exactly_the_assignment_folder(dist):
    """As it is, but for the README, which names the port utils2.py sets."""
    expected = {f"{bundle.HANDOUT_FOLDER}/{name}": data for name, data in _files(FOLDER).items()}
    readme = f"{bundle.HANDOUT_FOLDER}/README.md"
    expected[readme] = bundle.readme(expected[readme].decode("utf-8"), bundle.port()).encode("utf-8")
    assert _contents(dist / "handout.zip") == expected
    assert f"127.0.0.1:{bundle.port()}" in expected[readme].decode("utf-8")
    assert "{port}" in (FOLDER / "README.md").read_text(encoding="utf-8")  # else the port is written in twice


def test_make_dist_refuses_a_rubric_the_grader_refuses_with_its_message(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "rubric.toml"
    broken.write_text(re.sub(r'(?m)^visibility = "[a-z_]+"', 'visibility = "shown"',  # not a word Gradescope knows
                             rubric.DEFAULT_FILE.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    with pytest.raises(rubric.ConfigError) as refused:
        rubric.load(broken)
    monkeypatch.setattr(rubric, "DEFAULT_FILE", broken)
    assert bundle.main(["--dist", str(tmp_path / "dist")]) == 1
    said = capsys.readouterr().err
    assert f"error: {refused.value}\n" in said and "visibility must be one of" in said, said
    assert not (tmp_path / "dist").exists()


def test_the_handout_shows_a_student_only_their_files_and_the_checkers_in_one_folder(dist):
    """At its top what a student opens or runs: the brief's six files (the two to fill, the two working
    partners, client1 and the library), the README and check.py; all the self-check's support in checker/."""
    names = [name.split("/", 1)[1] for name in _contents(dist / "handout.zip")]
    top = sorted(name for name in names if "/" not in name)
    assert top == sorted(["README.md", "check.py", *LIBRARY_FILES, *PARTNERS, *STUDENT_FILES])
    assert len(top) == 8
    assert {name.split("/")[0] for name in names if "/" in name} == {"checker"}


def test_handout_has_no_line_of_the_solution(dist):
    assert leaks(dist / "handout.zip") == []


def test_a_leaked_solution_line_is_caught(tmp_path):
    """The leak check can fail: a handout that shipped a solution file is caught, line by line."""
    entries = [*bundle.handout_entries(), bundle.Entry("pingpong/oops.py", SOLUTION / STUDENT_FILES[0])]
    bundle.write_zip(tmp_path / "handout.zip", entries)
    found = leaks(tmp_path / "handout.zip")
    assert found and all(line.startswith("pingpong/oops.py: ") for line in found)


def test_autograder_zip_has_its_entry_points_at_the_root_and_runnable(dist):
    with zipfile.ZipFile(dist / "autograder.zip") as zipped:
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert modes.get(name) == EXECUTABLE, f"{name}: mode {oct(modes.get(name) or 0)}"
    assert all(mode == 0o100644 for name, mode in modes.items() if name not in ("setup.sh", "run_autograder"))


def test_autograder_zip_holds_what_grading_needs_and_nothing_else(dist):
    contents = _contents(dist / "autograder.zip")
    expected = {name: (ROOT / name).read_bytes() for name in ("setup.sh", "run_autograder", "requirements.txt")}
    expected |= {f"autograder/{name}": data for name, data in _files(ROOT / "autograder").items()}
    expected |= {f"solution/{name}": (SOLUTION / name).read_bytes() for name in STUDENT_FILES}
    expected |= {f"assignment/{name}": (FOLDER / name).read_bytes()
                 for name in (*LIBRARY_FILES, *STUDENT_FILES, *bundle.CHECKER_PATHS)}
    assert contents.keys() == expected.keys()
    assert contents == expected
    for name in contents:
        parts = set(Path(name).parts)
        assert not parts & CACHE_PARTS and not name.endswith(".pyc"), name


def test_the_bundle_installs_only_gradings_requirements(dist):
    requirements = _contents(dist / "autograder.zip")["requirements.txt"].decode()
    assert "gradescope-utils" in requirements
    assert "pytest" not in requirements and "-r " not in requirements


def test_bundles_are_the_same_bytes_every_time(dist, tmp_path):
    again = bundle.build(tmp_path)
    for name, path in again.items():
        assert path.read_bytes() == (dist / f"{name}.zip").read_bytes(), f"{name}.zip changed between two builds"
