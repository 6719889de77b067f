"""Bench only: client1 sends N Pings one after another and times each round trip.

Prints one JSON line on stderr: the round-trip times in nanoseconds.
"""

import json
import sys
import time

from utils2 import Client, Message

count = int(sys.argv[1])
client = Client("client1")
times = []
for _ in range(count):
    start = time.perf_counter_ns()
    client.send_message(Message.Ping)
    if client.receive_message() != Message.Pong:
        sys.exit("pinger: expected a Pong")
    times.append(time.perf_counter_ns() - start)
client.close()
print(json.dumps(times), file=sys.stderr)
