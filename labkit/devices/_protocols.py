"""The small seams the engine codes against: :class:`Camera`, :class:`Stage`, :class:`Signal`.

They are ``runtime_checkable`` typing Protocols, so ``isinstance(dev, Camera)`` checks that the
members exist (not their signatures). Any class with these members works; subclassing
:class:`~labkit.devices.Device` gives the property machinery for free.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from labkit.devices._property import PropertySpec

__all__ = ["Camera", "Signal", "Stage"]


@runtime_checkable
class _DeviceLike(Protocol):
    name: str

    def property_specs(self) -> dict[str, PropertySpec]: ...
    def get(self, name: str) -> Any: ...
    def set(self, name: str, value: Any) -> Any: ...
    def describe(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


@runtime_checkable
class Camera(_DeviceLike, Protocol):
    """A frame source the engine paces at ``frame_rate_hz``.

    ``render_into(out)`` fills a preallocated array of ``shape``/``dtype`` (a ring slot) and
    returns metadata ``{"exposure_ms", "z_um", "x_um", "y_um", "timestamp_s"}``
    (``timestamp_s`` is ``time.time()``); ``snap()`` allocates and returns ``(array, meta)``.
    """

    exposure_ms: float
    frame_rate_hz: float
    roi: tuple[int, int, int, int]
    binning: int
    bit_depth: int
    shape: tuple[int, int]
    dtype: str
    pixel_size_um: float

    def snap(self) -> tuple[np.ndarray, dict[str, float]]: ...
    def render_into(self, out: np.ndarray) -> dict[str, float]: ...


@runtime_checkable
class Stage(_DeviceLike, Protocol):
    """An XYZ stage: ``x_um``/``y_um``/``z_um`` are targets; ``position()`` is where it is now."""

    x_um: float
    y_um: float
    z_um: float
    speed_um_s: float

    def position(self) -> tuple[float, float, float]: ...
    def move(
        self, x: float | None = None, y: float | None = None, z: float | None = None
    ) -> None: ...
    def wait(self, timeout_s: float | None = None) -> None: ...
    def is_moving(self) -> bool: ...


@runtime_checkable
class Signal(_DeviceLike, Protocol):
    """A multi-channel sampled signal; ``read()`` returns the samples produced since the last read.

    Returns ``(timestamps_s (n,), values (n, len(channels)) float64)``.
    """

    channels: tuple[str, ...]
    sample_rate_hz: float

    def read(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...
