"""Mistakes a student (or a busy machine) makes, and the message each one gets.

Every message must say what went wrong and what to do, so each test
asserts on the words, not only on the exit code.
"""

import socket

import pytest

BRIEF_ORDER = ("server", "client2", "client1")


def run_with_reference(launcher, reference_folder, student, role):
    """The brief's order, `role` from the student's folder, the others from the reference."""
    folders = dict.fromkeys(BRIEF_ORDER, reference_folder)
    folders[role] = student
    programs = {}
    for name in BRIEF_ORDER:
        programs[name] = launcher.start(name, folders[name], name=name)
        if name == "server":
            programs[name].wait_for_line("listening on")
    return programs[role]


@pytest.mark.parametrize(
    "role, region, wanted",
    [
        (
            "client2",
            'msg = client.receive_message()\nclient.send_message("Ping")',
            [
                "TypeError: client.send_message takes a Message (Message.Ping or Message.Pong), not 'Ping'.",
                "Write client.send_message(Message.Ping) instead.",
            ],
        ),
        (
            "client2",
            'msg = client.receive_message()\nclient.send_message("pong please")',
            ["not 'pong please'", "For example: client.send_message(Message.Pong)."],
        ),
        (
            "server",
            'ping = server.receive_message()\nserver.forward_message("Ping")',
            [
                "TypeError: server.forward_message takes a Message",
                "Write server.forward_message(Message.Ping) instead.",
            ],
        ),
    ],
    ids=["client-Ping-string", "client-other-string", "server-Ping-string"],
)
def test_a_string_instead_of_a_message(launcher, reference_folder, student_folder, role, region, wanted):
    student = student_folder(**{role: region})
    program = run_with_reference(launcher, reference_folder, student, role)
    assert program.wait() != 0, program.report()
    for words in wanted:
        assert words in program.stderr, program.report()


@pytest.mark.parametrize("call", ["forward_message", "send_message"])
def test_answering_before_receiving(launcher, reference_folder, student_folder, call):
    student = student_folder(server="server.{}(Message.Ping)".format(call))
    server = run_with_reference(launcher, reference_folder, student, "server")
    assert server.wait() != 0, server.report()
    assert (
        "RuntimeError: server.{} needs a message received first: "
        "call server.receive_message() before it".format(call)
    ) in server.stderr, server.report()


def test_port_already_in_use(launcher, reference_folder, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen(1)
        server = launcher.start("server", reference_folder)
        assert server.wait() != 0, server.report()
    assert "the server cannot listen on 127.0.0.1:{}".format(port) in server.stderr, server.report()
    assert "PINGPONG_PORT" in server.stderr
    assert not any("listening on" in line for line in server.lines)


@pytest.mark.parametrize("role", ["client1", "client2"])
def test_no_server_at_all(launcher, reference_folder, port, role):
    client = launcher.start(role, reference_folder, env={"PINGPONG_CONNECT_TIMEOUT": "0.5"})
    assert client.wait() != 0, client.report()
    assert client.lines == ["{}: waiting for the server at 127.0.0.1:{} ...".format(role, port)]
    assert "{} found no server at 127.0.0.1:{} after 0.5 s".format(role, port) in client.stderr, client.report()
    assert "PINGPONG_PORT" in client.stderr


def test_a_port_that_is_not_a_number(launcher, reference_folder):
    server = launcher.start("server", reference_folder, env={"PINGPONG_PORT": "fifty"})
    assert server.wait() != 0, server.report()
    assert "PINGPONG_PORT must be a number, not 'fifty'" in server.stderr, server.report()


@pytest.mark.parametrize("value", ["0", "soon", "-3"])
def test_a_bad_connect_timeout_names_the_variable(value, monkeypatch):
    from autograder.handout import utils2

    monkeypatch.setenv("PINGPONG_CONNECT_TIMEOUT", value)
    with pytest.raises(ValueError, match="PINGPONG_CONNECT_TIMEOUT must be a number of seconds above 0"):
        utils2.Client("client1")


@pytest.mark.parametrize("role, region, said", [
    ("client2", "msg = client.receive_message()\nclient.send_message(Message.Pong)\n"
                "for _ in range(10000):\n    assert client.receive_message() is None",
     "client2: the server closed the connection"),
    ("server", "ping = server.receive_message()\nserver.forward_message(ping)\n"
               "pong = server.receive_message()\nserver.forward_message(pong)\n"
               "for _ in range(10000):\n    assert server.receive_message() is None",
     "server: both clients have disconnected"),
], ids=["client2", "server"])
def test_none_again_and_again_is_said_once(launcher, reference_folder, student_folder, role, region, said):
    """A loop with no None check asks again and again once the other side has gone: utils2 says so once,
    not once a call (which flooded the output until the grader's limit on it stopped the program)."""
    program = run_with_reference(launcher, reference_folder, student_folder(**{role: region}), role)
    assert program.wait() == 0, program.report()
    assert program.lines.count(said) == 1, program.report()
    assert program.lines[-1] == said, program.report()
