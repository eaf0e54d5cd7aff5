"""Large request buffers through shared memory, for clients on the same host (``ipc://`` only).

A socket moves a 64 MB array at about memcpy speed twice over (into the kernel, out into fresh
memory the receiver then faults in). Over ``ipc://`` a client instead copies each buffer of at
least ``min_bytes`` into a shared-memory segment it owns and sends the segment's name in place of
the bytes (``labkit.wire.encode(offload=)``); the server maps the segment read-only and decodes
the array straight from it (``decode(resolve=)``): one copy, into memory that is already
faulted in when a segment is reused.

Ownership. The client creates every segment (``labkit-<pid>-<128-bit token>``, mode 0600, holding
the owner lock that :func:`labkit.buffers.sweep_stale_segments` reads) and is the only process
that ever unlinks it: when it closes, when its pool trims, or at once when a call got no reply
(the server may not have opened it). The server only maps: while it maps a segment it holds a
shared lock on :data:`READER_BYTE` through that mapping (the kernel drops it when the last array
over the mapping is freed, or the server dies). The client writes a segment again only after the
call that lent it was answered and that lock is free, so a server never sees bytes change under
an array it holds. A segment unlinked while the server still maps it stays valid for the server
and is freed with its last array.

What the server checks before mapping (:meth:`BulkReceiver.adopt`): the name has labkit's form,
the segment belongs to this user and is 0600, its size is at least the bytes declared and at most
the server's per-buffer limit. Nothing is allocated from a declared size; no pickle. TCP servers
never take such references (the server only offers this on ``ipc://``, and a reference on another
connection is refused by ``decode``).
"""

from __future__ import annotations

import _posixshmem
import logging
import mmap
import os
import re
import secrets
import stat
import threading
from dataclasses import dataclass, field
from typing import Any

from labkit.wire import WireDecodeError

__all__ = ["READER_BYTE", "BulkReceiver", "BulkSender"]

logger = logging.getLogger(__name__)

READER_BYTE = 1  # the byte a server's shared lock covers while it maps a segment
MIN_BYTES = 1 << 20  # buffers at least this large travel through shared memory
POOL_FREE_BYTES = 256 << 20  # idle segments a client keeps for reuse (or its last buffer's size)
POOL_SEGMENTS = 16  # segments a client keeps (lent or idle), at most
_ROUND = 1 << 20  # segment sizes are rounded up to this, so similar sizes share segments
_NAME = re.compile(r"^labkit-\d+-[0-9a-f]{32}$")


def _new_name() -> str:
    return f"labkit-{os.getpid()}-{secrets.token_hex(16)}"


@dataclass(eq=False)
class _Entry:
    segment: Any  # labkit.buffers._shm.Segment
    busy: bool = True  # lent in a call that has not been answered yet


@dataclass
class _Batch:
    """The segments one call lends; :meth:`done` gives them back after the call."""

    sender: BulkSender
    entries: list[_Entry] = field(default_factory=list)

    def offload(self, view: memoryview) -> dict[str, Any] | None:
        """``labkit.wire.encode(offload=)``: copy ``view`` into a segment and return its
        reference, or None to send the bytes in the message."""
        entry = self.sender._copy_in(view)
        if entry is None:
            return None
        self.entries.append(entry)
        return {"shm": entry.segment.name, "nbytes": view.nbytes}

    def done(self, answered: bool) -> None:
        """The call ended: ``answered`` (a reply came, so the server opened every segment it was
        going to) returns the segments to the pool; otherwise they are unlinked now."""
        self.sender._give_back(self.entries, answered)
        self.entries = []


