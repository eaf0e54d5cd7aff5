"""What type checkers and IDEs see of ``scope.camera``, ``scope.stage`` and ``scope.signal``.

At run time these are :class:`~labkit.engine.DeviceProxy` objects whose attributes are found
dynamically (one RPC per property). These Protocols describe the members every camera, stage and
signal proxy has (the :mod:`labkit.devices` protocols, seen through the engine), so
``scope.camera.exposure = 10`` (misspelt) or ``scope.camera.exposure_ms = "10"`` is reported before
it runs. A driver's own properties and actions are reached through ``scope.devices[name]``
(a :class:`~labkit.engine.DeviceProxy`, dynamically typed) or ``proxy.call_action``.
A test checks every member here against the real proxies of the simulated devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from labkit.devices import ActionSpec, PropertySpec

__all__ = ["CameraProxy", "DeviceProxyLike", "SignalProxy", "StageProxy"]


class DeviceProxyLike(Protocol):
    """The members of every device proxy."""

    @property
    def name(self) -> str:
        """The device's name in the engine."""
        ...

    @property
    def kind(self) -> str:
        """``"camera"``, ``"stage"``, ``"signal"``, or the driver's own kind."""
        ...

    def describe(self) -> dict[str, Any]:
        """``{"name", "kind", "properties", "values", "actions"}`` from the engine."""
        ...

    def values(self) -> dict[str, Any]:
        """Current values of every property (one RPC)."""
        ...

    def property_specs(self) -> dict[str, PropertySpec]:
        """``{name: PropertySpec}``: units, limits, choices, read-only flag."""
        ...

    def action_specs(self) -> dict[str, ActionSpec]:
        """``{name: ActionSpec}`` of the device's actions."""
        ...

    def call_action(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        progress: Callable[[float, str], Any] | None = None,
    ) -> Any:
        """Run action ``name`` in the engine; ``progress(fraction, message)`` as it reports."""
        ...


class CameraProxy(DeviceProxyLike, Protocol):
    """``scope.camera``: settings are validated in the engine (``PropertyLimitError`` names the
    limit); ``snap()`` returns one frame as ``xr.DataArray`` (y, x) with coords in µm."""

    exposure_ms: float
    frame_rate_hz: float
    roi: tuple[int, int, int, int]
    binning: int
    bit_depth: int

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape (h, w) in px after ROI and binning."""
        ...

    @property
    def dtype(self) -> str:
        """Pixel dtype (numpy name, e.g. ``"uint16"``)."""
        ...

    @property
    def pixel_size_um(self) -> float:
        """µm per pixel in the sample plane."""
        ...

    def snap(self) -> xr.DataArray:
        """One frame (y, x), coords in µm, exposure and stage position in its attrs."""
        ...


class StageProxy(DeviceProxyLike, Protocol):
    """``scope.stage``: ``x_um``/``y_um``/``z_um`` are targets; ``position()`` is where it is."""

    x_um: float
    y_um: float
    z_um: float
    speed_um_s: float

    def move(
        self,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        wait: bool = False,
        timeout_s: float = 30.0,
    ) -> tuple[float, float, float]:
        """Start a move to absolute targets in µm (``wait=True``: until it arrives)."""
        ...

    def position(self) -> tuple[float, float, float]:
        """Actual (x, y, z) in µm now."""
        ...

    def wait(self, timeout_s: float = 30.0) -> tuple[float, float, float]:
        """Block until the stage stops; returns the position in µm."""
        ...

    def is_moving(self) -> bool:
        """True while a move is under way."""
        ...


class SignalProxy(DeviceProxyLike, Protocol):
    """``scope.signal``: samples stream into a trace buffer (``scope.open_trace_reader()``)."""

    sample_rate_hz: float

    @property
    def channels(self) -> tuple[str, ...]:
        """The names of the signal's channels (columns of its trace)."""
        ...
