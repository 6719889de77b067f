"""`make bench`: how fast the grader is, measured on this machine.

Prints a table and writes it to bench/results/ as JSON and Markdown, with the
machine's core count, the Python version and the date. Figures, not
verdicts: the targets are printed beside them, and nothing fails.

`--against REF` also times the grader at git commit REF (say, the commit
before a change meant to speed it up), turn about with this one, so both
figures come from the same minutes of the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
HANG = '# *** start ***\nwhile True:\n    pass\n'


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process waited for: the whole grading's tree
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], cwd: Path = ROOT, pin: bool = False, cpu: list[float] | None = None) -> float:
    """Wall time of one run; its CPU time (all its processes) appended to `cpu`."""
    before = _cpu()
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
    took = time.perf_counter() - start
    if cpu is not None:
        cpu.append(_cpu() - before)
    return took


def _cores() -> int:
    """The cores this process may run on: fewer than the machine's under taskset or a container's cpuset."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _spread(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples)}


def checkout(ref: str, scratch: Path) -> Path:
    """The grader as it was at git `ref`, unpacked (git archive) and compiled, to time beside this one."""
    folder = scratch / "against"
    folder.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    _compile(folder)
    return folder


def _compile(tree: Path) -> None:
    """Bytecode and the rubric parsed ahead, as setup.sh and make leave them: both trees are timed as
    they run on Gradescope (a tree from before the rubric was parsed ahead just imports the module)."""
    subprocess.run([PY, "-m", "compileall", "-q", "autograder", "assignment"], cwd=tree, stdout=subprocess.DEVNULL,
                   check=True)
    subprocess.run([PY, "-m", "autograder.rubric"], cwd=tree, stdout=subprocess.DEVNULL, check=True)


# The floor of this design: its 9 Python start-ups in their order, doing nothing else. A stand-in for
# the grader starts four stand-ins for wardens side by side, and each of those one for a student program.
_FLOOR = """
import os, sys
program = [sys.executable, "-c", "pass"]
warden = [sys.executable, "-I", "-S", "-c", "import posix; a = %r; posix.waitpid(posix.posix_spawn(a[0], a, {}), 0)" % (program,)]
for pid in [os.posix_spawn(warden[0], warden, os.environ) for _ in range(4)]:
    os.waitpid(pid, 0)
"""


def grading_speed(runs: int, scratch: Path, against: Path | None = None) -> dict:
    """Gradings of the solution (free, and pinned to one core), a bare Python, the floor and (if given)
    the grader at another commit, taken in turn so that the machine's drift touches them all alike."""
    out = str(scratch / "speed.json")
    grade = [PY, "-m", "autograder", "grade", "solution", "--results", out]
    _compile(ROOT)
    pin = hasattr(os, "sched_setaffinity")
    bare, floor, free, cpu, pinned, old, old_cpu, old_pinned = [], [], [], [], [], [], [], []
    for _ in range(runs):
        bare.append(_timed([PY, "-c", "pass"]))
        floor.append(_timed([PY, "-c", _FLOOR]))
        free.append(_timed(grade, cpu=cpu))
        if pin:
            pinned.append(_timed(grade, pin=True))
        if against is not None:
            old.append(_timed(grade, cwd=against, cpu=old_cpu))
            if pin:
                old_pinned.append(_timed(grade, cwd=against, pin=True))
    result = {"grade": _spread(free), "bare_python": statistics.median(bare), "cpu": statistics.median(cpu)}
    result["ratio"] = result["grade"]["median"] / result["bare_python"]
    # Its processes' CPU time spread over every core, with none idle: no scheduling gets a lower ratio.
    result["cpu_ratio"] = result["cpu"] / _cores() / result["bare_python"]
    result["floor"] = statistics.median(floor)
    result["floor_ratio"] = result["floor"] / result["bare_python"]
    if pinned:
        result["grade_one_core"] = _spread(pinned)
        result["ratio_one_core"] = result["grade_one_core"]["median"] / result["bare_python"]
    if against is not None:
        result["against"] = {"grade": _spread(old), "cpu": statistics.median(old_cpu),
                             "ratio": statistics.median(old) / result["bare_python"]}
        if old_pinned:
            result["against"]["grade_one_core"] = _spread(old_pinned)
    return result


def _submission(folder: Path, server_region: str, client_region: str) -> Path:
    folder.mkdir(parents=True)
    for name, region in (("server_student.py", server_region), ("client2_student.py", client_region)):
        text = (ROOT / "assignment" / name).read_text()
        (folder / name).write_text(text.replace("# *** start ***\n", region))
    return folder


