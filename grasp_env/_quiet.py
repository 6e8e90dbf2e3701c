"""Silence PyBullet's C-level prints (its build time on import, "argv[0]=" on every connect)."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

_libc = ctypes.CDLL(None)


@contextmanager
def fds_silenced(*fds: int) -> Iterator[None]:
    """Point the given file descriptors at /dev/null for the duration (C-level prints included).

    Python exceptions raised inside still propagate; only what C code writes to these descriptors is dropped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        _libc.fflush(None)  # C stdio may still buffer what it printed meanwhile; send it to /dev/null too
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def stdout_silenced() -> AbstractContextManager[None]:
    """File descriptor 1 only (PyBullet prints "argv[0]=" to stdout on every DIRECT connect)."""
    return fds_silenced(1)


with fds_silenced(1, 2):
    import pybullet  # noqa: F401  (prints "pybullet build time: ..." to stderr once per process)
