"""The cgroup that caps a container at 768 MiB and half a core, and the sweeping up of ones a killed run left.

A group is named pingpong-image-<pid>-<container>, <pid> being the Python
that made it: a group whose Python is gone was left by a run that was killed
before its finally blocks ran (SIGKILL), and the next run removes it, killing
first whatever is still in it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

MEMORY = 768 * 2**20
CPU_QUOTA, CPU_PERIOD = 50_000, 100_000  # half a core, in microseconds
PREFIX = "pingpong-image-"
ROOT = Path("/sys/fs/cgroup")


def _own() -> dict[str, str]:
    """This process's group in each hierarchy: controller list ("" for cgroup v2) -> path."""
    return dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())


def _unified() -> bool:
    controllers = ROOT / "cgroup.controllers"  # only where cgroup v2 is the one hierarchy
    return controllers.exists() and "memory" in controllers.read_text().split()


def _v1_cpu() -> Path:
    return next(ROOT / k for k in ("cpu", "cpu,cpuacct") if (ROOT / k).is_dir())


def parents() -> list[Path]:
    """Where our groups are made (cgroup v2: under our own group, or under the root)."""
    own = _own()
    if _unified():
        return [ROOT / own.get("", "/").lstrip("/"), ROOT]
    cpu = _v1_cpu()
    return [ROOT / "memory" / own.get("memory", "/").lstrip("/"), cpu / own.get(cpu.name, "/").lstrip("/")]


class Cgroup:
    """A memory and CPU cap for a container's processes, in cgroup v2 or v1, under our own group."""

    def __init__(self, name: str):
        self.folders: list[Path] = []
        try:
            if _unified():
                self._v2(name)
            else:
                memory, cpu = parents()
                self._make(memory / name, {"memory.limit_in_bytes": MEMORY})
                self._make(cpu / name, {"cpu.cfs_period_us": CPU_PERIOD, "cpu.cfs_quota_us": CPU_QUOTA})
        except BaseException:
            self.remove()
            raise

    def _v2(self, name: str) -> None:
        # A group with processes in it cannot hand controllers down (cgroup v2's no-internal-process rule):
        # then the root's, which may. Not run here (this machine has cgroup v1): run.py --can tries it.
        for parent in parents():
            try:
                (parent / "cgroup.subtree_control").write_text("+memory +cpu")
            except OSError:
                continue
            self._make(parent / name,
                       {"memory.max": MEMORY, "memory.swap.max": 0, "cpu.max": f"{CPU_QUOTA} {CPU_PERIOD}"})
            return
        raise RuntimeError(f"cgroup v2: cannot enable the memory and cpu controllers for a group under "
                           f"{parents()[0]}: it has processes in it (cgroup v2 lets only a group without "
                           "processes hand controllers down), and the root's cannot be written from here; "
                           "run it from a cgroup of its own")

    def _make(self, folder: Path, limits: dict) -> None:
        """The group, with the `limits` this kernel has (the probe checks them)."""
        folder.mkdir()
        self.folders.append(folder)
        for knob, value in limits.items():
            if (folder / knob).exists():
                (folder / knob).write_text(str(value))

    def join(self) -> None:
        """Put the calling process in (run in the child before it execs)."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int:
        """The most memory the group used, in bytes (0 if this kernel does not say)."""
        for knob in ("memory.peak", "memory.max_usage_in_bytes"):
            for folder in self.folders:
                if (folder / knob).exists():
                    return int((folder / knob).read_text())
        return 0

    def remove(self) -> None:
        for folder in reversed(self.folders):
            empty_and_remove(folder)


def empty_and_remove(folder: Path, bound: float = 5.0) -> None:
    """Kill what is still in the group, then remove it (it empties a moment after its processes die)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            pids = (folder / "cgroup.procs").read_text().split()
        except OSError:
            return  # gone already
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            folder.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def gone(pid: str) -> bool:
    return not pid.isdigit() or not Path("/proc", pid).exists()


def remove_stale() -> list[Path]:
    """Remove the groups whose run's Python is gone, with what is left in them; say which."""
    removed = []
    for parent in parents():
        for folder in parent.glob(PREFIX + "*"):
            if folder.is_dir() and gone(folder.name.removeprefix(PREFIX).split("-")[0]):
                empty_and_remove(folder)
                removed.append(folder)
    return removed
