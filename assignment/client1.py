"""PingPong client1: it sends a Ping and waits for the Pong to come back.

Run it last, in its own terminal:  python client1.py
You do not need to change this file.
"""

import sys

from utils2 import Client, Message

client = Client("client1")
client.send_message(Message.Ping)
answer = client.receive_message()
client.close()

if answer != Message.Pong:
    print("client1: expected a Pong back, but got {}".format(answer), flush=True)
    sys.exit(1)
print("client1: the Ping went round and came back as a Pong. Done.", flush=True)
