"""A bare Debian root file system, and containers made from it, as Gradescope's are.

Gradescope builds the autograder's image from a bare Ubuntu image and runs
each submission in a fresh container of it: as root, without
CAP_SYS_PTRACE (Docker's default capabilities), in about 768 MiB and half
a core. This plays that on one Linux machine, with no Docker:

- the image is `debootstrap --variant=minbase` of this machine's own
  release, from the mirror its apt uses: no Python in it. It is built once
  and kept, read-only, under /var/cache/pingpong-image/<key>, the key naming
  what built it (release, architecture, mirror);
- a container is that image under overlay layers (the image never changes),
  chrooted into, in mount and PID namespaces of its own: its mounts and every
  process in it end when it does, whatever it started;
- in it, the bounding set holds only Docker's default capabilities, and with
  `limits` its processes share a cgroup capped at 768 MiB and half a core.

Linux, as root, only.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("PINGPONG_IMAGE_CACHE", "/var/cache/pingpong-image"))
VARIANT = "minbase"
MEMORY = 768 * 2**20
CPU_QUOTA, CPU_PERIOD = 50_000, 100_000  # half a core, in microseconds
# Docker's default capabilities (man 7 capabilities names, without "cap_"): CAP_SYS_PTRACE is not one.
DOCKER_CAPABILITIES = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
                       "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run by `unshare --mount --pid --fork`: bash is PID 1 of the new namespace, so when it ends every
# process left in there is killed, and the mounts, private to the namespace, go with it.
ENTER = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4 caps=$5; shift 5
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=755 dev "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
mkdir -m 755 "$root/dev/pts" && mkdir -m 1777 "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=666,nosuid,noexec devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
for fd in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${fd%%:*}" "$root/dev/${fd#*:}"; done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"  # the network is the machine's
setpriv --bounding-set "-all,$caps" -- chroot "$root" /usr/bin/env -i "$@"
"""
# The machine's network settings, which the container shares: a proxy, and what pip trusts or fetches from.
NETWORK = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "PIP_CERT",
           "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")  # a site's own certificate authorities (a TLS proxy's)


@dataclass(frozen=True)
class Image:
    rootfs: Path  # read-only: containers put layers over it
    suite: str
    build_seconds: float
    built_now: bool


def release() -> tuple[str, str]:
    """This machine's release codename and the mirror its apt fetches it from (deb822 or one-line sources)."""
    fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    suite = os.environ.get("PINGPONG_IMAGE_SUITE") or fields.get("VERSION_CODENAME", "").strip('"')
    if os.environ.get("PINGPONG_IMAGE_MIRROR"):
        return suite, os.environ["PINGPONG_IMAGE_MIRROR"]
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for stanza in "\n\n".join(p.read_text() for p in sources).split("\n\n"):
        keys = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
        if suite in keys.get("Suites", "").split() and "deb" in keys.get("Types", "").split():
            return suite, keys["URIs"].split()[0]
    listed = Path("/etc/apt/sources.list")
    for line in listed.read_text().splitlines() if listed.exists() else []:
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
            return suite, words[1]
    raise RuntimeError(f"no apt source for {suite or 'this release'}: set PINGPONG_IMAGE_MIRROR and PINGPONG_IMAGE_SUITE")


def image() -> Image:
    """The bare image: the cached one, or built now (a few minutes), one builder at a time."""
    suite, mirror = release()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(f"{suite} {arch} {VARIANT} {mirror}".encode()).hexdigest()[:12]
    home = CACHE / f"{suite}-{arch}-{VARIANT}-{key}"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = home / "built-seconds"
        if done.exists():
            return Image(home / "rootfs", suite, float(done.read_text()), built_now=False)
        if shutil.which("debootstrap") is None:
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"], check=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        building = home / "building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        made = subprocess.run(["debootstrap", f"--variant={VARIANT}", suite, str(building), mirror],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")
        seconds = time.monotonic() - started
        shutil.rmtree(home / "rootfs", ignore_errors=True)
        building.rename(home / "rootfs")
        done.write_text(f"{seconds:.1f}\n")
        return Image(home / "rootfs", suite, seconds, built_now=True)


class Cgroup:
    """A memory and CPU cap for a container's processes, in cgroup v2 or v1, under our own group."""

    def __init__(self, name: str):
        self.folders: list[Path] = []
        mine = dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())
        unified = Path("/sys/fs/cgroup")
        controllers = unified / "cgroup.controllers"  # only where cgroup v2 is the one hierarchy
        if controllers.exists() and "memory" in controllers.read_text().split():
            self._v2(unified, mine.get("", "/"), name)
        else:
            self._make(Path("/sys/fs/cgroup/memory"), mine.get("memory", "/"), name, {"memory.limit_in_bytes": MEMORY})
            cpu = next((Path("/sys/fs/cgroup", k) for k in ("cpu", "cpu,cpuacct") if Path("/sys/fs/cgroup", k).is_dir()))
            self._make(cpu, mine.get(cpu.name, "/"), name, {"cpu.cfs_period_us": CPU_PERIOD, "cpu.cfs_quota_us": CPU_QUOTA})

    def _v2(self, hierarchy: Path, own: str, name: str) -> None:
        # A group with processes in it cannot hand controllers down (cgroup v2's no-internal-process rule):
        # then the root's, which may.
        for parent in (hierarchy / own.lstrip("/"), hierarchy):
            try:
                (parent / "cgroup.subtree_control").write_text("+memory +cpu")
            except OSError:
                continue
            self._make(parent, "/", name,
                       {"memory.max": MEMORY, "memory.swap.max": 0, "cpu.max": f"{CPU_QUOTA} {CPU_PERIOD}"})
            return
        raise RuntimeError("cannot enable the memory and cpu controllers in cgroup v2 here")

    def _make(self, hierarchy: Path, own: str, name: str, limits: dict) -> None:
        """A group `name` under `own` in `hierarchy`, with the `limits` this kernel has (the probe checks them)."""
        folder = hierarchy / own.lstrip("/") / name
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
            for _ in range(50):  # the namespace's processes are killed; the group empties a moment later
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


