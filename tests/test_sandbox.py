"""One student program in the sandbox: apart, limited, and gone for sure when stopped.

Each test runs a small hostile program through `sandbox.start` and looks, in
/proc, for anything of it left running. Checks that need root (the sandbox
users, the closed solution) run when the suite runs as root, as CI does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder import accounts, handout, rubric, sandbox, scene as scenes, warden
from autograder.handout import ROOT

from survivors import AS_ROOT, HAS_PROC, open_folder, survivors

needs_root = pytest.mark.skipif(not AS_ROOT, reason="only root can run programs as the sandbox users")
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="finding survivors needs Linux's /proc")
BOUND = 10.0  # seconds any one of these may take


@pytest.fixture
def place():
    """Where programs run: a folder of this test's, which survivors are looked for by."""
    folder = open_folder("pingpong-sandbox-test-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start(place: Path, code: str, caps: sandbox.Caps | None = None, name: str = "client2") -> sandbox.Program:
    folder = place / f"{name}-{len(list(place.iterdir()))}"
    folder.mkdir(mode=0o700)
    (folder / "program.py").write_text(code, encoding="utf-8")
    return sandbox.start(name, folder / "program.py", folder, {}, caps=caps)


def run(place: Path, code: str, grace: float = 5.0, caps: sandbox.Caps | None = None) -> sandbox.ProgramRun:
    """Run `code` to its end (or `grace` s), stop it, and check nothing of it is left."""
    started = time.monotonic()
    with start(place, code, caps) as program:
        result = program.stop(grace)
    assert time.monotonic() - started < grace + BOUND
    if HAS_PROC:
        assert survivors(str(program.folder)) == [], result
    return result


def test_a_program_runs_apart_with_an_empty_input_and_a_scrubbed_environment(place):
    """As root, a program runs as one of the sandbox users, never root, and the grade has nothing to
    own up to; otherwise it runs as the user running the grader, and the grade says so, naming them."""
    result = run(place, """
import os, sys
print(sorted(os.environ))
print(sorted(os.listdir(".")))
print(repr(sys.stdin.read()))
print(os.getuid())
""")
    environ, files, stdin, uid = result.stdout.text.splitlines()
    assert environ == str(["HOME", "LANG", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
                           "PYTHONUNBUFFERED", "TMPDIR"])
    assert files == str(["program.py"])
    assert stdin == "''"
    user = pwd.getpwuid(int(uid)).pw_name
    if AS_ROOT:
        assert int(uid) != 0 and user in map(accounts.user_name, range(accounts.SLOTS)), f"ran as {user} ({uid})"
        assert accounts.caveats() == ()
    else:
        assert int(uid) == os.getuid(), f"ran as {user} ({uid})"
        said = accounts.caveats()
        assert len(said) == 1 and f"Student code ran as {user}," in said[0], said
        assert "without a sandbox user (that needs root)" in said[0], said


@pytest.mark.skipif(not Path("/proc/self/oom_score_adj").exists(), reason="Linux's OOM killer")
def test_a_program_is_the_first_to_go_when_memory_runs_out(place):
    """A program forking as many processes as it may, each as large as it may be, can fill the
    machine; the kernel then kills the largest process, which must not be the grader."""
    def own() -> int:
        with open("/proc/self/oom_score_adj", encoding="ascii") as stream:
            return int(stream.read())

    before = own()
    if before == 1000:
        pytest.skip("the tests already run as the OOM killer's first choice: nothing to tell apart")
    result = run(place, """
import os
child = os.fork()
if child:
    os.waitpid(child, 0)
print("child" if child == 0 else "program", open("/proc/self/oom_score_adj").read().strip())
""")
    assert result.stdout.text.splitlines() == ["child 1000", "program 1000"], result
    assert own() == before  # the grader's own stays as it was


def test_a_program_takes_the_compiled_library_its_folder_holds(place):
    """Compiling utils2 costs every program 5 to 10 ms of CPU at its start: each gets it compiled,
    in a file its Python takes (`-v` says where code comes from) and its user may read."""
    (place / "source").mkdir()
    program = place / "source" / "client2_student.py"
    program.write_text("import os, utils2\nprint(os.access(utils2.__cached__, os.R_OK), utils2.Message.Ping)\n")
    folder = scenes._workspace(place, "client2", program)
    cached = folder / "__pycache__" / Path(utils2_cache_name()).name
    loud = subprocess.run([sys.executable, "-v", "-B", "-s", "-c", "import utils2"], cwd=folder,
                          capture_output=True, text=True, timeout=BOUND)
    assert f"code object from '{cached}'" in loud.stderr, loud.stderr[-2000:]
    with sandbox.start("client2", folder / program.name, folder, {}) as running:
        result = running.stop(BOUND)
    assert result.stdout.text == "True Message.Ping\n", result


def utils2_cache_name() -> str:
    import importlib.util

    return importlib.util.cache_from_source("utils2.py")


@needs_root
def test_a_program_runs_as_a_sandbox_user_in_a_folder_of_its_own(place):
    result = run(place, """
import os, pwd, stat
info = os.stat(".")
print(pwd.getpwuid(os.getuid()).pw_name, os.getgroups(), oct(stat.S_IMODE(info.st_mode)), info.st_uid == os.getuid())
""")
    user, groups, mode, owned = result.stdout.text.split()
    assert user.startswith(sandbox.SANDBOX_USER), result
    assert (groups, mode, owned) == ("[]", "0o700", "True"), result


@needs_root
@pytest.mark.parametrize("inside", ["solution/server_student.py", "autograder/sandbox.py", "README.md",
                                    "tests/catalogue/expected.toml", "."])
def test_the_checkout_is_closed_to_student_programs_all_of_it(place, inside):
    path = str(ROOT / inside)
    result = run(place, f"import os\nos.listdir({path!r}) if os.path.isdir({path!r}) else open({path!r}).read()\n")
    assert "PermissionError" in result.traceback, result


@needs_root
def test_a_batchs_folder_is_closed_while_it_runs_and_a_shared_one_refused(tmp_path):
    out, shared = tmp_path / "out", tmp_path / "shared"
    for folder, mode in ((out, 0o755), (shared, 0o1777)):
        folder.mkdir()
        folder.chmod(mode)
    with accounts.closed(out):
        assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # given back: pages the instructor and TAs read
    with pytest.raises(accounts.SandboxError, match="shared by every user"), accounts.closed(shared):
        pass
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_what_a_program_prints_is_kept_head_and_tail_without_stalling_it(place):
    result = run(place, """
import sys
print("first line")
for i in range(200_000):
    sys.stdout.write(f"line {i:06} " + "x" * 40 + "\\n")
print("last line")
""")
    assert result.returncode == 0 and not result.killed
    assert result.stdout.dropped > 10_000_000
    text = result.stdout.text
    assert text.startswith("first line") and text.rstrip().endswith("last line")
    assert f"[... {result.stdout.dropped} bytes left out ...]" in text
    assert len(text.encode()) < sandbox.OUTPUT_CAP + 100


LIMITS = {
    "memory": ("x = [bytearray(100 * 2**20) for _ in range(40)]\n", {}, "used more than 512 MiB of memory"),
    "processes": ("import os, signal\nwhile True:\n    if os.fork() == 0:\n        signal.pause()\n", {},
                  "tried to run more than 32 processes or threads at once"),
    "threads": ("import threading\nwhile True:\n    threading.Thread(target=threading.Event().wait, daemon=True).start()\n",
                {}, "tried to run more than 32 processes or threads at once"),
    "open_files": ("files = [open('program.py') for _ in range(1000)]\n", {},
                   "had more than 64 files or sockets open at once"),
    "file_size": ("with open('big', 'wb') as f:\n    f.write(bytes(2 * 2**20))\n", {"file_mib": 1},
                  "wrote more than 1 MiB (to a file, or printed)"),
    "printed": ("import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n", {"file_mib": 1},
                "wrote more than 1 MiB (to a file, or printed)"),
    "cpu": ("while True:\n    pass\n", {"cpu_seconds": 1}, "used more than 1 s of CPU time"),
}


@pytest.mark.parametrize("code, caps, words", LIMITS.values(), ids=LIMITS.keys())
def test_a_program_that_goes_over_a_limit_is_stopped_and_the_limit_named(place, code, caps, words):
    result = run(place, code, grace=30.0, caps=sandbox.Caps(**caps))  # CPU time comes slowly on a busy machine
    assert not result.killed, f"it should have been stopped by the limit, not by the grader: {result}"
    assert result.limit == words, result


def test_a_correct_program_names_no_limit(place):
    assert run(place, "print('hello')\n").limit == ""


@needs_proc
def test_a_daemon_in_a_new_session_does_not_outlive_its_program(place):
    code = """
import os, signal
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.chdir("/")
        print(os.getpid(), flush=True)
        signal.pause()
    os._exit(0)
"""
    with start(place, code) as program:
        said = lambda: sandbox.read_capped(program.outputs[0]).text.strip()  # noqa: E731 - the daemon's pid
        while not (program.exited() and said() and program.tree() == {int(said())}):  # the daemon alone is left
            assert time.monotonic() - program.started < BOUND
        assert any(line.startswith(f"{said()}:") for line in survivors(str(place)))
        assert program.stop().returncode == 0
    assert survivors(str(place)) == []


def crowd_to(program: sandbox.Program, count: int) -> None:
    """Wait until `program` runs `count` processes (bounded)."""
    while len(program.tree()) < count:
        assert time.monotonic() - program.started < BOUND, f"{program.name}: {len(program.tree())} processes"


def crowd(program: sandbox.Program) -> None:
    """Wait until `program` runs as many processes as it may."""
    crowd_to(program, sandbox.Caps().processes - 1)


@needs_proc
def test_hundreds_of_processes_and_a_fork_bomb_leave_nothing(place):
    bomb = start(place, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                 name="bomb")
    crowd(bomb)
    many = start(place, "import signal, subprocess\nps = []\nfor _ in range(300):\n    try:\n"
                        "        ps.append(subprocess.Popen(['sleep', '1000']))\n    except OSError:\n        pass\n"
                        "print(len(ps), flush=True)\nsignal.pause()\n", name="many")
    crowd(many)
    while not os.pread(many.outputs[0].fileno(), 64, 0).endswith(b"\n"):  # it counted what it could start
        assert time.monotonic() - many.started < BOUND, "many: printed nothing"
    started = time.monotonic()
    runs = [bomb.stop(), many.stop()]
    assert time.monotonic() - started < BOUND
    assert survivors(str(place)) == []
    assert runs[0].limit == runs[1].limit == "tried to run more than 32 processes or threads at once", runs
    if AS_ROOT:  # not root, the two share one count of processes
        assert runs[1].stdout.text == f"{sandbox.Caps().processes - 1}\n"  # it and 31 sleeps


def test_a_program_that_kills_its_parent_does_not_reach_the_grader(place):
    result = run(place, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('still here')\n")
    if AS_ROOT:  # its parent is its warden, root's
        assert "PermissionError" in result.traceback, result
    else:  # its warden dies, and takes it along: the grader is two steps up
        assert result.returncode == -signal.SIGKILL, result
    assert result.escaped == (not AS_ROOT), result  # not root, the run proves nothing: grading fails its tests
    os.kill(os.getpid(), 0)


def test_a_program_that_tells_its_parent_to_end_it_is_not_ended(place):
    """SIGTERM is the grader's word to end a program; as root the program cannot send it, not root the
    warden takes it from the grader alone. Had the warden obeyed, it would have killed the program in
    the half second the program then watches it (any time after that, the program has printed)."""
    result = run(place, "import os, signal, time\nparent = os.getppid()\n"
                        "try:\n    os.kill(parent, signal.SIGTERM)\nexcept OSError:\n    pass\n"
                        "end = time.monotonic() + 0.5\n"
                        "while time.monotonic() < end and os.getppid() == parent:\n    time.sleep(0.01)\n"
                        "print('still here' if os.getppid() == parent else 'orphaned')\n")
    assert (result.returncode, result.stdout.text, result.escaped) == (0, "still here\n", False), result


@needs_proc
def test_a_warden_just_started_is_never_taken_for_a_straggler(place):
    """Not root, when a program killed its warden, a sweep runs beside other gradings: a warden
    started in the middle of it, our child in a session of its own, looks just like an orphan."""
    sweeping = threading.Event()

    def sweep():
        while not sweeping.is_set():
            sandbox._kill_stragglers(-1)  # a session nothing is in: only what came to us is sought

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        results = [run(place, "print('started')\n") for _ in range(12)]
    finally:
        sweeping.set()
        sweeper.join()
    assert [result.stdout.text for result in results] == ["started\n"] * 12, results


@needs_root
def test_killing_everything_it_may_kills_only_itself(place):
    other = start(place, "import signal\nsignal.pause()\n", name="other")
    result = run(place, "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('survived')\n")
    assert result.stdout.text == "survived\n", result
    assert not other.exited(), "another program, of another sandbox user, was killed"
    other.stop()


@needs_root
def test_programs_running_at_once_have_users_of_their_own(place):
    code = "import os, signal\nprint(os.getuid(), flush=True)\nsignal.pause()\n"
    programs = [start(place, code, name=f"p{i}") for i in range(3)]
    for program in programs:  # each has printed its user before it is stopped
        while not sandbox.read_capped(program.outputs[0]).text:
            assert time.monotonic() - program.started < BOUND
    runs = [p.stop() for p in programs]
    assert len({r.stdout.text for r in runs}) == 3, runs


@needs_root
def test_a_fork_bomb_does_not_stop_another_program_from_starting(place):
    bomb = start(place, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                 name="bomb")
    try:
        crowd(bomb)
        assert run(place, "import threading\nprint('fine')\n").stdout.text == "fine\n"
    finally:
        bomb.stop()


@needs_root
def test_what_a_program_leaves_in_the_shared_temporary_folders_is_removed(place):
    token = f"pingpong-left-{os.getpid()}-{threading.get_ident()}"
    paths = [Path(base) / token for base in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(base)]
    code = "import os\n" + "".join(f"os.makedirs({str(p / 'inside')!r})\n" for p in paths)
    result = run(place, code)
    assert result.returncode == 0, result
    assert [p for p in paths if p.exists()] == []


MAKE_IPC = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
made = [libc.shmget(0, 4096, 0o600), libc.semget(0, 1, 0o600), libc.msgget(0, 0o600)]  # IPC_PRIVATE
sys.exit(any(ident < 0 for ident in made))
"""


@needs_root
@pytest.mark.skipif(not Path("/proc/sysvipc").is_dir(), reason="System V IPC, seen in Linux's /proc")
def test_the_sweep_removes_the_ipc_a_user_made_as_that_user():
    """Root may remove another user's IPC objects only with CAP_SYS_ADMIN, which a default container
    lacks: the warden's sweep removes them as the user, their maker, who needs nothing."""
    account, slot = accounts.take()
    try:
        made = subprocess.run([accounts.python_for(account), "-I", "-c", MAKE_IPC], user=account.uid, group=account.gid,
                              extra_groups=[], timeout=BOUND)
        assert made.returncode == 0 and all(warden.ipc_of(account.uid, kind) for kind in warden.IPC_KINDS)
        swept = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.append({str(ROOT / 'autograder')!r}); "
                                f"import warden; sys.exit(not warden.sweep({account.uid}, {account.gid}))"], timeout=BOUND)
        assert swept.returncode == 0
        assert [warden.ipc_of(account.uid, kind) for kind in warden.IPC_KINDS] == [[], [], []]
    finally:
        warden.remove_ipc(account.uid)
        os.close(slot)


