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
from labkit.engine._proxy import DeviceProxy
from labkit.engine._spool_host import ScopeSpoolHost
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
        """The newest frame if it is newer than ``index`` (None otherwise)."""
        try:
            reader = self._current()
            if index is not None and reader.lag == 0:
                return None
            return reader.latest(copy=True)
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


class EngineView:
    """The part of a Scope that :class:`ScopeSpoolHost` uses, over an engine in this process."""

    mode = "engine"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._proxies = {
            name: DeviceProxy(self, name, desc)  # type: ignore[arg-type]
            for name, desc in engine.dispatch("describe", {}).items()
        }

    def _call(self, method: str, **params: Any) -> Any:
        return self._engine.dispatch(method, params)

    def _publish(self, topic: str, payload: Any) -> None:
        self._engine.emit(topic, payload)

    @property
    def streams(self) -> dict[str, StreamInfo]:
        return self._engine.streams.all()

    @property
    def ring_name(self) -> str | None:
        return next((s.buffer for s in self.streams.values() if s.kind == "frames"), None)

    @property
    def devices(self) -> dict[str, DeviceProxy]:
        return dict(self._proxies)

    @property
    def camera(self) -> DeviceProxy:
        return next(p for p in self._proxies.values() if p.kind == "camera")

    def open_reader(self, stream: str | None = None, *, name: str = "") -> RingReader:
        buffer = self.ring_name if stream is None else self._engine.streams.get(stream).buffer
        if buffer is None:
            raise LookupError("the engine has no frames stream")
        return RingReader.attach(buffer, name)

    def open_trace_reader(self, stream: str) -> TraceReader:
        return TraceReader.attach(self._engine.streams.get(stream).buffer)


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
        self._spool: Any = None

    def close(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.close()
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

    def _controller(self) -> Any:
        if self._spool is None:
            from labkit.spool import SpoolController

            self._spool = SpoolController(ScopeSpoolHost(EngineView(self._engine)))  # type: ignore[arg-type]
        return self._spool

    def _export(self) -> dict[str, Any]:
        return {"address": self.streams.address}

    def _spool_start(self, fn: str | None = None, settings: dict | None = None,
                     preflight_mode: str = "abort") -> dict[str, Any]:  # fmt: skip
        if preflight_mode == "interactive":
            raise ValueError(
                "preflight_mode='interactive' needs a dialog on the engine's machine; use "
                "'abort', 'warn' or 'skip' from a remote client"
            )
        handle = self._controller().start(fn, settings, preflight_mode)
        return self._describe(handle)

    def _describe(self, handle: Any) -> dict[str, Any]:
        return {
            "series": handle.series_name,
            "path": str(handle.path),
            "progress": handle.progress.to_dict(),
            "traces": handle.traces,
        }

    def _handle(self) -> Any:
        handle = self._controller().handle
        if handle is None:
            raise LookupError("no series was started on this engine yet; spool.start first")
        return handle

    def _spool_progress(self) -> dict[str, Any]:
        return self._describe(self._handle())

    def _spool_stop(self, timeout_s: float = 60.0) -> dict[str, Any]:
        handle = self._handle()
        handle.stop(timeout_s)
        return self._describe(handle)

    def _spool_wait(self, timeout_s: float | None = None) -> dict[str, Any]:
        handle = self._handle()
        handle.wait(timeout_s)
        return self._describe(handle)

    def _trace(self, stream: str, last: int | None = None) -> dict[str, Any]:
        with EngineView(self._engine).open_trace_reader(stream) as reader:
            t, v = reader.latest(last if last is not None else reader._buffer.capacity)
            return {"t": t, "v": v, "channels": list(reader.channels)}

    def _spool_settings(self, update: dict | None = None) -> dict[str, Any]:
        controller = self._controller()
        settings = controller.update_settings(update) if update else controller.get_settings()
        if settings.get("protocol") is not None:  # callables stay on this machine
            settings["protocol"] = repr(settings["protocol"])
        return settings


_COMMANDS: dict[str, Callable[..., Any]] = {
    "remote.export": RemoteServices._export,
    "remote.trace": RemoteServices._trace,
    "spool.start": RemoteServices._spool_start,
    "spool.progress": RemoteServices._spool_progress,
    "spool.stop": RemoteServices._spool_stop,
    "spool.wait": RemoteServices._spool_wait,
    "spool.settings": RemoteServices._spool_settings,
}
