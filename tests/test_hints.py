"""The hints (advice.py), on exchanges written down by hand: each is chosen from what was seen.

The catalogue (test_grade_catalogue, test_selfcheck) shows each hint on real
programs; here, the evidence that chooses it, one fact changed at a time.
"""

from __future__ import annotations

from autograder.handout import advice, referee, scenario, scene, waiting

NEVER = float("inf")
PING_IN = referee.Event("Ping", "client1", "server", 0.1, 0.1)
FAILED = referee.judge("server_forwards_ping", (PING_IN,))
HANG_UP_ERROR = ("Traceback (most recent call last):\n  File \"/x/server_student.py\", line 21, in <module>\n"
                 "ConnectionError: cannot send Ping to client2: it has disconnected")


def test_the_states_are_waiting_pys():
    assert (advice.WAITING, advice.BUSY, advice.SLEEPING) == (waiting.READY, waiting.BUSY, waiting.SLEEPING)


def test_a_server_waiting_when_the_time_was_up_is_told_who_waited_for_whom_not_the_error_the_stop_caused():
    server = advice.Seen("server", 1, HANG_UP_ERROR, at_end="ready")
    said = advice.hint(FAILED, (PING_IN,), [server], seconds=5, out_of_time=True)
    assert said.key == "receives-again-before-forwarding"
    assert "was still waiting (for a second message, or for something else) while both clients were waiting for it" \
        in said.text
    assert advice.stopped_waiting(server, out_of_time=True)


def test_the_same_error_before_the_time_was_up_is_the_servers_own():
    server = advice.Seen("server", 1, HANG_UP_ERROR, at_end="gone")
    assert advice.hint(FAILED, (PING_IN,), [server], seconds=5, out_of_time=False).key == "server-crashed"
    assert not advice.stopped_waiting(server, out_of_time=False)


def test_a_server_waiting_while_its_client2_had_gone_is_not_told_everyone_waited():
    programs = [advice.Seen("server", None, at_end="ready"), advice.Seen("client2", 0, at_end="gone")]
    assert advice.hint(FAILED, (PING_IN,), programs, seconds=5, out_of_time=True).key == "server-still-running"


def test_a_program_never_handed_its_message_is_told_what_it_was_seen_waiting_in():
    """Issue 25: the words name what was seen, so a student can tell an honest mistake from the rule."""
    ping_held = referee.Event("Ping", "server", "client2", 0.2, NEVER)
    silent = referee.judge("client2_answers", (ping_held,))
    seen = waiting.State(waiting.SLEEPING)
    seen.why = "its main thread waited on an epoll (a selector, or asyncio's event loop) with a 1 s timeout"
    told = advice.hint(silent, (ping_held,), [advice.Seen("client2", None)], seconds=5, held={"client2": seen},
                       out_of_time=True)
    assert told.key == "client2-sleeping"
    assert "while the message waited for it, its main thread waited on an epoll (a selector, or asyncio's event " \
           "loop) with a 1 s timeout." in told.text
    plain = advice.hint(silent, (ping_held,), [advice.Seen("client2", None)], seconds=5,
                        held={"client2": waiting.SLEEPING}, out_of_time=True)  # a state without words
    assert plain.key == "client2-sleeping" and "it was asleep or waiting with a timeout." in plain.text


def _held_for(*looks):
    """Why a message was held for a client2 seen in these states, one look each."""
    looks = iter(looks)

    class Start:
        def state(self, program, ends):
            return next(looks)

    class Client2:
        name = "client2"

        def exited(self):
            return False

    played = scene.Scene(scenario.Limits(), Start())
    try:
        played.sees_waiting, played._connections = True, lambda program: set()
        while not played._settled(Client2(), since=0.0):
            pass
    except StopIteration:
        return played._why_held("client2")
    finally:
        played.selector.close()


