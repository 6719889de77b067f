"""Grading a whole course: a Gradescope export of 30-odd submissions, graded as a batch.

The export is made here from the solution, the skeleton and a handful of
wrong programs, with the metadata Gradescope writes, a group submission,
a folder holding a bad zip, one that hangs and one that breaks the grader.
The gradebook must give each submission exactly what grading it alone
gives; an interrupted batch must keep what it finished, leave no student
program running, and resume where it stopped.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from autograder import accounts, batch, export, gradebook, grading, pages, rubric, sandbox, submissions
from autograder.handout import FOLDER, ROOT, SOLUTION, STUDENT_FILES

from conftest import fill

SERVER, CLIENT2 = STUDENT_FILES
FULL = rubric.load().max_score  # the solution's score under the rubric in force
BATCH_SECONDS = 120  # a bound for one whole batch run; it takes about 15 s
HANG = "time.sleep(1000)"  # a program that never does its part: the scene's time limit stops it

# (server region, client2 region): "solution", "skeleton", or code for the region.
VARIANTS = {
    "correct": ("solution", "solution"),
    "skeleton": ("skeleton", "skeleton"),
    "echo_server": ("ping = server.receive_message()\nserver.send_message(ping)", "solution"),
    "own_pong": ("ping = server.receive_message()\nserver.send_message(Message.Pong)", "solution"),
    "ping_only": ("server.forward_message(server.receive_message())", "solution"),
    "early_pong": ("solution", "client.send_message(Message.Pong)"),
    "answers_ping": ("solution", "msg = client.receive_message()\nclient.send_message(Message.Ping)"),
    "crashes": ("solution", 'raise ValueError("not today")'),
    "syntax_error": ("msg = (", "solution"),
    "hangs": (f"import time\n{HANG}", f"import time\n{HANG}"),
}
BREAKS_GRADER = "submission_1031"
SITECUSTOMIZE = f"""
import os, sys
if any(arg.endswith("{BREAKS_GRADER}") for arg in sys.argv):
    os._exit(3)  # the grader process dies for this one submission, before it writes anything
