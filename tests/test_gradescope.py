"""Gradescope, played end to end on this machine, against the built bundle.

The image is made as Gradescope makes it (tests/gradescope_image.py says
how), with this machine's `python3` as setup.sh finds it, and with each
Python Gradescope's images may have, from PATH or pyenv: 3.10 (the
python3 of its Ubuntu 22.04 image) and 3.11. Every results file
must be Gradescope's format (tests/gradescope_results.py), and hold the
results of grading the same upload locally.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import pythons
from autograder import bundle, grading, report, rubric
from autograder.handout import FOLDER, SOLUTION, STUDENT_FILES
from gradescope_image import KINDS, SETUP_SECONDS, Gradescope, build, environment, interpreter, open_root

from conftest import fill
from test_grade_catalogue import CATALOGUE, deserved

SANDBOX_USER = "pingpong-student"
FULL = rubric.load().max_score  # the solution's score under the rubric in force
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="Gradescope runs setup.sh as root; only root can create "
                                                     f"{SANDBOX_USER} or run a program as that user")
# Gradescope's Ubuntu 22.04 image has Python 3.10: the grader's floor. 3.11 beside it.
GRADESCOPE_PYTHONS = ("3.10", "3.11")


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Gradescope images, one per Python setup.sh is given (None: python3), each built once per session from
    the bundle `make dist` writes. Two names for one interpreter (pyenv's python3 shim, python3.11) share one."""
    zipped = bundle.build(tmp_path_factory.mktemp("dist"))["autograder"]
    made: dict[str, Gradescope] = {}

    def image(python: str | None = None) -> Gradescope:
        key = interpreter(python or "python3")
        if key not in made:
            made[key] = build(zipped, python)
        return made[key]

    try:
        yield image
    finally:
        for each in made.values():
            shutil.rmtree(each.root, ignore_errors=True)


@pytest.fixture(scope="session")
def gradescope(images) -> Gradescope:
    """The image as Gradescope builds it: setup.sh finds python3 by itself."""
    return images()


def local(upload: list[Path]) -> dict:
    """The results of grading the same upload locally, as `python -m autograder grade` does."""
    return report.results(grading.grade(upload, rubric.load()))