def test_a_message_is_held_for_the_state_a_program_was_seen_in_most_not_the_last():
    """A thread that wakes every 0.1 s is now and then caught running: the sleep is why the message waited,
    whichever look came last (the hint of client2_keeps_a_thread_waiting_with_a_timeout once hung on it).
    A program that slept once, then loops, is busy."""
    asleep = waiting.State(waiting.SLEEPING)
    asleep.why = "a thread of it waited on another thread (a lock, join(), Event.wait(), queue.get()) with a timeout"
    busy = waiting.State(waiting.BUSY)
    held = _held_for(asleep, busy, asleep, asleep, busy)
    assert held == waiting.SLEEPING and held.why == asleep.why
    assert _held_for(asleep, busy, busy, busy) == waiting.BUSY


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
    warned = advice.ending([advice.Seen("server", None, at_stop="ready")], 1.0)
    assert warned.key == "does-not-end" and "server.receive_message() returns None" in warned.text


def _crashed(name, error, *, line="17"):
    """A program of yours that stopped with `error`, the last line of its traceback."""
    file = name + "_student.py"
    return advice.Seen(name, 1, f'Traceback (most recent call last):\n  File "/x/{file}", line {line}, in <module>\n{error}',
                       at_end="gone")


PING_OUT = referee.Event("Ping", "server", "client2", 0.2, 0.2)
SILENT = referee.judge("client2_answers", (PING_OUT,))


def _client2_told(error):
    return advice.hint(SILENT, (PING_OUT,), [_crashed("client2", error)])


def _server_told(error):
    return advice.hint(FAILED, (PING_IN,), [_crashed("server", error, line="20")])


def test_a_wrong_name_is_the_name_python_complains_about_not_its_guess():
    """Since Python 3.10 the error ends "Did you mean: 'X'?": X is Python's guess, not the name used."""
    for error in ("AttributeError: ping. Did you mean: 'Ping'?",  # Message.ping, Python 3.10 and 3.11
                  "AttributeError: ping",  # Python 3.8 and 3.9 (check.py)
                  "AttributeError: type object 'Message' has no attribute 'ping'. Did you mean: 'Ping'?"):
        told = _client2_told(error)
        assert (told.key, "Your client2 used Message.ping (line 17" in told.text) == ("wrong-name", True), error
    told = _client2_told("NameError: name 'Ping' is not defined. Did you mean: 'pong'?")
    assert (told.key, "used Ping (line 17" in told.text) == ("wrong-name", True)
    told = _server_told("NameError: name 'Pong' is not defined. Did you mean: 'pong'?")
    assert (told.key, "used Pong (line 20" in told.text) == ("wrong-name", True)


def test_a_name_never_set_is_told_so_not_the_spelling_of_the_messages():
    for error in ("NameError: name 'ping' is not defined. Did you mean: 'print'?", "NameError: name 'ping' is not defined"):
        told = _server_told(error)
        assert told.key == "name-never-set", error
        assert "Set it first: ping = server.receive_message()" in told.text and "Message.Ping" not in told.text
    told = _client2_told("NameError: name 'msg' is not defined. Did you mean: 'Msg'?")
    assert (told.key, "Set it first: msg = client.receive_message()" in told.text) == ("name-never-set", True)
    assert _server_told("NameError: name 'forward_message' is not defined").key == "call-without-its-object"
    assert _client2_told("AttributeError: 'Client' object has no attribute 'forward_message'. Did you mean: "
                         "'send_message'?").key == "client-forwards"


def test_only_a_string_is_called_a_string():
    utils2 = "TypeError: client.send_message takes a Message (Message.Ping or Message.Pong), not {}. {}"
    told = _client2_told(utils2.format("'Pong'", "Write client.send_message(Message.Pong) instead."))
    assert (told.key, "tried to send a string" in told.text) == ("sends-a-string", True)
    for sent in ("True", "<enum 'Message'>", "1", "b'Pong'"):
        told = _client2_told(utils2.format(sent, "For example: client.send_message(Message.Pong)."))
        assert told.key == "sends-not-a-message", sent
        assert f"Your client2 tried to send {sent} (line 17 of client2_student.py), which is not a Message: send " \
               "Message.Pong" in told.text
    told = _server_told(utils2.replace("client.send", "server.forward").format("1", "For example: x."))
    assert (told.key, "forward the message you received" in told.text) == ("sends-not-a-message", True)


