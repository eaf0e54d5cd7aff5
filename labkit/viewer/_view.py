"""The view state of a viewer window: its keys, defaults, validation and refitting to new data.

A view is a JSON-able dict (stored by the registry, saved in workspaces, synced to the front end):

- ``image_dims`` ``[row_dim, col_dim]``: the two dims shown as the image (one for 1-D data).
- ``slices`` ``{dim: index}``: the index along every other ("extra") dim.
- ``cursors`` ``[{image_dim: index}, ...]`` (1 to :data:`MAX_CURSORS`), ``active_cursor`` (the
  one clicks and arrow keys move) and ``cursor``, always equal to ``cursors[active_cursor]``.
- ``bins`` ``{dim: width}``: pixels averaged across an image dim by the profiles (and the value at
  a cursor), slices averaged along an extra dim for the image.
- ``contrast_lo`` / ``contrast_hi`` (data units, ``None`` = automatic), ``gamma`` (power-law
  exponent, 1 = linear), ``norm`` (``"linear"`` or ``"log"``), ``colormap``, ``zero_centered``
  (automatic limits symmetric about 0, for signed data on a linear scale).
- ``link_group`` (``None`` or a name: windows of a group share position, bins and colour scale)
  and ``link_colors`` (False: this window keeps its own colour scale inside its group).
- ``roi`` ``{image_dim: [start, stop]}`` or ``None``; ``line`` ``[{image_dim: pos}, {...}]`` or
  ``None`` (positions in pixels, pixel ``i`` spans ``[i, i + 1)``).

:func:`update_view` applies changes and raises ``ValueError`` naming what is accepted;
:func:`refit_view` fits a view to new data. ``_link.py`` translates a change for the other
windows of a link group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import xarray as xr

__all__ = [
    "COLORMAPS",
    "COLOR_VIEW_KEYS",
    "LINKED_VIEW_KEYS",
    "MAX_CURSORS",
    "NORMS",
    "VIEW_KEYS",
    "default_view_state",
    "refit_view",
    "update_view",
]

VIEW_KEYS = (
    "image_dims", "slices", "cursor", "cursors", "active_cursor", "bins", "contrast_lo",
    "contrast_hi", "gamma", "norm", "colormap", "zero_centered", "link_group", "link_colors",
    "roi", "line",
)  # fmt: skip
#: the colour scale: shared in a link group between windows that both have ``link_colors``
COLOR_VIEW_KEYS = ("contrast_lo", "contrast_hi", "gamma", "norm", "colormap", "zero_centered")
#: keys windows of one link group share (positions by coordinate value, the rest as is)
LINKED_VIEW_KEYS = ("slices", "cursor", "cursors", "active_cursor", "bins", *COLOR_VIEW_KEYS)
NORMS = ("linear", "log")
#: mirrors COLORMAP_NAMES in js/src/render/colormaps.ts (a test keeps them equal)
COLORMAPS = (
    "gray", "viridis", "magma", "inferno", "plasma", "cividis", "turbo", "hot", "green", "hilo",
)  # fmt: skip
MAX_CURSORS = 8


def _dims(data: xr.DataArray) -> list[str]:
    return [str(d) for d in data.dims]


def _size(data: xr.DataArray, dim: str) -> int:
    return int(data.sizes[dim])


def _extra_dims(data: xr.DataArray, image_dims: list[str]) -> list[str]:
    return [d for d in _dims(data) if d not in image_dims]


def default_view_state(data: xr.DataArray) -> dict[str, Any]:
    """View of a fresh window: the last two dims as the image, index 0 of every other dim, one
    cursor at the centre, no binning, automatic linear gray contrast."""
    dims = _dims(data)
    image_dims = dims[-2:]
    cursor = {d: _size(data, d) // 2 for d in image_dims}
    return {
        "image_dims": image_dims,
        "slices": {d: 0 for d in dims[:-2]},
        "cursor": dict(cursor),
        "cursors": [dict(cursor)],
        "active_cursor": 0,
        "bins": {d: 1 for d in dims},
        "contrast_lo": None,
        "contrast_hi": None,
        "gamma": 1.0,
        "norm": "linear",
        "colormap": "gray",
        "zero_centered": False,
        "link_group": None,
        "link_colors": True,
        "roi": None,
        "line": None,
    }


# ---------------------------------------------------------------- validation of single values
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _index_map(
    data: xr.DataArray, key: str, value: Any, allowed: Iterable[str], lowest: int = 0
) -> dict[str, int]:
    """``value`` as ``{dim: int}`` over ``allowed`` dims, each in ``[lowest, size)`` (bins: 1..size)."""
    allowed = list(allowed)
    if not isinstance(value, Mapping):
        raise ValueError(f"view {key} must map dims to integer indices, got {value!r}")
    out = {}
    for dim, i in value.items():
        if dim not in allowed:
            raise ValueError(
                f"view {key} has dim {dim!r}; it takes {', '.join(map(repr, allowed)) or 'no dims'}"
            )
        if not _is_int(i):
            raise ValueError(f"view {key} must map dims to integer indices, got {value!r}")
        high = _size(data, dim) + (1 if lowest else 0)
        if not lowest <= i < high:
            raise ValueError(f"view {key}[{dim!r}] = {i} is outside {lowest}..{high - 1}")
        out[str(dim)] = int(i)
    return out


def _check_image_dims(data: xr.DataArray, value: Any) -> list[str]:
    dims = _dims(data)
    want = min(2, len(dims))
    if (
        not isinstance(value, list | tuple)
        or len(value) != want
        or len(set(value)) != want
        or any(d not in dims for d in value)
    ):
        raise ValueError(
            f"image_dims must be {want} different dims of {dims}, got {value!r}"
            if want
            else f"0-d data shows no dims, got image_dims {value!r}"
        )
    return [str(d) for d in value]


def _check_roi(data: xr.DataArray, image_dims: list[str], value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or sorted(value) != sorted(image_dims):
        raise ValueError(
            f"roi must be None or {{dim: [start, stop]}} for {image_dims}, got {value!r}"
        )
    out = {}
    for dim in image_dims:
        span = value[dim]
        if (
            not isinstance(span, list | tuple)
            or len(span) != 2
            or not all(_is_int(i) for i in span)
            or not 0 <= span[0] < span[1] <= _size(data, dim)
        ):
            raise ValueError(
                f"roi[{dim!r}] must be [start, stop] with 0 <= start < stop <= "
                f"{_size(data, dim)}, got {span!r}"
            )
        out[dim] = [int(span[0]), int(span[1])]
    return out


def _check_line(data: xr.DataArray, image_dims: list[str], value: Any) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(
            f"line must be None or two points [{{dim: pos}}, {{dim: pos}}], got {value!r}"
        )
    out = []
    for point in value:
        if not isinstance(point, Mapping) or sorted(point) != sorted(image_dims):
            raise ValueError(f"a line point maps {image_dims} to positions, got {point!r}")
        for dim in image_dims:
            if not _is_number(point[dim]) or not 0 <= point[dim] <= _size(data, dim):
                raise ValueError(
                    f"line position {dim!r} = {point[dim]!r} is outside 0..{_size(data, dim)}"
                )
        out.append({d: float(point[d]) for d in image_dims})
    return out


def _check_scalars(changes: Mapping[str, Any]) -> None:
    for key in ("contrast_lo", "contrast_hi"):
        if key in changes and changes[key] is not None and not _is_number(changes[key]):
            raise ValueError(f"{key} must be a finite number or None (auto), got {changes[key]!r}")
    if "gamma" in changes and not (_is_number(changes["gamma"]) and changes["gamma"] > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {changes['gamma']!r}")
    if "norm" in changes and changes["norm"] not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {changes['norm']!r}")
    if "colormap" in changes and changes["colormap"] not in COLORMAPS:
        raise ValueError(
            f"unknown colormap {changes['colormap']!r}; choose one of {', '.join(COLORMAPS)}"
        )
    group = changes.get("link_group")
    if group is not None and not (isinstance(group, str) and group.strip()):
        raise ValueError(f"link_group must be a non-empty name or None, got {group!r}")
    for key in ("zero_centered", "link_colors"):
        if key in changes and not isinstance(changes[key], bool):
            raise ValueError(f"{key} must be True or False, got {changes[key]!r}")
    if "active_cursor" in changes and not _is_int(changes["active_cursor"]):
        raise ValueError(f"active_cursor must be an integer, got {changes['active_cursor']!r}")


# ---------------------------------------------------------------- applying changes
def _with_image_dims(data: xr.DataArray, view: dict[str, Any], new: list[str]) -> dict[str, Any]:
    """Show ``new`` dims: a dim leaving the image keeps the active cursor's index as its slice,
    a dim entering it starts every cursor at its former slice index."""
    old = view["image_dims"]
    if new == old:
        return view
    out = dict(view)
    active = view["cursors"][view["active_cursor"]]
    position = {**view["slices"], **active}
    out["slices"] = {d: int(position.get(d, 0)) for d in _extra_dims(data, new)}
    out["cursors"] = [
        {d: int(c[d]) if d in c else int(position.get(d, _size(data, d) // 2)) for d in new}
        for c in view["cursors"]
    ]
    out["cursor"] = dict(out["cursors"][view["active_cursor"]])
    out["image_dims"] = list(new)
    out["roi"] = view["roi"] if view["roi"] and sorted(view["roi"]) == sorted(new) else None
    out["line"] = view["line"] if view["line"] and sorted(view["line"][0]) == sorted(new) else None
    return out


def update_view(
    data: xr.DataArray, view: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The view after ``changes`` (a new dict; ``view`` is not modified).

    ``slices``, ``bins`` and ``cursor`` are merged per dim (other dims keep their value);
    ``cursors`` entries may give only some image dims (the rest come from the active cursor).
    ``cursor`` and ``cursors[active_cursor]`` are kept equal.

    Raises:
        ValueError: an unknown key (the message lists the accepted ones), a dim the data does not
            have, an index out of range, or a value of the wrong type.
    """
    unknown = sorted(set(changes) - set(VIEW_KEYS))
    if unknown:
        raise ValueError(
            f"unknown view key(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(VIEW_KEYS)}"
        )
    _check_scalars(changes)
    out = {**default_view_state(data), **view}
    if "image_dims" in changes:
        out = _with_image_dims(data, out, _check_image_dims(data, changes["image_dims"]))
    image_dims = out["image_dims"]
    extra = _extra_dims(data, image_dims)
    if "slices" in changes:
        out["slices"] = {**out["slices"], **_index_map(data, "slices", changes["slices"], extra)}
    if "bins" in changes:
        out["bins"] = {**out["bins"], **_index_map(data, "bins", changes["bins"], _dims(data), 1)}
    cursors = [dict(c) for c in out["cursors"]]
    active = out["active_cursor"]
    if "cursors" in changes:
        value = changes["cursors"]
        if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_CURSORS:
            raise ValueError(f"cursors must be a list of 1 to {MAX_CURSORS} cursors, got {value!r}")
        base = cursors[min(active, len(cursors) - 1)]
        cursors = [{**base, **_index_map(data, "cursors", c, image_dims)} for c in value]
    if "active_cursor" in changes:
        active = changes["active_cursor"]
        if not 0 <= active < len(cursors):
            raise ValueError(f"active_cursor {active} is outside 0..{len(cursors) - 1}")
    active = min(active, len(cursors) - 1)
    if "cursor" in changes:
        cursors[active] = {
            **cursors[active],
            **_index_map(data, "cursor", changes["cursor"], image_dims),
        }
    out["cursors"], out["active_cursor"], out["cursor"] = cursors, active, dict(cursors[active])
    if "roi" in changes:
        out["roi"] = _check_roi(data, image_dims, changes["roi"])
    if "line" in changes:
        out["line"] = _check_line(data, image_dims, changes["line"])
    for key in (*COLOR_VIEW_KEYS, "link_group", "link_colors"):
        if key in changes:
            out[key] = float(changes[key]) if key == "gamma" else changes[key]
    return out


