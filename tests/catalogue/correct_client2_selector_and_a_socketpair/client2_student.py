"""PingPong client2: it answers the server's Ping with a Pong.

Run it second, in its own terminal:  python client2_student.py
"""

from utils2 import Client, Message

client = Client("client2")  # connects to the server

# Your part: answer the Ping.
#   1. Receive a message from the server.
#   2. If it is Message.Ping, send Message.Pong back to the server.
# The calls you need: client.receive_message(), which waits for the next
# Message from the server, and client.send_message(msg).
# *** start ***
import selectors
import socket
import threading

# A worker thread receives; the main thread waits for its word on a socketpair, with a selector.
here, there = socket.socketpair()
got = []


def worker():
    got.append(client.receive_message())
    there.send(b"x")


threading.Thread(target=worker, daemon=True).start()
sel = selectors.DefaultSelector()
sel.register(here, selectors.EVENT_READ)
sel.select()
if got and got[0] == Message.Ping:
    client.send_message(Message.Pong)
# *** end ***

client.close()
