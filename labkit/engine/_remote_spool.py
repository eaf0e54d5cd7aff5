"""Spooling for remote clients: a spooler beside the engine (:class:`SpoolService`) and its
stand-in in the client (:class:`RemoteSpool`, ``scope.spool`` of a remote TCP scope).

The series is written on the engine's machine from the engine's ring, so the link's speed never
costs a spooled frame. A remote client names a series (a name, or a relative path under the
engine's spool directory); it never chooses a directory of the engine's machine (the directory
pattern is the engine operator's), so no peer makes the engine write an arbitrary path. Progress
reaches the client as ``spool`` events; :class:`RemoteSpool` turns them into the listener calls
the spool panel expects, so ``scope.dashboard()`` shows a working spool panel remotely too.
"""

from __future__ import annotations

import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from labkit.buffers import RingReader, TraceReader
from labkit.engine._engine import Engine
from labkit.engine._proxy import DeviceProxy
from labkit.engine._spool_host import ScopeSpoolHost
from labkit.engine._streams import StreamInfo

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

__all__ = ["EngineView", "RemoteSpool", "RemoteSpoolHandle", "SpoolService"]

# what a remote client may call on the engine's SpoolController (``spool.call``)
_METHODS = frozenset(
    {"get_settings", "update_settings", "get_free_space", "estimate_spool_time",
     "supported_compression"}
)  # fmt: skip
_PROPERTIES = frozenset({"series_name", "dirname", "dir_pattern", "available_spool_methods"})


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


def _series_name(fn: str) -> PurePosixPath:
    path = PurePosixPath(fn)
    if not path.parts or path.is_absolute() or ".." in path.parts:
        raise ValueError(
            f"a remote client names a series (a name, or a relative path under the engine's spool "
            f"directory such as 'beads/run1'), not a path of the engine's machine; got {fn!r}"
        )
    return path