"""


def _student_file(name: str, choice: str) -> str:
    if choice == "solution":
        return (SOLUTION / name).read_text(encoding="utf-8")
    skeleton = (FOLDER / name).read_text(encoding="utf-8")
    return skeleton if choice == "skeleton" else fill(skeleton, choice)


def _write(folder: Path, variant: str) -> None:
    folder.mkdir(parents=True)
    for name, choice in zip(STUDENT_FILES, VARIANTS[variant]):
        (folder / name).write_text(_student_file(name, choice), encoding="utf-8")


def _plan() -> dict[int, str]:
    """Submission number -> what it holds. The hanging one sorts first."""
    plan = {1000: "hangs"}
    plan.update({n: "correct" for n in range(1001, 1017)})
    plan.update({n: "skeleton" for n in range(1017, 1020)})
    wrong = [v for v in VARIANTS if v not in ("correct", "skeleton", "hangs")]
    plan.update({1020 + i: v for i, v in enumerate(wrong)})
    plan.update({1028: "group", 1029: "bad zip", 1030: "nested", 1031: "correct"})
    return plan


def _metadata(plan: dict[int, str]) -> str:
    lines = []
    for n in plan:
        people = [(f"Student {n}", str(n), f"s{n}@example.edu")]
        if plan[n] == "group":
            people.append((f"Partner {n}", f"{n}b", f"p{n}@example.edu"))
        lines += [f"submission_{n}:", "  :submitters:"]
        for name, sid, email in people:
            lines += [f"  - :name: {name}", f"    :sid: '{sid}'", f"    :email: {email}"]
        lines += ["  :created_at: 2024-09-30 23:59:00.000000000 -07:00", "  :score: 0.0"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    """An unpacked Gradescope export, the same as a zip, and what each submission is."""
    base = tmp_path_factory.mktemp("course")
    folder = base / "assignment_42_export"
    plan = _plan()
    for n, what in plan.items():
        sub = folder / f"submission_{n}"
        if what == "group":
            _write(sub, "correct")
        elif what == "bad zip":
            sub.mkdir(parents=True)
            (sub / "submission.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
        elif what == "nested":
            _write(sub / "pingpong", "correct")
        else:
            _write(sub, what)
    (folder / export.METADATA).write_text(_metadata(plan), encoding="utf-8")
    archive = base / "assignment_42_export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, path.relative_to(base).as_posix())
    hooks = base / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return {"folder": folder, "zip": archive, "plan": plan, "hooks": hooks, "base": base}


@pytest.fixture(scope="module")
def temporary():
    """Makes the temporary folder a batch's gradings work in; it can be searched for programs left behind.

    Made in the system's temporary folder, not pytest's (closed to other
    users), because as root student programs run as other users, who must
    reach their own folders inside it.
    """
    made = []

    def make() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="pingpong-batch-test-"))
        folder.chmod(0o711)
        made.append(folder)
        return folder

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def _env(course: dict, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    env.update(PYTHONPATH=str(course["hooks"]), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    return env


def _grade_command(*args) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", *map(str, args)]


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as stream:
        return {row["submission"]: row for row in csv.DictReader(stream)}


def _without_seconds(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {key: {k: v for k, v in row.items() if k != "seconds"} for key, row in rows.items()}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory, temporary) -> dict:
    """The export zip graded as a batch, two at a time."""
    out = tmp_path_factory.mktemp("graded") / "out"
    env = _env(course, temporary())
    done = subprocess.run(_grade_command(course["zip"], "--out", out, "-j", "2"), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=BATCH_SECONDS)
    return {"out": out, "run": done, "rows": _rows(out)}


def test_the_gradebook_has_a_row_per_submission_with_its_submitters(course, graded):
    run, rows = graded["run"], graded["rows"]
    assert run.returncode == 1, run.stdout + run.stderr  # one submission broke the grader
    assert len(rows) == len(course["plan"]) >= 30
    assert rows["submission_1005"]["names"] == "Student 1005"
    assert rows["submission_1005"]["sids"] == "1005"
    assert rows["submission_1005"]["emails"] == "s1005@example.edu"
    group = rows["submission_1028"]
    assert group["names"] == "Student 1028; Partner 1028"
    assert group["sids"] == "1028; 1028b"
    assert group["emails"] == "s1028@example.edu; p1028@example.edu"
    for sub in rows:
        assert (graded["out"] / sub / "results.json").is_file()
    assert f"{len(course['plan']) - 1} of {len(course['plan'])} submissions graded, 1 failed to grade" in run.stdout
    assert "mean " in run.stdout and "median " in run.stdout and "90-100 | #" in run.stdout


def test_the_gradebook_to_import_has_a_row_per_student(course, graded):
    with open(graded["out"] / "students.csv", newline="", encoding="utf-8") as stream:
        people = list(csv.DictReader(stream))
    assert len(people) == len(course["plan"]) + 1  # the group's two members, a row each
    chosen = rubric.load()
    assert list(people[0]) == ["sid", "email", "name", "total", "max", *rubric.GRADED, "submission", "status"]
    assert list(people[0]) == gradebook.student_header(chosen)
    by_sid = {p["sid"]: p for p in people}
    rows = graded["rows"]
    for sid in ("1028", "1028b"):  # a group: each member on a row of their own, with the group's scores
        assert by_sid[sid]["submission"] == "submission_1028"
        assert [by_sid[sid][k] for k in ("total", *rubric.GRADED)] == [rows["submission_1028"][k]
                                                                      for k in ("total", *rubric.GRADED)]
    assert (by_sid["1028b"]["name"], by_sid["1028b"]["email"]) == ("Partner 1028", "p1028@example.edu")
    assert (by_sid["1005"]["name"], by_sid["1005"]["email"], by_sid["1005"]["total"]) == \
        ("Student 1005", "s1005@example.edu", rows["submission_1005"]["total"])
    broken = by_sid[BREAKS_GRADER.removeprefix("submission_")]
    assert (broken["status"], broken["total"]) == ("error", "")  # an import leaves this grade for a person to set


def test_the_course_report_and_feedback_pages_are_written_with_the_batch(course, graded):
    out, plan = graded["out"], course["plan"]
    assert f"report: {out / 'report.html'}" in graded["run"].stdout
    text = (out / "report.md").read_text(encoding="utf-8")
    counts = f"{len(plan)} submissions: {len(plan) - 1} graded now, 0 skipped (already graded), 1 failed to grade, in "
    assert counts in text
    named = f"Student {BREAKS_GRADER.removeprefix('submission_')} ({BREAKS_GRADER.replace('_', chr(92) + '_')})"
    assert f"[{named}]({BREAKS_GRADER}/feedback.html) | error | " \
           "the grader broke: the grader process ended with status 3" in text  # named by its student, from the export
    assert all((out / f"submission_{n}" / "feedback.html").is_file() for n in plan)


def test_a_submission_that_breaks_the_grader_fails_only_its_own_row(graded):
    rows = graded["rows"]
    broken = rows[BREAKS_GRADER]
    assert broken["status"] == "error"
    assert "status 3" in broken["reason"]
    assert broken["total"] == "0"
    assert f"{BREAKS_GRADER}: the grader process ended with status 3" in graded["run"].stdout
    assert [sub for sub, row in rows.items() if row["status"] != "graded"] == [BREAKS_GRADER]


def test_each_row_is_what_grading_that_submission_alone_gives(course, graded):
    chosen = rubric.load()
    keys = [test.key for test in chosen.tests if test.key in rubric.GRADED]
    for sub, row in graded["rows"].items():
        if sub == BREAKS_GRADER:
            continue
        alone = grading.grade([course["folder"] / sub], chosen)
        points = {v.test.key: v.score for v in alone.verdicts}
        assert {k: float(row[k]) for k in keys} == {k: points[k] for k in keys}, sub
        assert (float(row["total"]), float(row["max"])) == (alone.score, alone.max_score), sub
    totals = {sub: float(row["total"]) for sub, row in graded["rows"].items()}
    plan = course["plan"]
    assert all(totals[f"submission_{n}"] == FULL for n, what in plan.items() if what in ("correct", "group", "nested")
               and f"submission_{n}" != BREAKS_GRADER)
    assert all(totals[f"submission_{n}"] < FULL for n, what in plan.items()
               if what not in ("correct", "group", "nested"))
    assert totals["submission_1029"] == 0  # the bad zip


def _student_programs_under(folder: Path) -> list[str]:
    """Processes whose working folder is under `folder` (where every grading ran its programs)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(folder)):
                found.append(f"{entry} in {cwd}")
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="looks for left-over programs in /proc (Linux)")
def test_an_interrupted_batch_keeps_what_it_graded_and_resumes(course, graded, tmp_path, temporary):
    out = tmp_path / "out"
    tmp = temporary()
    env = _env(course, tmp)
    quick = tmp_path / "rubric.toml"  # the hanging submission is stopped sooner; every score is the same
    quick.write_text(re.sub(r"(?m)^scenario_seconds = [0-9.]+", "scenario_seconds = 2.5",
                            rubric.DEFAULT_FILE.read_text(encoding="utf-8")))
    assert rubric.load(quick).limits.scenario_seconds == 2.5
    command = _grade_command(course["folder"], "--out", out, "-j", "2", "--rubric", quick)
    first = subprocess.Popen(command, cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + BATCH_SECONDS
        # No event announces a file or a process: look again soon, within the bound.
        while not (list(out.glob("*/results.json")) and _student_programs_under(tmp)):
            assert first.poll() is None, "the batch ended before it could be interrupted"
            assert time.monotonic() < deadline, "no results, or the hanging submission never ran"
            time.sleep(0.01)
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=BATCH_SECONDS)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == batch.INTERRUPTED, stdout + stderr
    assert "Interrupted" in stdout and f"--out {out}" in stdout
    assert _student_programs_under(tmp) == []
    kept = _rows(out)  # a valid CSV, with only whole results
    assert 1 <= len(kept) < len(course["plan"])
    assert _without_seconds(kept).items() <= _without_seconds(graded["rows"]).items()
    stamps = {sub: (out / sub / "results.json").stat().st_mtime_ns for sub in kept}
    said = (out / "report.md").read_text(encoding="utf-8")
    assert " not graded yet, in " in said and "(interrupted)" in said, said[:300]

    second = subprocess.run(command, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=BATCH_SECONDS)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"{len(kept)} already graded there, skipped" in second.stdout
    assert f"graded now, {len(kept)} skipped (already graded), 1 failed to grade" in (out / "report.md").read_text()
    assert {sub: (out / sub / "results.json").stat().st_mtime_ns for sub in kept} == stamps
    assert _without_seconds(_rows(out)) == _without_seconds(graded["rows"])


