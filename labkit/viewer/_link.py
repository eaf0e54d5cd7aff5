"""Linked windows: a view change of one window, translated for another window of its link group.

Positions are shared by coordinate value, dim by dim name: a cursor at ``kx = 0.31`` in one
window goes to the index whose ``kx`` coordinate is nearest 0.31 in the other, whatever their
shapes or steps; a dim without a numeric coordinate in either window is shared by index (clamped).
A window's position is its slices plus a cursor, so a dim shown as the image in one window and
as a slider in the other follows too. Bins are shared per dim; the colour scale (contrast,
gamma, norm, colormap, zero_centered) is copied (the registry leaves it out for windows whose
``link_colors`` is False).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._view import COLOR_VIEW_KEYS

__all__ = ["linked_changes", "nearest_index"]

_POSITION_KEYS = frozenset(("slices", "cursor", "cursors", "active_cursor"))


def _coord(data: xr.DataArray, dim: str) -> np.ndarray | None:
    if dim not in data.coords:
        return None
    values = np.asarray(data.coords[dim].values)
    return values if values.ndim == 1 and values.dtype.kind in "biufU" else None


def nearest_index(src: xr.DataArray, dst: xr.DataArray, dim: str, index: int) -> int:
    """The index along ``dim`` of ``dst`` that matches index ``index`` of ``src``: nearest
    coordinate value when both have a coordinate for ``dim``, else the same index (clamped)."""
    size = int(dst.sizes[dim])
    a, b = _coord(src, dim), _coord(dst, dim)
    if a is not None and b is not None and 0 <= index < a.size and size:
        value = a[index]
        if a.dtype.kind == "U" or b.dtype.kind == "U":
            hits = np.flatnonzero(b.astype(str) == str(value))
            if hits.size:
                return int(hits[0])
        elif np.isfinite(value):
            diff = np.abs(b.astype(np.float64) - float(value))
            if np.isfinite(diff).any():
                return int(np.nanargmin(diff))
    return min(max(int(index), 0), max(size - 1, 0))


def linked_changes(
    src: xr.DataArray,
    src_view: Mapping[str, Any],
    dst: xr.DataArray,
    dst_view: Mapping[str, Any],
    keys: Collection[str],
) -> dict[str, Any]:
    """View changes for ``dst`` after ``keys`` of ``src_view`` changed (for ``update_view``)."""
    changes: dict[str, Any] = {k: src_view[k] for k in COLOR_VIEW_KEYS if k in keys}
    if "bins" in keys:
        changes["bins"] = {
            d: min(int(b), int(dst.sizes[d])) for d, b in src_view["bins"].items() if d in dst.dims
        }
    if _POSITION_KEYS & set(keys):
        positions = [{**src_view["slices"], **c} for c in src_view["cursors"]]
        image_dims, old = dst_view["image_dims"], dst_view["cursors"]
        cursors = []
        for i, position in enumerate(positions):
            base = old[min(i, len(old) - 1)]
            cursors.append(
                {
                    d: nearest_index(src, dst, d, position[d]) if d in position else base[d]
                    for d in image_dims
                }
            )
        active = positions[src_view["active_cursor"]]
        changes["cursors"] = cursors
        changes["active_cursor"] = src_view["active_cursor"]
        changes["slices"] = {
            d: nearest_index(src, dst, d, active[d]) for d in dst_view["slices"] if d in active
        }
    return changes