def _clamp(i: Any, size: int, default: int) -> int:
    return min(max(int(i), 0), size - 1) if _is_int(i) and size > 0 else default


def refit_view(view: Mapping[str, Any], data: xr.DataArray) -> dict[str, Any]:
    """``view`` fitted to new ``data``: indices clamped to the new sizes, dims the data no longer
    has replaced by the defaults, an ROI or line that does not fit dropped."""
    fresh = default_view_state(data)
    out = {**fresh, **{k: v for k, v in view.items() if k in VIEW_KEYS}}
    try:
        image_dims = _check_image_dims(data, out["image_dims"])
    except ValueError:
        image_dims = fresh["image_dims"]
    out["image_dims"] = image_dims
    old_slices = view.get("slices") or {}
    out["slices"] = {
        d: _clamp(old_slices.get(d, 0), _size(data, d), 0) for d in _extra_dims(data, image_dims)
    }
    old_bins = view.get("bins") or {}
    out["bins"] = {
        d: min(max(int(old_bins.get(d, 1)), 1), max(_size(data, d), 1)) for d in _dims(data)
    }
    cursors = view.get("cursors") or [view.get("cursor") or {}]
    out["cursors"] = [
        {d: _clamp(c.get(d), _size(data, d), _size(data, d) // 2) for d in image_dims}
        for c in cursors[:MAX_CURSORS]
        if isinstance(c, Mapping)
    ] or [dict(fresh["cursor"])]
    out["active_cursor"] = _clamp(view.get("active_cursor", 0), len(out["cursors"]), 0)
    out["cursor"] = dict(out["cursors"][out["active_cursor"]])
    for key, check in (("roi", _check_roi), ("line", _check_line)):
        try:
            out[key] = check(data, image_dims, view.get(key))
        except ValueError:
            out[key] = None
    return out
