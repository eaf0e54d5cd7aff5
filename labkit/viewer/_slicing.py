"""What a viewer window sends, computed from its data and view (pure numpy, no transport).

- :func:`image_plane`: the full-resolution 2-D image (rows = ``image_dims[0]``, columns =
  ``image_dims[1]``), extra dims at their slice, averaged over ``bins`` slices where wider than 1.
- :func:`viewport_crop` / :func:`crop_texels`: the part of a plane a front end shows, binned to about one texel per
  device pixel (``labkit.widgets._binning``): a 2048² slice in a 640 px canvas goes out as 682².
- :func:`profiles`: per cursor the row and column through it (``bins`` wide) and the value there,
  the profile along every extra dim at the active cursor, ROI statistics and the ROI mean along
  the first extra dim, and the profile along the line, all at full resolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from labkit.widgets._binning import Crop, Viewport, bin_mean, plan_crop

__all__ = [
    "ROI_PROFILE_MAX_ELEMENTS",
    "auto_limits",
    "bin_window",
    "crop_texels",
    "finite_range",
    "image_plane",
    "line_profile",
    "profiles",
    "viewport_crop",
    "wire_array",
]

#: the ROI mean along an extra dim reads (ROI area × dim size) values; larger ROIs get stats only
ROI_PROFILE_MAX_ELEMENTS = 64 << 20


def wire_array(values: np.ndarray) -> np.ndarray:
    """Values as sent: uint8/uint16 as they are, bool as uint8, complex as abs, the rest float32."""
    if values.dtype == np.bool_:
        return values.astype(np.uint8)
    if values.dtype.kind == "c":
        return np.abs(values).astype(np.float32)
    if values.dtype in (np.uint8, np.uint16):
        return values
    return values.astype(np.float32, copy=False)


def bin_window(index: int, width: int, size: int) -> slice:
    """The ``width`` indices centred on ``index`` (``width // 2`` after, the rest before), clipped."""
    width = max(1, int(width))
    start = int(index) - (width - 1) // 2
    return slice(max(0, start), min(size, start + width))


def image_plane(data: xr.DataArray, view: dict[str, Any]) -> np.ndarray:
    """The 2-D image a window shows, at full resolution, in wire dtype (see :func:`wire_array`).

    0-d data is 1×1 and 1-d data one row. Extra dims stand at ``view["slices"]``; an extra dim
    with ``bins[dim] > 1`` is averaged over that many slices around it (as float32).
    """
    image_dims = list(view["image_dims"])
    sel: dict[str, Any] = {}
    averaged = []
    for dim in data.dims:
        d = str(dim)
        if d in image_dims:
            continue
        i = int(view["slices"].get(d, 0))
        width = int(view["bins"].get(d, 1))
        if width > 1:
            sel[d] = bin_window(i, width, data.sizes[d])
            averaged.append(d)
        else:
            sel[d] = min(max(i, 0), data.sizes[d] - 1)
    sub = data.isel(sel) if sel else data
    values = np.asarray(sub.transpose(*averaged, *image_dims).values)
    if averaged:
        values = values.mean(axis=tuple(range(len(averaged))), dtype=np.float32)
    if values.ndim == 0:
        values = values.reshape(1, 1)
    elif values.ndim == 1:
        values = values[None, :]
    return wire_array(values)


def viewport_crop(shape: tuple[int, int], vp: Viewport | None, max_side: int) -> Crop:
    """The region of a ``shape`` (rows, cols) image the viewport shows and its bin factor (the
    whole image fitted into a ``max_side``² canvas when there is no viewport yet)."""
    h, w = shape
    return plan_crop((h, w), vp or Viewport.fit(h, w, max_side, max_side))


def crop_texels(plane: np.ndarray, crop: Crop) -> np.ndarray:
    """``crop`` of ``plane`` binned by its factor: float planes stay float32, integer planes
    keep their dtype (truncated means)."""
    region = plane[crop.y0 : crop.y1, crop.x0 : crop.x1]
    return np.ascontiguousarray(bin_mean(region, crop.k))


def finite_range(image: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values; (0, 0) when there are none."""
    if image.size == 0:
        return 0.0, 0.0
    lo, hi = float(image.min()), float(image.max())
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi
    finite = image[np.isfinite(image)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def auto_limits(
    plane: np.ndarray, low: float = 0.1, high: float = 99.9, positive: bool = False
) -> list[float] | None:
    """Contrast limits at the ``low`` / ``high`` percentiles of the whole image (the finite
    values, > 0 with ``positive`` for a log scale), from an evenly strided sample of at most
    about 65536 pixels: a front end showing a zoomed crop keeps the contrast of the whole image.
    A flat image gives ``[v, v + 1]`` (``[v, 10 v]`` when positive); None when nothing counts."""
    step = max(1, int(np.sqrt(plane.size / 65536)))
    sample = np.ravel(plane[::step, ::step])
    keep = np.isfinite(sample) & (sample > 0) if positive else np.isfinite(sample)
    sample = sample if keep.all() else sample[keep]
    if sample.size == 0:
        return None
    ranks = [round(p / 100 * (sample.size - 1)) for p in (low, high)]
    lo, hi = (float(v) for v in np.partition(sample, ranks)[ranks])  # one O(n) pass for both
    if hi <= lo:
        hi = lo * 10 if positive else lo + 1
    return [lo, hi]


def _mean(values: np.ndarray, axis: Any = None) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.mean(values, axis=axis, dtype=np.float64)


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def line_profile(
    plane: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: int = 1
) -> np.ndarray:
    """Values along the segment ``p0 → p1`` (``(row, col)`` positions, pixel ``i`` spans
    ``[i, i + 1)``), one sample per pixel of length, bilinear between pixel centres, averaged
    over ``width`` parallel lines one pixel apart. float32."""
    (r0, c0), (r1, c1) = p0, p1
    length = float(np.hypot(r1 - r0, c1 - c0))
    n = max(2, int(np.ceil(length)) + 1)
    t = np.linspace(0.0, 1.0, n)
    rows, cols = r0 + (r1 - r0) * t - 0.5, c0 + (c1 - c0) * t - 0.5
    normal = np.array([-(c1 - c0), r1 - r0]) / length if length > 0 else np.zeros(2)
    h, w = plane.shape
    values = plane.astype(np.float64, copy=False)
    acc = np.zeros(n)
    offsets = np.arange(max(1, int(width))) - (max(1, int(width)) - 1) / 2
    for off in offsets:
        r = np.clip(rows + off * normal[0], 0, h - 1)
        c = np.clip(cols + off * normal[1], 0, w - 1)
        r0i, c0i = np.floor(r).astype(int), np.floor(c).astype(int)
        r1i, c1i = np.minimum(r0i + 1, h - 1), np.minimum(c0i + 1, w - 1)
        fr, fc = r - r0i, c - c0i
        acc += (
            values[r0i, c0i] * (1 - fr) * (1 - fc)
            + values[r0i, c1i] * (1 - fr) * fc
            + values[r1i, c0i] * fr * (1 - fc)
            + values[r1i, c1i] * fr * fc
        )
    return (acc / len(offsets)).astype(np.float32)


def _line_length(data: xr.DataArray, dims: list[str], line: list[dict]) -> tuple[float, str]:
    """Length of the line in coordinate units when both image dims have numeric coordinates in
    the same units, else in pixels."""
    units = {str(data.coords[d].attrs.get("units", "")) if d in data.coords else None for d in dims}
    steps = []
    for d in dims:
        coord = data.coords[d].values if d in data.coords else None
        if coord is None or coord.ndim != 1 or coord.dtype.kind not in "iuf" or coord.size < 2:
            break
        steps.append(float(coord[-1] - coord[0]) / (coord.size - 1))
    delta = [line[1][d] - line[0][d] for d in dims]
    if len(steps) == len(dims) and len(units) == 1 and None not in units:
        return float(
            np.hypot(*[a * s for a, s in zip(delta, steps, strict=True)])
        ), units.pop() or ""
    return float(np.hypot(*delta)), "px"


def _roi_profile(
    data: xr.DataArray, view: dict[str, Any], extra: list[str], cache: dict | None
) -> np.ndarray:
    """The ROI mean along ``extra[0]`` (the other extra dims at their slices and bins). It
    reads ROI area × dim size values, so ``cache`` keeps the last one: cursor moves and moves
    along that dim do not change it."""
    roi, bins, dim = view["roi"], view["bins"], extra[0]
    sel: dict[str, Any] = {d: slice(*span) for d, span in roi.items()}
    for other in extra[1:]:
        sel[other] = bin_window(view["slices"][other], bins.get(other, 1), data.sizes[other])
    key = (dim, repr(sel))
    hit = cache.get("roi") if cache is not None else None
    if hit is not None and hit[0] is data and hit[1] == key:
        return hit[2]
    sub = data.isel(sel).transpose(dim, ...)
    series = _mean(np.asarray(sub.values).reshape(sub.shape[0], -1), axis=1)
    if cache is not None:
        cache["roi"] = (data, key, series)
    return series


def profiles(
    data: xr.DataArray, view: dict[str, Any], plane: np.ndarray, cache: dict | None = None
) -> tuple[dict, list[np.ndarray]]:
    """The ``profiles`` message content and its float32 arrays (one buffer per name in
    ``content["arrays"]``, same order). ``plane`` is :func:`image_plane` of the same view;
    ``cache`` (a dict the caller keeps) saves recomputing the ROI profile."""
    image_dims = list(view["image_dims"])
    ydim = image_dims[0] if len(image_dims) == 2 else None
    xdim = image_dims[-1] if image_dims else None
    bins = view["bins"]
    h, w = plane.shape
    names: list[str] = []
    arrays: list[np.ndarray] = []

    def add(name: str, values: Any) -> None:
        names.append(name)
        arrays.append(np.ascontiguousarray(values, dtype=np.float32))

    def windows(cursor: dict) -> tuple[slice, slice]:
        rows = bin_window(cursor.get(ydim, 0), bins.get(ydim, 1), h) if ydim else slice(0, 1)
        cols = bin_window(cursor.get(xdim, 0), bins.get(xdim, 1), w) if xdim else slice(0, 1)
        return rows, cols

    values_at = []
    for i, cursor in enumerate(view["cursors"]):
        rows, cols = windows(cursor)
        add(f"c{i}.h", _mean(plane[rows, :], axis=0))  # along the column dim
        add(f"c{i}.v", _mean(plane[:, cols], axis=1))  # along the row dim
        values_at.append(_finite_or_none(_mean(plane[rows, cols])))
    rows, cols = windows(view["cursor"])
    at_cursor: dict[str, Any] = {}
    if ydim:
        at_cursor[ydim] = rows
    if xdim:
        at_cursor[xdim] = cols
    extra = [str(d) for d in data.dims if str(d) not in image_dims]
    for dim in extra:
        sel = dict(at_cursor)
        for other in extra:
            if other != dim:
                sel[other] = bin_window(
                    view["slices"][other], bins.get(other, 1), data.sizes[other]
                )
        sub = data.isel(sel).transpose(dim, ...)
        add(f"dim.{dim}", _mean(np.asarray(sub.values).reshape(sub.shape[0], -1), axis=1))
    content: dict[str, Any] = {"type": "profiles", "values": values_at, "roi": None, "line": None}
    roi = view.get("roi")
    if roi and ydim and xdim:
        region = plane[roi[ydim][0] : roi[ydim][1], roi[xdim][0] : roi[xdim][1]]
        finite = region[np.isfinite(region)] if region.dtype.kind == "f" else region
        stats: dict[str, Any] = {
            "count": int(finite.size),
            "mean": _finite_or_none(_mean(finite)) if finite.size else None,
            "sum": float(np.sum(finite, dtype=np.float64)),
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
            "dim": None,
        }
        if extra:
            dim = extra[0]
            n = region.size * data.sizes[dim]
            if n <= ROI_PROFILE_MAX_ELEMENTS:
                add("roi", _roi_profile(data, view, extra, cache))
                stats["dim"] = dim
            else:
                stats["skipped"] = (
                    f"ROI × {dim} is {n} values (more than {ROI_PROFILE_MAX_ELEMENTS})"
                )
        content["roi"] = stats
    line = view.get("line")
    if line and ydim and xdim:
        width = max(int(bins.get(ydim, 1)), int(bins.get(xdim, 1)))
        p0 = (line[0][ydim], line[0][xdim])
        p1 = (line[1][ydim], line[1][xdim])
        add("line", line_profile(plane, p0, p1, width))
        length, units = _line_length(data, [ydim, xdim], line)
        content["line"] = {"length": length, "units": units, "width": width}
    content["arrays"] = names
    return content, arrays
