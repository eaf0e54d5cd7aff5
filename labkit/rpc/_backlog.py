"""One client's event backlog: sequence numbers, acks, replay and a hard bound. Pure logic.

Events are numbered per client from 1. Each stays until the client acks its sequence number, so
a client that reconnects (``hello`` with the last sequence number it applied) gets the rest again.
The backlog holds at most ``max_events`` events and ``max_bytes`` bytes: beyond that the oldest are
dropped, and those never handed to the socket are counted in :attr:`lost` (every event carries the
running total, so the client knows exactly how many it missed). An event with a ``coalesce`` key
replaces the unacked older ones with the same key (only the newest value of a variable matters);
those are superseded, not lost.
"""

from __future__ import annotations

import collections
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BacklogEntry", "EventBacklog"]


@dataclass(eq=False)
class BacklogEntry:
    seq: int
    frames: list[Any] = field(repr=False)
    nbytes: int
    coalesce: Any = None
    sent: bool = False


class EventBacklog:
    """Unacked events of one client, bounded by count and bytes."""

    def __init__(self, max_events: int = 1024, max_bytes: int = 64 << 20) -> None:
        if max_events < 1 or max_bytes < 1:
            raise ValueError("max_events and max_bytes must be at least 1")
        self.max_events, self.max_bytes = max_events, max_bytes
        self._entries: collections.OrderedDict[int, BacklogEntry] = collections.OrderedDict()
        self._nbytes = 0
        self.last_seq = 0
        self.epoch = secrets.randbits(31) + 1  # tells a client this numbering from another one
        self.lost = 0  # events dropped before they were ever sent
        self.superseded = 0  # events replaced by a newer one with the same coalesce key

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def push(
        self, encode: Callable[[int, int], list[Any]], nbytes: int, coalesce: Any = None
    ) -> BacklogEntry:
        """Add the next event; ``encode(seq, lost)`` makes its frames. Returns the new entry."""
        if coalesce is not None:
            for old in [e for e in self._entries.values() if e.coalesce == coalesce]:
                self._remove(old.seq)
                self.superseded += 1
        self.last_seq += 1
        while self._entries and (
            len(self._entries) >= self.max_events or self._nbytes + nbytes > self.max_bytes
        ):
            oldest = next(iter(self._entries.values()))
            self._remove(oldest.seq)
            if not oldest.sent:
                self.lost += 1
        entry = BacklogEntry(self.last_seq, encode(self.last_seq, self.lost), nbytes, coalesce)
        self._entries[entry.seq] = entry
        self._nbytes += nbytes
        return entry

    def _remove(self, seq: int) -> None:
        entry = self._entries.pop(seq)
        self._nbytes -= entry.nbytes

    def ack(self, seq: int) -> int:
        """Forget every event up to ``seq`` (the client applied them); returns how many."""
        done = [s for s in self._entries if s <= seq]
        for s in done:
            self._remove(s)
        return len(done)

    def rewind(self, last_seq: int) -> None:
        """A client (re)connected having applied up to ``last_seq``: resend everything after it."""
        self.ack(last_seq)
        for entry in self._entries.values():
            entry.sent = False

    def unsent(self) -> Iterator[BacklogEntry]:
        """Entries not yet handed to the socket, oldest first."""
        return (e for e in list(self._entries.values()) if not e.sent)

    @property
    def has_unsent(self) -> bool:
        return any(not e.sent for e in self._entries.values())