def test_a_server_that_sends_none_is_not_told_to_send_a_pong():
    told = _server_told("TypeError: server.forward_message takes a Message (Message.Ping or Message.Pong), not None. "
                        "For example: server.forward_message(Message.Pong).")
    assert told.key == "sends-none" and "Pong" not in told.text and "Forward only a message you received" in told.text
    told = _client2_told("TypeError: client.send_message takes a Message (Message.Ping or Message.Pong), not None. "
                         "For example: client.send_message(Message.Pong).")
    assert told.key == "sends-none" and "Message.Pong" in told.text


def test_a_send_that_failed_because_the_other_program_had_left_is_that_programs_mistake():
    """together: client2 ended first, so the server's forward found it gone: the hint is client2's."""
    server, client2 = _crashed("server", HANG_UP_ERROR.splitlines()[-1], line="20"), advice.Seen("client2", 0, at_end="gone")
    together = referee.judge("together", (PING_IN,))
    told = advice.hint(together, (PING_IN,), [server, client2], seconds=5, closed=("client2",))
    assert told.key == "ends-before-the-ping"
    still = advice.Seen("client2", None, at_end="ready")
    assert advice.hint(together, (PING_IN,), [server, still], seconds=5, closed=("client2",)).key == "closes-too-early"
    # the server that closed first is told so, and an error of its own is its own
    assert advice.hint(together, (PING_IN,), [server, client2], seconds=5, closed=("server",)).key == "closes-too-early"
    own = _crashed("server", "TypeError: server.forward_message takes a Message (Message.Ping or Message.Pong), "
                             "not 'Ping'. Write server.forward_message(Message.Ping) instead.", line="20")
    assert advice.hint(together, (PING_IN,), [own, client2], seconds=5, closed=("client2",)).key == "sends-a-string"


def test_the_warning_for_a_program_that_does_not_end_says_what_it_was_doing():
    sleeping = advice.ending([advice.Seen("client2", None, at_stop="sleeping")], 1.0)
    assert "When it was stopped, it was asleep" in sleeping.text and "once it has sent its Pong" in sleeping.text
    seen = waiting.State(waiting.SLEEPING)
    seen.why = "its main thread slept (time.sleep)"
    told = advice.ending([advice.Seen("client2", None, at_stop=seen)], 1.0).text
    assert "When it was stopped, its main thread slept (time.sleep): your program is done" in told
    assert "loop" not in sleeping.text  # a client2 that answers, then time.sleep(2), has no loop
    busy = advice.ending([advice.Seen("server", None, at_stop="busy")], 1.0)
    assert "still looping" in busy.text and "(if msg is None: break)" in busy.text
    unknown = advice.ending([advice.Seen("client2", None)], 1.0)  # check.py on macOS or Windows
    assert "If you loop" in unknown.text


def test_the_warning_is_said_from_what_the_program_did_when_stopped_not_when_the_others_hung_up():
    """A loop with no None check waits until the hang-up and spins after it; a program stopped by a limit
    did not end either, whether a fast machine reached the limit first or not."""
    spun = advice.ending([advice.Seen("client2", None, at_end="ready", at_stop="busy")], 1.0)
    assert "It was busy, still looping" in spun.text
    limited = advice.ending([advice.Seen("client2", 1, "OSError: [Errno 27] File too large", at_stop="busy")], 1.0)
    assert limited == spun
    assert advice.ending([advice.Seen("client2", 1, "ConnectionError: ...")], 1.0) is None  # it ended, if badly


def test_two_programs_stopped_while_both_waited_are_told_they_waited_on_each_other():
    """Both loop until None: once client1 has gone, the server waits for client2 and client2 for the server."""
    both = [advice.Seen("server", None, at_stop="ready"), advice.Seen("client2", None, at_stop="ready")]
    told = advice.ending(both, 1.0)
    assert told.key == "wait-on-each-other" and "in a real run neither would ever end" in told.text
    assert "for instance your client2, once it has sent its Pong" in told.text
    # One that waited on one that slept: the sleeper is the one to fix.
    slept = advice.ending([both[0], advice.Seen("client2", None, at_stop="sleeping")], 1.0)
    assert slept.key == "does-not-end" and slept.text.startswith("Your client2") and "When it was stopped, it was asleep" in slept.text


