"""PingPong client2, on a raw socket: it sends its Pong before it says who it is."""

import os
import socket

address = (os.environ.get("PINGPONG_HOST", "127.0.0.1"), int(os.environ.get("PINGPONG_PORT", "50505")))
sock = socket.create_connection(address)
sock.sendall(b"Pong\nHELLO client2\n")  # the answer first, the greeting after
data = b""
while not data.endswith(b"\n"):
    chunk = sock.recv(1)
    if not chunk:
        break
    data += chunk
if data == b"Ping\n":
    sock.sendall(b"Pong\n")
sock.close()