@needs_root
def test_the_sandbox_user_is_created_on_demand_and_setup_can_ask_for_it(capsys):
    assert sandbox.main(["--ensure-user"]) == 0
    printed = capsys.readouterr().out
    assert f"student programs can run as {sandbox.SANDBOX_USER} (uid {pwd.getpwnam(sandbox.SANDBOX_USER).pw_uid})" in printed
    for slot in range(accounts.PROGRAMS_AT_ONCE):
        assert pwd.getpwnam(accounts.user_name(slot)).pw_uid != 0


@needs_root
def test_the_sandbox_users_are_removed_with_what_they_left_but_not_one_in_use(capsys):
    """Removes every sandbox user of this machine, and makes again those there were: a user made on demand
    is made while a scene's clock runs, and the next run of the suite should not pay for that.
    The last two slots play the parts: a grading running beside the suite is least likely to hold them."""
    there = [slot for slot in range(accounts.SLOTS) if accounts._account(accounts.user_name(slot))]
    try:
        _remove_the_sandbox_users(capsys)
    finally:
        for slot in there:
            accounts.ensure_user(accounts.user_name(slot))


def _remove_the_sandbox_users(capsys) -> None:
    left, busy = (accounts.ensure_user(accounts.user_name(slot)) for slot in (accounts.SLOTS - 2, accounts.SLOTS - 1))
    lingering = subprocess.Popen(["sleep", "1000"], user=left.uid, group=left.gid, start_new_session=True)
    litter = Path("/tmp") / f"pingpong-litter-{os.getpid()}"
    litter.write_text("left behind")
    os.chown(litter, left.uid, left.gid)
    held = accounts._hold(accounts._lock_dir(), accounts.SLOTS - 1)  # as a grading running now holds it
    assert held is not None
    try:
        assert sandbox.main(["--remove-users"]) == 1  # not all are gone
        printed = capsys.readouterr().out.splitlines()
        assert f"removed {left.name} (uid {left.uid})" in printed
        assert f"{busy.name} left: a grading running now is using it" in printed
        with pytest.raises(KeyError):
            pwd.getpwnam(left.name)
        assert pwd.getpwnam(busy.name).pw_uid == busy.uid
        assert lingering.wait(timeout=10) == -signal.SIGKILL
        assert not litter.exists()
    finally:
        os.close(held)
        lingering.kill()
        litter.unlink(missing_ok=True)
    sandbox.main(["--remove-users"])  # 0 unless a grading running beside the suite holds some user
    assert f"removed {busy.name} (uid {busy.uid})" in capsys.readouterr().out.splitlines()  # let go, it goes too
    assert sandbox.main(["--ensure-user"]) == 0
    assert sandbox.main(["--remove-users", "--ensure-user"]) == 2


