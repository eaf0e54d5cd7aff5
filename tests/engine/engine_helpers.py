"""Helpers shared by the engine tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from labkit.engine import Scope

SHAPE = (128, 160)


def make_scope(mode: str, **kw) -> Scope:
    kw.setdefault("shape", SHAPE)
    kw.setdefault("ring_slots", 16)
    return Scope(mode=mode, **kw)


def wait_until(
    predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition"
) -> float:
    """Poll ``predicate`` until true; returns the seconds it took. Fails the test on timeout."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - t0


class Recorder:
    """Collects events delivered to a subscriber."""

    def __init__(self) -> None:
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def topic(self, topic: str) -> list:
        with self._lock:
            return [e for e in self.events if e.topic == topic]


# -- devices for failure tests (importable by the engine child process as engine_helpers:...) ------

from typing import Any, ClassVar  # noqa: E402

from labkit.devices import Device, prop  # noqa: E402
from labkit.devices.sim import SimCamera, default_devices  # noqa: E402


class FlakyHardwareError(Exception):
    """An exception type the wire registry does not know (arrives as RemoteError)."""


class FragileCamera(SimCamera):
    """A SimCamera whose stream breaks after ``fail_after_frames`` frames (0: never)."""

    fail_after_frames = prop(
        int, low=0, high=1_000_000, default=0, description="break the stream after n frames"
    )

    def render_into(self, out):
        limit = self.get("fail_after_frames")
        self.frames_rendered_here = getattr(self, "frames_rendered_here", 0) + 1
        if limit and self.frames_rendered_here > limit:
            raise FlakyHardwareError(f"camera cable unplugged after {limit} frames")
        return super().render_into(out)


class FaultyLaser(Device):
    """A device whose setter fails with an unregistered exception above 50 mW."""

    kind: ClassVar[str] = "laser"
    power_mw = prop(float, units="mW", low=0, high=100, default=0.0)

    def _apply(self, name: str, value: Any) -> None:
        if name == "power_mw" and value > 50:
            raise FlakyHardwareError(f"laser interlock open at {value} mW")


def faulty_devices(seed: int = 0, shape: tuple[int, int] = SHAPE) -> dict[str, Device]:
    devices = default_devices(seed=seed, shape=shape)
    devices["camera"].close()
    devices["camera"] = FragileCamera(
        "camera", seed=seed, sensor_shape=shape, stage=devices["stage"]
    )
    devices["laser"] = FaultyLaser("laser")
    return devices


def rig(seed: int = 0, shape: tuple[int, int] = SHAPE) -> dict[str, Device]:
    """The simulated rig (two cameras, signal, filter wheel, shutter, magnet) at test size."""
    from labkit.devices.sim import rig_devices

    return rig_devices(seed=seed, shape=shape)


def brighten(engine, gain: float = 2.0) -> float:
    """A user command: scale every camera's exposure by ``gain``; returns the first camera's."""
    for camera in engine.cameras.values():
        camera.exposure_ms = float(camera.exposure_ms) * gain
    return float(next(iter(engine.cameras.values())).exposure_ms)


def mean_node(frame, meta) -> dict:
    """A function node: the frame's mean and its top-left pixel."""
    return {"mean": float(frame.mean()), "corner": float(frame[0, 0])}
