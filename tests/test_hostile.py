"""The hostile catalogue: submissions that want the points by any means, or break everything.

Each entry is the reference solution with a hostile prelude (tests/hostile/NAME.py)
at the top of one or both files, graded the way Gradescope grades: by the
command line, in a process of its own, into a results file. Each asserts the
score the submission deserves, a bound on the time, a valid results file
under 1 MiB, and cleanliness: no process of it left running, nothing of the
solution in the results, no stray results file taken or (as root) left.

The entries are graded side by side, a few at a time (a hanging entry costs
a scene's time limit). As root each program runs as a sandbox user of its
own, so a fork bomb in one entry does not stop the others' programs.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder import accounts, report, rubric, skeleton
from autograder.handout import FOLDER, ROOT, SOLUTION, STUDENT_FILES

from survivors import AS_ROOT, HAS_PROC, open_folder, survivors

HOSTILE = Path(__file__).with_name("hostile")
CHEATS = Path(__file__).with_name("catalogue")  # the scores catalogue, for an entry graded not root below
# Bounds on a whole grading, loose enough for a loaded machine: a grading takes a second or two, or
# a scene's time limit (5 s, scenes side by side) when a program must be stopped. That a program
# did not stall (on its input, on its output) is checked apart, on what the student reads.
QUICK = 20.0
HANGING = 30.0
BOTH, CLIENT2 = STUDENT_FILES, ("client2_student.py",)
# The graded tests an entry passes; its points are the rubric's in force.
ALL, SERVER, NONE = rubric.GRADED, ("server_forwards_ping", "server_forwards_pong"), ()
IN_FORCE = rubric.load()


def points(passes: tuple[str, ...]) -> float:
    return sum(test.points for test in IN_FORCE.tests if test.key in passes)


@dataclass(frozen=True)
class Entry:
    into: tuple[str, ...]  # the student files the prelude goes into
    passes: tuple[str, ...]  # as root
    seconds: float = QUICK
    passes_not_root: tuple[str, ...] | None = None  # when it differs
    root_only: bool = False
    crowds: bool = False  # runs as many processes as it may: not root, graded alone (see NOT_ROOT below)
    start_from: Path = SOLUTION  # the files the prelude goes on top of

    @property
    def score(self) -> float:
        """Its points as root."""
        return points(self.passes)


CATALOGUE = {
    "reads_the_solution": Entry(CLIENT2, SERVER, HANGING),  # the server waits for a client2 that never comes
    "fake_results": Entry(BOTH, ALL),
    "daemon": Entry(BOTH, ALL),
    "hundreds": Entry(BOTH, ALL, crowds=True),
    "fork_bomb": Entry(CLIENT2, SERVER, HANGING, crowds=True),
    "gigabytes": Entry(BOTH, NONE),
    "prints_megabytes": Entry(BOTH, SERVER, HANGING),  # client2 is stopped at the output limit
    "waits_on_stdin": Entry(BOTH, ("client2_answers",)),  # the server crashes
    "loops_forever": Entry(BOTH, NONE, HANGING),
    "kills_its_parent": Entry(BOTH, ALL, passes_not_root=NONE),
    "kills_its_parent_at_exit": Entry(BOTH, ALL, passes_not_root=NONE),
    "ends_its_parent": Entry(BOTH, ALL),
    "kills_everything": Entry(BOTH, ALL, root_only=True),
    "leaves_ipc": Entry(CLIENT2, ALL, root_only=True),  # not root, what it makes is the user's own
    # On the skeletons, which hold no answer: whatever answer it finds, the grader left it open.
    "walks_everywhere": Entry(CLIENT2, NONE, HANGING, start_from=FOLDER),
}


@dataclass
class Graded:
    code: int
    seconds: float
    results: dict
    size: int
    left_running: list[str]
    base: Path  # where it was graded: its scratch folder was made here
    token: str  # what its fake results carry


# Where walks_everywhere looks besides the checkout ("~": every home folder). A machine the test has to
# itself (the image test's container) is walked whole; on the suite's, other people's clones and copies
# are not the grader's to close, so there it walks where the grader writes: see grade().
EVERYWHERE = ("/autograder", "/home", "~", "/var/tmp", "/dev/shm", "/tmp")


def build(name: str, entry: Entry, folder: Path, token: str, results: Path, root: Path = ROOT,
          tops: tuple[str, ...] = EVERYWHERE) -> None:
    """The submission: the two files of `entry.start_from`, the prelude at the top of those it goes into;
    `root` is where the grader's source is (the image test's differs from this checkout), `tops` where
    walks_everywhere looks."""
    prelude = (HOSTILE / f"{name}.py").read_text(encoding="utf-8")
    prelude = prelude.replace("@ROOT@", str(root)).replace("@TOKEN@", token).replace("@RESULTS@", str(results.parent))
    prelude = prelude.replace("@MARKS@", ",".join(region.encode().hex() for region in regions()))
    prelude = prelude.replace("@TOPS@", ",".join(tops))
    folder.mkdir(parents=True)
    for student_file in STUDENT_FILES:
        text = (entry.start_from / student_file).read_text(encoding="utf-8")
        (folder / student_file).write_text(prelude + "\n" + text if student_file in entry.into else text,
                                           encoding="utf-8")


def regions() -> list[str]:
    """The reference regions, each as a file holding it verbatim holds it."""
    return [skeleton.split((SOLUTION / name).read_text(encoding="utf-8")).region.strip("\n") for name in STUDENT_FILES]


def walk_trouble(said: str) -> list[str]:
    """What is wrong in what walks_everywhere said: an answer found, a walk cut short or not said at
    all, or an answer in the feedback itself."""
    found = [place for line in re.findall(r"^FOUND \d+: (.*)$", said, re.MULTILINE) for place in line.split(" | ")]
    trouble = [f"an answer can be read at {place}" for place in found]
    walked = re.findall(r"^WALKED: .*; complete: (\w+)$", said, re.MULTILINE)
    if not walked or any(complete != "yes" for complete in walked):
        trouble.append(f"the walk was cut short or said nothing: {walked}")
    trouble += ["the feedback holds an answer" for region in regions() if region in said][:1]
    return trouble


def grade(name: str, entry: Entry, work: Path) -> Graded:
    base = open_folder(f"pingpong-hostile-{name}-")  # the grading's temporary folder: survivors are looked for by it
    token = f"pingpong-fake-{name}-{os.getpid()}"
    results = work / name / "results" / "results.json"
    results.parent.mkdir(parents=True)
    results.parent.chmod(0o755)  # open to read, as a careless setup might leave it; never to write
    # The grader's temporary folder (TMPDIR, below) and its home: where it may write, but in the checkout.
    build(name, entry, work / name / "submission", token, results, tops=(str(base), str(Path.home())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(work / name / "submission"),
                           "--results", str(results)], cwd=ROOT, env=dict(env, TMPDIR=str(base)),
                          capture_output=True, text=True, timeout=entry.seconds + 60)
    seconds = time.monotonic() - started
    left = survivors(str(base)) if HAS_PROC else []
    data = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
    size = results.stat().st_size if results.exists() else 0
    return Graded(done.returncode, seconds, data, size, left, base, token)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Graded]:
    work = tmp_path_factory.mktemp("hostile")
    chosen = {n: e for n, e in CATALOGUE.items() if AS_ROOT or not e.root_only}
    alone = [] if AS_ROOT else [n for n, e in chosen.items() if e.crowds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(grade, name, entry, work) for name, entry in chosen.items() if name not in alone}
        done = {name: future.result() for name, future in futures.items()}
    done |= {name: grade(name, chosen[name], work) for name in alone}
    yield done
    for result in done.values():
        shutil.rmtree(result.base, ignore_errors=True)


def entries() -> list:
    unsafe = pytest.mark.skipif(not AS_ROOT, reason="not root, it would kill everything of the user running the tests")
    return [pytest.param(name, entry, id=name, marks=[unsafe] if entry.root_only else [])
            for name, entry in CATALOGUE.items()]


def everything_said(results: dict) -> str:
    return results.get("output", "") + "".join(test.get("output", "") for test in results.get("tests", []))


@pytest.mark.parametrize("name, entry", entries())
def test_a_hostile_submission_gets_its_score_in_bounded_time_and_leaves_nothing(graded, name, entry):
    result = graded[name]
    assert result.code == 0, f"the grader failed or did not survive: {result}"
    assert result.results.get("tests"), f"no valid results: {result.results}"
    expected = points(entry.passes if AS_ROOT or entry.passes_not_root is None else entry.passes_not_root)
    assert result.results["score"] == expected, everything_said(result.results)
    assert result.seconds < entry.seconds, f"{name} took {result.seconds:.1f} s"
    assert result.size < report.MAX_BYTES
    assert result.left_running == [], f"{name} left processes running"


@pytest.mark.skipif(not AS_ROOT, reason="not root, student code runs as the user who can read the solution")
def test_the_solution_cannot_be_read(graded):
    said = everything_said(graded["reads_the_solution"].results)
    assert re.search(r"^STOLEN-FAILED: .*Permission denied", said, re.MULTILINE), said  # it tried; its output is shown
    assert not re.search(r"^STOLEN: ", said, re.MULTILINE), said


@pytest.mark.skipif(not AS_ROOT, reason="not root, student code runs as the user who can read everything")
def test_the_answers_can_be_read_nowhere(graded):
    """Not a list of secrets to try: a walk of the checkout and wherever the grader writes, as the
    sandbox user, opening every file, zip member and git object it may (the image test walks all)."""
    said = everything_said(graded["walks_everywhere"].results)
    assert "WALKED: " + str(ROOT) in said, said  # it found the checkout, and walked it first
    assert walk_trouble(said) == [], said


def test_a_fake_results_file_is_never_taken(graded, tmp_path_factory):
    result = graded["fake_results"]
    assert result.results["score"] == IN_FORCE.max_score and len(result.results["tests"]) == 6
    if AS_ROOT:  # not root, the program could write wherever the user can
        guesses = [Path("/autograder/results/results.json"), Path("/tmp/results.json"),
                   Path("/var/tmp/results.json"), Path("/dev/shm/results.json"), result.base / "results.json"]
        left = [p for p in guesses if p.exists() and result.token in p.read_text(errors="replace")]
        assert left == [], "a fake results file was left outside the program's folder"


@pytest.mark.parametrize("name, words", [
    ("gigabytes", "Your client2 used more than 512 MiB of memory"),
    ("prints_megabytes", "Your client2 wrote more than 64 MiB (to a file, or printed)"),
    ("waits_on_stdin", "EOFError"),
    pytest.param("kills_its_parent_at_exit", "under (its parent) was killed while it ran",
                 marks=pytest.mark.skipif(AS_ROOT, reason="as root, a program cannot signal its warden")),
])
def test_the_message_names_what_went_wrong(graded, name, words):
    assert words in everything_said(graded[name].results)


@pytest.mark.parametrize("name, detail", [
    ("gigabytes", "client2 used more than 512 MiB of memory"),
    ("prints_megabytes", "client2 wrote more than 64 MiB (to a file, or printed)"),
])
def test_a_limit_gone_over_is_a_concern_for_the_course_report(graded, name, detail):
    concerns = graded[name].results["extra_data"]["concerns"]
    assert any(c["kind"] == "limit" and c["detail"].startswith(detail) for c in concerns), concerns
    hints = {t["extra_data"]["hint"] for t in graded[name].results["tests"] if t["status"] == "failed"}
    assert "limit" in hints, hints


def test_output_kept_is_head_and_tail_with_a_note(graded):
    said = everything_said(graded["prints_megabytes"].results)
    assert "some output was left out" in said


def _system_v_ipc(key: int) -> list[str]:
    """What System V IPC objects the key names now, as 'kind: row'."""
    found = []
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}", encoding="ascii") as stream:
            found += [f"{kind}: {row}" for row in stream.read().splitlines()[1:] if int(row.split()[0]) == key]
    return found


@pytest.mark.skipif(not (AS_ROOT and Path("/proc/sysvipc").is_dir()),
                    reason="needs root on Linux: not root, the IPC a program makes is the user's own, and stays")
def test_system_v_ipc_a_program_made_is_removed(graded):
    """Shared memory, semaphores and message queues outlive the processes that made them: left,
    a batch of hostile submissions could hold all the machine's memory after the last one ended."""
    result = graded["leaves_ipc"]
    assert result.results["score"] == IN_FORCE.max_score, everything_said(result.results)  # so it made them: see the prelude
    key = int.from_bytes(hashlib.sha256(result.token.encode()).digest()[:4], "big") & 0x7FFFFFFF
    assert _system_v_ipc(key) == []