@dataclass
class Run:
    code: int
    seconds: float
    output: str
    peak: int  # bytes; 0 without limits


class Container:
    """A fresh container: its own top layer, over `layers` (topmost first) and the image."""

    def __init__(self, image: Image, layers: list[Path], scratch: Path):
        self.image, self.layers, self.scratch = image, layers, scratch
        self.upper = scratch / "upper"  # what the container writes; a later container may use it as a layer
        for name in ("upper", "work", "mnt"):
            (scratch / name).mkdir(parents=True)
        if LOCAL_CAS.is_dir() and not layers:  # ca-certificates, installed in there, trusts them as this machine does
            shutil.copytree(LOCAL_CAS, self.path(str(LOCAL_CAS)), dirs_exist_ok=True)

    def path(self, inside: str) -> Path:
        """Where a file written here appears inside at `inside`, once the container starts."""
        return self.upper / inside.lstrip("/")

    def run(self, command: str, limits: bool = False, timeout: float = 900) -> Run:
        lower = ":".join(str(p) for p in [*self.layers, self.image.rootfs])
        caps = ",".join(f"+{c}" for c in DOCKER_CAPABILITIES)
        cgroup = Cgroup(f"pingpong-image-{os.getpid()}-{self.scratch.name}") if limits else None
        argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                "bash", "-c", ENTER, "enter", str(self.scratch / "mnt"), lower, str(self.upper),
                str(self.scratch / "work"), caps,
                f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8",
                *(f"{name}={os.environ[name]}" for name in NETWORK if name in os.environ), "/bin/bash", "-c", command]
        started = time.monotonic()
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  errors="replace", timeout=timeout, env=dict(os.environ, PATH=PATH),
                                  preexec_fn=cgroup.join if cgroup else None)
            return Run(done.returncode, time.monotonic() - started, done.stdout, cgroup.peak() if cgroup else 0)
        finally:
            if cgroup:
                cgroup.remove()


# Without a user namespace a uid is the same user in a container and out: the machine's own gradings
# (tests run as root here) kill every process of their sandbox users, uid 999 and down, and would kill
# the container's programs if its users had those uids too. So the container's system users come from
# a range the machine's do not use.
SYSTEM_IDS = range(40000, 41000)


def keep_users_apart(box: Container) -> None:
    """Have useradd --system in `box` (setup.sh's) give ids from SYSTEM_IDS, none of which is the machine's."""
    taken = [user.pw_name for user in pwd.getpwall() if user.pw_uid in SYSTEM_IDS or user.pw_gid in SYSTEM_IDS]
    if taken:
        raise RuntimeError(f"this machine has users with ids in {SYSTEM_IDS}, which the container's need: {taken}")
    defs = box.path("/etc/login.defs")
    defs.parent.mkdir(parents=True, exist_ok=True)
    ids = "".join(f"SYS_{kind}ID_{end} {value}\n" for kind in "UG"
                  for end, value in (("MIN", SYSTEM_IDS.start), ("MAX", SYSTEM_IDS.stop - 1)))
    defs.write_text((box.image.rootfs / "etc/login.defs").read_text() + ids)


@contextmanager
def scratch_folder():
    """Where containers' layers go: beside the image, on a file system overlayfs takes as upper layer."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for left in CACHE.glob("run-*"):  # by a run that was killed: its namespaces, and their mounts, are gone
        if not Path("/proc", left.name.removeprefix("run-")).exists():
            shutil.rmtree(left, ignore_errors=True)
    folder = CACHE / f"run-{os.getpid()}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
