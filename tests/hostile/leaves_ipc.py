"""Makes System V shared memory, a semaphore set and a message queue, then plays fair.

Into client2 only. Unlike files in /tmp, these outlive every process of the
user, holding kernel memory (a segment up to all the machine's RAM) until
someone removes them. As root the grader removes them when the program's
scene ends: the key, made from the test's token, lets the test look.
"""
import ctypes
import hashlib

_key = int.from_bytes(hashlib.sha256(b"@TOKEN@").digest()[:4], "big") & 0x7FFFFFFF
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
_made = {
    "shared memory": _libc.shmget(_key, 1 << 20, 0o1666),  # IPC_CREAT | 0o666: the other scene's client2 opens the same
    "semaphore set": _libc.semget(_key, 1, 0o1666),
    "message queue": _libc.msgget(_key, 0o1666),
}
for _what, _id in _made.items():
    if _id < 0:  # not made: the test would prove nothing, so fail the grading for all to see
        raise OSError(ctypes.get_errno(), f"could not make a System V {_what}")
