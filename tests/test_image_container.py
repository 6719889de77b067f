"""`make image-test`'s containers leave nothing behind when their run is killed, and hold no CAP_SYS_PTRACE.

As root on Linux only; the tests that start a container need the image
built already (make image-test builds it; these never do: minutes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

IMAGE_TOOLS = Path(__file__).resolve().parent / "image"
sys.path.insert(0, str(IMAGE_TOOLS))
import cgroup  # noqa: E402
import container  # noqa: E402
import run  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
as_root = pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0,
                             reason="needs root on Linux: containers (mounts, chroot, cgroups)")
BOUND = 20.0

# A run with one container in a cgroup, whose program waits: what a CI's timeout interrupts.
DRIVER = f"""
import sys
sys.path.insert(0, {str(IMAGE_TOOLS)!r})
import container
container.interruptible()
with container.scratch_folder() as scratch:
    container.Container(container.cached(), [], scratch / "box").run("touch /started; sleep 600", limits=True)
"""


def wait_for(check, what: str):
    deadline = time.monotonic() + BOUND
    while not (found := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {BOUND:.0f} s: {what}")
        time.sleep(0.05)
    return found


def left_by(folder: Path) -> list[str]:
    """Processes of `folder`'s containers: named on their command line, or chrooted in it."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes()
            if str(folder).encode() in command or os.readlink(proc / "root").startswith(str(folder)):
                found.append(f"{proc.name}: {command.replace(bytes(1), b' ').decode()}")
        except OSError:
            continue
    return found


def groups_of(pid: int) -> list[Path]:
    return [g for parent in cgroup.parents() for g in parent.glob(f"{cgroup.PREFIX}{pid}-*")]


@pytest.fixture
def a_run():
    """A run whose container has started; whatever the test does, swept up after it."""
    if container.cached() is None:
        pytest.skip("the image is not built (make image-test builds it)")
    driver = subprocess.Popen([sys.executable, "-c", DRIVER])
    folder = container.CACHE / f"run-{driver.pid}"
    try:
        wait_for(lambda: (folder / "box/upper/started").exists() or driver.poll() is not None, "the container starts")
        assert driver.poll() is None, "the run ended before its container started"
        assert left_by(folder) and groups_of(driver.pid), "the container is not seen running: the test would prove nothing"
        yield driver, folder
    finally:
        driver.kill()
        driver.wait()
        with container.scratch_folder():
            pass


@as_root
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_run_stopped_by_a_signal_leaves_nothing(name, a_run):
    driver, folder = a_run
    driver.send_signal(signal.Signals[name])
    driver.wait(BOUND)
    assert left_by(folder) == []
    assert groups_of(driver.pid) == []
    assert not folder.exists()
    assert str(folder) not in Path("/proc/self/mountinfo").read_text()


@as_root
def test_a_run_killed_takes_its_container_along_and_the_next_run_sweeps_up(a_run):
    driver, folder = a_run
    driver.kill()
    driver.wait(BOUND)
    wait_for(lambda: not left_by(folder), "the container dies with its run's Python")
    assert groups_of(driver.pid) and folder.exists()  # a SIGKILL runs no finally block: the next run's to remove
    with container.scratch_folder():
        assert groups_of(driver.pid) == []
        assert not folder.exists()


@as_root
def test_the_next_run_kills_what_a_killed_run_left_running():
    """As if a container had outlived its run: the sweep kills it before it removes its layers and cgroup."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # a pid no process has now: the killed run's
    folder = container.CACHE / f"run-{ended.pid}"
    (folder / "box").mkdir(parents=True)
    group = cgroup.Cgroup(f"{cgroup.PREFIX}{ended.pid}-box")
    named = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"{folder}/box/mnt"])
    inside = subprocess.Popen(["sleep", "600"], preexec_fn=group.join)
    try:
        with container.scratch_folder():
            assert named.wait(BOUND) == -signal.SIGKILL and inside.wait(BOUND) == -signal.SIGKILL
            assert not folder.exists() and groups_of(ended.pid) == []
    finally:
        for process in (named, inside):
            process.kill()
        group.remove()


PROBE = "print(*(line.strip() for line in open('/proc/self/status') if line.startswith('Cap')))"


@as_root
def test_no_way_back_to_cap_sys_ptrace_through_the_inheritable_set():
    """Root's exec takes its inheritable set into its effective one: the bounding set alone does not drop it."""
    carrying = ["setpriv", "--inh-caps", "+sys_ptrace", "--"]
    bounding_only = container.confined([sys.executable, "-c", PROBE])
    bounding_only[1:3] = []  # without --inh-caps -all
    leaky = subprocess.run([*carrying, *bounding_only], capture_output=True, text=True, check=True).stdout
    assert "in CapEff" in run.ptrace_trouble(leaky)  # the probe sees it: it can fail
    status = subprocess.run([*carrying, *container.confined([sys.executable, "-c", PROBE])],
                            capture_output=True, text=True, check=True).stdout
    assert run.ptrace_trouble(status) is None, status


@as_root
def test_can_says_no_where_a_container_cannot_be_made():
    """Root without CAP_SYS_ADMIN (as in an unprivileged Docker container) may not unshare: --can tries, says no."""
    trial = f"import sys; sys.path.insert(0, {str(IMAGE_TOOLS)!r}); import container; print(container.trial())"
    said = subprocess.run(["setpriv", "--bounding-set", "-sys_admin", "--", sys.executable, "-c", trial],
                          capture_output=True, text=True, check=True).stdout
    assert said.startswith("cannot make a container"), said
    assert container.trial() is None


def test_a_stuck_download_is_stopped_with_all_it_started_and_said_so():
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="did not end in"):
        container.bounded(["bash", "-c", "sleep 617 & wait"], 0.5, stderr=subprocess.PIPE)
    assert time.monotonic() - started < BOUND
    assert not [p for p in Path("/proc").glob("[0-9]*") if (p / "cmdline").exists() and
                (p / "cmdline").read_bytes() == b"sleep\x00617\x00"]
