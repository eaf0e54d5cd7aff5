"""Edits a viewer window makes to its data (the result flows back to a watching notebook)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["EDIT_OPS", "apply_edit"]

#: edits a viewer can make (see :func:`apply_edit`)
EDIT_OPS = ("normalize", "crop", "fill")


def apply_edit(
    data: xr.DataArray, content: dict[str, Any], image_dims: Sequence[str] | None = None
) -> xr.DataArray:
    """The data after a viewer edit ``{"op", "roi": [x0, y0, x1, y1], "value"}``.

    ``normalize``: (data - min) / (max - min) over all finite values, as float.
    ``crop``: keep the ROI of the two image dims (every slice of the extra dims).
    ``fill``: set the ROI of the image dims to ``value`` in every slice (float data keeps its dtype,
    integer data gets ``value`` rounded and clipped to the dtype's range).
    ROI corners are indices along the image (x = ``image_dims[1]``, y = ``image_dims[0]``; default
    the last two dims), end exclusive.

    Raises:
        ValueError: unknown op, missing/empty ROI, or a value that is not a number.
    """
    op = content.get("op")
    if op not in EDIT_OPS:
        raise ValueError(f"unknown edit op {op!r}; use one of {', '.join(EDIT_OPS)}")
    if op == "normalize":
        values = np.asarray(data.values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return data.copy(data=(values - lo) / (hi - lo if hi > lo else 1.0))
    if data.ndim < 2:
        raise ValueError(f"{op} needs 2-D data; this window shows {data.ndim}-D data")
    ydim, xdim = image_dims if image_dims is not None else data.dims[-2:]
    roi = content.get("roi")
    if not roi or len(roi) != 4:
        raise ValueError(f"{op} needs a ROI [x0, y0, x1, y1]; draw a rectangle first")
    x0, y0, x1, y1 = (int(round(float(v))) for v in roi)
    x0, x1 = sorted((max(0, min(x0, data.sizes[xdim])), max(0, min(x1, data.sizes[xdim]))))
    y0, y1 = sorted((max(0, min(y0, data.sizes[ydim])), max(0, min(y1, data.sizes[ydim]))))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the ROI {roi} is empty inside the image; draw a larger rectangle")
    region = {ydim: slice(y0, y1), xdim: slice(x0, x1)}
    if op == "crop":
        return data.isel(region).copy(deep=True)
    try:
        value = float(content.get("value", 0.0))
    except (TypeError, ValueError):
        raise ValueError(f"fill value {content.get('value')!r} is not a number") from None
    out = data.copy(deep=True)
    if out.dtype.kind in "iu":
        info = np.iinfo(out.dtype)
        value = float(np.clip(round(value), info.min, info.max))
    out[region] = value
    return out
