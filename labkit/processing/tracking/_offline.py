"""``track(series, rois, zlut)``: bead tracking on a recorded series, a few frames at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from labkit.processing._stats import Roi
from labkit.processing.tracking._tracker import COORDS, BeadTracker, Quality
from labkit.processing.tracking._zlut import ZLUT

__all__ = ["track"]

_CHUNK_BYTES = 128 << 20  # frames read per step: bounded memory whatever the series length
_UNITS = {"x": "px", "y": "px", "z": "µm", "quality": ""}


def _frames_of(series: Any) -> tuple[Any, int, tuple[int, ...], np.dtype]:
    """(indexable frames, count, frame shape, dtype) of a (t, y, x) DataArray or array."""
    if isinstance(series, xr.DataArray):
        if series.ndim != 3:
            raise ValueError(
                f"track() needs frames (t, y, x); this series has dims {series.dims}: select a "
                f"plane (series.isel(z=0)) or make one frame axis "
                f"(series.stack(frame=('t', 'z')).transpose('frame', 'y', 'x'))"
            )
        return series.variable, series.shape[0], series.shape[1:], series.dtype
    if not hasattr(series, "shape") or not hasattr(series, "__getitem__"):
        series = np.asarray(series)
    if len(series.shape) != 3:
        raise ValueError(f"track() needs frames (t, y, x); got an array of shape {series.shape}")
    return series, series.shape[0], tuple(series.shape[1:]), np.dtype(series.dtype)


def _time_coord(series: Any, n: int) -> dict[str, Any]:
    """Coordinates along time copied from the series (its first axis), else frame numbers."""
    if isinstance(series, xr.DataArray):
        dim = series.dims[0]
        coords: dict[str, Any] = {
            ("time" if name == dim else str(name)): ("time", c.values, c.attrs)
            for name, c in series.coords.items()
            if c.dims == (dim,)
        }
        if "time" in coords:
            return coords
    return {"time": ("time", np.arange(n), {"units": "frame"})}


def track(
    series: Any,
    rois: Sequence[Roi | dict | Sequence],
    zlut: ZLUT | None = None,
    *,
    reference: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    **tracker_options: Any,
) -> xr.DataArray:
    """Track beads through a recorded series: ``xr.DataArray (time, bead, coord)``.

    ``coord`` is ``x``, ``y`` (frame pixels, pixel centres at integers), ``z`` (µm, from the
    table; NaN without one) and ``quality`` (:class:`Quality` bits, 0 = good); the ``units``
    coordinate along ``coord`` names each unit. Time coordinates come from the series' first
    axis (``t`` in s for :func:`labkit.open_series`, with its ``timestamp_s``), else frame
    numbers. Frames are read about 128 MB at a time, so a series larger than memory works.

    Args:
        series: frames (t, y, x): a (lazy) DataArray such as ``lk.open_series(path)``, a numpy
            array, or anything with ``shape`` and slicing (zarr, h5py, dask).
        rois: the beads' square ROIs (:class:`~labkit.processing.Roi`, dicts or tuples).
        zlut: the beads' z table (``ZLUT.load(path)``); without one z is NaN.
        reference: names of reference beads whose drift is subtracted (see BeadTracker).
        progress: called as ``progress(frames_done, frames_total)`` after each chunk.
        **tracker_options: for :class:`BeadTracker` (``oversample``, ``threads``, ...).

    Raises:
        ValueError: frames that are not (t, y, x); ROIs or a table that do not fit (see
            :meth:`BeadTracker.prepare`).
    """
    frames, n, shape, dtype = _frames_of(series)
    boxes = [Roi.of(r) for r in rois]
    out = np.empty((n, len(boxes), len(COORDS)))
    step = max(1, _CHUNK_BYTES // max(1, int(np.prod(shape)) * dtype.itemsize))
    with BeadTracker(reference=reference, **tracker_options) as tracker:
        tracker.prepare(boxes, shape, zlut, dtype=dtype)
        for start in range(0, n, step):
            chunk = np.asarray(frames[start : start + step])
            for i, frame in enumerate(chunk):
                out[start + i] = tracker.track(frame).values
            if progress is not None:
                progress(min(n, start + step), n)
    attrs: dict[str, Any] = {
        "long_name": "bead positions",
        "quality_bits": ", ".join(f"{q.name}={q.value}" for q in Quality if q.value),
        "reference_beads": ", ".join(reference),
        "roi_size_px": boxes[0].h if boxes else 0,
    }
    if isinstance(series, xr.DataArray) and "x" in series.coords and series.sizes["x"] > 1:
        attrs["pixel_size_um"] = float(abs(series["x"].values[1] - series["x"].values[0]))
    return xr.DataArray(
        out,
        dims=("time", "bead", "coord"),
        coords={
            **_time_coord(series, n),
            "bead": [r.name for r in boxes],
            "coord": list(COORDS),
            "units": ("coord", [_UNITS[c] for c in COORDS]),
            "roi_y": ("bead", [r.y for r in boxes]),
            "roi_x": ("bead", [r.x for r in boxes]),
        },
        attrs=attrs,
        name="beads",
    )
