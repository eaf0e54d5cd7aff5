"""Named POSIX shared-memory segments with one owner: create, attach, unlink, sweep.

Why not ``multiprocessing.shared_memory.SharedMemory``: in Python 3.11 it registers every
segment — also ones a process merely attaches to — with that process's resource tracker,
which unlinks them when the process exits, and its ``close()`` unmaps the memory even while
numpy arrays still point into it (numpy keeps a reference to the mmap, not a buffer export),
so touching such an array afterwards is a segfault. Here segments are opened with the same
``_posixshmem.shm_open`` call, but never registered with a resource tracker, so no process
other than the owner ever unlinks a segment. The owner unlinks on ``close()`` (or when the
object is garbage-collected or the interpreter exits, via ``weakref.finalize``), and
:func:`sweep_stale_segments` removes what a killed owner (``kill -9``) left behind. Whether an owner
is alive is read from the lock it holds on its segment (``_locks``), never from the PID in the
name, so an owner in another PID namespace (a container) is never mistaken for a dead one.

Closing never unmaps memory that a numpy view still points to: the mapping is not closed
explicitly but dropped, and CPython unmaps it when the last array referring to it is freed
(immediately if there is none). So a zero-copy frame a user still holds stays readable (its
content is then meaningless) instead of crashing the process.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import fcntl
import logging
import mmap
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

import psutil

from labkit.buffers import _locks
from labkit.buffers._errors import RingError

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "SHM_DIR",
    "Segment",
    "SegmentNotReady",
    "attach_when_ready",
    "new_segment_name",
    "pid_alive",
    "sweep_stale_segments",
]

SHM_DIR = "/dev/shm"
# "labkit-<pid>-<token>": owners hold a lock on their segment. Earlier labkit versions named
# segments "labkit_<pid>_<token>" and judged liveness by the pid; the two schemes never match
# each other's names, so versions running side by side never sweep each other's segments.
_NAME_RE = re.compile(r"^labkit-(\d+)-[0-9a-f]+$")
_VALID_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class SegmentNotReady(RingError):
    """The segment exists but its owner has not sized it yet."""


def new_segment_name() -> str:
    """A fresh segment name ``labkit-<pid>-<token>`` carrying this process's pid."""
    return f"labkit-{os.getpid()}-{secrets.token_hex(6)}"


def _owner_pid(name: str) -> int | None:
    m = _NAME_RE.match(name)
    return int(m.group(1)) if m else None


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # pragma: no cover - access denied etc.
        return True


_CREATING_GRACE_S = 30.0  # an empty, unlocked segment this young is still being created


def _owner_gone(name: str) -> bool:
    """True if segment ``name`` is ours (this uid) and nobody holds its owner lock."""
    try:
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    except OSError:  # gone meanwhile, or another user's segment: not ours to judge
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid():
            return False
        if st.st_size == 0 and time.time() - st.st_mtime < _CREATING_GRACE_S:
            return False  # its owner is between shm_open and taking its lock
        return not _locks.is_held(fd, _locks.OWNER_BYTE)
    finally:
        os.close(fd)


def sweep_stale_segments() -> list[str]:
    """Unlink ``labkit-*`` segments of this user whose owner is gone (its lock is released).

    Returns the names removed. Processes still attached to a removed segment keep their
    mapping (unlinking only removes the name). Called by ``FrameRing.create`` and
    ``TraceBuffer.create``; safe to call any time.
    """
    removed: list[str] = []
    try:
        names = os.listdir(SHM_DIR)
    except FileNotFoundError:  # pragma: no cover - not Linux
        return removed
    for name in sorted(names):
        if _owner_pid(name) is None or not _owner_gone(name):
            continue
        try:
            _posixshmem.shm_unlink("/" + name)
        except FileNotFoundError:
            continue  # someone else swept it first
        except OSError as exc:  # pragma: no cover - permissions
            logger.warning("could not remove stale segment %s: %s", name, exc)
            continue
        logger.info("removed stale shared-memory segment %s (its owner is gone)", name)
        removed.append(name)
    return removed


def _release(state: dict) -> None:
    """Close fds and mapping, unlink the name if owner. Runs once (close, GC or exit)."""
    for key in ("probe_fd", "fd"):
        fd = state.pop(key, -1)
        if fd >= 0:
            os.close(fd)  # closing the owner's fd drops its lock
    # Never mm.close(): numpy arrays over an mmap keep a reference to it but no buffer export,
    # so close() would unmap memory that live views (zero-copy frames a user holds, a thread
    # mid-copy) still point to. Dropping our reference unmaps it when the last view is freed.
    state.pop("mm", None)
    if state.get("owner") and state.get("pid") == os.getpid():  # not in a forked child
        with contextlib.suppress(FileNotFoundError):
            _posixshmem.shm_unlink("/" + state["name"])


