"""Bench only: the same round trips with no library, the floor of any: three processes on plain sockets.

A relay server and a client2 that answer at once, and a client1 that sends
N Pings one after another, each a plain recv or sendall with TCP_NODELAY,
no framing, no printing. Prints one JSON line on stderr, as pinger.py does.
"""

import json
import os
import socket
import sys
import time


def _no_delay(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


count = int(sys.argv[1])
listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]
client1 = _no_delay(socket.create_connection(("127.0.0.1", port)))
from_client1 = _no_delay(listener.accept()[0])
client2 = _no_delay(socket.create_connection(("127.0.0.1", port)))
from_client2 = _no_delay(listener.accept()[0])
if os.fork() == 0:  # the server: each Ping on to client2, its answer back to client1
    client1.close(), client2.close()
    while True:
        ping = from_client1.recv(4096)
        if not ping:
            os._exit(0)
        from_client2.sendall(ping)
        from_client1.sendall(from_client2.recv(4096))
if os.fork() == 0:  # client2: a Pong for whatever comes, until the server goes
    client1.close(), from_client1.close(), from_client2.close()
    while client2.recv(4096):
        client2.sendall(b"Pong\n")
    os._exit(0)
from_client1.close(), from_client2.close(), client2.close()
times = []
for _ in range(count):
    start = time.perf_counter_ns()
    client1.sendall(b"Ping\n")
    client1.recv(4096)
    times.append(time.perf_counter_ns() - start)
client1.close()
os.wait(), os.wait()
print(json.dumps(times), file=sys.stderr)