def test_a_different_rubric_is_not_mixed_into_a_graded_folder(graded, tmp_path):
    other = tmp_path / "rubric.toml"
    other.write_text(re.sub(r"(?m)^points = ([0-9.]+)", lambda m: f"points = {float(m[1]) + 10:g}",
                            rubric.DEFAULT_FILE.read_text(encoding="utf-8"), count=1))
    before = (graded["out"] / "grades.csv").read_bytes()
    done = subprocess.run(_grade_command(SOLUTION, "--out", graded["out"], "--rubric", other), cwd=ROOT,
                          capture_output=True, text=True, timeout=BATCH_SECONDS)
    assert done.returncode == 2
    assert "graded with another rubric" in done.stderr and "--force" in done.stderr
    assert (graded["out"] / "grades.csv").read_bytes() == before


def test_results_is_for_one_submission(tmp_path):
    done = subprocess.run(_grade_command(SOLUTION, FOLDER, "--results", tmp_path / "r.json"), cwd=ROOT,
                          capture_output=True, text=True, timeout=BATCH_SECONDS)
    assert done.returncode == 2 and "--results is for one submission" in done.stderr


# --- how many at once -----------------------------------------------------------


def test_a_grading_starts_as_many_student_programs_in_all_as_the_batch_counts_on_at_once(monkeypatch):
    launched = []
    launch = sandbox.launch
    monkeypatch.setattr(sandbox, "launch", lambda name, *args: launched.append(name) or launch(name, *args))
    assert grading.grade([SOLUTION], rubric.load()).score == FULL
    assert len(launched) == accounts.PROGRAMS_AT_ONCE, launched


