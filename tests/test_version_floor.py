"""Nothing newer than its floor may slip into the code: students run the handout on
Python 3.8 or newer, the grader runs on 3.10 or newer (Gradescope's Ubuntu
22.04 image has 3.10).

vermin reads the code and names the oldest Python that can run it. It
parses with the Python it runs on, so syntax newer than that one (say
`except*` read on 3.10) is not named but a parse error, which vermin lets
pass: the floor tests fail on any. The last test feeds it, for each floor,
code that needs a newer Python, so a vermin that passes everything (or is
called wrongly) makes the suite fail. tests/test_gradescope.py runs the
grader on 3.10 too, where it can.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# Module-level annotations count, as 3.8 evaluates them.
FLAGS = ["--no-config-file", "--violations", "--eval-annotations", "--no-tips"]


def vermin(floor, *paths):
    """vermin's verdict on `paths` against the floor; a file it cannot parse fails it too."""
    scripts = Path(sys.executable).parent
    program = scripts / ("vermin.exe" if os.name == "nt" else "vermin")
    if not program.exists():
        pytest.fail("vermin is not installed beside {}: install requirements-dev.txt".format(sys.executable))
    return subprocess.run(
        [str(program), "-t={}-".format(floor), *FLAGS, *map(str, paths)], capture_output=True, text=True, timeout=60
    )


def assert_meets(run):
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Target versions not met" not in run.stdout
    assert "error:" not in run.stdout, "vermin could not parse a file:\n" + run.stdout


def test_the_handout_and_the_solution_run_on_python_3_8():
    """And what CI and the suite run under 3.8 beside them: the handout smoke, the Windows-like shim."""
    assert_meets(vermin("3.8", ROOT / "assignment", ROOT / "solution", TESTS / "handout_smoke.py", TESTS / "windows_like"))


def test_the_grader_the_suite_and_the_tools_run_on_python_3_10():
    """The suite and bench/ too: CI runs them on 3.10. Not the catalogue's and hostile's student programs
    (some do not even compile, on purpose)."""
    assert_meets(vermin("3.10", ROOT / "autograder", ROOT / "bench", TESTS / "image", *sorted(TESTS.glob("*.py"))))


# For each floor, code that needs a newer Python, and the words vermin must name it with.
NEWER = {
    "3.8": {
        "match": ("match 1:\n    case 1:\n        pass\n", "pattern matching"),
        "dict_annotation": ("counts: dict[str, int] = {}\n", "builtin generic type annotation"),
    },
    "3.10": {
        "tomllib": ("import tomllib\n", "'tomllib' module requires !2, 3.11"),
        "except_star": ("try:\n    pass\nexcept* ValueError:\n    pass\n", "`except*` requires !2, 3.11"
                        if sys.version_info >= (3, 11) else "error: invalid syntax"),  # see the top
        "datetime_utc": ("import datetime\nnow = datetime.datetime.now(datetime.UTC)\n", "'datetime.UTC' member"),
    },
}


@pytest.mark.parametrize("floor", list(NEWER))
def test_newer_code_is_caught(tmp_path, floor):
    for name, (source, _) in NEWER[floor].items():
        (tmp_path / (name + ".py")).write_text(source, encoding="utf-8")
    run = vermin(floor, *sorted(tmp_path.glob("*.py")))
    assert run.returncode != 0, run.stdout + run.stderr
    assert "Target versions not met:   {}-".format(floor) in run.stdout
    reports = run.stdout.split("\n\n")  # a file's path, then what in it needs a newer Python
    for name, (_, feature) in NEWER[floor].items():
        assert any(name + ".py\n" in report and feature in report for report in reports), run.stdout
