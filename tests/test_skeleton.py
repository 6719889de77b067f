"""The handout skeletons: the solution files with their regions emptied.

They must not drift from the solution, their regions must be empty, the
check must notice a change, and each skeleton must run beside the others
without doing harm: it connects, does nothing, and ends.
"""

import shutil
import subprocess
import sys

import pytest

from autograder import skeleton


def test_the_handout_skeletons_have_not_drifted():
    assert skeleton.drift() == [], "run `make skeletons` to rewrite assignment/ from solution/"


def test_the_check_on_the_command_line_passes():
    check = subprocess.run(
        [sys.executable, "-m", "autograder.skeleton"],
        cwd=str(skeleton.SOLUTION.parent), capture_output=True, text=True, timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("name", skeleton.STUDENT_FILES)
def test_the_handout_regions_are_empty(name):
    parts = skeleton.split((skeleton.HANDOUT / name).read_text(encoding="utf-8"))
    assert parts is not None, "assignment/{} has no single region".format(name)
    assert parts.region.strip() == ""
    solved = skeleton.split((skeleton.SOLUTION / name).read_text(encoding="utf-8"))
    assert solved.region.strip() != "", "solution/{} has nothing in its region".format(name)


@pytest.mark.parametrize("name", skeleton.STUDENT_FILES)
def test_drift_is_detected(tmp_path, monkeypatch, name):
    copy = tmp_path / "assignment"
    shutil.copytree(skeleton.HANDOUT, copy)
    monkeypatch.setattr(skeleton, "HANDOUT", copy)
    assert skeleton.drift() == []
    path = copy / name
    path.write_text(path.read_text(encoding="utf-8").replace("# Your part", "# Our part"), encoding="utf-8")
    assert skeleton.drift() == [name]


def test_a_stale_sum_of_the_skeletons_is_drift(tmp_path, monkeypatch):
    """checker/region.py's HANDED_OUT must follow the skeletons; `make skeletons` writes it."""
    stale = tmp_path / "region.py"
    stale.write_text(skeleton.REGION_FILE.read_text(encoding="utf-8").replace(
        '"server_student.py": "', '"server_student.py": "0'), encoding="utf-8")
    monkeypatch.setattr(skeleton, "REGION_FILE", stale)
    assert skeleton.drift() == ["checker/region.py"]


@pytest.mark.parametrize("name", skeleton.STUDENT_FILES)
def test_a_file_is_untouched_only_with_no_code_of_its_own(tmp_path, name):
    """No code in the region and the skeleton's around it: comments, blank lines and line endings aside."""
    given = (skeleton.HANDOUT / name).read_text(encoding="utf-8")
    solved = (skeleton.SOLUTION / name).read_text(encoding="utf-8")
    variants = {
        "handed out": (given, True),
        "with CRLF, a name and a note in the region": (("# Ada Lovelace\n" + given).replace(
            skeleton.START, skeleton.START + "\n# TODO\n").replace("\n", "\r\n"), True),
        "solved": (solved, False),
        "code above the region": (given.replace(skeleton.START, "print('mine')\n" + skeleton.START), False),
        "code below the region": (given.replace(skeleton.END, skeleton.END + "\nprint('mine')"), False),
        "no markers": (given.replace(skeleton.END, "# end"), False),
    }
    for what, (text, untouched) in variants.items():
        path = tmp_path / what / name
        path.parent.mkdir()
        path.write_bytes(text.encode("utf-8"))
        assert skeleton.region.untouched(name, path) == untouched, what


@pytest.mark.parametrize("name", skeleton.STUDENT_FILES)
def test_changes_outside_the_region_are_seen(name):
    given = (skeleton.HANDOUT / name).read_text(encoding="utf-8")
    solved = (skeleton.SOLUTION / name).read_text(encoding="utf-8")
    assert skeleton.outside_changes(solved, given) == []
    assert skeleton.outside_changes(solved.replace("\n", "\r\n"), given) == []

    changed = solved.replace("from utils2 import", "import os\nfrom utils2 import")
    diff = skeleton.outside_changes(changed, given)
    assert "+import os" in diff

    unmarked = solved.replace(skeleton.END, "# end")
    assert skeleton.split(unmarked) is None
    assert skeleton.outside_changes(unmarked, given) == [
        "the '# *** start ***' and '# *** end ***' lines are missing or repeated"
    ]
    twice = solved + "\n" + skeleton.START + "\n" + skeleton.END + "\n"
    assert skeleton.split(twice) is None


# --- the skeletons run ------------------------------------------------------


def test_skeleton_server_with_reference_clients(launcher, student_folder, reference_folder):
    handout = student_folder("handout", server="skeleton", client2="skeleton")
    server = launcher.start("server", handout, name="server")
    server.wait_for_line("listening on")
    client2 = launcher.start("client2", reference_folder, name="client2")
    server.wait_for_line("client2 connected")
    client1 = launcher.start("client1", reference_folder, name="client1")
    assert server.wait() == 0, server.report()
    assert server.lines[-1] == "server: client1 connected"
    assert client1.wait() == 1, client1.report()
    assert client1.lines[-1] == "client1: expected a Pong back, but got None"
    assert client2.wait() == 0, client2.report()
    assert client2.lines[-1] == "client2: the server closed the connection"


def test_skeleton_client2_with_reference_server_and_client1(launcher, student_folder, reference_folder):
    handout = student_folder("handout", server="skeleton", client2="skeleton")
    server = launcher.start("server", reference_folder, name="server")
    server.wait_for_line("listening on")
    client2 = launcher.start("client2", handout, name="client2")
    assert client2.wait() == 0, client2.report()
    assert client2.lines == ["client2: connected to the server"]
    server.wait_for_line("client2 disconnected")
    client1 = launcher.start("client1", reference_folder, name="client1")
    # The server knows client2 has gone, so it says so instead of waiting for ever.
    assert server.wait() != 0, server.report()
    assert "cannot send Ping to client2: it has disconnected" in server.stderr, server.report()
    assert client1.wait() == 1, client1.report()
    assert client1.lines[-1] == "client1: expected a Pong back, but got None"


def test_the_handout_as_given(launcher, student_folder):
    handout = student_folder("handout", server="skeleton", client2="skeleton")
    server = launcher.start("server", handout, name="server")
    server.wait_for_line("listening on")
    client2 = launcher.start("client2", handout, name="client2")
    server.wait_for_line("client2 connected")
    client1 = launcher.start("client1", handout, name="client1")
    assert server.wait() == 0, server.report()
    assert client2.wait() == 0, client2.report()
    assert client1.wait() == 1, client1.report()
    assert client1.lines[-1] == "client1: expected a Pong back, but got None"
    for program in (server, client2):
        assert program.stderr == "", program.report()
