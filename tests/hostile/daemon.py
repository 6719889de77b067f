"""Starts a daemon in a new session (double fork, setsid, chdir /) that would outlive it, then plays fair."""
import os
import threading

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.chdir("/")
        threading.Event().wait()  # a wait on a thread of its own with no timeout: the program still counts
        # as waiting (signal.pause() would not: a timer's signal can end it)
    os._exit(0)
os.wait()
