"""Starts hundreds of processes (as many as the limit allows), then plays fair."""
import os
import threading

for _ in range(300):
    try:
        if os.fork() == 0:
            threading.Event().wait()  # counts as waiting, as signal.pause() does not (see daemon.py)
    except OSError:
        break
