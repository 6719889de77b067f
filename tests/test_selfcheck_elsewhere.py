"""check.py as it runs on students' Windows and macOS machines, played on Linux.

Those systems have no /proc and no sock_diag, so check.py cannot see a
program wait and falls back on a spell of silence; Windows also has no
fork, no sessions (setsid, killpg), no fcntl or resource, and a select()
that takes sockets only. Here check.py runs:
  - in a mount namespace whose /proc is an empty tmpfs (`unshare`, as root,
    or as a user where user namespaces are allowed), so it finds no /proc
    by looking, as it would there;
  - with tests/windows_like/sitecustomize.py on PYTHONPATH, which takes the
    rest away from it and from every program it starts.
check.py chooses its path by what it finds, not by the name of the system,
so this is the path Windows takes (macOS keeps its sessions; it takes the
same path for waiting). Its verdicts must be Linux's, which are
tests/catalogue/expected.toml's (test_selfcheck shows check.py gives the
autograder's there), check by check, save the one documented difference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deserved import catalogue
from pythons import find_python
from test_selfcheck import CHECKED, ENTRIES, IN_FORCE, _handout_with, _verdicts

WINDOWS_LIKE = Path(__file__).resolve().parent / "windows_like"
CHECK_SECONDS = 60  # a bound on one run of check.py; it takes about a second, 6 s when a program hangs
EXPECTED = catalogue()
# Correct ones, and wrong ones of every kind a student makes on any system (none that forks, sets an
# alarm or waits on a pipe: Windows has none of those).
CHOSEN = [
    "solution", "correct_client2_slow_answer", "correct_client2_sleeps_before_receiving",
    "correct_server_loops_until_none", "correct_client2_raw_socket", "correct_with_crlf_line_endings",
    "skeleton", "missing_server", "cheat_server_echoes", "server_forwards_only_the_ping", "client2_crashes",
    "client2_compares_with_a_string", "server_sends_the_ping_to_both", "server_waits_forever",
    "cheat_client2_pong_before_ping", "cheat_client2_sleeps_then_pongs",
]
# The documented difference (check.py's closing note there, and the students' README): a client2 that
# sleeps and then sends its Pong unasked is quiet while it sleeps, so without /proc the Ping may reach it
# first (in check 1, always but on a machine too busy to start it in 0.25 s; in check 4, as the race
# between its nap and client1's start goes), and its Pong looks like an answer. Linux sees it sleep:
# FAIL there, and in the autograder. Only a FAIL on Linux may be a PASS here, and only in these checks.
WEAKER = {"cheat_client2_sleeps_then_pongs": {"client2_answers", "together"}}
WEAKER_NOTE = "so its timing checks are weaker here"
QUEUES_NOTE = "takes what your program wrote as sent, and what it was sent as read"  # no sock_diag either


def _unshare() -> list[str] | None:
    """The command that runs a program with an empty /proc, or None where this machine cannot."""
    hide = ["sh", "-c", 'mount -t tmpfs none /proc && exec "$@"', "sh"]
    probe = ["test", "!", "-e", "/proc/self/stat"]
    if shutil.which("unshare") is None:
        return None
    for how in (["--mount"], ["--user", "--map-root-user", "--mount"]):
        command = ["unshare", *how, "--propagation", "private", *hide]
        try:
            if subprocess.run([*command, *probe], capture_output=True, timeout=30).returncode == 0:
                return command
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


UNSHARE = _unshare()


def _linux(name: str) -> dict[str, bool]:
    return {key: EXPECTED[name].passes(key, IN_FORCE) for key in CHECKED.values()}


def _elsewhere(name: str, folder: Path, python: str) -> tuple[str, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGPONG_")}
    env["PYTHONPATH"] = str(WINDOWS_LIKE)
    done = subprocess.run([*UNSHARE, python, "check.py"], cwd=_handout_with(ENTRIES[name], folder / name, IN_FORCE),
                          env=env, capture_output=True, text=True, timeout=CHECK_SECONDS)
    return name, done


def test_the_chosen_entries_are_in_the_catalogue():
    assert len(CHOSEN) >= 12
    assert set(CHOSEN) <= set(ENTRIES) and set(CHOSEN) <= set(EXPECTED)
    linux = [_linux(name) for name in CHOSEN]
    assert sum(all(v.values()) for v in linux) >= 5 and sum(not all(v.values()) for v in linux) >= 5


@pytest.mark.skipif(UNSHARE is None, reason="no `unshare` with a mount namespace here (needs root or user namespaces)")
def test_without_proc_sock_diag_fork_or_sessions_check_py_gives_linuxs_verdicts(tmp_path):
    python = find_python("3.8")[0] or sys.executable  # the students' oldest Python, where there is one
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: here it goes by silence, which a crowded machine cuts short
        runs = dict(pool.map(lambda name: _elsewhere(name, tmp_path, python), CHOSEN))
    differ = []
    for name, done in runs.items():
        out = done.stdout
        mine = _verdicts(out)
        assert set(mine) == set(CHECKED.values()), f"{name}: check.py printed\n{out}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{name}: check.py broke\n{done.stderr}"
        assert done.returncode == (0 if all(mine.values()) else 1), f"{name}\n{out}"
        assert out.count(WEAKER_NOTE) == 1, f"{name}: the weaker timing checks are not said once\n{out}"
        assert out.count(QUEUES_NOTE) == 1, f"{name}: what it assumes of the queues is not said once\n{out}"
        linux = _linux(name)
        changed = {key for key in linux if mine[key] != linux[key]}
        if changed - WEAKER.get(name, set()) or any(linux[key] for key in changed):
            differ.append(f"{name}: here {mine}, on Linux {linux}\n{out}")
    assert differ == [], "\n\n".join(differ)


@pytest.mark.skipif(UNSHARE is None, reason="no `unshare` with a mount namespace here (needs root or user namespaces)")
def test_the_simulation_takes_away_what_it_says(tmp_path):
    """What check.py and the programs it starts find: the facilities gone, so a test above that passes
    has run check.py's other path (and it can fail: run as usual, each of these is found)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, selectors, socket, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import check\n"
        "from checker import programs, waiting\n"
        "found = [name for name in ('fork', 'setsid', 'killpg') if hasattr(os, name)]\n"
        "for name in ('fcntl', 'resource'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "        found.append(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "found += ['AF_NETLINK'] * hasattr(socket, 'AF_NETLINK')\n"
        "found += ['/proc'] * waiting.can_see_waiting() + ['sock_diag'] * waiting._can_ask()\n"
        "found += ['sessions'] * programs.SESSIONS + ['hands_over'] * check.Processes.hands_over\n"
        "found += ['pidfd'] * hasattr(os, 'pidfd_open')\n"
        "found += [selectors.DefaultSelector.__name__] * (selectors.DefaultSelector is not selectors.SelectSelector)\n"
        "print(' '.join(found))\n", encoding="utf-8")
    handout = str(Path(__file__).resolve().parent.parent / "assignment")
    env = {**os.environ, "PYTHONPATH": str(WINDOWS_LIKE)}
    here = subprocess.run([*UNSHARE, sys.executable, str(probe), handout], env=env, capture_output=True, text=True,
                          timeout=CHECK_SECONDS)
    assert here.returncode == 0 and here.stdout.split() == [], here.stdout + here.stderr
    usual = subprocess.run([sys.executable, str(probe), handout], capture_output=True, text=True, timeout=CHECK_SECONDS)
    assert usual.returncode == 0, usual.stderr
    assert set(usual.stdout.split()) >= {"fork", "setsid", "killpg", "fcntl", "resource", "AF_NETLINK", "/proc",
                                         "sessions", "hands_over", "EpollSelector"}
