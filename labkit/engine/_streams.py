"""Streams: every data source of an engine, by name, with a typed descriptor.

A camera's frame ring, a signal's trace buffer and a node's output are all streams. A stream's
``buffer`` names the shared-memory segment to attach (a :class:`~labkit.buffers.FrameRing` for
``frames``, a :class:`~labkit.buffers.TraceBuffer` for ``trace``); it changes when a camera's shape
changes (a ``ring`` event says so).
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

__all__ = ["StreamInfo", "StreamTable"]

KINDS = ("frames", "trace", "table")


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a stream carries and where to read it.

    ``shape``/``dtype`` describe one frame (``frames``); ``channels`` name the columns of a
    ``trace``. ``rate_hz`` is the nominal rate (frames or samples per second), ``owner`` the device
    or node that writes it, ``buffer`` the shared-memory segment to attach.
    """

    name: str
    kind: str
    owner: str
    buffer: str
    shape: tuple[int, ...] = ()
    dtype: str = ""
    channels: tuple[str, ...] = ()
    rate_hz: float = 0.0
    units: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-able (tuples as lists, as they arrive over the wire)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in msgspec.to_builtins(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamInfo:
        return msgspec.convert(data, cls)


class StreamTable:
    """The streams of one engine (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, StreamInfo] = {}

    def put(self, info: StreamInfo) -> bool:
        """Add or update a stream; True if anything changed.

        Raises:
            ValueError: an unknown kind, or a name another owner's stream already has.
        """
        if info.kind not in KINDS:
            raise ValueError(f"stream kind must be one of {KINDS}, got {info.kind!r}")
        with self._lock:
            old = self._streams.get(info.name)
            if old is not None and old.owner != info.owner:
                raise ValueError(
                    f"a stream named {info.name!r} already exists (from {old.owner!r}); "
                    "choose another name"
                )
            self._streams[info.name] = info
            return old != info

    def remove(self, name: str) -> bool:
        with self._lock:
            return self._streams.pop(name, None) is not None

    def get(self, name: str) -> StreamInfo:
        """Raises ``LookupError`` naming the streams there are."""
        with self._lock:
            info = self._streams.get(name)
            if info is None:
                known = ", ".join(self._streams) or "none"
                raise LookupError(f"no stream named {name!r}; streams: {known}")
            return info

    def all(self) -> dict[str, StreamInfo]:
        with self._lock:
            return dict(self._streams)