def worst_submission(scratch: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from autograder import rubric

    limit = rubric.load().limits.scenario_seconds
    folder = _submission(scratch / "both-hang", HANG, HANG)
    seconds = _timed([PY, "-m", "autograder", "grade", str(folder), "--results", str(scratch / "hang.json")])
    return {"seconds": seconds, "scenario_limit": limit, "ratio_to_limit": seconds / limit}


# A one-mistake server whose programs end up waiting on each other: it receives twice before forwarding.
DEADLOCK = ("# *** start ***\nping = server.receive_message()\npong = server.receive_message()\n"
            "server.forward_message(ping)\nserver.forward_message(pong)\n")


def deadlock_beside_passing(runs: int, scratch: Path) -> dict:
    """Gradings of a deadlocked submission and of the solution, in turn: the deadlock ends when nothing
    more can happen, not at the scene's limit, so the two should take about as long."""
    folder = _submission(scratch / "deadlock", DEADLOCK, "# *** start ***\n" + _region("client2_student.py"))
    stuck, passing = [], []
    for _ in range(runs):
        stuck.append(_timed([PY, "-m", "autograder", "grade", str(folder), "--results", str(scratch / "d.json")]))
        passing.append(_timed([PY, "-m", "autograder", "grade", "solution", "--results", str(scratch / "p.json")]))
    return {"deadlocked": _spread(stuck), "passing": _spread(passing)}


def _region(name: str) -> str:
    """The solution's region of a file, its lines."""
    text = (ROOT / "solution" / name).read_text()
    return text.split("# *** start ***\n", 1)[1].split("# *** end ***", 1)[0]


# A realistic mix: two thirds right (written in several ways), a third wrong, half of those deadlocked.
MIX_RIGHT = ("solution", "correct_client2_checks_name", "correct_server_for_loop", "correct_client2_loops_until_none",
             "correct_server_forwards_constants", "correct_client2_answers_without_checking")
MIX_DEADLOCKED = ("server_receives_twice_before_forwarding", "client2_compares_with_a_string", "client2_crashes",
                  "server_compares_with_a_string")
MIX_WRONG = ("client2_misspells_ping", "server_sends_the_pong_back_to_client2", "server_closes_before_forwarding",
             "client2_syntax_error")


def mix_throughput(count: int, scratch: Path) -> dict:
    """`count` submissions of the mix above, graded as one batch with -j 1: its time, and its part of each kind."""
    catalogue = ROOT / "tests" / "catalogue"
    if not catalogue.is_dir():
        return {"error": "no catalogue here"}
    kinds = [("right", MIX_RIGHT)] * 4 + [("deadlocked", MIX_DEADLOCKED), ("wrong", MIX_WRONG)]
    batch, made = scratch / "mix", {"right": 0, "deadlocked": 0, "wrong": 0}
    for i in range(count):
        kind, names = kinds[i % len(kinds)]
        source = catalogue / names[made[kind] % len(names)]
        made[kind] += 1
        target = batch / f"submission_{i:04}"
        target.mkdir(parents=True)
        for name in ("server_student.py", "client2_student.py"):
            if (source / name).exists():
                shutil.copyfile(source / name, target / name)
    argv = [PY, "-m", "autograder", "grade", str(batch), "--out", str(scratch / "out-mix"), "-j", "1"]
    try:
        seconds = _timed(argv)
    except subprocess.CalledProcessError as error:
        return {"error": f"batch grading failed (exit {error.returncode})"}
    return {"submissions": count, **made, "j1_seconds": seconds, "per_submission": seconds / count}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What each latency row times: the timer (it prints the round trips on stderr), and what it talks to.
_LATENCY = {
    "library": ("pinger.py", ("relay_server.py", "looping_client2.py")),  # on utils2, as a student would
    "raw_sockets": ("raw_sockets.py", ()),  # it forks its own server and client2
}


def _round_trips(kind: str, tree: Path, count: int) -> dict:
    """p50 and p99 of `count` round trips of one `kind`, with utils2 taken from `tree`."""
    timer, helpers = _LATENCY[kind]
    env = {**os.environ, "PINGPONG_PORT": str(_free_port()), "PYTHONPATH": str(tree / "assignment"),
           "PYTHONUNBUFFERED": "1"}  # as the grader runs student programs: every printed line a write
    quiet = {"stdout": subprocess.DEVNULL, "env": env, "cwd": ROOT / "bench" / "latency"}
    running = [subprocess.Popen([PY, name], stderr=subprocess.DEVNULL, **quiet) for name in helpers]
    try:
        timed = subprocess.run([PY, timer, str(count)], stderr=subprocess.PIPE, timeout=300, check=True, **quiet)
        times = sorted(json.loads(timed.stderr.decode().strip().splitlines()[-1]))
    finally:
        # The server's work ended with the pinger's. Left alone, it would wait for client2 to leave, and
        # client2 for it: a bound of 10 s ran out at every bench. Killed, it lets client2 see it go.
        for process in running:
            process.kill()
        for process in running:
            process.wait()
    return {"p50_us": times[len(times) // 2] / 1000, "p99_us": times[int(len(times) * 0.99)] / 1000}


def latency(count: int, against: Path | None = None, rounds: int = 3) -> dict:
    """Round trips through utils2 (and utils2 at the older commit, in turn with it), and over raw
    sockets, the floor of any library: the median of `rounds` runs of each."""
    rows = {"library": ("library", ROOT), "raw_sockets": ("raw_sockets", ROOT),
            **({"against": ("library", against)} if against else {})}
    runs: dict[str, list[dict]] = {row: [] for row in rows}
    for _ in range(rounds):
        for row, (kind, tree) in rows.items():
            runs[row].append(_round_trips(kind, tree, count))
    result = {"pings": count, "rounds": rounds}
    for row, found in runs.items():
        middle = {key: statistics.median(run[key] for run in found) for key in ("p50_us", "p99_us")}
        if row == "library":
            result.update(middle)  # at the top, where results before these rows had it
        else:
            result[row] = middle
    return result


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as stream:
                total += int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as stream:
                    todo.extend(int(c) for c in stream.read().split())
        except OSError:
            continue
    return total


def peak_memory(argv: list[str]) -> float:
    """Peak resident memory of the command's whole process tree, in MiB (sampled every 5 ms)."""
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, _tree_rss(process.pid))

    watcher = threading.Thread(target=watch)
    watcher.start()
    process.wait()
    done.set()
    watcher.join()
    return peak / 2**20


def batch_throughput(count: int, scratch: Path) -> dict:
    """`count` submissions, graded with -j 1 and -j 2."""
    catalogue = ROOT / "tests" / "catalogue"
    entries = sorted(p for p in catalogue.iterdir() if p.is_dir() and "hang" not in p.name) if catalogue.is_dir() else []
    entries = entries or [ROOT / "solution", ROOT / "assignment"]
    batch = scratch / "batch"
    for i in range(count):
        source = entries[i % len(entries)]
        target = batch / f"submission_{i:04}"
        target.mkdir(parents=True)
        for name in ("server_student.py", "client2_student.py"):
            if (source / name).exists():
                shutil.copyfile(source / name, target / name)
    result = {"submissions": count}
    for jobs in (1, 2):
        out = scratch / f"out-j{jobs}"
        argv = [PY, "-m", "autograder", "grade", str(batch), "--out", str(out), "-j", str(jobs)]
        try:
            seconds = _timed(argv)
        except subprocess.CalledProcessError as error:
            return {"error": f"batch grading failed (exit {error.returncode})"}
        result[f"j{jobs}_seconds"] = seconds
        result[f"j{jobs}_per_second"] = count / seconds
    result["speedup"] = result["j1_seconds"] / result["j2_seconds"]
    result["peak_mib_j2"] = peak_memory([PY, "-m", "autograder", "grade", str(batch), "--out",
                                         str(scratch / "out-mem"), "-j", "2", "--force"])
    return result


def markdown(data: dict) -> str:
    g, w, lat, b, d, m = (data[key] for key in ("grading", "worst", "latency", "batch", "deadlock", "mix"))
    rows = [
        ("grading the solution, median (min-max)", f"{g['grade']['median']:.3f} s ({g['grade']['min']:.3f}-{g['grade']['max']:.3f})", ""),
        ("bare `python -c pass`, median", f"{g['bare_python'] * 1000:.1f} ms", ""),
        ("ratio grading / bare Python", f"{g['ratio']:.1f}", "at most 8"),
    ]
    if "floor" in g:
        rows.append(("the floor: the same 9 Python start-ups doing nothing, median (ratio)",
                     f"{g['floor'] * 1000:.0f} ms ({g['floor_ratio']:.1f})", ""))
    rows.append(("CPU time of one grading, all its processes, median", f"{g['cpu'] * 1000:.0f} ms", ""))
    if "cpu_ratio" in g:
        rows.append((f"the ratio that CPU time allows at best: spread over {data['cores']} cores, none idle",
                     f"{g['cpu_ratio']:.1f}", ""))
    if "against" in g:
        a = g["against"]
        rows += [(f"the grader at {data['against']}: grading, median (min-max)",
                  f"{a['grade']['median']:.3f} s ({a['grade']['min']:.3f}-{a['grade']['max']:.3f})", ""),
                 (f"the grader at {data['against']}: ratio, CPU time", f"{a['ratio']:.1f}, {a['cpu'] * 1000:.0f} ms", "")]
    if "grade_one_core" in g:
        rows += [("grading pinned to one core, median", f"{g['grade_one_core']['median']:.3f} s", ""),
                 ("ratio on one core", f"{g['ratio_one_core']:.1f}", "")]
        if "grade_one_core" in g.get("against", {}):
            rows.append((f"the grader at {data['against']}: pinned to one core, median",
                         f"{g['against']['grade_one_core']['median']:.3f} s", ""))
    rows += [
        ("worst submission (both programs hang)", f"{w['seconds']:.2f} s ({w['ratio_to_limit']:.2f} x the {w['scenario_limit']:g} s scene limit)", "at most 3 x"),
        ("a deadlocked submission (the server receives twice), median (min-max)",
         f"{d['deadlocked']['median']:.2f} s ({d['deadlocked']['min']:.2f}-{d['deadlocked']['max']:.2f})", "at most 1 s"),
        ("the solution, graded in turn with it, median (min-max)",
         f"{d['passing']['median']:.2f} s ({d['passing']['min']:.2f}-{d['passing']['max']:.2f})", ""),
        (f"latency over {lat['pings']} round trips, p50 / p99", f"{lat['p50_us']:.0f} / {lat['p99_us']:.0f} us", "p50 under 200 us"),
    ]
    for key, label in (("against", f"latency with utils2 at {data['against']}"),
                       ("raw_sockets", "latency over raw sockets, no library: the floor")):
        if key in lat:
            rows.append((f"{label}, p50 / p99", f"{lat[key]['p50_us']:.0f} / {lat[key]['p99_us']:.0f} us", ""))
    rows += [
        ("peak memory, one grading (whole tree)", f"{data['memory_one_mib']:.0f} MiB", ""),
    ]
    if "error" in b:
        rows.append(("batch throughput", b["error"], ""))
    else:
        rows += [
            (f"batch of {b['submissions']}, -j 1", f"{b['j1_seconds']:.1f} s ({b['j1_per_second']:.1f}/s)", ""),
            (f"batch of {b['submissions']}, -j 2", f"{b['j2_seconds']:.1f} s ({b['j2_per_second']:.1f}/s)", ""),
            ("speed-up -j 2 over -j 1", f"{b['speedup']:.2f}", "at least 1.6"),
            ("peak memory, -j 2 batch (whole tree)", f"{b['peak_mib_j2']:.0f} MiB", ""),
        ]
    if "error" in m:
        rows.append(("the mix", m["error"], ""))
    else:
        rows.append((f"a mix of {m['submissions']} ({m['right']} right, {m['deadlocked']} deadlocked, {m['wrong']} "
                     "otherwise wrong), -j 1", f"{m['j1_seconds']:.1f} s ({m['per_submission']:.2f} s each)", ""))
    head = f"Measured {data['date']} on {data['cores']} cores, Python {data['python']} ({data['machine']})."
    lines = [head, "", "| measure | figure | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b_} | {c} |" for a, b_, c in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="gradings of the solution to time (default 20)")
    parser.add_argument("--pings", type=int, default=10_000, help="round trips for the latency figure")
    parser.add_argument("--batch", type=int, default=200, help="submissions in the throughput batch")
    parser.add_argument("--mix", type=int, default=60, help="submissions in the realistic mix (a third wrong)")
    parser.add_argument("--deadlocks", type=int, default=5, help="gradings of a deadlocked submission to time")
    parser.add_argument("--against", metavar="REF", help="also time the grader at git commit REF, turn about with this one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pingpong-bench-") as tmp:
        scratch = Path(tmp)
        against = checkout(args.against, scratch) if args.against else None
        data = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": _cores(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "against": args.against,
            "grading": grading_speed(args.runs, scratch, against),
            "worst": worst_submission(scratch),
            "deadlock": deadlock_beside_passing(args.deadlocks, scratch),
            "latency": latency(args.pings, against),
            "memory_one_mib": peak_memory([PY, "-m", "autograder", "grade", "solution", "--results", str(scratch / "m.json")]),
            "batch": batch_throughput(args.batch, scratch),
            "mix": mix_throughput(args.mix, scratch),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    table = markdown(data)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    print(f"written to {RESULTS.relative_to(ROOT)}/latest.json and latest.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