def test_as_root_a_batch_runs_only_as_many_gradings_as_there_are_sandbox_users_for(monkeypatch):
    most = accounts.GRADINGS_AT_ONCE
    assert most == accounts.SLOTS // accounts.PROGRAMS_AT_ONCE == 16  # at -j 64, 33 of 64 gradings failed
    monkeypatch.setattr(accounts, "as_root", lambda: True)
    assert batch.at_once(most) == (most, "")
    jobs, note = batch.at_once(4 * most)
    assert jobs == most
    assert note.startswith(f"grading {most} at a time, not {4 * most}: as root, each student program runs as")
    monkeypatch.setattr(accounts, "as_root", lambda: False)  # one user for all: nothing to run out of
    assert batch.at_once(4 * most) == (4 * most, "")
    assert batch.at_once(0) == (1, "")


def test_the_batch_says_when_it_runs_fewer_gradings_at_once_than_asked(tmp_path):
    done = subprocess.run(_grade_command(SOLUTION, "--out", tmp_path / "out", "-j", "1000"), cwd=ROOT,
                          capture_output=True, text=True, timeout=BATCH_SECONDS)
    assert done.returncode == 0, done.stderr
    assert _rows(tmp_path / "out")["solution"]["total"] == "100"
    at_once = batch.at_once(1000)[0]
    assert f"Grading 1 of 1 submissions, {at_once} at a time" in done.stdout
    assert (f"note: grading {at_once} at a time, not 1000" in done.stdout) == accounts.as_root(), done.stdout


def _unreadable_course(base: Path, count: int) -> Path:
    """Submissions intake refuses: each graded (score 0) in well under a second."""
    for n in range(count):
        (base / "course" / f"s{n}").mkdir(parents=True)
        (base / "course" / f"s{n}" / "notes.txt").write_text("I did my best\n", encoding="utf-8")
    return base / "course"


