"""Kills every process it may (kill -1), then plays fair. As root that is only its own user's:
itself (spared by the kernel) and nothing of the grader or of the other programs. Root only:
not root, it would kill everything of the user running the tests."""
import os
import signal

os.kill(-1, signal.SIGKILL)
