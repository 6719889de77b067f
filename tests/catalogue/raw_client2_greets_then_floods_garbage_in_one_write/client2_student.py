"""A raw-socket client2: it says who it is and sends 64 KiB that are not frames, in one write."""

import os
import socket

sock = socket.create_connection((os.environ.get("PINGPONG_HOST", "127.0.0.1"), int(os.environ.get("PINGPONG_PORT", "50505"))))
sock.sendall(b"HELLO client2\n" + b"x" * 65536)
sock.recv(100)
sock.close()