# Graded in two rounds: not root, all programs share the user's one count of processes, so a fork
# bomb would starve the programs of gradings running beside it (as root each program has its own).
# Four daemons side by side: each forks twice, and must not fail for the gradings beside it, whose
# processes count against the same user (one lost its 40 points once in CI; four lose them most runs).
# Not root, nothing may see what a program that made itself not dumpable waits in: it hid, and is
# never counted as waiting (before, it counted as waiting, and its sleep-then-Pong scored 100).
NOT_ROOT = ({"solution": points(ALL), "daemon": points(ALL), "daemon-2": points(ALL), "daemon-3": points(ALL),
             "daemon-4": points(ALL), "kills_its_parent": points(NONE), "kills_its_parent_at_exit": points(NONE),
             "ends_its_parent": points(ALL),
             "cheat_client2_hides_then_sleeps_then_pongs": points(SERVER)}, {"fork_bomb": points(SERVER)})
GRADE_AS_IS = """
import json, sys, threading
sys.path.insert(0, ".")
from pathlib import Path
from autograder import grading, rubric
work = Path(sys.argv[1])
found = {}
def one(name):
    try:
        grade = grading.grade([work / name], rubric.load())
    except BaseException:  # shown whole in the failure, not lost on a thread's stderr
        import traceback
        found[name] = [None, [traceback.format_exc()], []]
    else:  # what the student reads for each failed test: why, if a score is not the one expected
        found[name] = [grade.score, list(grade.notes), [v.output for v in grade.verdicts if not v.passed]]
for names in sys.argv[2:]:
    threads = [threading.Thread(target=one, args=(name,)) for name in names.split(",")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(json.dumps(found))
"""