class Segment:
    """One process's mapping of a named shared-memory segment.

    ``Segment.create`` makes the owner (unlinks on close); ``Segment.attach`` maps an
    existing segment and never unlinks it.
    """

    def __init__(self, name: str, fd: int, mm: mmap.mmap, owner: bool) -> None:
        self.name = name
        self.owner = owner
        self.size = len(mm)
        self._fd = fd
        self._mm: mmap.mmap | None = mm
        self._thread_lock = threading.Lock()
        self.creator_pid = os.getpid()
        # a second open file description, to see the locks held through ``fd`` (own ones included)
        probe = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)  # a new description, even if unlinked
        self._probe_fd = probe
        self._state = {"fd": fd, "probe_fd": probe, "mm": mm, "name": name, "owner": owner,
                       "pid": self.creator_pid}  # fmt: skip
        self._finalizer = weakref.finalize(self, _release, self._state)

    @property
    def fd(self) -> int:
        """The descriptor this process's locks on the segment are held through."""
        if self._mm is None:
            raise RingError(f"segment {self.name!r} is closed")
        return self._fd

    def is_held(self, byte: int) -> bool:
        """True if a live holder (any process, this one included) holds the lock on ``byte``."""
        if self._mm is None:
            raise RingError(f"segment {self.name!r} is closed")
        return _locks.is_held(self._probe_fd, byte)

    @property
    def owned_here(self) -> bool:
        """True in the process that created the segment (False in a forked child of it)."""
        return self.owner and os.getpid() == self.creator_pid

    @classmethod
    def create(cls, name: str, size: int) -> Segment:
        """Create and map a new segment of ``size`` bytes, reserving its memory up front.

        Raises ``RingError`` if the name exists or /dev/shm lacks the space (so a full
        /dev/shm is an exception here instead of a SIGBUS on the first write later), and
        ``ValueError`` for a name that is not 1-200 letters, digits, ``_``, ``-`` or ``.``.
        Only names ``labkit-<pid>-<token>`` are covered by :func:`sweep_stale_segments`.
        """
        if not _VALID_NAME_RE.match(name):
            raise ValueError(
                f"invalid shared-memory name {name!r}: use 1-200 letters, digits, '_', '-' or '.' "
                "(or leave name=None for labkit-<pid>-<token>)"
            )
        try:
            st = os.statvfs(SHM_DIR)
            free = st.f_bavail * st.f_frsize
        except OSError:  # pragma: no cover - not Linux
            free = None
        if free is not None and size > free:
            raise RingError(
                f"shared memory segment {name!r} needs {size / 1e6:.1f} MB but {SHM_DIR} has only "
                f"{free / 1e6:.1f} MB free; use fewer slots or a smaller frame, close other rings, "
                "or enlarge /dev/shm (docker: --shm-size)"
            )
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        except FileExistsError as exc:
            raise RingError(
                f"a shared-memory segment named {name!r} already exists; pick another name"
            ) from exc
        try:
            _locks.hold(fd, _locks.OWNER_BYTE)  # before sizing it: "alive" from the first byte
            os.ftruncate(fd, size)
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, size)
            mm = mmap.mmap(fd, size)
        except OSError as exc:
            os.close(fd)
            _posixshmem.shm_unlink("/" + name)
            raise RingError(
                f"could not reserve {size / 1e6:.1f} MB of shared memory for {name!r} ({exc}); "
                "use fewer slots or a smaller frame, or enlarge /dev/shm"
            ) from exc
        return cls(name, fd, mm, owner=True)

    @classmethod
    def attach(cls, name: str) -> Segment:
        """Map an existing segment read-write. Raises ``RingError`` if it does not exist."""
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
        except FileNotFoundError as exc:
            raise RingError(
                f"no shared-memory segment named {name!r}; its owner closed it or never created it "
                "(check the name, e.g. scope.ring_name, and that the engine is running)"
            ) from exc
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise SegmentNotReady(
                    f"segment {name!r} is empty; its owner is still creating it or crashed"
                )
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        return cls(name, fd, mm, owner=False)

    @property
    def buf(self) -> mmap.mmap:
        if self._mm is None:
            raise RingError(f"segment {self.name!r} is closed")
        return self._mm

    @property
    def closed(self) -> bool:
        return self._mm is None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive cross-process lock on the segment (flock on its fd)."""
        if self._mm is None:
            raise RingError(f"segment {self.name!r} is closed")
        with self._thread_lock:  # flock does not exclude threads sharing this fd
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the mapping and fd; the owner also unlinks the name. Idempotent."""
        self._mm = None
        self._finalizer()


def attach_when_ready(name: str, build: Callable[[Segment], T], wait_s: float = 2.0) -> T:
    """Attach ``name`` and ``build(segment)``, retrying while the owner is still creating it.

    A segment counts as "being created" while it is empty or its 8-byte magic is still zero;
    any other ``RingError`` from ``build`` is raised at once. The segment is closed on failure.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            segment = Segment.attach(name)
        except SegmentNotReady:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        try:
            return build(segment)
        except RingError:
            fresh = bytes(segment.buf[:8]) == bytes(8)
            segment.close()
            if not fresh or time.monotonic() > deadline:
                raise
        except BaseException:
            segment.close()
            raise
        time.sleep(0.02)
