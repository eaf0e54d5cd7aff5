"""Liveness from locks, not PIDs: open-file-description (OFD) byte locks on a segment.

The owner of a segment holds a write lock on byte 0 of it for as long as it has the segment open;
each registered reader holds one on byte ``1 + its row``. The kernel drops a lock when the last
descriptor of its open file description closes, also when the process is killed, so "someone holds
the lock" means "the owner (or reader) is alive", in any PID namespace and with any PID reuse.
OFD locks (Linux ≥ 3.15) are independent of ``flock`` (the ring's header lock) and, unlike classic
``fcntl`` record locks, are not lost when the process closes some other descriptor of the file.

A lock held through one descriptor is invisible to a query made through the same descriptor, so
queries go through a separate "probe" descriptor.
"""

from __future__ import annotations

import fcntl
import os
import struct

__all__ = ["OWNER_BYTE", "hold", "hold_shared", "is_held", "reader_byte", "release"]

OWNER_BYTE = 0
_FLOCK = struct.Struct("@hhqqi4x")  # struct flock: l_type, l_whence, l_start, l_len, l_pid


def reader_byte(row: int) -> int:
    """The byte a reader registered in ``row`` locks."""
    return 1 + row


def _call(fd: int, cmd: int, kind: int, byte: int) -> bytes:
    return fcntl.fcntl(fd, cmd, _FLOCK.pack(kind, os.SEEK_SET, byte, 1, 0))


def hold(fd: int, byte: int) -> None:
    """Take the write lock on ``byte`` through ``fd`` (non-blocking).

    Raises:
        BlockingIOError: another open file description holds it (its holder is alive).
    """
    try:
        _call(fd, fcntl.F_OFD_SETLK, fcntl.F_WRLCK, byte)
    except OSError as exc:
        if exc.errno in (11, 13):  # EAGAIN / EACCES: held by someone else
            raise BlockingIOError(exc.errno, f"byte {byte} is locked by a live holder") from None
        raise


def hold_shared(fd: int, byte: int) -> None:
    """Take a read (shared) lock on ``byte`` through ``fd`` (which may be read-only); several
    holders may share it, and :func:`is_held` sees it (non-blocking).

    Raises:
        BlockingIOError: another open file description holds the write lock on it.
    """
    try:
        _call(fd, fcntl.F_OFD_SETLK, fcntl.F_RDLCK, byte)
    except OSError as exc:
        if exc.errno in (11, 13):  # EAGAIN / EACCES
            raise BlockingIOError(
                exc.errno, f"byte {byte} is write-locked by a live holder"
            ) from None
        raise


def release(fd: int, byte: int) -> None:
    """Drop the lock on ``byte`` held through ``fd`` (nothing happens if none is held)."""
    _call(fd, fcntl.F_OFD_SETLK, fcntl.F_UNLCK, byte)


def is_held(probe_fd: int, byte: int) -> bool:
    """True if any other open file description holds a lock on ``byte``."""
    kind = _FLOCK.unpack(_call(probe_fd, fcntl.F_OFD_GETLK, fcntl.F_WRLCK, byte))[0]
    return kind != fcntl.F_UNLCK