def test_a_pong_answering_a_ping_the_server_made_up_is_told_to_pass_on_only_what_it_received():
    """advice's "made up" matches referee's words for that Pong: a sentence of referee.judge, still said."""
    made_up = referee.Event("Ping", "server", "client2", 0.1, 0.1)
    pong = referee.Event("Pong", "client2", "server", 0.2, 0.2)
    back = referee.Event("Pong", "server", "client1", 0.3, 0.3)
    events = (made_up, referee.Event("Ping", "client1", "server", 0.25, 0.25), pong, back)
    judgement = referee.judge("server_forwards_pong", events)
    assert judgement.broken and "made up" in judgement.broken.why
    assert advice.hint(judgement, events, [advice.Seen("server", 0, at_end="gone")]).key == "receive-first"


def test_a_name_one_edit_from_pythons_guess_is_told_as_a_misspelling():
    for wrong, meant in (("mesage", "message"), ("messsage", "message"), ("mesasge", "message"), ("pnog", "pong")):
        told = _client2_told(f"NameError: name '{wrong}' is not defined. Did you mean: '{meant}'?")
        assert (told.key, f"used {wrong} (line 17" in told.text, f"did you mean {meant}?" in told.text) == \
            ("misspelled-name", True, True), wrong
    for far in ("NameError: name 'mesg' is not defined. Did you mean: 'message'?",  # three edits: never set
                "NameError: name 'msg' is not defined. Did you mean: 'Msg'?",  # case only: the never-set hint says so
                "NameError: name 'mesage' is not defined"):  # no guess (Python 3.8 and 3.9)
        assert _client2_told(far).key == "name-never-set", far


def test_a_client2_using_the_servers_name_is_told_its_connection_is_client():
    told = _client2_told("NameError: name 'server' is not defined")
    assert (told.key, "in client2 the connection is client" in told.text) == ("client2-uses-server", True)
    assert _server_told("NameError: name 'server' is not defined").key == "name-never-set"  # the server's own


def test_a_method_passed_without_parentheses_is_told_to_call_it():
    told = _server_told("TypeError: server.forward_message takes a Message (Message.Ping or Message.Pong), not "
                        "<bound method Server.receive_message of <utils2.Server object at 0x7f>>. For example: "
                        "server.forward_message(Message.Pong).")
    assert (told.key, "passed server.receive_message (line 20" in told.text,
            "msg = server.receive_message()" in told.text) == ("call-without-parentheses", True, True)


def test_input_with_nobody_at_the_keyboard_is_named():
    told = _server_told("EOFError: EOF when reading a line")
    assert (told.key, "called input() (line 20" in told.text) == ("input-in-a-run", True)


def test_a_send_after_its_own_close_is_closing_too_early_whoever_hung_up_first():
    error = "ConnectionError: cannot send Pong to client1: server.close() was called before"
    server = _crashed("server", error, line="23")
    client2 = advice.Seen("client2", 0, at_end="gone")
    together = referee.judge("together", (PING_IN,))
    assert advice.hint(together, (PING_IN,), [server, client2], closed=("client2", "server")).key == \
        "closes-too-early"


def test_a_program_busy_all_along_is_told_of_its_loop_and_one_that_compared_with_a_string_of_that():
    busy = advice.Seen("client2", None, at_end=waiting.BUSY)
    told = advice.hint(SILENT, (PING_OUT,), [busy], seconds=5, out_of_time=True)
    assert (told.key, "a loop that does not call receive_message()" in told.text) == ("busy-loop", True)
    asleep = advice.Seen("client2", None, at_end=waiting.SLEEPING)
    assert advice.hint(SILENT, (PING_OUT,), [asleep], seconds=5, out_of_time=True).key == "client2-still-running"
    compared = advice.Seen("server", 0, at_end="gone", compared="'Ping' (line 20 of server_student.py)")
    told = advice.hint(FAILED, (PING_IN,), [compared], seconds=5)
    assert (told.key, "with the string 'Ping' (line 20 of server_student.py)" in told.text) == \
        ("compares-with-a-string", True)
