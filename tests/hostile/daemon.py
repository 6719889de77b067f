"""Starts a daemon in a new session (double fork, setsid, chdir /) that would outlive it, then plays fair."""
import os
import signal

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.chdir("/")
        signal.pause()  # waiting, not sleeping by the clock: the program still counts as ready
    os._exit(0)
os.wait()
