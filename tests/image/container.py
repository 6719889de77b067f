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
- in it, the bounding set holds only Docker's default capabilities (and the
  inheritable set none), and with `limits` its processes share a cgroup
  capped at 768 MiB and half a core (cgroup.py);
- it dies with the Python that started it, whatever kills that.

Linux, as root, only.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cgroup import Cgroup, remove_stale

CACHE = Path(os.environ.get("PINGPONG_IMAGE_CACHE", "/var/cache/pingpong-image"))
VARIANT = "minbase"
# Docker's default capabilities (man 7 capabilities names, without "cap_"): CAP_SYS_PTRACE is not one.
DOCKER_CAPABILITIES = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
                       "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap")
DEBOOTSTRAP_SECONDS, APT_SECONDS = 20 * 60, 10 * 60  # a few minutes when all is well
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run by `unshare --mount --pid --fork`: bash is PID 1 of the new namespace, so when it ends every
# process left in there is killed, and the mounts, private to the namespace, go with it.
ENTER = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4; shift 4
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
"$@"  # confined(chroot "$root" env -i ...): not exec'd, so that bash stays PID 1
"""
# The machine's network settings, which the container shares: a proxy, and what pip trusts or fetches from.
NETWORK = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "PIP_CERT",
           "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")  # a site's own certificate authorities (a TLS proxy's)


def confined(argv: list[str]) -> list[str]:
    """`argv` with Docker's default capabilities at most, for good.

    The bounding set alone is not enough: a root program exec'd gets in its
    permitted and effective sets whatever its inheritable set holds, so that
    is emptied too (and with it the ambient set, which must lie within it).
    """
    caps = ",".join(f"+{c}" for c in DOCKER_CAPABILITIES)
    return ["setpriv", "--inh-caps", "-all", "--bounding-set", f"-all,{caps}", "--", *argv]


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """Have the calling process get SIGKILL when `parent` ends, even by SIGKILL (run in a child before exec).

    unshare ignores SIGTERM while it waits, and outlives a Python that was
    killed; killed itself, its --kill-child takes the container with it.
    """
    if _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # it ended before the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def interruptible() -> None:
    """SIGTERM and SIGHUP (a CI's timeout, `kill`, a closed terminal) raise KeyboardInterrupt, as Ctrl-C does.

    Python killed by them would end at once, its finally blocks unrun: the
    containers' cgroups and layers left behind.
    """
    def interrupt(number: int, _frame) -> None:
        raise KeyboardInterrupt(signal.Signals(number).name)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, interrupt)


def bounded(argv: list[str], seconds: float, **options) -> subprocess.CompletedProcess:
    """`argv` run to its end, or stopped with all it started after `seconds` (a stuck mirror), said so."""
    with subprocess.Popen(argv, start_new_session=True, text=True, **options) as process:
        try:
            out, err = process.communicate(timeout=seconds)
        except BaseException:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            if isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise RuntimeError(f"{argv[0]} did not end in {seconds / 60:.0f} minutes (is the mirror stuck?); "
                                   f"stopped it: {' '.join(argv)}") from None
            raise
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


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


def _home() -> tuple[str, str, Path]:
    """The release, its mirror, and where its image is kept: the key names what built it."""
    suite, mirror = release()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(f"{suite} {arch} {VARIANT} {mirror}".encode()).hexdigest()[:12]
    return suite, mirror, CACHE / f"{suite}-{arch}-{VARIANT}-{key}"


def cached() -> Image | None:
    """The image, if it is built already."""
    suite, _, home = _home()
    done = home / "built-seconds"
    return Image(home / "rootfs", suite, float(done.read_text()), built_now=False) if done.exists() else None


def image() -> Image:
    """The bare image: the cached one, or built now (a few minutes), one builder at a time."""
    suite, mirror, home = _home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = home / "built-seconds"
        if done.exists():
            return Image(home / "rootfs", suite, float(done.read_text()), built_now=False)
        if shutil.which("debootstrap") is None:
            for apt in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "debootstrap"]):
                installed = bounded(["apt-get", *apt], APT_SECONDS, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
                if installed.returncode != 0:
                    raise RuntimeError(f"apt-get {apt[0]} failed (code {installed.returncode}), see above")
        building = home / "building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        made = bounded(["debootstrap", f"--variant={VARIANT}", suite, str(building), mirror], DEBOOTSTRAP_SECONDS,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if made.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")
        seconds = time.monotonic() - started
        shutil.rmtree(home / "rootfs", ignore_errors=True)
        building.rename(home / "rootfs")
        done.write_text(f"{seconds:.1f}\n")
        return Image(home / "rootfs", suite, seconds, built_now=True)


# Made by trial(): an overlay mount over this file system, proc in a PID namespace of its own, setpriv.
TRIAL = r"""
set -eu
mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/mnt"
mount -t proc proc "$1/mnt/proc"
shift; "$@"
"""


def trial() -> str | None:
    """Why containers with limits cannot be made here, or None: found by making each part of one.

    Being root is not enough: root in an unprivileged Docker container may
    not unshare or mount, its /sys/fs/cgroup is read-only; overlayfs will
    not take every file system as upper layer; cgroup v2 will not cap a
    group under one that has processes in it.
    """
    try:
        cgroup = Cgroup(f"pingpong-image-{os.getpid()}-can")
    except (OSError, RuntimeError) as error:
        return f"cannot make a cgroup to cap a container's memory and CPU ({error})"
    parent = os.getpid()

    def prepare() -> None:
        die_with(parent)
        cgroup.join()
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE, prefix="can-") as scratch:
            for part in ("lower/proc", "upper", "work", "mnt"):
                Path(scratch, part).mkdir(parents=True)
            made = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                                   "bash", "-c", TRIAL, "trial", scratch, *confined(["true"])],
                                  capture_output=True, text=True, timeout=60, preexec_fn=prepare)
            if made.returncode != 0:
                return ("cannot make a container (unshare --mount --pid --fork, an overlay and a proc mount, "
                        f"setpriv): {(made.stderr or made.stdout).strip()}")
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot make a container ({error})"
    finally:
        cgroup.remove()
    return None


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
        root = str(self.scratch / "mnt")
        argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                "bash", "-c", ENTER, "enter", root, lower, str(self.upper), str(self.scratch / "work"),
                *confined(["chroot", root, "/usr/bin/env", "-i", f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8",
                           *(f"{name}={os.environ[name]}" for name in NETWORK if name in os.environ),
                           "/bin/bash", "-c", command])]
        parent, cgroup = os.getpid(), None

        def prepare() -> None:
            die_with(parent)
            if cgroup:
                cgroup.join()
        started = time.monotonic()
        try:
            cgroup = Cgroup(f"pingpong-image-{os.getpid()}-{self.scratch.name}") if limits else None
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  errors="replace", timeout=timeout, env=dict(os.environ, PATH=PATH),
                                  preexec_fn=prepare)
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


def stop_containers_in(folder: Path, bound: float = 5.0) -> None:
    """Kill what a killed run's containers left running: unshare and the namespace's PID 1 name `folder` on
    their command lines (killing PID 1 kills the namespace), the programs inside have their root in it."""
    deadline, inside = time.monotonic() + bound, str(folder).encode()
    while True:
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                root = os.readlink(proc / "root")
                if inside in (proc / "cmdline").read_bytes() or root.startswith(f"{folder}/"):
                    found.append(int(proc.name))
            except OSError:
                continue  # ended meanwhile
        if not found:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of a killed run's containers would not die: {found}")
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


@contextmanager
def scratch_folder():
    """Where containers' layers go: beside the image, on a file system overlayfs takes as upper layer."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for left in CACHE.glob("run-*"):  # by a run that was killed (SIGKILL): its Python is gone
        if not Path("/proc", left.name.removeprefix("run-")).exists():
            stop_containers_in(left)
            shutil.rmtree(left, ignore_errors=True)
    remove_stale()
    folder = CACHE / f"run-{os.getpid()}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
