"""Adapter giving the spooler (``labkit.spool.SpoolController``) what it needs from a Scope."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from labkit.buffers import RingReader, TraceReader
from labkit.engine import events
from labkit.engine._commands import NoParams
from labkit.engine._streams import StreamInfo

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._engine import Engine
    from labkit.engine._proxy_types import CameraProxy
    from labkit.engine._scope import Scope

__all__ = ["EngineSpoolHost", "ScopeSpoolHost", "spool_for"]


def spool_for(scope: Scope) -> Any:
    """The spooler of ``scope``: a :class:`labkit.spool.SpoolController` on this machine, or for
    a remote TCP engine a :class:`~labkit.engine.RemoteSpool` (it records beside the engine)."""
    if getattr(scope._host, "streams", None) is not None:
        from labkit.engine._remote_spool import RemoteSpool

        return RemoteSpool(scope)
    return importlib.import_module("labkit.spool").SpoolController(ScopeSpoolHost(scope))


class ScopeSpoolHost:
    """Implements the ``SpoolHost`` protocol of docs/internals.md on top of a :class:`Scope`."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    @property
    def ring_name(self) -> str:
        name = self._scope.ring_name
        if name is None:
            raise RuntimeError("the scope has no frame ring (closed or failed); restart() it")
        return name

    def streams(self) -> dict[str, StreamInfo]:
        return self._scope.streams

    def open_reader(self, name: str, stream: str | None = None) -> RingReader:
        """A reader of the frames stream ``stream`` (default: the first camera)."""
        return self._scope.open_reader(stream, name=name)

    def open_trace_reader(self, stream: str) -> TraceReader:
        return self._scope.open_trace_reader(stream)

    def _camera(self, stream: str | None) -> CameraProxy | None:
        """The camera device writing ``stream`` (None: a node's frames, no device of its own)."""
        if stream is None:
            return self._scope.camera
        owner = self._scope.devices.get(self._scope.streams[stream].owner)
        return owner if owner is not None and owner.kind == "camera" else None

    def frame_rate_hz(self, stream: str | None = None) -> float:
        camera = self._camera(stream)
        if camera is None:
            assert stream is not None
            return float(self._scope.streams[stream].rate_hz)
        return float(camera.frame_rate_hz)

    def device_settings(self) -> dict:
        return self._scope._call("device_settings")

    def move_stage(self, z_um: float, wait: bool = True) -> None:
        self._scope._call("move_stage", z_um=float(z_um), wait=bool(wait))

    def set_property(self, device: str, name: str, value: Any) -> None:
        self._scope._call("set_property", device=device, name=name, value=value)

    def emit(self, topic: str, payload: dict) -> None:
        """Publish a scope event (checked against its Struct in :mod:`labkit.engine.events`)."""
        self._scope._publish(topic, events.to_payload(topic, payload))

    def pixel_size_um(self, stream: str | None = None) -> float:
        """µm per pixel; 1.0 for a node's frames (a downsampled stream is recorded in pixels)."""
        camera = self._camera(stream)
        return 1.0 if camera is None else float(camera.pixel_size_um)


class EngineSpoolHost:
    """The ``SpoolHost`` protocol inside the engine's own process (a script's spool step)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        ring = engine.ring
        if ring is None:
            raise RuntimeError("the engine has no camera ring")
        self.ring_name: str = ring.name

    def open_reader(self, name: str) -> RingReader:
        return RingReader.attach(self.ring_name, name=name)

    def frame_rate_hz(self) -> float:
        return float(self._camera().frame_rate_hz)

    def _camera(self) -> Any:
        camera = self._engine.camera
        if camera is None:
            raise RuntimeError("the engine has no camera")
        return camera

    def device_settings(self) -> dict:
        return self._engine.cmd_device_settings(NoParams())

    def move_stage(self, z_um: float, wait: bool = True) -> None:
        stage = self._engine.stage
        stage.move(z=float(z_um))
        if wait:
            stage.wait(30.0)

    def set_property(self, device: str, name: str, value: Any) -> None:
        self._engine.device(device).set(name, value)

    def emit(self, topic: str, payload: dict) -> None:
        self._engine.emit(topic, payload)

    def pixel_size_um(self) -> float:
        return float(self._camera().pixel_size_um)
