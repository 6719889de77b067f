"""Plays fair, then kills its parent as it ends, once its part of the exchange is done. As root the
kill fails. Not root, the warden dies after the exchange: the run still proves nothing, and fails,
however fast the machine (killed at the start, how far the program got depended on it)."""
import atexit
import os
import signal


def _kill_parent():
    try:
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass


atexit.register(_kill_parent)
