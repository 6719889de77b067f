"""Who student programs run as: unprivileged users, one per running program.

As root (Gradescope, CI), each student program runs as a sandbox user that
no other running program has: `pingpong-student`, then `pingpong-student-1`,
`-2`, ... as more run at once (several scenes, several gradings). One user
per program, not one for all, because the kernel counts processes per user:
sharing one, a fork bomb in one program would stop every other program, of
this grading and of any other running at once, from starting. And because
nothing else runs as a program's user while it holds it, killing every
process of that user ends the program for sure.

A user is held through a lock file (flock, so a grader that dies lets go of
it), and whatever a dead grader left running as it is killed before it is
used again. Users are created on demand, or beforehand by setup.sh
(`python -m autograder.sandbox --ensure-user`), and removed, on an
instructor's machine, by `python -m autograder.sandbox --remove-users`.

What those users may read is what the machine opens to everyone, and no
more: the checkout the grader runs from is closed to them by its top folder
(see seal), so everything in it at once, whatever it holds now or later;
what the grader writes elsewhere is closed where it is made; and a program's
folder is its user's alone.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import leftovers, warden
from .handout import ROOT

SANDBOX_USER = "pingpong-student"
PROGRAMS_AT_ONCE = 4  # in one grading: the three scenes run four student programs side by side
SLOTS = 64  # sandbox users at most: student programs running at once, as root
# Each running program holds a user no other has: this many gradings at once is all the users cover.
GRADINGS_AT_ONCE = SLOTS // PROGRAMS_AT_ONCE
WAIT_SECONDS = 10.0  # for a free sandbox user
KILL_SECONDS = 5.0  # to kill every process of a user
PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(RuntimeError):
    """Student programs cannot be run safely here; the message says why and what to do."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def caveats() -> tuple[str, ...]:
    """What a grade should say about who ran its programs: said once, when not sandboxed."""
    if as_root():
        return ()
    me = _me()
    return (f"Student code ran as {me}, the user running the grader, with limits but without a sandbox user "
            f"(that needs root): it could read and change what {me} can.",)


def _me() -> str:
    """Who we run as, by our user id: getpass.getuser() believes $USER first, which setpriv leaves as
    it was (root's, say), and fails for an id with no account (as in some containers)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"user {os.getuid()}"


def user_name(slot: int) -> str:
    return SANDBOX_USER if slot == 0 else f"{SANDBOX_USER}-{slot}"


def ensure_user(name: str = SANDBOX_USER) -> Account:
    """The unprivileged account `name`, created if missing (needs root); safe when gradings run at once."""
    account = _account(name)
    if account is None:
        if not as_root():
            raise SandboxError(f"the user {name} does not exist, and only root can create it")
        with _flocked(_lock_dir() / "useradd.lock"):
            account = _account(name) or _useradd(name)
    if account.uid == 0 or account.gid == 0:
        raise SandboxError(f"the user {name} has root's user or group id; student programs cannot run as it")
    return account


def _account(name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(name, entry.pw_uid, entry.pw_gid)


def _useradd(name: str) -> Account:
    return _shadow_tool(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                        lambda: _account(name), f"could not create the user {name}")


def _shadow_tool(command: list[str], done, failed: str):
    """Run useradd or userdel until done() says it is done (bounded), again while another process holds
    /etc/passwd's lock; what done() said."""
    env = dict(os.environ, PATH=f"{PATH}:/usr/sbin:/sbin")
    why = ""
    for attempt in range(40):
        try:
            ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SandboxError(f"{failed}: {error}") from None
        result = done()
        if result:  # whatever it said: useradd says 9 when someone else made the user meanwhile
            return result
        why = ran.stderr.strip() or f"{command[0]} ended with status {ran.returncode}"
        if ran.returncode not in (1, 10):  # 1 and 10: /etc/passwd or /etc/group is locked: try again
            break
        time.sleep(0.05 * (attempt + 1))  # back off while another process holds that lock
    raise SandboxError(f"{failed}: {why}")


def _lock_dir() -> Path:
    """A folder for lock files that only root may touch."""
    for base in ("/run", tempfile.gettempdir()):
        path = Path(base) / "pingpong-sandbox"
        try:
            path.mkdir(mode=0o700, exist_ok=True)
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
            return path
    raise SandboxError("no safe folder for the sandbox's lock files: /run/pingpong-sandbox and "
                       f"{tempfile.gettempdir()}/pingpong-sandbox are missing, or open to others")