def _python_for(account: accounts.Account) -> str | None:
    """A Python 3.11 or newer (tomllib) the account may run, or None."""
    try:
        python = accounts.python_for(account)
    except accounts.SandboxError:
        return None
    done = subprocess.run([python, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"], user=account.uid,
                          group=account.gid, extra_groups=[], capture_output=True)
    return python if done.returncode == 0 else None


@pytest.mark.skipif(not AS_ROOT, reason="run as an ordinary user, the whole suite grades without a sandbox user")
def test_grading_as_an_ordinary_user_works_with_limits_and_says_so_once():
    """Grading on an instructor's laptop: run the grader itself as `nobody`, from a copy it may read."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody to grade as")
    nobody = accounts.Account("nobody", entry.pw_uid, entry.pw_gid)
    python = _python_for(nobody)
    if python is None:
        pytest.skip("no Python 3.11 or newer that nobody may run")
    copy = open_folder("pingpong-not-root-")
    os.chown(copy, nobody.uid, nobody.gid)  # nobody's alone: it holds the solution
    copy.chmod(0o700)
    work = copy / "work"
    try:
        for folder in ("autograder", "assignment", "solution"):
            shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
            (copy / folder).chmod(0o755)
        work.mkdir()
        for name in (name for names in NOT_ROOT for name in names):
            if name == "solution":
                shutil.copytree(SOLUTION, work / name)
            elif (CHEATS / name).is_dir():
                shutil.copytree(CHEATS / name, work / name)
            else:  # "daemon-2": another copy of "daemon"
                build(name.split("-")[0], CATALOGUE[name.split("-")[0]], work / name, "", work / "results.json")
        for path in [work, *work.rglob("*")]:
            os.chown(path, nobody.uid, nobody.gid)
        started = time.monotonic()
        done = subprocess.run([python, "-c", GRADE_AS_IS, str(work), *map(",".join, NOT_ROOT)], cwd=copy,
                              user=nobody.uid, group=nobody.gid, extra_groups=[], capture_output=True, text=True,
                              timeout=120, env={"PATH": accounts.PATH, "HOME": str(work), "TMPDIR": str(work)})
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < QUICK + HANGING
        found = json.loads(done.stdout)
        assert {name: score for name, (score, _, _) in found.items()} == {**NOT_ROOT[0], **NOT_ROOT[1]}, json.dumps(found, indent=1)
        for name in ("kills_its_parent", "kills_its_parent_at_exit"):  # each graded test, for that reason
            outputs = found[name][2]
            assert sum("under (its parent) was killed while it ran" in said for said in outputs) == len(ALL), outputs
        for name, (_, notes, _) in found.items():  # said once, in the grade's notes
            said = [note for note in notes if "Student code ran as" in note]
            assert len(said) == 1 and "ran as nobody" in said[0] and "without a sandbox user" in said[0], notes
        assert survivors(str(work)) == []
    finally:
        shutil.rmtree(copy, ignore_errors=True)
