"""Python as on Windows, as far as Linux can play it: put this folder on PYTHONPATH.

Python imports sitecustomize at start-up, before any program's own code, so
check.py and every program it starts see a Python without:
  - os.fork, os.forkpty, os.setsid, os.setpgid, os.killpg: no POSIX sessions or
    process groups to start a program in or to stop it with; os.pidfd_open: no
    file that a program's exit makes readable;
  - fcntl, resource: modules Windows does not have (importing them fails);
  - socket.AF_NETLINK: no sock_diag, as on macOS and Windows;
  - select.poll, epoll, kqueue, devpoll: selectors falls back on select(),
    and select() takes sockets only, and at least one (as Windows' does).
Linux's /proc cannot be taken away from inside Python: tests/test_selfcheck_elsewhere.py
runs check.py in a mount namespace with an empty /proc instead.
"""

import errno
import os
import select
import selectors
import socket
import stat
import sys

for _name in ("fork", "forkpty", "setsid", "setpgid", "killpg", "pidfd_open"):
    if hasattr(os, _name):
        delattr(os, _name)
for _name in ("fcntl", "resource"):
    sys.modules[_name] = None  # `import fcntl` raises ImportError
for _name in ("poll", "epoll", "kqueue", "devpoll"):
    if hasattr(select, _name):
        delattr(select, _name)
for _name in ("PollSelector", "EpollSelector", "KqueueSelector", "DevpollSelector"):
    if hasattr(selectors, _name):  # already chosen when selectors was imported (site may import it)
        delattr(selectors, _name)
selectors.DefaultSelector = selectors.SelectSelector
if hasattr(socket, "AF_NETLINK"):
    del socket.AF_NETLINK

_select = select.select


def _fd(item):
    return item if isinstance(item, int) else item.fileno()


def _sockets_only(rlist, wlist, xlist, *timeout):
    """Windows' select(): sockets only (WSAENOTSOCK), and not none at all (WSAEINVAL)."""
    files = [*rlist, *wlist, *xlist]
    if not files:
        raise OSError(errno.EINVAL, "select() on no sockets (as on Windows)")
    for item in files:
        if not stat.S_ISSOCK(os.fstat(_fd(item)).st_mode):
            raise OSError(errno.ENOTSOCK, "select() on a file that is not a socket (as on Windows)")
    return _select(rlist, wlist, xlist, *timeout)


select.select = _sockets_only
