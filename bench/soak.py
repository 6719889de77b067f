"""`make soak`: does the grader give the same score on every run, on a busy machine?

Grades the solution and several tricky catalogue entries (cheats whose
verdict hangs on the order of events) many times each, as one batch with
-j 2, while a load generator keeps every core busy. Reports, per entry, how
many runs gave a score other than the expected one, or a hint or warning other
than the one the catalogue pins (a passed test with no pin: no warning).
Target: zero.

The expected scores and hints are the catalogue's own under the rubric in force (tests/deserved.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "tests" / "catalogue"
ENTRIES = (
    "solution",
    "cheat_client2_pong_before_ping",
    "cheat_client2_sleeps_then_pongs",
    "cheat_client2_two_pongs",
    "cheat_server_answers_client1_itself",
    "cheat_server_echoes",
    "cheat_server_forges_the_pong",
    "server_forwards_only_the_ping",
    "cheat_server_spins_then_invents_the_ping",  # CI once gave it the forwarding points: see the warden's "running"
    "cheat_client2_spins_then_pongs",
    "cheat_client2_timer_pongs",  # held because a thread waits with a timeout: see referee's timed waits
    "cheat_client2_waits_on_its_own_connection_then_pongs",  # held: a timed wait on no connection to the harness
    "correct_client2_raw_socket_with_a_timeout",  # never held: a timed wait on its connection is waiting
    "correct_client2_leaves_a_zombie",  # a zombie's /proc files are root's: it must not look hidden
    # Programs that do not end: the warning once depended on how fast the machine reached the output limit
    "correct_client2_loops_without_a_none_check",
    "correct_server_loops_skipping_none",
    "correct_both_loop_until_none",
    # Deadlocks, ended once nothing more could happen (issue 24): first seen, then confirmed 0.1 s later
    "server_receives_twice_before_forwarding",
    "client2_compares_with_a_string",
    "server_compares_with_a_string",
    # Held for a program that wakes every 0.1 s: its hint hung on which look came last, then (together) on how
    # far the server got in the last milliseconds of a scene that had waited for client2 to the end before the Ping
    "client2_keeps_a_thread_waiting_with_a_timeout",
)
BURN = "while True:\n    pass\n"


def expected() -> dict[str, tuple[float, dict[str, str]]]:
    """Each entry's total under the rubric in force, and the key of the hint (or warning) its graded tests
    give where the catalogue pins one, "" for a passed test with no pin (no warning)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from autograder import rubric
    from deserved import catalogue

    chosen, table = rubric.load(), catalogue()
    found = {}
    for name in table:
        entry = table[name]
        hints = {key: entry.hint[key][0] if key in entry.hint else "" for key in rubric.GRADED
                 if key in entry.hint or entry.passes(key, chosen)}
        found[name] = (entry.total(chosen), hints)
    return found


def told(results: dict, hints: dict[str, str]) -> bool:
    """Does a results file give the hints (and warnings) expected, in the tests where some are?"""
    given = {test["extra_data"]["key"]: test["extra_data"]["hint"] for test in results["tests"]}
    return all(given.get(key) == hint for key, hint in hints.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="gradings of each entry (default 200)")
    parser.add_argument("--jobs", type=int, default=2, help="gradings at once (default 2)")
    parser.add_argument("--entries", nargs="+", choices=ENTRIES, default=ENTRIES, metavar="ENTRY",
                        help="only these of its entries (default: all)")
    parser.add_argument("--catalogue", action="store_true", help="every entry of the catalogue, not only its own")
    args = parser.parse_args()
    entries = tuple(sorted(p.name for p in CATALOGUE.iterdir() if p.is_dir())) if args.catalogue else tuple(args.entries)
    wanted = expected()
    missing = [e for e in entries if e not in wanted]
    if missing:
        print(f"soak: no expected score for {', '.join(missing)} in the catalogue", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pingpong-soak-") as tmp:
        batch = Path(tmp) / "batch"
        for entry in entries:
            for i in range(args.runs):
                shutil.copytree(CATALOGUE / entry, batch / f"{entry}--{i:04}")
        os.chmod(tmp, 0o755)  # the sandbox users pass through it when grading as root
        load = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(os.cpu_count() or 1)]
        started = time.monotonic()
        try:
            subprocess.run([sys.executable, "-m", "autograder", "grade", str(batch), "--out", str(Path(tmp) / "out"),
                            "-j", str(args.jobs)], cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        finally:
            for process in load:
                process.kill()
                process.wait()
        seconds = time.monotonic() - started
        scores: dict[str, Counter] = {entry: Counter() for entry in entries}
        hinted: Counter = Counter()  # runs with the expected hints and warnings, by entry
        for folder in (Path(tmp) / "out").iterdir():
            results = folder / "results.json"
            if folder.is_dir() and results.exists():
                entry = folder.name.split("--")[0]
                data = json.loads(results.read_text())
                scores[entry][data["score"]] += 1
                hinted[entry] += data["score"] == wanted[entry][0] and told(data, wanted[entry][1])
    total = len(entries) * args.runs
    print(f"{total} gradings with -j {args.jobs} while {os.cpu_count()} CPU burners ran: {seconds:.0f} s\n")
    print(f"{'entry':<44} {'expected':>8}  {'runs':>5}  {'differing':>9}  {'warned otherwise':>16}  scores seen")
    differing_all = 0
    for entry in entries:
        seen, score = scores[entry], wanted[entry][0]
        runs = sum(seen.values())
        differing = args.runs - seen[score]  # a missing result counts as differing
        otherwise = seen[score] - hinted[entry]  # the right score, with another hint or warning
        differing_all += differing + otherwise
        shown = ", ".join(f"{score:g} x{n}" for score, n in sorted(seen.items()))
        print(f"{entry:<44} {score:>8g}  {runs:>5}  {differing:>9}  {otherwise:>16}  {shown}")
    print(f"\ndiffering from the expected score, hints or warnings: {differing_all} of {total} (target: 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
