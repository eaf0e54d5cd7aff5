"""Camera checks on their own: the Camera seam's members, frames exactly of ``shape``/``dtype``
(after every enum setting too), ``render_into`` filling the array it is given, wall-clock timestamps.

The engine sizes a camera's ring from ``shape``/``dtype`` and fills its slots with ``render_into``
on its acquisition thread; a frame of another size or type has nowhere to go.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from labkit.devices import Camera, PropertyError
from labkit.testing._conformance._base import (
    Problem,
    need,
    need_members,
    need_settable_numbers,
)

__all__ = [
    "CLOCK_FIX",
    "CLOCK_SLACK_S",
    "check_camera_members",
    "check_clock",
    "check_frame_timestamps",
    "check_meta",
    "check_render_into",
    "check_settings_sweep",
    "check_snap",
]

_META_KEYS = ("timestamp_s", "exposure_ms", "z_um", "x_um", "y_um")
CLOCK_SLACK_S = 5.0  # timestamps may lag or lead time.time() by this much (SDK clocks)
_MAX_CHOICES = 16  # enum settings with more choices are not swept
_SHAPE_FIX = (
    "compute shape and dtype from the same settings the frames come from (roi, binning, bit "
    "depth): the engine sizes its ring from them and writes every frame into a slot of that size"
)
CLOCK_FIX = "stamp each frame or sample with time.time() (seconds since the epoch) when it starts"

_CAMERA_MEMBERS = (
    "exposure_ms", "frame_rate_hz", "roi", "binning", "bit_depth", "shape", "dtype",
    "pixel_size_um", "snap", "render_into",
)  # fmt: skip


def check_meta(meta: Any, what: str) -> float:
    """``meta`` is a dict with a ``timestamp_s`` and numbers under the engine's keys; returns the
    timestamp."""
    need(
        isinstance(meta, dict),
        f"{what} returned {type(meta).__name__} as metadata",
        'return a dict such as {"timestamp_s": time.time(), "exposure_ms": ...}',
    )
    for key in _META_KEYS:
        value = meta.get(key)
        if value is not None:
            try:
                ok = math.isfinite(float(value))
            except (TypeError, ValueError):
                ok = False
            need(
                ok,
                f"{what} metadata {key}={value!r} is not a finite number",
                f"give {', '.join(_META_KEYS)} as numbers (or leave them out)",
            )
    need("timestamp_s" in meta, f"{what} metadata has no timestamp_s", CLOCK_FIX)
    return float(meta["timestamp_s"])


def check_clock(stamps: list[float], since: float, what: str) -> None:
    """Timestamps taken one after the other since ``since`` are wall-clock and go forward."""
    need(
        since - CLOCK_SLACK_S <= stamps[0] and stamps[-1] <= time.time() + CLOCK_SLACK_S,
        f"{what} stamped {stamps[-1]}, but time.time() is {time.time():.3f}",
        CLOCK_FIX,
    )
    need(
        stamps == sorted(stamps) and stamps[-1] > stamps[0],
        f"{len(stamps)} {what} in a row were stamped {stamps}",
        CLOCK_FIX,
    )


def _frame_format(dev: Any) -> tuple[tuple[int, ...], np.dtype]:
    return tuple(int(v) for v in dev.shape), np.dtype(dev.dtype)


def check_camera_members(kit: Any, dev: Any) -> None:
    """The Camera seam's members exist; exposure and rate are settable numeric properties; shape,
    dtype and pixel size make sense."""
    need_members(
        dev,
        Camera,
        _CAMERA_MEMBERS,
        "declare exposure_ms, frame_rate_hz, roi, binning, bit_depth as prop(...), shape, dtype "
        "and pixel_size_um as read-only props, and write snap() and render_into(out)",
    )
    need_settable_numbers(dev, ("exposure_ms", "frame_rate_hz"))
    need(float(dev.frame_rate_hz) > 0, f"frame_rate_hz is {dev.frame_rate_hz}", "keep it above 0")
    shape = tuple(dev.shape)
    need(
        len(shape) == 2 and all(isinstance(v, (int, np.integer)) and v > 0 for v in shape),
        f"shape is {shape!r}",
        "report (height, width) in pixels as two positive ints",
    )
    try:
        dtype = np.dtype(dev.dtype)
    except TypeError:
        raise Problem(f"dtype {dev.dtype!r} is not a numpy dtype", 'report e.g. "uint16"') from None
    need(dtype.kind in "uif", f"dtype is {dtype}", "frames must be integers or floats")
    size = float(dev.pixel_size_um)
    need(math.isfinite(size) and size > 0, f"pixel_size_um is {size}", "report the µm per pixel")


def _check_snap(dev: Any, what: str) -> None:
    result = dev.snap()
    need(
        isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], np.ndarray),
        f"snap() returned {type(result).__name__}, not (frame, metadata)",
        "return (numpy array, metadata dict) from snap()",
    )
    data, meta = result
    shape, dtype = _frame_format(dev)
    need(
        data.shape == shape and data.dtype == dtype,
        f"{what}snap() gave {data.dtype} {data.shape} frames but the camera says {dtype} {shape}",
        _SHAPE_FIX,
    )
    check_meta(meta, "snap()")


def check_snap(kit: Any, dev: Any) -> None:
    """snap() gives (frame, meta): a frame of exactly ``shape`` and ``dtype``."""
    _check_snap(dev, "")


def _sentinel(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A pattern no camera draws by chance (so a render that ignored ``out`` shows)."""
    return (np.arange(math.prod(shape), dtype=np.int64) % 251 + 3).astype(dtype).reshape(shape)


