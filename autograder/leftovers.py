"""What a sandbox user's programs leave behind outside their own folder, removed once they have ended.

A program may write where every user may (/tmp, /dev/shm, ...), and it may
make System V IPC objects: shared memory, semaphore sets, message queues.
Both outlive every process of the user. The IPC objects are not files at
all, and hold kernel memory (a segment as large as the machine's RAM) until
someone removes them: left, a batch of hostile submissions could keep the
machine's memory long after the last of them ended. Nothing else runs as a
sandbox user while a program holds it, so what that user owns there is the
program's, and goes: the IPC objects by the warden's sweep (warden.remove_ipc),
the files here, as root.
"""

from __future__ import annotations

import os
import shutil

from . import warden

SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")  # where any user may write


def remove(uid: int, ipc: bool = True) -> None:
    """Remove all `uid` left in the shared folders, and (`ipc`) in System V IPC: there only where its
    warden's sweep, which does that as the user, did not (a warden that failed; a user removed); as
    root, where root may."""
    _remove_files(uid)
    if ipc:
        warden.remove_ipc(uid)


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
