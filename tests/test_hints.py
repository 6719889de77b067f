"""The hints (advice.py), on exchanges written down by hand: each is chosen from what was seen.

The catalogue (test_grade_catalogue, test_selfcheck) shows each hint on real
programs; here, the evidence that chooses it, one fact changed at a time.
"""

from __future__ import annotations

from autograder.handout import advice, referee, waiting

NEVER = float("inf")
PING_IN = referee.Event("Ping", "client1", "server", 0.1, 0.1)
FAILED = referee.judge("server_forwards_ping", (PING_IN,))
HANG_UP_ERROR = ("Traceback (most recent call last):\n  File \"/x/server_student.py\", line 21, in <module>\n"
                 "ConnectionError: cannot send Ping to client2: it has disconnected")


def test_the_states_are_waiting_pys():
    assert (advice.WAITING, advice.SLEEPING) == (waiting.READY, waiting.SLEEPING)


def test_a_server_waiting_when_the_time_was_up_is_told_who_waited_for_whom_not_the_error_the_stop_caused():
    server = advice.Seen("server", 1, HANG_UP_ERROR, at_end="ready")
    said = advice.hint(FAILED, (PING_IN,), [server], seconds=5, out_of_time=True)
    assert said.key == "receives-again-before-forwarding"
    assert "waiting for a second message while both clients were waiting for it" in said.text
    assert "the error below came from that stop" in advice.after_the_stop(server, out_of_time=True)


def test_the_same_error_before_the_time_was_up_is_the_servers_own():
    server = advice.Seen("server", 1, HANG_UP_ERROR, at_end="gone")
    assert advice.hint(FAILED, (PING_IN,), [server], seconds=5, out_of_time=False).key == "server-crashed"
    assert advice.after_the_stop(server, out_of_time=False) == ""


def test_a_server_waiting_while_its_client2_had_gone_is_not_told_everyone_waited():
    programs = [advice.Seen("server", None, at_end="ready"), advice.Seen("client2", 0, at_end="gone")]
    assert advice.hint(FAILED, (PING_IN,), programs, seconds=5, out_of_time=True).key == "server-still-running"


def test_a_traceback_only_words_the_hint_of_a_check_that_failed_on_the_frames():
    """What a program prints can be forged: it picks among hints, and the verdict never reads it."""
    forged = "Traceback (most recent call last):\nTypeError: client.send_message takes a Message, not 'Pong'."
    ping_out = referee.Event("Ping", "server", "client2", 0.2, 0.2)
    pong = referee.Event("Pong", "client2", "server", 0.3, 0.3)
    assert referee.judge("client2_answers", (ping_out, pong)).passed  # judged on frames alone
    silent = referee.judge("client2_answers", (ping_out,))
    told = {advice.hint(silent, (ping_out,), [advice.Seen("client2", code, text, "gone")]).key
            for code, text in ((1, forged), (1, ""), (0, ""))}
    assert told == {"sends-a-string", "client2-crashed", "ends-without-answering"}


def test_a_program_stopped_after_the_exchange_is_warned_and_one_that_ended_is_not():
    assert advice.ending([advice.Seen("client2", 0)], 1.0) is None
    warned = advice.ending([advice.Seen("server", None, at_end="ready")], 1.0)
    assert warned.key == "does-not-end" and "server.receive_message() returns None" in warned.text
