"""Other Pythons than the suite's own, for the tests that must run on them.

Students run the handout on Python 3.8 or newer; Gradescope's Ubuntu 22.04
image grades on its python3, 3.10. A test that needs one of those
asks here, and is skipped, saying why in one line, where there is none.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess

import pytest


@functools.lru_cache(maxsize=None)
def find_python(version: str) -> tuple[str | None, str | None]:
    """(a Python `version` ("3.8") that runs, None), or (None, why there is none)."""
    program = f"python{version}"
    candidates = [shutil.which(program)] if shutil.which(program) else []
    # pyenv puts a shim on PATH that refuses to run unless that version is selected;
    # the interpreter itself is in pyenv's versions folder.
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", program)))
    if not candidates:
        return None, f"no {program} on PATH or in pyenv's {pyenv_root}/versions"
    for candidate in candidates:
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate, None
    return None, f"{program} found ({', '.join(candidates)}) but none of them runs"


def param(version: str):
    """The Python `version` as a test's parameter (its path), skipped where there is none."""
    path, why = find_python(version)
    return pytest.param(path or "", id=f"python{version}", marks=pytest.mark.skipif(path is None, reason=why or ""))
