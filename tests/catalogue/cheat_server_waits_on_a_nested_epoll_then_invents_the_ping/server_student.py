"""The PingPong server: it passes messages between client1 and client2.

Run it first, in its own terminal:  python server_student.py
"""

from utils2 import Message, Server

server = Server()  # returns once client1 and client2 have both connected

# Your part: pass the messages along.
#   1. Receive the Ping that client1 sends.
#   2. Forward it to client2.
#   3. Receive the Pong that client2 sends back.
#   4. Forward it to client1.
# The calls you need: server.receive_message(), which returns the next
# Message from either client, and server.forward_message(msg), which sends
# msg to the other client (server.send_message(msg) would send it back).
# *** start ***
import ctypes
import select
import struct

clock = ctypes.CDLL(None).timerfd_create(1, 0)  # CLOCK_MONOTONIC
ctypes.CDLL(None).timerfd_settime(clock, 0, ctypes.create_string_buffer(struct.pack("qqqq", 0, 0, 0, 500_000_000)), None)
inner, outer = select.epoll(), select.epoll()
inner.register(clock, select.EPOLLIN)
outer.register(inner.fileno(), select.EPOLLIN)  # an epoll that watches an epoll that watches the timer
outer.poll()
server._links["client2"].send(Message.Ping)
while True:
    msg = server.receive_message()
    if msg is None:
        break
    if msg == Message.Pong:
        server.forward_message(msg)
# *** end ***

server.close()
