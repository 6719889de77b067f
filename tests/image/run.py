"""`make image-test`: the autograder in a bare image, graded the way Gradescope grades.

Inside a bare Debian image (container.py: no Python, as root), it does what
Gradescope does: unzip dist/autograder.zip into /autograder/source and run
setup.sh, which must install all it needs; then, for each case, in a fresh
container of the image setup.sh built, put the upload in
/autograder/submission, copy run_autograder to /autograder/, run it without
CAP_SYS_PTRACE in 768 MiB and half a core, and read
/autograder/results/results.json.

The cases: the solution, the skeleton, catalogue entries and hostile ones,
each with the score the test suite expects of it under the rubric the zip
ships (tests/deserved.py, and tests/test_hostile.py's scores as root). One line per case: expected, got,
seconds, and the most memory the container used. Exits 1 if any differs.

    python tests/image/run.py           the whole test (root, Linux; builds the image once: minutes)
    python tests/image/run.py --can     says whether it can run here; exits 1 if not
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[1:1] = [str(HERE.parent.parent), str(HERE.parent)]  # the package, and the test suite's modules

import container  # noqa: E402 - stdlib only: the rest is imported once the test is known to run here

# Hostile ones: a fork flood, a memory hog, results tampering, reading the solution, a daemon, kill -1,
# and a walk of the whole container for the answers (it must find none).
HOSTILE = ("fork_bomb", "gigabytes", "fake_results", "reads_the_solution", "daemon", "kills_everything",
           "walks_everywhere")
ROOT_IN_IMAGE = "/autograder"
CAP_SYS_PTRACE = 19


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, bytes]  # the upload: file name -> contents
    expected: float
    never_says: str | None = None  # what must not be in the results
    never_leaves: str | None = None  # what no file the container wrote may hold (but the upload)


def cases(scratch: Path) -> list[Case]:
    import test_hostile
    from autograder import rubric
    from autograder.handout import FOLDER, SOLUTION, STUDENT_FILES
    from deserved import CATALOGUE, catalogue
    from gradescope_image import KINDS  # a hang, a crash, one step wrong, cheats, a raw socket

    chosen = rubric.load()  # the rubric dist/autograder.zip ships
    made = [Case("solution", {n: (SOLUTION / n).read_bytes() for n in STUDENT_FILES}, chosen.max_score),
            Case("skeleton", {n: (FOLDER / n).read_bytes() for n in STUDENT_FILES}, 0)]
    for name in KINDS:
        files = {p.name: p.read_bytes() for p in sorted((CATALOGUE / name).iterdir()) if p.is_file()}
        made.append(Case(name, files, catalogue()[name].total(chosen)))
    for name in HOSTILE:
        entry, folder = test_hostile.CATALOGUE[name], scratch / "hostile" / name
        token = f"pingpong-fake-{name}"
        test_hostile.build(name, entry, folder, token, Path(ROOT_IN_IMAGE, "results", "results.json"),
                           root=Path(ROOT_IN_IMAGE, "source"))
        made.append(Case(f"hostile/{name}", {p.name: p.read_bytes() for p in sorted(folder.iterdir())}, entry.score,
                         never_says="\nSTOLEN: " if name == "reads_the_solution" else None,
                         never_leaves=token if name == "fake_results" else None))
    return made


def holding(upper: Path, text: str) -> list[str]:
    """Files a container wrote (its top layer) that hold `text`, but for the upload itself."""
    upload = upper / ROOT_IN_IMAGE.lstrip("/") / "submission"
    results = upper / ROOT_IN_IMAGE.lstrip("/") / "results" / "results.json"  # the grader's own: it shows the code
    return [str(p.relative_to(upper)) for p in upper.rglob("*") if p.is_file() and not p.is_symlink()
            and upload not in p.parents and p != results and text.encode() in p.read_bytes()]


def why_not() -> str | None:
    """Why the test cannot run here, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (it builds a root file system and chroots into it)"
    missing = [tool for tool in ("unshare", "setpriv", "chroot", "mknod", "dpkg") if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)}"
    try:
        suite, mirror = container.release()
        urllib.request.urlopen(urllib.request.Request(f"{mirror}/dists/{suite}/Release", method="HEAD"), timeout=15)
    except Exception as error:  # noqa: BLE001 - any reason is a reason to skip
        return f"cannot reach Debian's packages ({error})"
    return container.trial()


def fail(message: str, output: str = "") -> int:
    print(f"image-test: {message}\n{output[-4000:]}", file=sys.stderr)
    return 1


# Run in a container by the grader's Python: what it may do, and how much CPU a busy loop gets.
PROBE = """
import time
with open("/proc/self/status") as status:
    print(*(line.strip() for line in status if line.startswith("Cap")))
start, cpu = time.monotonic(), time.process_time()
while time.monotonic() - start < 2:
    pass
print("cpu", (time.process_time() - cpu) / 2)
"""


CAPABILITY_SETS = ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd")  # the grader decides by CapEff


def capability_sets(status: str) -> str:
    """The capability sets a probe printed (lines of /proc/self/status), as 'CapEff 0x...; ...'."""
    words = status.split()
    return "; ".join(f"{name} {int(words[words.index(name + ':') + 1], 16):#x}"
                     for name in CAPABILITY_SETS if name + ":" in words)