class SpoolService:
    """The engine-side spooler of a served engine: ``spool.*`` commands."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._spool: Any = None
        self._lock = threading.Lock()

    def controller(self) -> Any:
        with self._lock:
            if self._spool is None:
                from labkit.spool import SpoolController

                host = ScopeSpoolHost(EngineView(self._engine))  # type: ignore[arg-type]
                self._spool = SpoolController(host)  # type: ignore[arg-type]
            return self._spool

    def close(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.close()

    def start(
        self, fn: str | None = None, settings: dict | None = None, preflight_mode: str = "abort"
    ) -> dict[str, Any]:
        if preflight_mode == "interactive":
            raise ValueError(
                "preflight_mode='interactive' needs a dialog on the engine's machine; use "
                "'abort', 'warn' or 'skip' from a remote client"
            )
        controller = self.controller()
        path = None if fn is None else Path(controller.dirname) / _series_name(fn)
        return self._describe(controller.start(path, settings, preflight_mode))

    def _describe(self, handle: Any) -> dict[str, Any]:
        return {
            "series": handle.series_name,
            "path": str(handle.path),
            "progress": handle.progress.to_dict(),
            "traces": handle.traces,
        }

    def _handle(self) -> Any:
        handle = self.controller().handle
        if handle is None:
            raise LookupError("no series was started on this engine yet; start one first")
        return handle

    def progress(self) -> dict[str, Any]:
        return self._describe(self._handle())

    def stop(self, timeout_s: float = 60.0) -> dict[str, Any] | None:
        handle = self.controller().handle
        if handle is None:
            return None
        handle.stop(timeout_s)
        return self._describe(handle)

    def wait(self, timeout_s: float | None = None) -> dict[str, Any]:
        handle = self._handle()
        handle.wait(timeout_s)
        return self._describe(handle)

    def call(self, name: str, args: list | None = None, kwargs: dict | None = None) -> Any:
        """A method or property of the controller that a remote panel needs (nothing that
        chooses a path: ``dir_pattern`` is read-only from here)."""
        controller = self.controller()
        if name in _PROPERTIES:
            return getattr(controller, name)
        if name not in _METHODS:
            raise PermissionError(
                f"spool.{name} is not available to remote clients; they may call "
                f"{', '.join(sorted(_METHODS | _PROPERTIES))}"
            )
        result = getattr(controller, name)(*(args or ()), **(kwargs or {}))
        if isinstance(result, dict) and result.get("protocol") is not None:
            result["protocol"] = repr(result["protocol"])  # callables stay on this machine
        return result


class RemoteSpoolHandle:
    """A series written on the engine's machine: ``progress``, ``wait()``, ``stop()`` as a local
    :class:`~labkit.spool.SpoolHandle` (each one call); ``path`` is on the engine's machine."""

    def __init__(self, spool: RemoteSpool, described: dict[str, Any]) -> None:
        self._spool = spool
        self._update(described)

    def _update(self, described: dict[str, Any] | None) -> Any:
        from labkit.spool import SpoolProgress

        if described is not None:
            self.series_name = str(described["series"])
            self.path = Path(described["path"])
            self.last = SpoolProgress(**described["progress"])
            self.traces = dict(described.get("traces") or {})
        return self.last

    @property
    def progress(self) -> Any:
        """The series' :class:`~labkit.spool.SpoolProgress` now."""
        return self._update(self._spool._remote("spool.progress"))

    @property
    def state(self) -> str:
        return str(self.progress.state)

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "cancelled")

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the series ends; its final progress (the engine's error is raised)."""
        return self._update(self._spool._remote("spool.wait", timeout_s=timeout))

    def stop(self, timeout: float = 60.0) -> Any:
        """End the series early on the engine; its final progress."""
        return self._update(self._spool._remote("spool.stop", timeout_s=timeout))

    def __repr__(self) -> str:
        return f"<RemoteSpoolHandle {self.series_name} {self.last.state} -> {self.path} (engine)>"


class _Streams:
    """``host.streams()`` for the spool panel: the remote scope's streams."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def streams(self) -> dict[str, StreamInfo]:
        return self._scope.streams


class RemoteSpool:
    """``scope.spool`` of a remote TCP scope: the spooler runs beside the engine.

    The API of :class:`~labkit.spool.SpoolController` that a notebook and the spool panel use:
    ``start(fn=None, settings=None, preflight_mode="abort", **settings)`` (``fn``: a series name
    or a relative path under the engine's spool directory) returns a :class:`RemoteSpoolHandle`;
    ``stop()``, ``get_settings()``, ``update_settings()``, ``estimate_spool_time()``,
    ``get_free_space()``, ``supported_compression()``, ``series_name``, ``dirname``,
    ``dir_pattern`` (read-only: the engine operator's), ``add_listener(fn)`` (``fn(progress)``
    from the engine's ``spool`` events).
    """

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self.host = _Streams(scope)
        self._lock = threading.Lock()
        self._listeners: list[Any] = []
        self.handle: RemoteSpoolHandle | None = None

    def _remote(self, method: str, **params: Any) -> Any:
        return self._scope._call(method, **params)

    def _controller(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._remote("spool.call", name=name, args=list(args), kwargs=kwargs)

    def start(
        self,
        fn: str | None = None,
        settings: dict[str, Any] | None = None,
        preflight_mode: str = "abort",
        *,
        confirm: Any = None,
        **kw: Any,
    ) -> RemoteSpoolHandle:
        """Start a series on the engine; its handle (``confirm`` needs the engine's machine:
        ``preflight_mode="interactive"`` raises ``ValueError``)."""
        described = self._remote(
            "spool.start", fn=None if fn is None else str(fn), settings={**(settings or {}), **kw},
            preflight_mode=preflight_mode,
        )  # fmt: skip
        with self._lock:
            self.handle = RemoteSpoolHandle(self, described)
            return self.handle

    def stop(self, timeout: float = 60.0) -> Any:
        """Stop the running series on the engine; its final progress (None if none ran)."""
        described = self._remote("spool.stop", timeout_s=timeout)
        if described is None:
            return None
        if self.handle is None:
            self.handle = RemoteSpoolHandle(self, described)
        return self.handle._update(described)

    def get_settings(self) -> dict[str, Any]:
        return dict(self._controller("get_settings"))

    def update_settings(self, settings: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return dict(self._controller("update_settings", {**(settings or {}), **kw}))

    def estimate_spool_time(self, **overrides: Any) -> float | None:
        return self._controller("estimate_spool_time", **overrides)

    def get_free_space(self) -> float:
        return float(self._controller("get_free_space"))

    def supported_compression(self, method: str | None = None) -> list[str]:
        return list(self._controller("supported_compression", method))

    @property
    def available_spool_methods(self) -> list[str]:
        return list(self._controller("available_spool_methods"))

    @property
    def series_name(self) -> str:
        return str(self._controller("series_name"))

    @property
    def dirname(self) -> str:
        return str(self._controller("dirname"))

    @property
    def dir_pattern(self) -> str:
        return str(self._controller("dir_pattern"))

    @dir_pattern.setter
    def dir_pattern(self, value: str) -> None:
        raise PermissionError(
            "the spool directory of a remote engine is chosen where it runs; name the series "
            "instead (scope.spool.start('beads/run1'))"
        )

    def add_listener(self, fn: Any) -> None:
        """``fn(progress_dict)`` on every ``spool`` event of the engine (the scope's event thread)."""
        with self._lock:
            if not self._listeners:
                self._scope.subscribe(self._on_event)
            self._listeners.append(fn)

    def remove_listener(self, fn: Any) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)
                if not self._listeners:
                    self._scope.unsubscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if event.topic == "spool" and isinstance(event.payload, dict):
            for fn in list(self._listeners):
                fn(event.payload)

    def close(self) -> None:
        """Drop the listeners; a series keeps recording on the engine."""
        with self._lock:
            if self._listeners:
                self._listeners.clear()
                self._scope.unsubscribe(self._on_event)