class BulkSender:
    """A client's pool of segments it lends to one server (thread-safe).

    Args:
        min_bytes: smaller buffers stay in the message.
        max_bytes: larger ones too (the server's per-buffer limit).
        pool_free_bytes: idle segments nobody maps are kept between calls up to this many bytes
            (or the size of the last call's largest buffer, so a repeated push of a big array
            finds its segment); :meth:`close` releases everything.
        pool_segments: at most this many segments in all.
    """

    def __init__(
        self,
        min_bytes: int = MIN_BYTES,
        max_bytes: int = 1 << 30,
        pool_free_bytes: int = POOL_FREE_BYTES,
        pool_segments: int = POOL_SEGMENTS,
    ) -> None:
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self.pool_free_bytes, self.pool_segments = pool_free_bytes, pool_segments
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []  # oldest first
        self._closed = False
        self._warned = False
        self.buffers_sent = 0
        self.bytes_sent = 0
        self.segments_created = 0
        self._last_bytes = 0  # the largest buffer of the last call: room kept to reuse for it

    def batch(self) -> _Batch:
        return _Batch(self)

    def _copy_in(self, view: memoryview) -> _Entry | None:
        n = view.nbytes
        if n < self.min_bytes or n > self.max_bytes or self._closed:
            return None
        entry = self._take(n)
        if entry is None:
            return None
        entry.segment.buf[:n] = view.cast("B") if view.format != "B" else view
        self.buffers_sent += 1
        self.bytes_sent += n
        return entry

    def _take(self, n: int) -> _Entry | None:
        """A segment of at least ``n`` bytes nobody maps: an idle one, else a new one."""
        from labkit.buffers._errors import RingError
        from labkit.buffers._shm import Segment

        with self._lock:
            for entry in self._entries:
                size = entry.segment.size
                if not entry.busy and n <= size <= max(2 * n, n + _ROUND) and self._idle(entry):
                    entry.busy = True
                    self._entries.remove(entry)
                    self._entries.append(entry)  # most recently used last
                    return entry
            self._trim(keep_free=self._keep_free() - n)
        size = -(-n // _ROUND) * _ROUND
        try:
            segment = Segment.create(_new_name(), size)
        except (OSError, RingError) as exc:  # /dev/shm full
            if not self._warned:
                self._warned = True
                logger.warning("shared memory unavailable (%s); large buffers go by socket", exc)
            return None
        entry = _Entry(segment)
        with self._lock:
            self.segments_created += 1
            self._entries.append(entry)
        return entry

    @staticmethod
    def _idle(entry: _Entry) -> bool:
        return not entry.segment.is_held(READER_BYTE)

    def _keep_free(self) -> int:
        return max(self.pool_free_bytes, self._last_bytes)

    def _give_back(self, entries: list[_Entry], answered: bool) -> None:
        with self._lock:
            if entries:
                self._last_bytes = max(e.segment.size for e in entries)
            for entry in entries:
                entry.busy = False
                if not answered or self._closed:
                    self._drop(entry)
            self._trim(keep_free=self._keep_free())

    def _drop(self, entry: _Entry) -> None:
        if entry in self._entries:
            self._entries.remove(entry)
        entry.segment.close()  # unlinks the name; a server's mapping stays valid

    def _trim(self, keep_free: int) -> None:
        """Close the oldest segments not in a call while there are more than
        ``pool_segments``, and the oldest idle ones nobody maps while they hold more than
        ``keep_free`` bytes (lock held)."""
        idle = [e for e in self._entries if not e.busy]
        while len(self._entries) > self.pool_segments and idle:
            self._drop(idle.pop(0))
        free = [e for e in idle if self._idle(e)]
        total = sum(e.segment.size for e in free)
        for entry in free:
            if total <= keep_free:
                break
            total -= entry.segment.size
            self._drop(entry)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "shm_buffers_sent": self.buffers_sent,
                "shm_bytes_sent": self.bytes_sent,
                "shm_segments_created": self.segments_created,
                "shm_segments": len(self._entries),
            }

    def close(self) -> None:
        """Unlink every segment (idempotent)."""
        with self._lock:
            self._closed = True
            entries, self._entries = self._entries, []
        for entry in entries:
            entry.segment.close()


class BulkReceiver:
    """A server's side: maps the segments clients lend (``labkit.wire.decode(resolve=)``).

    Args:
        max_bytes: the largest buffer a client may lend (the server's message size limit).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buffers_received = 0
        self.bytes_received = 0

    def adopt(self, ref: dict) -> memoryview:
        """The bytes of a lent segment, mapped read-only (zero-copy).

        Raises:
            WireDecodeError: a malformed reference, a segment that is gone, not this user's,
                not 0600, smaller than declared or over the limit.
        """
        name, nbytes = ref.get("shm"), ref.get("nbytes")
        if (
            set(ref) != {"shm", "nbytes"}
            or type(name) is not str
            or not _NAME.match(name)
            or type(nbytes) is not int
            or not 0 < nbytes <= self.max_bytes
        ):
            raise WireDecodeError(
                f"malformed shared-memory reference {str(ref)[:200]} (or over the server's "
                f"limit of {self.max_bytes} bytes)"
            )
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_RDONLY, mode=0o600)
        except OSError as exc:
            raise WireDecodeError(f"shared-memory buffer {name} cannot be opened ({exc})") from None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
                raise WireDecodeError(f"shared-memory buffer {name} is not private to this user")
            if not nbytes <= st.st_size <= self.max_bytes + (1 << 20):
                raise WireDecodeError(
                    f"shared-memory buffer {name} holds {st.st_size} bytes, not the {nbytes} declared"
                )
            from labkit.buffers._locks import hold_shared

            hold_shared(fd, READER_BYTE)  # held by the mapping: the client will not write
            mm = mmap.mmap(fd, nbytes, prot=mmap.PROT_READ)
        except OSError as exc:
            raise WireDecodeError(f"shared-memory buffer {name} cannot be mapped ({exc})") from None
        finally:
            os.close(fd)  # the mapping keeps the open file description, and with it the lock
        self.buffers_received += 1
        self.bytes_received += nbytes
        return memoryview(mm)
