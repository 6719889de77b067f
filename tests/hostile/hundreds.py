"""Starts hundreds of processes (as many as the limit allows), then plays fair."""
import os
import signal

for _ in range(300):
    try:
        if os.fork() == 0:
            signal.pause()
    except OSError:
        break