def test_a_reader_of_the_output_that_goes_away_stops_nothing(tmp_path):
    """`grade ... | head -1`: the batch grades everything and writes its report, with no one to print to."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(_grade_command(_unreadable_course(tmp_path, 3), "--out", out, "-j", "1"), cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in worker.stdout:
        if line.startswith("[1/3]"):
            break
    worker.stdout.close()
    _, errors = worker.communicate(timeout=BATCH_SECONDS)
    assert worker.returncode == 0, errors
    assert sorted(_rows(out)) == ["s0", "s1", "s2"]
    assert (out / "report.html").is_file() and len(list(out.glob("*/feedback.html"))) == 3


def test_a_feedback_page_that_breaks_stops_nothing(tmp_path, monkeypatch, capsys):
    broken = []

    def once(data: dict, submission: str) -> str:
        if submission == "s1" and not broken:
            broken.append(submission)
            raise RuntimeError("the page broke")
        return real(data, submission)

    real = pages.feedback_html
    monkeypatch.setattr(pages, "feedback_html", once)
    code = batch.run([_unreadable_course(tmp_path, 3)], rubric.load(), rubric.DEFAULT_FILE, tmp_path / "out", 1, False)
    assert code == 0 and broken == ["s1"]
    assert sorted(_rows(tmp_path / "out")) == ["s0", "s1", "s2"]
    assert "error: the feedback page of s1 could not be written; its results are whole" in capsys.readouterr().err
    assert (tmp_path / "out" / "s1" / "feedback.html").is_file()  # written with the report, at the end


# --- which arguments make a batch ---------------------------------------------


def _zip_of(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.rglob("*"):
            zipped.write(path, path.relative_to(folder).as_posix())
    return archive


def test_one_submission_stays_one(tmp_path):
    one_zip = _zip_of(SOLUTION, tmp_path / "mine.zip")
    nested = tmp_path / "nested"
    shutil.copytree(SOLUTION, nested / "pingpong")
    assert not submissions.is_batch([SOLUTION])
    assert not submissions.is_batch([FOLDER])  # a folder with .py files of its own
    assert not submissions.is_batch([SOLUTION / SERVER, SOLUTION / CLIENT2])
    assert not submissions.is_batch([one_zip, SOLUTION / SERVER])  # loose .py files: one submission, as before
    assert not submissions.is_batch([one_zip])
    assert not submissions.is_batch([nested])  # one subfolder: a student's zip of a folder, unpacked


def test_many_submissions_are_a_batch(course, tmp_path):
    a, b = _zip_of(SOLUTION, tmp_path / "a.zip"), _zip_of(FOLDER, tmp_path / "b.zip")
    assert submissions.is_batch([a, b])
    assert submissions.is_batch([SOLUTION, FOLDER])
    assert submissions.is_batch([tmp_path])  # a folder holding two zips
    assert submissions.is_batch([course["folder"]]) and submissions.is_batch([course["zip"]])
    assert submissions.is_batch([course["folder"].parent])  # the export one folder down
    found, notes = submissions.collect([a, b, SOLUTION, tmp_path / "a.zip"], tmp_path / "scratch")
    assert [s.id for s in found] == ["a", "b", "solution", "a-2"]
    assert notes == []


def test_submissions_whose_names_meet_after_cleaning_each_keep_an_id_of_their_own(tmp_path):
    for name in ("a b", "a_b", "a_b-2", "a+b"):
        shutil.copytree(SOLUTION, tmp_path / "course" / name)
    shutil.copytree(SOLUTION, tmp_path / "elsewhere" / "a b")
    found, _ = submissions.collect([tmp_path / "course", tmp_path / "elsewhere" / "a b"], tmp_path / "scratch")
    ids = [s.id for s in found]
    assert len(set(ids)) == len(ids) == 5, ids
    assert ids == ["a_b", "a+b", "a_b-3", "a_b-2", "a_b-4"]  # the folder named "a_b-2" keeps its name


def test_export_metadata_with_or_without_colons_and_ruby_tags(tmp_path):
    metadata = tmp_path / export.METADATA
    metadata.write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '100'\n    :email: ada@example.edu\n"
        "  :score: !ruby/object:BigDecimal 18:0.95E2\n"
        "submission_2:\n  submitters:\n  - name: Alan Turing\n    sid: 7\n  - name: Grace Hopper\n"
        "submission_3:\n  :submitters: []\n",
        encoding="utf-8")
    people = export.submitters(metadata)
    assert people["submission_1"] == (export.Submitter("Ada Lovelace", "100", "ada@example.edu"),)
    assert people["submission_2"] == (export.Submitter("Alan Turing", "7", ""), export.Submitter("Grace Hopper"))
    assert people["submission_3"] == ()
    metadata.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(export.ExportError, match="should map each submission folder"):
        export.submitters(metadata)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    row = gradebook.Row("submission_1", (), {}, 80.0, 100.0, gradebook.GRADED_STATUS, 0.4, "")
    failed = gradebook.Row("submission_2", (), {}, 0.0, 100.0, gradebook.ERROR_STATUS, 1.0, "it broke")
    terminal, plain = _Terminal(), io.StringIO()
    for stream in (terminal, plain):
        progress = batch.Progress(2, stream)
        progress.step(row)
        progress.step(failed)
        progress.end()
    assert terminal.getvalue().startswith("\r[###############...............] 1/2")
    assert "\r[##############################] 2/2" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert plain.getvalue() == ("[1/2] submission_1: 80/100 (0.4 s)\n"
                                "[2/2] submission_2: ERROR: it broke (1.0 s)\n")