def comparable(results: dict) -> dict:
    """Results without what differs from run to run: the time, temporary paths and ports."""
    text = json.dumps({k: v for k, v in results.items() if k != "execution_time"})
    text = re.sub(r'File \\"[^"]*?/([\w.-]+\.py)\\"', r'File \\"<folder>/\1\\"', text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    return json.loads(text)


def _zip(path: Path, files: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, source in files.items():
            zipped.write(source, name)
    return path


def uploads(folder: Path, files: list[Path]) -> dict[str, list[Path]]:
    """The ways a student uploads two files: bare, zipped at the root, zipped in a folder, zipped each in a
    folder of its own (which unzips, on Gradescope, to a folder that looks like a folder of submissions)."""
    return {
        "bare files": files,
        "zip of the files": [_zip(folder / "files.zip", {f.name: f for f in files})],
        "zip of a folder": [_zip(folder / "folder.zip", {f"pingpong/{f.name}": f for f in files})],
        "zip of two folders": [_zip(folder / "folders.zip", {f"{f.stem}/{f.name}": f for f in files})],
    }


def student(folder: Path, server: str | None, client2: str | None) -> list[Path]:
    """Two student files: each a region to fill into the handout skeleton, "solution", or None for absent."""
    folder.mkdir()
    made = []
    for name, choice in zip(STUDENT_FILES, (server, client2)):
        if choice is None:
            continue
        text = (SOLUTION / name).read_text(encoding="utf-8") if choice == "solution" else \
            fill((FOLDER / name).read_text(encoding="utf-8"), choice)
        (folder / name).write_text(text, encoding="utf-8")
        made.append(folder / name)
    return made


def test_setup_made_the_image(gradescope):
    root = gradescope.root
    python = root / "venv" / "bin" / "python"
    done = subprocess.run([str(python), "-c", "import gradescope_utils"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((root / "source").stat().st_mode) & 0o007 == 0, "source/ is open to other users"
    # compiled once there, since run_autograder grades with PYTHONDONTWRITEBYTECODE
    compiled = {path.name.split(".")[0] for path in (root / "source").glob("**/__pycache__/*.pyc")}
    assert {"warden", "sandbox", "scene", "utils2", "referee", "waiting"} <= compiled, compiled
    assert (root / "source" / "autograder" / "__pycache__" / "rubric.toml.json").is_file()  # parsed ahead



def by_key(results: dict) -> dict[str, float | bool]:
    """Points for the graded tests, pass/fail for the informational ones, as deserved() gives them."""
    return {test["extra_data"]["key"]: test["score"] if test["extra_data"]["key"] in rubric.GRADED
            else test["status"] == "passed" for test in results["tests"]}


@pytest.mark.parametrize("version", GRADESCOPE_PYTHONS)
def test_gradescopes_pythons_build_the_image_and_grade_each_kind(images, version):
    """setup.sh with PYTHON=, then run_autograder on the solution and on a catalogue entry of each kind, side
    by side. The grader runs on that Python (the harness, the warden and the results; as root here, student
    programs run on a Python their users may read, which pyenv's, under /root, is not)."""
    python, why = pythons.find_python(version)
    if python is None:
        pytest.skip(why)
    image = images(python)
    assert image.python() == version, image.setup.stdout
    uploads = {"solution": [SOLUTION / name for name in STUDENT_FILES],
               **{entry: sorted((CATALOGUE / entry).glob("*.py")) for entry in KINDS}}
    with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
        graded = dict(zip(uploads, pool.map(image.run_beside, uploads.values())))
    assert graded["solution"][0]["score"] == FULL, graded["solution"][1]
    wrong = [f"{entry}: expected {deserved(entry)}, got {by_key(results)}\n{printed}"
             for entry, (results, printed) in graded.items() if entry in KINDS and by_key(results) != deserved(entry)]
    assert wrong == [], "\n\n".join(wrong)


def test_setup_is_safe_to_run_twice(gradescope):
    done = subprocess.run(["./setup.sh"], cwd=gradescope.root / "source", env=environment(gradescope.root),
                          capture_output=True, text=True, timeout=SETUP_SECONDS)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    results, printed = gradescope.run([SOLUTION / name for name in STUDENT_FILES])
    assert results["score"] == FULL, printed


def test_setup_refuses_a_broken_rubric_naming_the_key(gradescope):
    """Better an autograder that fails to build than one that fails every student."""
    rubric_file = gradescope.root / "source" / "autograder" / "rubric.toml"
    kept = rubric_file.read_text(encoding="utf-8")
    try:
        rubric_file.write_text(re.sub(r"(?m)^points =", "pionts =", kept, count=1), encoding="utf-8")
        with pytest.raises(rubric.ConfigError) as refused:  # the grader's message
            rubric.load(rubric_file)
        done = subprocess.run(["./setup.sh"], cwd=gradescope.root / "source", env=environment(gradescope.root),
                              capture_output=True, text=True, timeout=SETUP_SECONDS)
        assert done.returncode != 0, f"{done.stdout}\n{done.stderr}"
        assert "tests.client2_answers.pionts" in done.stderr, done.stderr
        assert f"error: {refused.value}\n" in done.stderr, done.stderr
    finally:
        rubric_file.write_text(kept, encoding="utf-8")
        again = subprocess.run(["./setup.sh"], cwd=gradescope.root / "source", env=environment(gradescope.root),
                               capture_output=True, text=True, timeout=SETUP_SECONDS)
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    results, printed = gradescope.run([SOLUTION / name for name in STUDENT_FILES])
    assert results["score"] == FULL, printed


def test_ci_grades_the_solution_through_the_bundle_with_full_marks(gradescope, tmp_path):
    results, printed = gradescope.run([SOLUTION / name for name in STUDENT_FILES])
    assert results["score"] == FULL, printed
    assert all(test["status"] == "passed" for test in results["tests"]), printed
    assert sum(test["max_score"] for test in results["tests"]) == FULL


def test_every_way_of_uploading_grades_the_same(gradescope, tmp_path):
    files = student(tmp_path / "files", "solution", "solution")
    seen = {}
    for way, upload in uploads(tmp_path, files).items():
        results, printed = gradescope.run(upload)
        seen[f"Gradescope, {way}"] = comparable(results)
        seen[f"locally, {way}"] = comparable(local(upload))
    first = seen["Gradescope, bare files"]
    assert first["score"] == FULL
    for way, results in seen.items():
        assert results == first, f"{way} differs from Gradescope, bare files"


# Wrong submissions, each with the graded tests it passes (its points are the rubric's).
WRONG = {
    "client2 answers a Ping with a Ping": (
        "solution",
        "msg = client.receive_message()\nif msg == Message.Ping:\n    client.send_message(Message.Ping)\n",
        ("server_forwards_ping", "server_forwards_pong"),  # client2 and the two together fail
    ),
    "server forwards the Ping but never the Pong": (
        "ping = server.receive_message()\nserver.forward_message(ping)\n",
        "solution",
        ("client2_answers", "server_forwards_ping"),
    ),
    "no server file, client2 crashes": (
        None,
        "raise RuntimeError('not done yet')\n",
        (),
    ),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_submissions_grade_as_they_do_locally(gradescope, tmp_path, case):
    server, client2, passes = WRONG[case]
    upload = student(tmp_path / "files", server, client2)
    results, printed = gradescope.run(upload)
    assert results["score"] == sum(test.points for test in rubric.load().tests if test.key in passes), printed
    assert comparable(results) == comparable(local(upload))


def test_the_skeleton_grades_as_it_does_locally(gradescope):
    upload = [FOLDER / name for name in STUDENT_FILES]
    results, printed = gradescope.run(upload)
    assert results["score"] == 0, printed
    assert comparable(results) == comparable(local(upload))


def test_an_empty_submission_gets_results_that_say_so(gradescope):
    results, printed = gradescope.run([])
    assert results["score"] == 0
    assert "holds no files" in results["output"], printed


@pytest.fixture
def other_root(gradescope):
    """A second Gradescope root sharing the image's source, with a grader's Python of the test's making."""
    root = open_root()
    (root / "source").symlink_to(gradescope.root / "source")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fake_python(root: Path, grading: str) -> None:
    """A grader's Python that does `grading` (shell) when asked to grade, and is a real Python otherwise."""
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then exec python3 "$@"; fi\n{grading}\n')
    python.chmod(0o755)


def assert_fallback(results: dict, printed: str, *why: str) -> None:
    assert results["score"] == 0 and results["tests"] == [], printed
    assert results["output"].startswith("The autograder could not grade this submission; this is not your fault.")
    for words in why:
        assert words in results["output"], results["output"]


def test_without_the_grader_python_the_results_say_so(gradescope, other_root):
    results, printed = gradescope.run([SOLUTION / name for name in STUDENT_FILES], root=other_root)
    assert_fallback(results, printed, "venv/bin/python) is missing", "setup.sh")


def test_a_grader_that_dies_leaves_results_with_its_last_words(gradescope, other_root):
    fake_python(other_root, "printf '%s\\n' 'MemoryError: \"quoted\" \\ and\ttab' >&2\nkill -9 $$")
    results, printed = gradescope.run([], root=other_root)
    assert_fallback(results, printed, "killed (signal 9", 'MemoryError: "quoted" \\ and tab')


def test_a_grader_that_hangs_is_stopped_and_the_results_say_so(gradescope, other_root):
    fake_python(other_root, "exec sleep 60")  # stands for a hang; the bound under test is 1 s
    results, printed = gradescope.run([], root=other_root, PINGPONG_GRADER_SECONDS="1")
    assert_fallback(results, printed, "did not finish within 1 s")


def test_invalid_results_from_the_grader_are_replaced(gradescope, other_root):
    fake_python(other_root, 'printf \'{"score": \' > "$AUTOGRADER_ROOT/results/results.json"; exit 0')
    results, printed = gradescope.run([], root=other_root)
    assert_fallback(results, printed, "ended with code 0 without writing valid results")


@needs_root
def test_student_programs_cannot_read_the_source_or_the_results(gradescope):
    gradescope.run([SOLUTION / name for name in STUDENT_FILES])
    account = pwd.getpwnam(SANDBOX_USER)  # setup.sh created it

    def readable(path: Path) -> bool:
        """Whether the user can read `path`, with its own group and no other (not root's)."""
        done = subprocess.run(["cat", str(path)], user=account.pw_uid, group=account.pw_gid, extra_groups=[],
                              capture_output=True, timeout=10)
        return done.returncode == 0

    assert readable(gradescope.root / "run_autograder"), "the check itself is broken: a public file was unreadable"
    assert not readable(gradescope.root / "source" / "solution" / STUDENT_FILES[0])
    assert not readable(gradescope.root / "results" / "results.json")
    assert stat.S_IMODE((gradescope.root / "results").stat().st_mode) == 0o700