@needs_root
def test_removing_sandbox_users_where_there_are_none_says_so(monkeypatch, capsys):
    monkeypatch.setattr(accounts, "user_name", lambda slot: f"pingpong-nobody-{slot}")
    assert sandbox.main(["--remove-users"]) == 0
    assert capsys.readouterr().out == "there are no sandbox users to remove\n"


def test_only_root_removes_the_sandbox_users(monkeypatch, capsys):
    monkeypatch.setattr(accounts, "as_root", lambda: False)
    assert sandbox.main(["--remove-users"]) == 1
    assert "error: only root can remove users" in capsys.readouterr().err


@needs_proc
def test_without_proc_the_family_is_found_by_ps(place, monkeypatch):
    """macOS has no /proc: the warden finds what to kill through ps (it has no subreaper there either)."""
    program = start(place, "import os, signal\nfor _ in range(3):\n    if os.fork() == 0:\n        break\n"
                           "signal.pause()\n")
    try:
        crowd_to(program, 4)  # itself and its three children
        from_proc = warden.family(program.keeper.pid)
        monkeypatch.setattr(warden, "_HAS_PROC", False)
        monkeypatch.setattr(warden, "_CHILDREN_FILES", False)
        assert warden.family(program.keeper.pid) == from_proc
    finally:
        program.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(2) is Linux's")
