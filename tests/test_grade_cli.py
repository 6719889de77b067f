"""`python -m autograder grade`, as instructors and Gradescope run it: a
results file always, exit 0 whenever one was written, whatever was uploaded.

Every results file made here is checked against Gradescope's format
(gradescope_results), size included.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import cli, rubric
from autograder.handout import FOLDER, ROOT, SOLUTION

import gradescope_results
from survivors import open_folder, survivors
from test_grade_catalogue import CATALOGUE

FULL = rubric.load().max_score  # the solution's score under the rubric in force
SECONDS = 120  # a bound on one grading run; the solution takes under a second, a hang about 7 s


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    env["PYTHONPATH"] = str(ROOT)  # `-m autograder` from any folder
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=SECONDS)


def shown(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def total(table: str) -> str:
    """The score/max on the table's total line."""
    return next(line.split()[-1] for line in table.splitlines() if line.split()[:1] == ["total"])


def test_help_names_the_options():
    done = run("grade", "--help")
    assert done.returncode == 0, shown(done)
    for words in ("SUBMISSION", "--results", "--rubric", "--verbose"):
        assert words in done.stdout, shown(done)


@pytest.mark.parametrize("what, score", [("solution", 100), ("skeleton", 0)])
def test_a_submission_gets_its_score_and_its_table(tmp_path, what, score):
    results = tmp_path / "results.json"
    done = run("grade", SOLUTION if what == "solution" else FOLDER, "--results", results)
    assert done.returncode == 0, shown(done)
    assert gradescope_results.check_file(results)["score"] == score
    assert total(done.stdout) == f"{score}/100", shown(done)
    assert f"results written to {results}" in done.stdout, shown(done)


def garbage_zip(folder: Path) -> Path:
    upload = folder / "x.zip"
    upload.write_bytes(random.Random(3).randbytes(4096))
    return upload


def empty_folder(folder: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


@pytest.mark.parametrize("make, words", [(garbage_zip, "x.zip"), (empty_folder, "holds no files")],
                         ids=["garbage zip", "empty folder"])
def test_an_upload_with_nothing_to_grade_gets_0_with_a_reason(tmp_path, make, words):
    results = tmp_path / "results.json"
    done = run("grade", make(tmp_path), "--results", results)
    assert done.returncode == 0, shown(done)
    data = gradescope_results.check_file(results)
    assert data["score"] == 0
    assert "could not be graded" in data["output"] and words in data["output"], data["output"]


def test_results_go_where_asked_parent_folders_made(tmp_path):
    results = tmp_path / "a" / "b" / "c" / "results.json"
    done = run("grade", SOLUTION, "--results", results)
    assert done.returncode == 0, shown(done)
    assert gradescope_results.check_file(results)["score"] == FULL


def test_without_results_the_table_names_the_default_file(tmp_path):
    done = run("grade", SOLUTION, cwd=tmp_path)
    assert done.returncode == 0, shown(done)
    assert done.stdout.rstrip().endswith(f"results written to {Path('results') / 'solution.json'}"), shown(done)
    assert gradescope_results.check_file(tmp_path / "results" / "solution.json")["score"] == FULL


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
    """`python -m autograder grade ... | head -1`: the table's reader leaves before it is printed."""
    results = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    reading, writing = os.pipe()
    os.close(reading)  # gone before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTION), "--results", str(results)],
                              cwd=ROOT, env=env, stdout=writing, stderr=subprocess.PIPE, text=True, timeout=SECONDS)
    finally:
        os.close(writing)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert gradescope_results.check_file(results)["score"] == FULL


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(), reason="no .venv yet: `make test` makes it")
def test_make_grade_prints_the_solutions_table(tmp_path):
    results = tmp_path / "solution.json"
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "grade", f"RESULTS={results}"],
                          capture_output=True, text=True, timeout=SECONDS)
    assert done.returncode == 0, shown(done)
    assert total(done.stdout) == f"{FULL:g}/{FULL:g}", shown(done)
    assert sum(line.rstrip().endswith("pass") for line in done.stdout.splitlines()) == 6, shown(done)
    assert gradescope_results.check_file(results)["score"] == FULL


def test_a_broken_rubric_is_refused_naming_the_key_and_still_leaves_results(tmp_path):
    rubric_file = tmp_path / "rubric.toml"
    rubric_file.write_text("[tests.client2_answers]\npionts = 40\n", encoding="utf-8")
    results = tmp_path / "results.json"
    done = run("grade", SOLUTION, "--rubric", rubric_file, "--results", results)
    assert done.returncode == 2, shown(done)
    assert "tests.client2_answers.pionts" in done.stderr, shown(done)
    data = gradescope_results.check_file(results)
    assert data["score"] == 0 and data["tests"] == []
    assert "tests.client2_answers.pionts" in data["output"]


