"""The three-terminal run: server, client2 and client1 as separate processes.

Each exchange must finish by itself, every program exiting 0, and the lines
printed must tell the four steps of the exchange in order.
"""

import itertools

import pytest

from pythons import find_python

BRIEF_ORDER = ("server", "client2", "client1")
ORDERS = list(itertools.permutations(BRIEF_ORDER))

# What each program prints about the exchange, in this order.
STORY = {
    "server": [
        "server: received Ping from client1",
        "server: forwarded Ping from client1 to client2",
        "server: received Pong from client2",
        "server: forwarded Pong from client2 to client1",
    ],
    "client2": ["client2: received Ping", "client2: sent Pong"],
    "client1": ["client1: sent Ping", "client1: received Pong"],
}


def in_order(lines, expected):
    """Whether `expected` appears among `lines` as whole lines, in this order."""
    rest = iter(lines)
    return all(any(line == wanted for line in rest) for wanted in expected)


def assert_exchange(programs):
    for role in ("client1", "client2", "server"):
        program = programs[role]
        assert program.wait() == 0, program.report()
    for role, expected in STORY.items():
        program = programs[role]
        assert in_order(program.lines, expected), "{} did not tell its part\n{}".format(role, program.report())
        assert program.stderr == "", program.report()


def order_id(order):
    return "-".join(order)


@pytest.mark.parametrize("order", ORDERS, ids=order_id)
def test_reference_programs_in_any_order(launcher, reference_folder, order):
    folders = dict.fromkeys(BRIEF_ORDER, reference_folder)
    programs = launcher.start_in_order(order, folders)
    assert_exchange(programs)
    for role in ("client1", "client2"):
        started_first = order.index(role) < order.index("server")
        waited = any("waiting for the server" in line for line in programs[role].lines)
        assert waited == started_first, programs[role].report()


@pytest.mark.parametrize(
    "server_from, client2_from",
    [("reference", "student"), ("student", "reference")],
    ids=["reference-server-student-client2", "student-server-reference-client2"],
)
def test_programs_from_separate_folders(launcher, reference_folder, student_folder, server_from, client2_from):
    folders = {"reference": reference_folder, "student": student_folder()}
    chosen = {"server": folders[server_from], "client2": folders[client2_from], "client1": folders[server_from]}
    programs = launcher.start_in_order(BRIEF_ORDER, chosen)
    assert_exchange(programs)


def test_handout_programs_in_the_briefs_order(launcher, student_folder):
    folder = student_folder()
    programs = launcher.start_in_order(BRIEF_ORDER, dict.fromkeys(BRIEF_ORDER, folder))
    assert_exchange(programs)
    assert programs["client1"].lines[-1] == "client1: the Ping went round and came back as a Pong. Done."


@pytest.fixture(scope="session")
def python38() -> str:
    path, why = find_python("3.8")
    if path is None:
        pytest.skip(why)
    return path


@pytest.mark.parametrize("order", [BRIEF_ORDER, ("client1", "client2", "server")], ids=order_id)
def test_handout_programs_under_python_3_8(launcher, student_folder, python38, order):
    folder = student_folder()
    programs = launcher.start_in_order(order, dict.fromkeys(BRIEF_ORDER, folder), python=python38)
    assert_exchange(programs)


def test_a_client_started_first_waits_and_then_connects(launcher, reference_folder):
    client1 = launcher.start("client1", reference_folder)
    waiting = client1.wait_for_line("waiting for the server")
    assert waiting == "client1: waiting for the server at 127.0.0.1:{} ...".format(launcher.env["PINGPONG_PORT"])
    server = launcher.start("server", reference_folder)
    server.wait_for_line("client1 connected")
    client1.wait_for_line("client1: connected to the server")
    client2 = launcher.start("client2", reference_folder)
    assert_exchange({"server": server, "client1": client1, "client2": client2})
