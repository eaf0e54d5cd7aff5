"""Joining the blocks' results into one xarray object with the series' coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from labkit.analysis._tasks import BlockResult
from labkit.spool._follow import SeriesFollower


def _frame_coords(follower: SeriesFollower, frames: np.ndarray, dim: str) -> dict[str, Any]:
    """The series' per-frame coordinates of ``frames`` (t counted from the first frame)."""
    meta = follower.frame_meta
    stamps_all = [v[0] for v in meta.values() if v[0] is not None]
    t0 = min(stamps_all) if stamps_all else 0.0

    def column(i: int) -> np.ndarray:
        return np.array([np.nan if meta[int(f)][i] is None else meta[int(f)][i] for f in frames])

    stamps = column(0)
    coords: dict[str, Any] = {
        "t": (dim, stamps - t0, {"units": "s"}),
        "timestamp_s": (dim, stamps),
        "exposure_ms": (dim, column(1)),
        "frame_z_um": (dim, column(2)),
        "frame": (dim, frames),
    }
    layout = follower.layout
    if layout.n_z:
        coords["z_index"] = (dim, np.array([layout.position(int(f))[1] for f in frames]))
    return coords


def assemble(results: list[BlockResult], follower: SeriesFollower) -> xr.DataArray:
    """One DataArray along the series' frames (see :func:`map_series` for its shape)."""
    results = sorted(results, key=lambda r: r.seq)
    name = follower.attrs.get("series")
    attrs = {"series": str(follower.location), "frames_dropped": follower.frames_dropped}
    dim = "t" if not follower.layout.n_z else "frame"
    if results and results[0].chunk is not None:
        chunks = [r.chunk for r in results]
        if all(isinstance(c, xr.DataArray) for c in chunks):
            out = xr.concat(chunks, dim=chunks[0].dims[0], combine_attrs="override")
            return out.assign_attrs({**out.attrs, **attrs})
        frames = np.concatenate([r.frames for r in results])
        data = np.concatenate([np.asarray(c) for c in chunks])
        return xr.DataArray(
            data,
            dims=(dim, *(f"dim_{i}" for i in range(1, data.ndim))),
            coords=_frame_coords(follower, frames, dim),
            attrs=attrs,
            name=name,
        )
    filled = [r for r in results if len(r.frames)]
    frames = np.concatenate([r.frames for r in filled]) if filled else np.zeros(0, np.int64)
    channels = filled[0].channels if filled else None
    for r in filled:
        if r.channels != channels:
            raise ValueError(
                f"the function returned different keys for different frames: {channels} and "
                f"{r.channels}; return the same channels for every frame"
            )
    if not filled:
        data = np.zeros(0)
        dims: tuple[str, ...] = (dim,)
    else:
        data = np.concatenate([r.values for r in filled])
        dims = (dim, *(f"dim_{i}" for i in range(1, data.ndim)))
    coords = _frame_coords(follower, frames, dim)
    if channels is not None:
        dims = (dim, "channel")
        coords["channel"] = ("channel", list(channels))
    return xr.DataArray(data, dims=dims, coords=coords, attrs=attrs, name=name)