@pytest.mark.parametrize("way", ["_ctypes", "ctypes"])
def test_the_warden_sets_what_it_asks_prctl_for_without_importing_ctypes(way):
    """The warden calls prctl through _ctypes (importing ctypes would cost every program's start 4.4 ms),
    or, should _ctypes lack the names it uses, through ctypes; either way the kernel holds the value."""
    probe = f"""
import sys
sys.path.append({str(Path(warden.__file__).parent)!r})
import _ctypes
if {way!r} == "ctypes":
    del _ctypes.call_function
import warden
assert warden.prctl(warden.PR_SET_PDEATHSIG, 10) and warden.prctl(warden.PR_SET_CHILD_SUBREAPER, 1)
assert not warden.prctl(-1, 0)  # an option there is none of: refused, not raised
imported = "ctypes" in sys.modules
import ctypes
held = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(held), 0, 0, 0)  # PR_GET_PDEATHSIG
subreaper = ctypes.c_int()
ctypes.CDLL(None).prctl(37, ctypes.byref(subreaper), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
print(held.value, subreaper.value, imported)
"""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=BOUND)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10", "1", str(way == "ctypes")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc: Linux")
def test_a_warden_starts_and_ends_a_program_without_importing_what_it_can_do_without():
    """A warden starts for every student program, in a Python with no site: importing os (3 ms there),
    signal (7 ms) or ctypes (4.4 ms) would cost every program's start that much. Started as the sandbox
    starts it, it runs a program and is told to end it, and Python lists every module it imported."""
    status, report = os.pipe()
    command = [sys.executable, "-I", "-S", "-X", "importtime", "-c", sandbox._RUN_WARDEN, str(report),
               str(os.getpid()), "-1", "-1", "", "0,0,0,0,0", "--", shutil.which("sleep"), "1000"]
    keeper = subprocess.Popen(command, pass_fds=(report,), stderr=subprocess.PIPE, text=True)
    os.close(report)
    try:
        assert sandbox._started(status) is not None  # the program runs
        keeper.send_signal(signal.SIGTERM)  # end it: the warden kills all of it, then exits
        _, said = keeper.communicate(timeout=BOUND)
    finally:
        keeper.kill()
        os.close(status)
    assert keeper.returncode == 0, said
    imported = {line.rsplit("|", 1)[1].strip() for line in said.splitlines() if line.startswith("import time:")}
    assert "warden" in imported and "resource" in imported  # the list is whole: what runs a program is there
    assert imported & {"os", "signal", "ctypes", "subprocess"} == set()