@contextmanager
def _flocked(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _hold(folder: Path, slot: int) -> int | None:
    """The lock of sandbox user `slot`, now held (close it to let go), or None if someone else holds it."""
    fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def take() -> tuple[Account, int]:
    """A sandbox user no other program is using, and the lock that keeps it ours: close it to give it back."""
    folder = _lock_dir()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        for slot in range(SLOTS):
            fd = _hold(folder, slot)
            if fd is None:
                continue
            try:
                account = ensure_user(user_name(slot))  # its warden kills what a dead grader left running as it
            except BaseException:
                os.close(fd)
                raise
            return account, fd
        if time.monotonic() > deadline:
            raise SandboxError(f"all {SLOTS} sandbox users stayed busy for {WAIT_SECONDS:g} s: the gradings "
                               "running at the same time hold them all (grade fewer at once)")
        time.sleep(0.05)  # a user is freed when a program ends; bounded by the deadline


def kill_user(uid: int) -> bool:
    """Kill every process of `uid` until none is left (bounded; False if some are): only for a user no
    one else runs as."""
    return warden.kill_until_none(
        lambda: [pid for pid in warden.pids() if warden.uid_of(pid) == uid and warden.alive(pid)], KILL_SECONDS)


def seal() -> None:
    """Close the checkout the grader runs from to other users, as setup.sh closes /autograder/source
    on Gradescope: the solution, the catalogue, dist/, .git, the results written there, and whatever
    comes next, by its top folder, not a list of files that would miss the next one."""
    try:
        mode = stat.S_IMODE(ROOT.stat().st_mode)
        if mode & 0o007:
            ROOT.chmod(mode & ~0o007)
    except OSError as error:
        raise SandboxError(f"cannot close {ROOT} to other users: {error}") from None


@contextmanager
def closed(folder: Path):
    """As root, `folder` closed to other users while the block runs, its mode given back after: a
    batch's output, which other students' programs must not read while it is written. A folder every
    user may write to (/tmp) is no batch's own: refused."""
    mode = stat.S_IMODE(folder.stat().st_mode)
    if not as_root() or not mode & 0o007:
        yield
        return
    if mode & stat.S_ISVTX:
        raise SandboxError(f"{folder} is shared by every user: give the batch a folder of its own (--out)")
    folder.chmod(mode & ~0o007)
    try:
        yield
    finally:
        folder.chmod(mode)


def _bits(account: Account, info: os.stat_result) -> int:
    if info.st_uid == account.uid:
        return (info.st_mode >> 6) & 7
    if info.st_gid == account.gid:
        return (info.st_mode >> 3) & 7
    return info.st_mode & 7


def allows(account: Account, path: Path, want: int) -> bool:
    """Whether `account`, with its own group only, may `want` (4 read, 2 write, 1 run) `path`."""
    real = Path(os.path.realpath(path))
    try:
        if any(not _bits(account, folder.stat()) & 1 for folder in real.parents):
            return False
        return _bits(account, real.stat()) & want == want
    except OSError:
        return False


def scratch(prefix: str = "pingpong-") -> Path:
    """A fresh folder for one grading. As root others may pass through it to their own folder, never list it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if as_root():
        path.chmod(0o711)
    return path


def python_for(account: Account | None) -> str:
    """A Python the program's user may run: ours, or (ours being in a closed folder) the system's."""
    if account is None:
        return sys.executable
    for candidate in (os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.isfile(candidate) and allows(account, Path(candidate), 5):
            return os.path.realpath(candidate)
    raise SandboxError(f"no Python that {account.name} may run: {os.path.realpath(sys.executable)} is in a "
                       "folder closed to other users; install python3 system-wide")


def hand_over(folder: Path, account: Account) -> None:
    """Make `folder` the program's alone: its user's, mode 700, reachable through the folders above it."""
    for path in (folder, *folder.rglob("*")):
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    folder.chmod(0o700)
    if not allows(account, folder, 7):
        raise SandboxError(f"{folder} cannot be reached by {account.name}: a folder above it is closed to "
                           "other users (grade in a folder made by sandbox.scratch())")


def tasks_of(uid: int) -> int:
    """Processes and threads `uid` runs now: RLIMIT_NPROC counts them all, not only a program's."""
    count = 0
    for pid in warden.pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return count


def adopt_orphans() -> None:
    """Not root: become a subreaper, so a program that kills its warden leaves its processes with us."""
    warden.prctl(warden.PR_SET_CHILD_SUBREAPER, 1)


def ensure_users() -> list[Account]:
    """The sandbox users one grading runs at once, created if missing."""
    return [ensure_user(user_name(slot)) for slot in range(PROGRAMS_AT_ONCE)]


def remove_users() -> tuple[list[str], bool]:
    """Remove the sandbox users there are (needs root), each with all it left running or in the shared
    folders: what happened to each, in words, and whether every one is gone. Each is first taken as a
    program would take it, so one that a grading holds now is left, named."""
    if not as_root():
        raise SandboxError("only root can remove users")
    said, all_gone, folder = [], True, None
    for slot in range(SLOTS):
        name = user_name(slot)
        if _account(name) is None:
            continue
        folder = folder or _lock_dir()
        fd = _hold(folder, slot)
        if fd is None:
            said.append(f"{name} left: a grading running now is using it")
            all_gone = False
            continue
        try:
            account = _account(name)  # read again, now that no grading can make it anew
            if account is None:
                continue
            if account.uid == 0 or account.gid == 0:
                raise SandboxError("it has root's user or group id: it is not one the grader made")
            if not kill_user(account.uid):
                raise SandboxError(f"some of its processes would not die within {KILL_SECONDS:g} s")
            leftovers.remove(account.uid)
            _shadow_tool(["userdel", name], lambda: _account(name) is None, "userdel failed")
            said.append(f"removed {name} (uid {account.uid})")
        except SandboxError as error:
            said.append(f"{name} left: {error}")
            all_gone = False
        finally:
            os.close(fd)
    return said, all_gone
