"""Turning camera frames into labelled ``xr.DataArray``s and values into JSON-able ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["frame_to_dataarray", "jsonable"]


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain Python values (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.dtype):
        return value.str
    return value


def frame_to_dataarray(camera: Any, data: np.ndarray, meta: dict | None) -> xr.DataArray:
    """Label one frame: dims ``(y, x)``, coords in µm in the sample plane, metadata in attrs.

    ``x``/``y`` coordinates are pixel centres: the stage position (``x_um``/``y_um`` in ``meta``) plus the
    ROI offset, spaced by ``camera.pixel_size_um`` (which already includes binning).
    """
    import xarray as xr  # lazy: half a second of start-up the engine process does not need

    meta = dict(meta or {})
    h, w = data.shape[-2:]
    pixel_um = float(getattr(camera, "pixel_size_um", 1.0))
    binning = int(_get(camera, "binning", 1) or 1)
    roi = _get(camera, "roi", None)
    x0_px, y0_px = (int(roi[0]), int(roi[1])) if roi is not None else (0, 0)
    base_um = pixel_um / binning  # un-binned pixel pitch (roi is in sensor pixels)
    x0_um = float(meta.get("x_um") or 0.0) + x0_px * base_um
    y0_um = float(meta.get("y_um") or 0.0) + y0_px * base_um
    attrs: dict[str, Any] = {"units": "counts", "pixel_size_um": pixel_um, "binning": binning}
    attrs["camera"] = str(getattr(camera, "name", "camera"))
    for key, value in meta.items():
        value = jsonable(value)
        if isinstance(value, (int, float, str, bool)) or value is None:
            attrs[key] = value
    return xr.DataArray(
        data,
        dims=("y", "x"),
        coords={
            "y": ("y", y0_um + np.arange(h) * pixel_um, {"units": "µm"}),
            "x": ("x", x0_um + np.arange(w) * pixel_um, {"units": "µm"}),
        },
        name=attrs["camera"],
        attrs=attrs,
    )


def _get(dev: Any, name: str, default: Any) -> Any:
    try:
        return dev.get(name)
    except Exception:
        return getattr(dev, name, default)