@needs_proc
def test_a_grader_that_dies_takes_its_student_programs_along(place):
    """Killed outright (a batch stopping a stuck worker does that), the grader cannot stop its programs;
    their wardens, told of its death by the kernel, kill them."""
    grader = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from autograder import sandbox
folder = Path({str(place)!r}) / "daemon"
folder.mkdir()
(folder / "program.py").write_text("import os, signal\\nif os.fork() == 0:\\n    os.setsid()\\nsignal.pause()\\n")
program = sandbox.start("client2", folder / "program.py", folder, {{}})
while len(program.tree()) < 2:
    pass
print("started", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert grader.stdout.readline() == "started\n"
        assert len(survivors(str(place))) == 4  # the grader, the warden, the program and its child
        grader.kill()
        grader.wait()
        started = time.monotonic()
        while survivors(str(place)):
            assert time.monotonic() - started < BOUND, survivors(str(place))
    finally:
        grader.kill()
        grader.wait()


def test_the_rubric_sets_the_limits_and_refuses_a_wrong_one(place):
    tests = {"tests": {key: {"points": 1} for key in rubric.GRADED}}  # as every rubric must give them
    limits = rubric.parse({"limits": {"memory_mib": 256, "processes": 8}, **tests}).limits
    assert (limits.memory_mib, limits.processes, limits.open_files) == (256, 8, sandbox.Caps().open_files)
    result = run(place, "x = bytes(300 * 2**20)\n", caps=limits)
    assert result.limit == "used more than 256 MiB of memory"
    for key, value in (("memory_mib", 1.5), ("processes", 0), ("file_mib", "64")):
        with pytest.raises(rubric.ConfigError, match=f"limits.{key} must be a whole number, 1 or more, not {value!r}"):
            rubric.parse({"limits": {key: value}, **tests})


@needs_proc
def test_a_program_that_fails_to_start_leaves_nothing_and_its_partner_is_stopped(place, monkeypatch):
    """A scene starts two programs side by side; the second never starts (its warden says nothing)."""
    real_launch, real_started, launched = sandbox.launch, sandbox._started, []

    def launch(*args, **kwargs):
        launched.append(real_launch(*args, **kwargs))
        return launched[-1]

    def second_fails(status):  # start_all launches both before it waits for either
        if status == launched[1].status:
            raise sandbox.SandboxError("the warden did not start the program (a test says so)")
        return real_started(status)

    monkeypatch.setattr(sandbox, "launch", launch)
    monkeypatch.setattr(sandbox, "_started", second_fails)
    folders = []
    for name in ("first", "second"):
        folder = place / name
        folder.mkdir(mode=0o700)
        (folder / "program.py").write_text("import signal\nsignal.pause()\n", encoding="utf-8")
        folders.append(folder)
    scene = handout.scene.Scene(scenes.Limits(scenario_seconds=BOUND, settle_seconds=0.1),
                                scenes.Sandboxed(place, sandbox.Caps()))
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(sandbox.SandboxError, match="a test says so"):
        scene.start_all([(folder.name, folder / "program.py", 9, None) for folder in folders])
    assert list(scene.programs) == ["first"]  # started: the scene's to stop
    assert not warden.alive(launched[1].keeper.pid), "the second warden was left running"
    runs = scene.close(0.0)
    assert runs["first"].killed
    assert survivors(str(place)) == []
    assert len(os.listdir("/proc/self/fd")) <= open_before, "files of the launch were left open"
