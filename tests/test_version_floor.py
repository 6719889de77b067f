"""Students run the handout on Python 3.8 or newer: nothing newer may slip in.

vermin reads the code and names the oldest Python that can run it. The
second test feeds it a file that needs 3.10, so a vermin that passes
everything (or is called wrongly) makes the suite fail.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# 3.8 or older is the target; module-level annotations count, as 3.8 evaluates them.
FLAGS = ["--no-config-file", "-t=3.8-", "--violations", "--eval-annotations", "--no-tips"]


def vermin(*paths):
    scripts = Path(sys.executable).parent
    program = scripts / ("vermin.exe" if os.name == "nt" else "vermin")
    if not program.exists():
        pytest.fail("vermin is not installed beside {}: install requirements-dev.txt".format(sys.executable))
    return subprocess.run(
        [str(program), *FLAGS, *map(str, paths)], capture_output=True, text=True, timeout=60
    )


def test_the_handout_and_the_solution_run_on_python_3_8():
    """And what CI and the suite run under 3.8 beside them: the handout smoke, the Windows-like shim."""
    run = vermin(ROOT / "assignment", ROOT / "solution", ROOT / "tests" / "handout_smoke.py", ROOT / "tests" / "windows_like")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Target versions not met" not in run.stdout


@pytest.mark.parametrize(
    "source, feature",
    [
        ("match 1:\n    case 1:\n        pass\n", "pattern matching"),
        ("counts: dict[str, int] = {}\n", "builtin generic type annotation"),
    ],
    ids=["match", "dict-annotation"],
)
def test_newer_code_is_caught(tmp_path, source, feature):
    newer = tmp_path / "newer.py"
    newer.write_text(source, encoding="utf-8")
    run = vermin(newer)
    assert run.returncode != 0, run.stdout + run.stderr
    assert feature in run.stdout, run.stdout
    assert "Target versions not met:   3.8-" in run.stdout