def check_render_into(kit: Any, dev: Any) -> None:
    """render_into(out) writes the frame into the array it is given and returns its metadata."""
    shape, dtype = _frame_format(dev)
    out = _sentinel(shape, dtype)
    meta = dev.render_into(out)
    need(
        not np.array_equal(out, _sentinel(shape, dtype)),
        "render_into(out) left out as it was (did it fill a new array instead?)",
        "write the frame into out, e.g. np.copyto(out, sdk_frame) or sdk.read_into(out): out is a "
        "slot of the engine's ring, anything else is never seen",
    )
    check_meta(meta, "render_into()")


def check_frame_timestamps(kit: Any, dev: Any) -> None:
    """Frames from snap() and then render_into() carry wall-clock timestamps that go forward."""
    shape, dtype = _frame_format(dev)
    out = np.empty(shape, dtype)
    since = time.time()
    stamps = [check_meta(dev.snap()[1], "snap()")]
    stamps += [check_meta(dev.render_into(out), "render_into()") for _ in range(3)]
    check_clock(stamps, since, "frames")


def _shape_settings(dev: Any, keep: frozenset[str]) -> list[tuple[str, list[Any]]]:
    """Settings that may change frames, with the values to try: every choice of an enum or bool
    property, and a half-size roi."""
    found = []
    for name, spec in dev.property_specs().items():
        if spec.readonly or name in keep:
            continue
        if spec.kind == "enum" and len(spec.allowed or ()) <= _MAX_CHOICES:
            found.append((name, list(spec.allowed or ())))
        elif spec.kind == "bool":
            found.append((name, [True, False]))
        elif name == "roi" and spec.kind == "tuple" and spec.length == 4:
            x, y, w, h = (int(v) for v in dev.get("roi"))
            b = int(dev.get("binning")) if "binning" in dev.property_specs() else 1
            half = (x, y, max(b, w // 2 // b * b), max(b, h // 2 // b * b))
            found.append((name, [half]))
    return found


def check_settings_sweep(kit: Any, dev: Any) -> None:
    """After each choice of each enum/bool setting (binning, bit depth, ...) and a smaller roi,
    shape and dtype still describe the frames snap() and render_into() produce."""
    for name, values in _shape_settings(dev, kit.keep):
        original = dev.get(name)
        try:
            for value in values:
                try:
                    dev.set(name, value)
                except PropertyError:
                    continue  # refused with the other settings as they are: that is allowed
                try:
                    _check_snap(dev, f"with {name}={value!r}, ")
                    dev.render_into(np.empty(*_frame_format(dev)))
                except Problem:
                    raise
                except Exception as exc:
                    raise Problem(
                        f"with {name}={value!r}, taking a frame raised {type(exc).__name__}: {exc}",
                        f"{_SHAPE_FIX}; or, if {name} makes frames wait (a trigger mode), pass "
                        f"keep_settings=[{name!r}] to the check",
                    ) from None
        finally:
            dev.set(name, original)