def ptrace_trouble(status: str) -> str | None:
    """Why CAP_SYS_PTRACE is within reach of a program that printed `status`, or None.

    The bounding set alone would not do: root's exec gives it whatever its
    inheritable set holds (container.confined() empties that).
    """
    words = status.split()
    for name in CAPABILITY_SETS:
        if name + ":" not in words:
            return f"the probe did not say its {name} (its capabilities):\n{status}"
        if int(words[words.index(name + ":") + 1], 16) >> CAP_SYS_PTRACE & 1:
            return f"CAP_SYS_PTRACE is in {name} in the container, not dropped:\n{status}"
    return None


def check_the_container(image: container.Image, built: Path, scratch: Path) -> str | None:
    """That a container is as Gradescope's: CAP_SYS_PTRACE out of reach, 768 MiB and half a core the most it gets."""
    probe = container.Container(image, [built], scratch / "probe")
    probe.path("/probe.py").write_text(PROBE, encoding="utf-8")
    python = f"{ROOT_IN_IMAGE}/venv/bin/python"
    run = probe.run(f"{python} /probe.py; {python} -c \"b'x' * (1 << 30)\"; echo hog $?", limits=True, timeout=120)
    words = run.output.split()
    share = float(words[words.index("cpu") + 1]) if "cpu" in words else 1.0
    trouble = ptrace_trouble(run.output)
    if trouble:
        return trouble
    if share > 0.6:  # 0.5, and a little for the clock's grain; less when the machine is busy
        return f"a busy loop got more than half a core in the container:\n{run.output}"
    if "hog 137" not in run.output:  # SIGKILL, from the cgroup's out-of-memory killer
        return f"a program that takes 1 GiB was not stopped by the 768 MiB cap:\n{run.output}"
    print(f"container: {capability_sets(run.output)} (no CAP_SYS_PTRACE); a busy loop got {share:.2f} of a core; "
          f"a program taking 1 GiB was killed at {run.peak / 2**20:.0f} MiB")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--can", action="store_true", help="only say whether this machine can run the test")
    parser.add_argument("cases", nargs="*", help="only these cases (names as printed)")
    args = parser.parse_args(argv)
    reason = why_not()
    if args.can or reason:
        print(f"image-test: {reason or 'can run here'}", file=sys.stderr if reason else sys.stdout)
        return 1 if reason else 0
    import test_hostile
    from autograder import bundle
    from gradescope_image import unzip

    zipped = bundle.build()["autograder"]

    started = time.monotonic()
    image = container.image()
    print(f"image: {image.suite} {container.VARIANT}, {'built now' if image.built_now else 'cached'} "
          f"({image.build_seconds:.0f} s to build), at {image.rootfs}; ready in {time.monotonic() - started:.1f} s")

    with container.scratch_folder() as scratch:
        build = container.Container(image, [], scratch / "build")
        container.keep_users_apart(build)
        unzip(zipped, build.path(f"{ROOT_IN_IMAGE}/source"))
        run = build.run(f"cd {ROOT_IN_IMAGE}/source && ./setup.sh && python3 -V && id -u pingpong-student")
        if run.code != 0:
            return fail(f"setup.sh failed in the bare image (code {run.code})", run.output)
        python, uid = run.output.strip().splitlines()[-2:]
        print(f"setup.sh: {run.seconds:.1f} s; {python}; the sandbox user's uid is {uid}")
        trouble = check_the_container(image, build.upper, scratch)
        if trouble:
            return fail(trouble)

        differing = 0
        with tempfile.TemporaryDirectory() as hostile:
            every = [case for case in cases(Path(hostile)) if not args.cases or case.name in args.cases]
        for case in every:
            box = container.Container(image, [build.upper], scratch / "cases" / case.name.replace("/", "-"))
            for name, data in case.files.items():
                path = box.path(f"{ROOT_IN_IMAGE}/submission/{name}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            run = box.run(f"cp {ROOT_IN_IMAGE}/source/run_autograder {ROOT_IN_IMAGE}/ && cd {ROOT_IN_IMAGE} && "
                          "./run_autograder", limits=True, timeout=600)
            results_file = box.path(f"{ROOT_IN_IMAGE}/results/results.json")
            try:
                results = json.loads(results_file.read_text(encoding="utf-8"))
                got, said = results["score"], test_hostile.everything_said(results)
            except (OSError, ValueError, KeyError) as error:
                got, said, results = f"no results ({error.__class__.__name__})", "", {}
            wrong = [] if got == case.expected else ["DIFFERS"]
            if case.never_says and case.never_says in said:
                wrong.append(f"its results say {case.never_says.strip()!r}")
            if case.name == "hostile/walks_everywhere":
                wrong += test_hostile.walk_trouble(said)
            if case.never_leaves and holding(box.upper, case.never_leaves):
                wrong.append(f"it left {', '.join(holding(box.upper, case.never_leaves))}")
            print(f"{case.name:40} expected {case.expected:>5g}  got {got!s:>5}  {run.seconds:5.1f} s  "
                  f"{run.peak / 2**20:4.0f} MiB  {' '.join(wrong)}".rstrip(), flush=True)
            if wrong:
                differing += 1
                lost = [f"--- {t['name']}\n{t['output']}" for t in results.get("tests", []) if t["score"] < t["max_score"]]
                print("\n".join(lost) or run.output[-3000:], file=sys.stderr)
            shutil.rmtree(box.scratch, ignore_errors=True)
    print(f"image-test: {len(every) - differing} of {len(every)} cases as expected")
    return 1 if differing else 0


if __name__ == "__main__":
    container.interruptible()  # SIGTERM and SIGHUP run the finally blocks, which remove the containers' traces
    try:
        raise SystemExit(main())
    except KeyboardInterrupt as stopped:
        print(f"image-test: stopped ({stopped or 'SIGINT'}); its containers are gone", file=sys.stderr)
        raise SystemExit(130) from None
