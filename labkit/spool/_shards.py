"""Reading frames back from zarr shards: one frame by byte ranges, or every frame of a shard
from one read (what an analysis task does), on a local disk or in an object store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.spool._layout import Layout

__all__ = ["ShardReader", "read_shard_frames"]

_EMPTY = 2**64 - 1


def _decode(raw: bytes, out: np.ndarray, blosc: bool, layout: Layout) -> None:
    if blosc:
        from numcodecs import blosc as _blosc

        _blosc.decompress(raw, out)
    else:
        out[...] = np.frombuffer(raw, layout.dtype).reshape(layout.frame_shape)


def _index(tail: bytes, cap: int) -> np.ndarray:
    return np.frombuffer(tail[-16 * cap :], "<u8").reshape(cap, 2)


def _location(layout: Layout, key: tuple[int, ...]) -> str:
    return "0/c/" + "/".join(str(k) for k in key)


def is_blosc(series: Any) -> bool:
    """Whether the image array of a zarr series stores blosc chunks (else raw bytes)."""
    meta = series.read_json("0/zarr.json")
    inner = meta["codecs"][0]["configuration"]["codecs"]
    return any(c["name"] == "blosc" for c in inner)


class ShardReader:
    """``reader(n)``: kept frame ``n`` (the shard's index from its end, then the chunk; zeros —
    the fill value — when the shard or the slot does not exist). ``series`` is a
    :class:`~labkit.spool._store.LocalSeries` or :class:`~labkit.spool._store.ObjectStore`;
    plain reads, so opening a series starts no threads."""

    def __init__(self, series: Any, layout: Layout) -> None:
        self.series = series
        self.layout = layout
        self.blosc = is_blosc(series)

    def __call__(self, n: int) -> np.ndarray:
        layout = self.layout
        key, slot = layout.shard_of(n)
        out = np.zeros(layout.frame_shape, layout.dtype)
        location = _location(layout, key)
        try:
            cap = layout.slots_per_shard
            offset, nbytes = (
                int(v) for v in _index(self.series.get(location, -16 * cap), cap)[slot]
            )
            if offset == _EMPTY:
                return out
            raw = self.series.get(location, offset, offset + nbytes)
        except FileNotFoundError:  # shard never written (lost in a crash): fill value
            return out
        _decode(raw, out, self.blosc, layout)
        return out


def read_shard_frames(
    series: Any, layout: Layout, location: str, frames: Sequence[int], blosc: bool
) -> np.ndarray:
    """Frames ``frames`` (kept frame numbers, all in the shard at ``location``) from one read of
    the whole shard: ``(len(frames), y, x)``. ``FileNotFoundError`` if the shard is gone."""
    data = series.get(location)
    cap = layout.slots_per_shard
    index = _index(data, cap)
    out = np.zeros((len(frames), *layout.frame_shape), layout.dtype)
    for i, n in enumerate(frames):
        _, slot = layout.shard_of(int(n))
        offset, nbytes = (int(v) for v in index[slot])
        if offset != _EMPTY:
            _decode(data[offset : offset + nbytes], out[i], blosc, layout)
    return out
