"""Cross-process wake-ups on a 32-bit word in shared memory (Linux futex, polling elsewhere).

The writer bumps the word and calls :func:`wake`; a reader that found nothing new reads the
word, re-checks its condition, and calls :func:`wait` with the value it read. The kernel only
puts the reader to sleep if the word still holds that value, so a wake-up cannot be missed.
The futex is shared (no ``FUTEX_PRIVATE_FLAG``): it works across processes on a MAP_SHARED
mapping and between threads of one process.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import platform
import sys
import time

logger = logging.getLogger(__name__)

__all__ = ["FUTEX_AVAILABLE", "wait", "wake"]

_SYS_FUTEX: int = {"x86_64": 202, "aarch64": 98, "arm64": 98}.get(platform.machine(), -1)
_FUTEX_WAIT = 0
_FUTEX_WAKE = 1
_WAKE_ALL = 0x7FFFFFFF
_POLL_S = 0.0005  # fallback poll interval when futex is not available


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_syscall():
    if not sys.platform.startswith("linux") or _SYS_FUTEX < 0:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # CDLL releases the GIL during the call
        fn = libc.syscall
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None
    fn.restype = ctypes.c_long
    return fn


_syscall = _load_syscall()
FUTEX_AVAILABLE = _syscall is not None


def wait(address: int, expected: int, timeout_s: float | None) -> None:
    """Sleep until the uint32 at ``address`` is woken, differs from ``expected``, or timeout.

    ``timeout_s`` is a relative timeout in seconds (``None`` waits forever). Spurious
    returns are allowed: callers re-check their condition in a loop. Never raises for
    EAGAIN/EINTR/ETIMEDOUT; raises ``OSError`` for anything else (a bad address).
    """
    if _syscall is None:  # pragma: no cover - non-Linux fallback
        time.sleep(_POLL_S if timeout_s is None else max(0.0, min(_POLL_S, timeout_s)))
        return
    ts_ref = None
    if timeout_s is not None:
        timeout_s = max(0.0, timeout_s)
        sec = int(timeout_s)
        ts_ref = ctypes.byref(_Timespec(sec, int((timeout_s - sec) * 1e9)))
    rc = _syscall(
        ctypes.c_long(_SYS_FUTEX),
        ctypes.c_void_p(address),
        ctypes.c_int(_FUTEX_WAIT),
        ctypes.c_uint32(expected & 0xFFFFFFFF),
        ts_ref,
        ctypes.c_void_p(None),
        ctypes.c_uint32(0),
    )
    if rc == -1:
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EINTR, errno.ETIMEDOUT):
            raise OSError(err, f"futex wait failed: {errno.errorcode.get(err, err)}")


def wake(address: int) -> None:
    """Wake every thread/process sleeping in :func:`wait` on ``address``."""
    if _syscall is None:  # pragma: no cover - non-Linux fallback
        return
    _syscall(
        ctypes.c_long(_SYS_FUTEX),
        ctypes.c_void_p(address),
        ctypes.c_int(_FUTEX_WAKE),
        ctypes.c_int(_WAKE_ALL),
        ctypes.c_void_p(None),
        ctypes.c_void_p(None),
        ctypes.c_uint32(0),
    )
