"""A working server and a working client2: what server.py and client2.py run.

The assignment comes in two steps, and each is tried against a working
partner in three terminals: step 1, your client2 with `python server.py`;
step 2, your server with `python client2.py`; client1.py in the third. They
use utils2.py as your programs do, so they print what yours will print once
they work, and they end by themselves.

Standard library only, Python 3.8 or newer.
"""

import utils2  # beside check.py and the two front ends

ANSWER = {utils2.Message.Ping: utils2.Message.Pong}  # client2's part: a Pong for a Ping, nothing else
MESSAGES = 2  # the server passes on two: client1's Ping, then client2's answer


def server():
    """Pass each message on to the other client, twice, or until both clients have gone; the exit status."""
    server = utils2.Server()
    try:
        for _ in range(MESSAGES):
            passed = server.receive_message()
            if passed is None:  # both clients have gone
                break
            server.forward_message(passed)
    except ConnectionError as error:  # your client2 left too early: said in one line, not a traceback
        print("server: {}".format(error), flush=True)
        return 1
    finally:
        server.close()
    return 0


def client2():
    """Answer the server's Ping with a Pong; the exit status."""
    client = utils2.Client("client2")
    try:
        heard = client.receive_message()
        if heard in ANSWER:
            client.send_message(ANSWER[heard])
    except ConnectionError as error:  # your server closed the connection first
        print("client2: {}".format(error), flush=True)
        return 1
    finally:
        client.close()
    return 0