def _loaded(rubric_file: Path) -> str:
    """What a fresh grader reads from `rubric_file`: client2_answers's points, and whether it read TOML."""
    probe = ("import sys; from pathlib import Path; from autograder import rubric; "
             "r = rubric.load(Path(sys.argv[1])); "
             "print(r.tests[0].points, 'toml' if {'tomllib', 'tomli'} & set(sys.modules) else 'parsed ahead')")
    done = subprocess.run([sys.executable, "-c", probe, str(rubric_file)], cwd=ROOT, capture_output=True, text=True,
                          timeout=SECONDS)
    assert done.returncode == 0, shown(done)
    return done.stdout.strip()


def test_the_rubric_parsed_ahead_is_taken_only_while_the_file_is_unchanged(tmp_path):
    rubric_file = tmp_path / "rubric.toml"
    shutil.copyfile(ROOT / "autograder" / "rubric.toml", rubric_file)
    points = rubric.load(rubric_file).tests[0].points  # the course's own, whatever it chose
    assert _loaded(rubric_file) == f"{points} toml"
    ahead = subprocess.run([sys.executable, "-m", "autograder.rubric", str(rubric_file)], cwd=ROOT,
                           capture_output=True, text=True, timeout=SECONDS)
    assert ahead.returncode == 0, shown(ahead)
    assert _loaded(rubric_file) == f"{points} parsed ahead"
    rubric_file.write_text(re.sub(r"(?m)^points = [0-9.]+", f"points = {points + 5:g}",
                                  rubric_file.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    assert _loaded(rubric_file) == f"{points + 5} toml"  # the edit counts, though the file parsed ahead is still there
    saved = tmp_path / "__pycache__" / "rubric.toml.json"
    saved.write_text("{not json", encoding="utf-8")
    assert _loaded(rubric_file) == f"{points + 5} toml"


@pytest.mark.parametrize("line", ["points = inf", "points = nan", "[limits]\nscenario_seconds = inf",
                                  "[limits]\nmemory_mib = nan", "[limits]\nprocesses = -inf"])
def test_a_rubric_with_a_number_that_is_not_finite_is_refused(tmp_path, line):
    """inf and nan are TOML floats; as points they would make the results file invalid JSON."""
    table = line if line.startswith("[") else "[tests.client2_answers]\n" + line
    rubric_file = tmp_path / "rubric.toml"
    rubric_file.write_text(table + "\n", encoding="utf-8")
    with pytest.raises(rubric.ConfigError, match=r"must be (a|a whole) number.*, not -?(inf|nan)"):
        rubric.load(rubric_file)


def pointed(**tests: dict) -> dict:
    """A rubric's data: every graded test with its points, as a rubric must give them, and these settings."""
    return {"tests": {key: {"points": 10, **tests.get(key, {})} for key in rubric.GRADED}
            | {key: value for key, value in tests.items() if key not in rubric.GRADED}}


def test_must_end_is_off_by_default_a_yes_or_no_and_only_for_a_graded_test():
    assert not any(test.must_end for test in rubric.TESTS)
    chosen = rubric.parse(pointed(together={"must_end": True}))
    assert [test.key for test in chosen.tests if test.must_end] == ["together"]
    for wrong in ("yes", 1, 0.0):
        with pytest.raises(rubric.ConfigError, match=rf"tests.together.must_end must be true or false, not {wrong!r}"):
            rubric.parse(pointed(together={"must_end": wrong}))
    with pytest.raises(rubric.ConfigError, match="unknown key tests.files_present.must_end"):
        rubric.parse(pointed(files_present={"must_end": True}))


@pytest.mark.parametrize("left_out", ["server_forwards_pong", "together"])
def test_a_rubric_that_leaves_out_a_graded_test_or_its_points_is_refused(tmp_path, left_out):
    """Left out, a test kept its built-in points: the course was graded out of 90 and no one said so."""
    whole = rubric.DEFAULT_FILE.read_text(encoding="utf-8")
    table = re.search(rf"(?ms)^\[tests\.{left_out}\]\n.*?(?=^\[|\Z)", whole)[0]
    for text in (whole.replace(table, ""), whole.replace(table, re.sub(r"(?m)^points = .*\n", "", table))):
        rubric_file = tmp_path / "rubric.toml"
        rubric_file.write_text(text, encoding="utf-8")
        with pytest.raises(rubric.ConfigError, match=rf"no points for tests.{left_out}: every graded test needs"):
            rubric.load(rubric_file)


def test_one_submission_imports_nothing_of_the_batch(tmp_path):
    """Gradescope grades with --one: the batch machinery (its report and markdown-it too) and zipfile are
    15 to 25 ms it does not need, nor tomllib, once setup.sh (here: make) has parsed the rubric ahead."""
    ahead = subprocess.run([sys.executable, "-m", "autograder.rubric"], cwd=ROOT, capture_output=True, text=True,
                           timeout=SECONDS)
    assert ahead.returncode == 0, shown(ahead)
    probe = ("import sys; from autograder import cli; "
             f"cli.main(['grade', '--one', {str(SOLUTION)!r}, '--results', {str(tmp_path / 'r.json')!r}]); "
             "print(sorted({'autograder.batch', 'autograder.submissions', 'autograder.gradebook', 'zipfile', "
             "'autograder.course', 'autograder.pages', 'markdown_it', 'tomllib', 'tomli', 'ctypes'} "
             "& set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=SECONDS)
    assert done.returncode == 0, shown(done)
    assert done.stdout.strip().splitlines()[-1] == "[]", shown(done)


def test_the_quick_check_passes_a_valid_rubric_where_nothing_can_be_saved_beside_it(tmp_path):
    """An instructor's rubric in a folder they cannot write to (here: __pycache__ is a file, which
    stops root too) is checked all the same, and said to be valid; gradings read its TOML."""
    rubric_file = tmp_path / "my-rubric.toml"
    shutil.copyfile(rubric.DEFAULT_FILE, rubric_file)
    (tmp_path / "__pycache__").write_text("not a folder", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "autograder.rubric", str(rubric_file)], cwd=ROOT,
                          capture_output=True, text=True, timeout=SECONDS)
    assert (done.returncode, done.stdout) == (0, f"{rubric_file}: a valid rubric\n"), shown(done)
    assert _loaded(rubric_file).endswith(" toml")


def test_parsing_a_broken_rubric_ahead_fails_naming_the_key_and_saves_nothing(tmp_path):
    rubric_file = tmp_path / "rubric.toml"
    rubric_file.write_text("[tests.client2_answers]\npionts = 40\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "autograder.rubric", str(rubric_file)], cwd=ROOT,
                          capture_output=True, text=True, timeout=SECONDS)
    assert done.returncode == 1, shown(done)
    assert "tests.client2_answers.pionts" in done.stderr, shown(done)
    assert not (tmp_path / "__pycache__").exists()


@pytest.fixture
def handlers():
    """cli.main takes over SIGINT and SIGTERM in the main thread; give them back to pytest."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_grader_that_breaks_writes_results_that_say_so_and_exits_1(tmp_path, monkeypatch, capsys, handlers):
    def broken(sources, chosen):
        raise RuntimeError("the grader's own bug, 42")

    monkeypatch.setattr(cli, "grade", broken)
    results = tmp_path / "out" / "results.json"
    assert cli.main(["grade", str(SOLUTION), "--results", str(results)]) == 1
    data = gradescope_results.check_file(results)
    assert data["score"] == 0 and data["tests"] == []
    assert data["output"].startswith("The autograder could not grade this submission; this is not your fault.")
    assert "RuntimeError: the grader's own bug, 42" in data["output"]
    assert f"{results} says so" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="looks for the student programs in /proc (Linux)")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_an_interrupted_grading_ends_at_once_not_when_its_scenes_time_is_up(tmp_path, signum):
    """Ctrl-C, or a batch stopping its workers: every scene ends now and stops its programs. It used
    to run on to its time limit first (a minute here), and a batch took that long to stop."""
    slow = tmp_path / "rubric.toml"
    slow.write_text(re.sub(r"(?m)^scenario_seconds = [0-9.]+", "scenario_seconds = 60.0",
                           rubric.DEFAULT_FILE.read_text(encoding="utf-8")))
    assert rubric.load(slow).limits.scenario_seconds == 60.0
    base = open_folder("pingpong-interrupted-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    results = tmp_path / "results.json"
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(CATALOGUE / "both_wait_forever"),
                               "--results", str(results), "--rubric", str(slow)], cwd=ROOT,
                              env=dict(env, TMPDIR=str(base)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + SECONDS
        # No event announces a process: look again soon, within the bound. Four programs, and their wardens.
        while len(survivors(str(base))) < 8:
            assert grader.poll() is None and time.monotonic() < deadline, "the student programs never all ran"
            time.sleep(0.01)
        grader.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = grader.communicate(timeout=SECONDS)
        took = time.monotonic() - sent
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.communicate()
        left = survivors(str(base))
        shutil.rmtree(base, ignore_errors=True)
    assert grader.returncode == cli.INTERRUPTED, stdout + stderr
    assert "the student programs were stopped, and no results were written" in stderr
    assert not results.exists() and left == []
    assert took < 10, f"it took {took:.1f} s to stop"
