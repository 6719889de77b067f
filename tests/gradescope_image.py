"""Gradescope's autograder image, played in a temporary folder on this machine.

What Gradescope does, step by step: unzip `autograder.zip` into
`$AUTOGRADER_ROOT/source`, run `setup.sh` there once, then for each
submission unzip the student's upload into `submission/`, copy
`run_autograder` to the root and run it from the root; the grade is
`results/results.json`. tests/test_gradescope.py plays it with this
machine's Pythons, tests/image/run.py in a bare Debian image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import gradescope_results

SETUP_SECONDS = 300  # pip on a slow mirror; it takes 5-20 s
RUN_SECONDS = 120  # run_autograder's whole run; grading takes a few seconds
# Gradings side by side each copy run_autograder, then run it. A child forked by one thread while
# another holds its copy open for writing keeps that file open until it execs, and the copy then
# cannot be run ("Text file busy"): copies and starts take turns.
_COPYING_OR_STARTING = threading.Lock()
# One catalogue entry of each kind, for a short grading the way Gradescope grades: a hang, a crash, one step
# wrong, two cheats, a correct one written differently (tests/catalogue/expected.toml says what they deserve).
KINDS = ("both_wait_forever", "client2_crashes", "server_forwards_only_the_ping", "cheat_server_forges_the_pong",
         "cheat_client2_pong_before_ping", "correct_client2_raw_socket")


def unzip(archive: Path, dest: Path) -> None:
    """Unzip as Gradescope does: files keep the permissions the zip records."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def environment(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINGPONG_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return dict(env, AUTOGRADER_ROOT=str(root), **extra)


def open_root() -> Path:
    """A folder to play /autograder in. Not under pytest's own temporary folder, which only its owner may
    enter: like /autograder, it must be open to the users student programs run as."""
    root = Path(tempfile.mkdtemp(prefix="pingpong-gradescope-"))
    root.chmod(0o755)
    return root


@dataclass
class Gradescope:
    root: Path
    setup: subprocess.CompletedProcess
    setup_seconds: float

    def run(self, upload: list[Path] | None, root: Path | None = None, **env: str) -> tuple[dict, str]:
        """Grade one upload the way Gradescope does; the results, and what run_autograder printed."""
        root = root or self.root
        for folder in ("submission", "results"):
            shutil.rmtree(root / folder, ignore_errors=True)
        (root / "submission").mkdir()
        for item in upload or []:
            if item.suffix == ".zip":
                unzip(item, root / "submission")
            else:
                shutil.copyfile(item, root / "submission" / item.name)
        with _COPYING_OR_STARTING:  # see the lock's comment
            shutil.copy2(self.root / "source" / "run_autograder", root / "run_autograder")
            running = subprocess.Popen(["./run_autograder"], cwd=root, env=environment(root, **env),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = running.communicate(timeout=RUN_SECONDS)
        finally:
            if running.poll() is None:
                running.kill()
                running.communicate()
        done = subprocess.CompletedProcess(running.args, running.returncode, out, err)
        printed = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        assert done.returncode == 0, printed
        return gradescope_results.check_file(root / "results" / "results.json"), printed

    def run_beside(self, upload: list[Path]) -> tuple[dict, str]:
        """`run`, in a root of its own that shares this one's source and venv: gradings side by side."""
        root = open_root()
        try:
            for shared in ("source", "venv"):
                (root / shared).symlink_to(self.root / shared)
            return self.run(upload, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def python(self) -> str:
        """The version ("3.10") of the Python setup.sh made the grader's venv with."""
        done = subprocess.run([str(self.root / "venv" / "bin" / "python"), "-c",
                               "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def build(autograder_zip: Path, python: str | None = None) -> Gradescope:
    """An image made from the bundle: unzipped, and setup.sh run (with PYTHON=`python` where given). The
    caller removes its root."""
    root = open_root()
    try:
        unzip(autograder_zip, root / "source")
        started = time.monotonic()
        setup = subprocess.run(["./setup.sh"], cwd=root / "source",
                               env=environment(root, **({"PYTHON": python} if python else {})),
                               capture_output=True, text=True, timeout=SETUP_SECONDS)
        seconds = time.monotonic() - started
        assert setup.returncode == 0, f"setup.sh{f' with PYTHON={python}' if python else ''} failed:\n" \
                                      f"{setup.stdout}\n{setup.stderr}"
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Gradescope(root, setup, seconds)


def interpreter(python: str) -> str:
    """The interpreter `python` runs: pyenv's shims, venvs and links lead to it. Images made with the same
    interpreter are the same image."""
    done = subprocess.run([python, "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else python
