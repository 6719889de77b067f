"""Finding what a grading left running: the proof that cleanup is sure.

A process belongs to a grading if it mentions the grading's folder in its
command line, its environment (the sandbox sets HOME and TMPDIR to the
program's folder, and a fork keeps them) or its working folder. Tests grade
in a folder of their own, so what is found there is theirs, whatever else
runs on the machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HAS_PROC = Path("/proc/self/stat").exists()
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _read(path: str) -> str:
    try:
        with open(path, "rb") as stream:
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def survivors(marker: str) -> list[str]:
    """Live processes that mention `marker`, as 'pid: command line'."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat or stat[stat.rfind(")") + 2 :][:1] in ("Z", "X"):
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        cmdline = _read(f"/proc/{entry}/cmdline")
        if any(marker in text for text in (cmdline, _read(f"/proc/{entry}/environ"), cwd)):
            found.append(f"{entry}: {cmdline.replace(chr(0), ' ').strip()}")
    return found


def open_folder(prefix: str) -> Path:
    """A fresh folder under the system's temporary folder that sandbox users may pass through (not list)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o711)
    return folder
