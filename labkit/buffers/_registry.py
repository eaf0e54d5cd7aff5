"""The reader registry in a ring's header: who reads, where their cursor is, what they lost.

Each registered reader owns one 64-byte row (state, pid, cursor, frames_lost, name[32]) and is
the only writer of its cursor and loss words; rows are claimed and freed under the segment
lock. A reader also holds the lock on its row's byte of the segment (``_locks``) while it is
open, so a row whose lock nobody holds belongs to a reader that is gone (killed, or in a process
that exited) and is reclaimed, whatever PID namespace the reader ran in.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from labkit.buffers import _locks
from labkit.buffers._layout import RingLayout

logger = logging.getLogger(__name__)

__all__ = [
    "CURSOR",
    "LOST",
    "min_cursor",
    "reclaim_dead_readers",
    "register",
    "registry_stats",
    "unregister",
]

# columns of the registry viewed as 8 little-endian u64 words per reader slot
STATE, PID, CURSOR, LOST = 0, 1, 2, 3


def _row_alive(layout: RingLayout, row: int) -> bool:
    return layout.segment.is_held(_locks.reader_byte(row))


def reclaim_dead_readers(layout: RingLayout) -> None:
    """Free registry slots whose reader is gone (nobody holds the row's lock)."""
    dead = [
        k for k, row in enumerate(layout.readers.tolist()) if row[0] and not _row_alive(layout, k)
    ]
    if not dead:
        return
    with layout.segment.locked():
        words = layout.readers.view("<u8").reshape(len(layout.readers), -1)
        for k in dead:
            if words[k, STATE] and not _row_alive(layout, k):
                logger.info(
                    "reclaimed reader slot %d of ring %s (its reader, pid %d, is gone)",
                    k,
                    layout.segment.name,
                    int(words[k, PID]),
                )
                words[k, STATE] = 0


def register(layout: RingLayout, name: str, cursor: int) -> int:
    """Claim a registry slot (and its lock); -1 if all are taken by live readers."""
    encoded = name.encode()[:32]
    with layout.segment.locked():
        rows = layout.readers.tolist()
        for k, (state, *_rest) in enumerate(rows):
            if state and _row_alive(layout, k):
                continue
            try:
                _locks.hold(layout.segment.fd, _locks.reader_byte(k))
            except BlockingIOError:  # a reader between claiming its lock and its row
                continue
            layout.readers[k] = (1, os.getpid(), cursor, 0, encoded)
            return k
    logger.warning(
        "all %d reader slots of ring %s are in use: reader %r works but is not listed in ring.stats(); "
        "close readers you no longer need",
        len(rows),
        layout.segment.name,
        name,
    )
    return -1


def unregister(
    words: np.ndarray, pid: int, layout: RingLayout | None = None, row: int = -1
) -> None:
    """Free a reader's row and its lock (only from the process that registered it, not a fork)."""
    if os.getpid() != pid:
        return
    words[STATE] = 0
    if layout is not None and row >= 0 and not layout.segment.closed:
        _locks.release(layout.segment.fd, _locks.reader_byte(row))


def registry_stats(layout: RingLayout) -> tuple[dict[str, dict], int]:
    """``({name: {lag, frames_lost, cursor, pid}}, max_lag)`` of the live registered readers."""
    reclaim_dead_readers(layout)
    written = int(layout.counters[0])
    readers: dict[str, dict] = {}
    max_lag = 0
    for k, (state, pid, cursor, lost, raw_name) in enumerate(layout.readers.tolist()):
        if not state:
            continue
        lag = max(0, written - cursor)
        max_lag = max(max_lag, lag)
        name = raw_name.decode(errors="replace") or f"reader{k}"
        if name in readers:
            name = f"{name}#{k}"
        pending = max(0, written - layout.n_slots - cursor)  # overwritten, not yet noticed
        readers[name] = {"lag": lag, "frames_lost": lost + pending, "cursor": cursor, "pid": pid}
    return readers, max_lag


def min_cursor(layout: RingLayout) -> int | None:
    """The smallest cursor of the registered readers, None if there are none (no pid checks)."""
    used = layout.readers["state"] != 0
    return int(layout.readers["cursor"][used].min()) if used.any() else None
