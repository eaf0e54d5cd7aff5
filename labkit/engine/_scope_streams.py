"""What a Scope knows of its engine's streams, and how it opens them in this process.

``scope.streams`` lists every stream; ``scope.open_reader(name="camera2")`` attaches a reader to any of
them (frames: a :class:`~labkit.buffers.RingReader`, traces: a
:class:`~labkit.buffers.TraceReader`); ``scope.traces["signal"]`` is a trace's buffered rows as an
``xr.DataArray (time, channel)``. Streams live in shared memory, so readers work on the engine's
machine, in any mode; a scope connected to a TCP engine reads them over the network instead
(``_remote_client.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from labkit.buffers import RingError, RingReader, TraceReader
from labkit.engine._state import EngineStateError
from labkit.engine._streams import StreamInfo

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from labkit.engine._scope import Scope

__all__ = ["StreamAccess", "Traces"]


class StreamAccess:
    """The streams of one scope's engine (kept current from ``streams`` and ``ring`` events)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._lock = threading.Lock()
        self._streams: dict[str, StreamInfo] = {}
        #: ``streams`` and ``ring`` events applied so far (see :meth:`replace`)
        self.events = 0

    def replace(self, data: dict[str, Any], events_seen: int | None = None) -> None:
        """Take the streams of a ``streams`` event (``events_seen`` None) or of a reply.

        A reply's list is stale when a stream event came after its call was sent
        (``events_seen``: :attr:`events` then): the engine sends the reply and then the event of
        a change right after it (a function node's first output), and the I/O thread may apply
        the event before the caller's thread gets to the reply. Every change has its event, so
        skipping such a reply loses nothing.
        """
        with self._lock:
            if events_seen is None:
                self.events += 1
            elif events_seen != self.events:
                return
            self._streams = {n: StreamInfo.from_json(v) for n, v in data.items()}

    def ring_changed(self, payload: dict[str, Any]) -> None:
        name = payload.get("stream")
        with self._lock:
            self.events += 1
            old = self._streams.get(name) if name else None
            if old is not None:
                import msgspec

                self._streams[old.name] = msgspec.structs.replace(
                    old,
                    buffer=payload["ring_name"],
                    shape=tuple(payload.get("shape", old.shape)),
                    dtype=payload.get("dtype", old.dtype),
                )

    def all(self) -> dict[str, StreamInfo]:
        with self._lock:
            return dict(self._streams)

    def first(self, kind: str) -> str | None:
        """The buffer of the first stream of ``kind`` (the default camera or signal)."""
        with self._lock:
            return next((s.buffer for s in self._streams.values() if s.kind == kind), None)

    def info(self, stream: str | None, kind: str) -> StreamInfo:
        """The stream called ``stream`` (default: the first of ``kind``).

        Raises:
            EngineStateError: the engine is not running (no streams).
            LookupError: no such stream (the message lists them).
        """
        scope = self._scope
        if scope._host is None:
            raise EngineStateError(
                f"no streams while the engine is {scope.state.value!r}; restart() it", scope.state
            )
        streams = self.all()
        if stream is None:
            found = next((s for s in streams.values() if s.kind == kind), None)
            if found is None:
                raise LookupError(f"this scope has no {kind} stream; streams: {_names(streams)}")
            return found
        if not isinstance(stream, str) or stream not in streams:
            raise LookupError(
                f"no stream named {stream!r}; streams: {_names(streams)} (name a reader with "
                f"open_reader(stream, name=...))"
            )
        return streams[stream]

    def _network(self) -> Any:
        """The stream link of a remote TCP engine (None: streams are in shared memory)."""
        return getattr(self._scope._host, "streams", None)

    def open_reader(self, stream: str | None = None, name: str = "") -> Any:
        info = self.info(stream, "frames")
        network = self._network()
        if network is not None and network.mode == "network":
            return network.open(info, name)
        try:
            if info.kind == "frames":
                return RingReader.attach(info.buffer, name)
            return TraceReader.attach(info.buffer)
        except RingError as exc:
            if network is not None and network.mode == "auto":  # another machine's engine
                return network.open(info, name)
            if self._scope.mode == "remote":
                exc.add_note(
                    "streams are shared through memory: readers work only on the machine that "
                    f"runs the engine at {self._scope.engine_address}"
                )
            raise

    def open_trace_reader(self, stream: str | None = None) -> TraceReader:
        info = self.info(stream, "trace")
        if info.kind != "trace":
            raise LookupError(f"stream {info.name!r} carries {info.kind}, not a trace")
        network = self._network()
        if network is not None and network.mode == "network":
            return network.open(info)
        try:
            return TraceReader.attach(info.buffer)
        except RingError:
            if network is None or network.mode != "auto":
                raise
            return network.open(info)

    def trace(self, stream: str, last: int | None = None) -> xr.DataArray:
        """The rows a trace stream holds (the newest ``last``) as ``xr.DataArray (time, channel)``."""
        import xarray as xr

        if self._network() is not None:  # rows held by the engine's buffer, in one call
            rows = self._scope._call("remote.trace", stream=stream, last=last)
            t, v, channels = rows["t"], rows["v"], list(rows["channels"])
        else:
            with self.open_trace_reader(stream) as reader:
                t, v = reader.latest(last if last is not None else reader._buffer.capacity)
                channels = list(reader.channels)
        return xr.DataArray(
            v, dims=("time", "channel"), coords={"time": t, "channel": channels}, name=stream,
            attrs={"time_units": "s (time.time())", "stream": stream},
        )  # fmt: skip


class Traces(Mapping[str, "xr.DataArray"]):
    """``scope.traces[name]``: every trace stream as ``xr.DataArray (time, channel)``."""

    def __init__(self, access: StreamAccess) -> None:
        self._access = access

    def _names(self) -> list[str]:
        return [n for n, s in self._access.all().items() if s.kind == "trace"]

    def __getitem__(self, name: str) -> xr.DataArray:
        if name not in self._names():
            raise KeyError(
                f"no trace stream {name!r}; traces: {', '.join(self._names()) or 'none'}"
            )
        return self._access.trace(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"<traces {', '.join(self._names()) or 'none'}>"


def _names(streams: dict[str, StreamInfo]) -> str:
    return ", ".join(f"{n} ({s.kind})" for n, s in streams.items()) or "none"
