"""What a sandbox user's programs leave behind outside their own folder, removed once they have ended.

A program may write where every user may (/tmp, /dev/shm, ...), and it may
make System V IPC objects: shared memory, semaphore sets, message queues.
Both outlive every process of the user. The IPC objects are not files at
all, and hold kernel memory (a segment as large as the machine's RAM) until
someone removes them: left, a batch of hostile submissions could keep the
machine's memory long after the last of them ended. Nothing else runs as a
sandbox user while a program holds it, so what that user owns there is the
program's, and goes.
"""

from __future__ import annotations

import os
import shutil

SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")  # where any user may write
IPC_KINDS = ("shm", "sem", "msg")  # as /proc/sysvipc names them
_IPC_RMID = 0


def remove(uid: int) -> None:
    """Remove all `uid` left in the shared folders and in System V IPC (as root)."""
    _remove_files(uid)
    for kind in IPC_KINDS:
        for ident in ipc_of(uid, kind):
            _remove_ipc(kind, ident)


def _remove_files(uid: int) -> None:
    for base in SHARED_FOLDERS:
        try:
            entries = list(os.scandir(base))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def ipc_of(uid: int, kind: str) -> list[int]:
    """The ids of the System V IPC objects of `kind` that `uid` owns or made (an owner may give an
    object away; who made it stays). Read from /proc: none where there is none."""
    try:
        with open(f"/proc/sysvipc/{kind}", "rb") as stream:
            header, *rows = stream.read().decode("ascii").splitlines()
        names = header.split()
        at = (names.index("uid"), names.index("cuid"))
        return [int(fields[1]) for fields in map(str.split, rows) if uid in (int(fields[at[0]]), int(fields[at[1]]))]
    except (OSError, ValueError, IndexError):
        return []


def _remove_ipc(kind: str, ident: int) -> None:
    import ctypes  # 4 ms: only when a program left something, almost never

    libc = ctypes.CDLL(None, use_errno=True)
    if kind == "sem":
        libc.semctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        libc.semctl(ident, 0, _IPC_RMID)
    else:  # shared memory goes once no process has it attached: none is left by now
        remove_one = libc.shmctl if kind == "shm" else libc.msgctl
        remove_one.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
        remove_one(ident, _IPC_RMID, None)
