"""Adapter giving the spooler (``labkit.spool.SpoolController``) what it needs from a Scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.buffers import RingReader

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

__all__ = ["ScopeSpoolHost"]


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

    def open_reader(self, name: str) -> RingReader:
        return self._scope.open_reader(name=name)

    def frame_rate_hz(self) -> float:
        return float(self._scope.camera.frame_rate_hz)

    def device_settings(self) -> dict:
        return self._scope._call("device_settings")

    def move_stage(self, z_um: float, wait: bool = True) -> None:
        self._scope._call("move_stage", z_um=float(z_um), wait=bool(wait))

    def set_property(self, device: str, name: str, value: Any) -> None:
        self._scope._call("set_property", device=device, name=name, value=value)

    def emit(self, topic: str, payload: dict) -> None:
        self._scope._publish(topic, payload)

    def pixel_size_um(self) -> float:
        return float(self._scope.camera.pixel_size_um)
