"""What a ``labkit engine`` on TCP adds for remote clients: its streams exported over the network
(:class:`~labkit.rpc.StreamServer`, same CURVE keys as the engine's RPC socket) and a spooler that
runs beside the engine, driven by ``spool.*`` commands.

Frames and rows are read here, on the engine's machine, by readers of the engine's rings and trace
buffers; each subscription has its own reader, reopened by stream name when the engine makes a new
ring (a new camera shape, a restart). The spooler reads the ring here too, so a slow or broken link
costs display frames only, never spool frames.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import RingError, RingReader, TraceReader
from labkit.engine._engine import Engine
from labkit.engine._remote_spool import SpoolService
from labkit.engine._streams import StreamInfo
from labkit.rpc import ServerKeys
from labkit.rpc._stream_server import StreamServer

log = logging.getLogger(__name__)

__all__ = ["EngineExportSource", "RemoteServices"]


class EngineExportSource:
    """One engine stream as the export server reads it, reopened when its buffer changes."""

    def __init__(self, engine: Engine, stream: str, reader_name: str) -> None:
        self._engine, self.stream, self._reader_name = engine, stream, reader_name
        self.info: StreamInfo = engine.streams.get(stream)  # LookupError names the streams
        if self.info.kind not in ("frames", "trace"):
            raise LookupError(f"stream {stream!r} carries {self.info.kind}: not exported")
        self.kind = self.info.kind
        self.channels = tuple(self.info.channels)
        self._reader: Any = None
        self._buffer: str | None = None

    def _current(self) -> Any:
        info = self._engine.streams.get(self.stream)
        if info.buffer != self._buffer:
            self.close()
            if self.kind == "frames":
                self._reader = RingReader.attach(info.buffer, self._reader_name)
            else:
                self._reader = TraceReader.attach(info.buffer)
            self._buffer, self.info = info.buffer, info
        return self._reader

    def latest_after(self, index: int | None) -> Any:
        """The newest frame if it is newer than ``index`` (None otherwise): a zero-copy view of
        its ring slot, checked with ``is_intact()`` by the server once it encoded it."""
        try:
            reader = self._current()
            if index is not None and reader.lag == 0:
                return None
            return reader.latest(copy=False)
        except RingError:  # the ring was replaced: reopen on the next call
            self.close()
            return None

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        try:
            return self._current().read_new()
        except RingError:
            self.close()
            return np.empty(0), np.empty((0, max(1, len(self.channels)))), 0

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "info": self.info.to_json()}

    def close(self) -> None:
        reader, self._reader, self._buffer = self._reader, None, None
        if reader is not None:
            reader.close()


class RemoteServices:
    """The stream export and the engine-side spooler of one served engine.

    Args:
        engine: the served engine.
        address: ``tcp://HOST:0`` for the export socket (the RPC socket's host).
        keys: the RPC server's keys (clients reuse its connection file).
        public_host: host name clients use.
    """

    def __init__(
        self, engine: Engine, address: str, keys: ServerKeys, public_host: str | None = None
    ) -> None:
        self._engine = engine
        self.streams = StreamServer(
            address,
            lambda stream, reader: EngineExportSource(engine, stream, reader),
            keys=keys,
            public_host=public_host,
        ).start()
        self.spool = SpoolService(engine)

    def close(self) -> None:
        self.spool.close()
        self.streams.stop()

    def health(self, figures: dict[str, Any]) -> dict[str, Any]:
        """The engine's health with each remote subscription's figures among the readers."""
        readers = dict(figures.get("readers", {}))
        readers.update(self.streams.figures())
        return {**figures, "readers": readers}

    # -- commands --------------------------------------------------------------------------------

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        """Run ``remote.*`` and ``spool.*`` commands.

        Raises:
            LookupError: an unknown one (naming those there are).
        """
        handler = _COMMANDS.get(method)
        if handler is None:
            raise LookupError(
                f"unknown remote command {method!r}; known: {', '.join(sorted(_COMMANDS))}"
            )
        return handler(self, **params)

    def _export(self) -> dict[str, Any]:
        return {"address": self.streams.address}

    def _trace(self, stream: str, last: int | None = None) -> dict[str, Any]:
        with TraceReader.attach(self._engine.streams.get(stream).buffer) as reader:
            t, v = reader.latest(last if last is not None else reader._buffer.capacity)
            return {"t": t, "v": v, "channels": list(reader.channels)}


_COMMANDS: dict[str, Callable[..., Any]] = {
    "remote.export": lambda self, **p: self._export(**p),
    "remote.trace": lambda self, **p: self._trace(**p),
    "spool.start": lambda self, **p: self.spool.start(**p),
    "spool.progress": lambda self, **p: self.spool.progress(**p),
    "spool.stop": lambda self, **p: self.spool.stop(**p),
    "spool.wait": lambda self, **p: self.spool.wait(**p),
    "spool.call": lambda self, **p: self.spool.call(**p),
}
