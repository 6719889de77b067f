"""Sends its parent SIGTERM, the grader's word to end the program, then plays fair. As root the
kill fails; not root, the warden takes that word from the grader alone, and nothing changes."""
import os
import signal

try:
    os.kill(os.getppid(), signal.SIGTERM)
except OSError:
    pass
