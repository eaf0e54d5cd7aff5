"""An MDA series on disk: OME-Zarr 0.5 written by ome-writers (the writer pymmcore-plus uses),
and read back as one lazy ``xr.DataArray (t, p, c, z, y, x)``.

Layout (ome-writers' own): one position is an OME image at the root; several positions follow
the bioformats2raw layout, one OME image group per position. Each image holds array ``0`` with
the axes the sequence uses among ``t, c, z`` plus ``y, x``, chunked one plane per chunk, and
its frames' metadata under ``ome_writers.frame_metadata``. The root's ``labkit`` attributes
name the kind (``mda``), the sequence (useq JSON), the position groups, status and counts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["MdaSink", "is_mda_series", "open_mda_series"]

DIMS = ("t", "p", "c", "z", "y", "x")


class MdaSink:
    """Writes the frames of one MDA sequence, in acquisition order, to ``path`` (``.ome.zarr``).

    Raises:
        FileExistsError: ``path`` exists (labkit never overwrites data).
    """

    def __init__(self, path: str | Path, backend: str = "auto") -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(
                f"{self.path} exists; labkit never overwrites data: pick another path"
            )
        self.backend = backend
        self._stream: Any = None
        self.frames_written = 0
        self.positions: list[str] = []

    def setup(
        self, sequence: Any, shape: tuple[int, int], dtype: str, pixel_size_um: float
    ) -> None:
        """Create the store for ``sequence`` with frames of ``shape``/``dtype``."""
        import ome_writers as ow

        settings = ow.useq_to_acquisition_settings(
            sequence, image_width=int(shape[1]), image_height=int(shape[0]),
            pixel_size_um=float(pixel_size_um),
        )  # fmt: skip
        options: dict[str, Any] = {
            "root_path": str(self.path), "dtype": str(np.dtype(dtype)),
            "format": {"name": "ome-zarr", "backend": self.backend}, **settings,
        }  # fmt: skip
        acq = ow.AcquisitionSettings.model_validate(options)
        self.positions = _position_groups(settings["dimensions"])
        self._stream = ow.create_stream(acq)

    def append(self, frame: np.ndarray, meta: dict[str, Any]) -> None:
        self._stream.append(frame, frame_metadata=meta)
        self.frames_written += 1

    def finish(self, attrs: dict[str, Any]) -> None:
        """Write the ``labkit`` attributes and close the store (idempotent)."""
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        try:
            stream.set_global_metadata(
                "labkit",
                {"kind": "mda", "positions": self.positions,
                 "frames_written": self.frames_written, **attrs},
            )  # fmt: skip
        finally:
            stream.close()


def _position_groups(dimensions: list[Any]) -> list[str]:
    """The image group of each position ("" is the root: a single position), named as
    ome-writers names them (a grid position: ``<name>_<row>_<column>``)."""
    for dim in dimensions:
        if dim.name == "p" and dim.count and dim.count > 1:
            return [
                f"{pos.name}_{pos.grid_row}_{pos.grid_column}"
                if pos.grid_row is not None and pos.grid_column is not None
                else str(pos.name)
                for pos in dim.coords
            ]
    return [""]


def is_mda_series(path: str | Path) -> bool:
    """True for a directory written by :class:`MdaSink`."""
    root = Path(path) / "zarr.json"
    if not root.is_file():
        return False
    try:
        attrs = json.loads(root.read_text()).get("attributes", {})
    except ValueError:
        return False
    return attrs.get("labkit", {}).get("kind") == "mda"


class _Images:
    """The position images of a series, read lazily as ``(t, p, c, z, y, x)``."""

    def __init__(self, arrays: list[Any], axes: list[list[str]]) -> None:
        self.arrays, self.axes = arrays, axes
        first = arrays[0]
        sizes = dict(zip(axes[0], first.shape, strict=True))
        self.shape = tuple(len(arrays) if d == "p" else int(sizes.get(d, 1)) for d in DIMS)
        self.dtype = np.dtype(first.dtype)

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        """``key``: one slice per dim of :data:`DIMS`; returns that block."""
        sel = dict(zip(DIMS, key, strict=True))
        blocks = []
        for pi in range(self.shape[1])[sel["p"]]:
            arr, axes = self.arrays[pi], self.axes[pi]
            data = np.asarray(arr[tuple(sel[a] for a in axes)])
            for i, d in enumerate(("t", "c", "z")):  # dims the sequence does not use: size 1
                if d not in axes:
                    data = np.expand_dims(data, i)[(slice(None),) * i + (sel[d],)]
            blocks.append(data)
        if not blocks:
            n = [len(range(s)[k]) for s, k in zip(self.shape, key, strict=True)]
            return np.zeros(n, self.dtype)
        return np.stack(blocks, axis=1)


def open_mda_series(path: str | Path) -> Any:
    """An MDA series as a lazy ``xr.DataArray (t, p, c, z, y, x)`` (zarr-python reads on demand).

    Coords: ``t`` (s, from each frame's start), ``p`` (position names), ``c`` (channel configs),
    ``z`` (µm, the z plan), ``y``/``x`` (µm). Attrs: the ``labkit`` attributes of the root.

    Raises:
        ValueError: ``path`` is not an MDA series.
    """
    import xarray as xr
    import zarr
    from xarray.backends import BackendArray
    from xarray.core import indexing

    path = Path(path)
    if not is_mda_series(path):
        raise ValueError(f"{path} is not an MDA series (no labkit kind 'mda' in its zarr.json)")
    root: Any = zarr.open_group(str(path), mode="r")
    attrs: dict[str, Any] = dict(root.attrs["labkit"])
    arrays: list[Any] = []
    axes: list[list[str]] = []
    channels: list[str] | None = None
    scale: list[float] | None = None
    positions = list(attrs.get("positions", [""]))
    if "bioformats2raw.layout" in root.attrs.get("ome", {}):  # the series the OME group lists
        positions = list(root["OME"].attrs["ome"]["series"])
    for group_path in positions:
        group: Any = root[group_path] if group_path else root
        ms = group.attrs["ome"]["multiscales"][0]
        arrays.append(group[ms["datasets"][0]["path"]])
        axes.append([a["name"] for a in ms["axes"]])
        scale = scale or ms["datasets"][0]["coordinateTransformations"][0]["scale"]
        omero = group.attrs["ome"].get("omero")
        if channels is None and omero:
            channels = [ch.get("label", "") for ch in omero.get("channels", [])]
    images = _Images(arrays, axes)

    class _Lazy(BackendArray):
        shape, dtype = images.shape, images.dtype

        def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
            return indexing.explicit_indexing_adapter(
                key, self.shape, indexing.IndexingSupport.BASIC, self._get
            )

        def _get(self, key: tuple) -> np.ndarray:
            ints = [isinstance(k, int | np.integer) for k in key]
            norm = tuple(slice(k, k + 1) if i else k for k, i in zip(key, ints, strict=True))
            data = images.read(norm)
            return data[tuple(0 if i else slice(None) for i in ints)]

    data = indexing.LazilyIndexedArray(_Lazy())
    sizes = dict(zip(DIMS, images.shape, strict=True))
    px = float(scale[-1]) if scale else float(attrs.get("pixel_size_um", 1.0))
    coords: dict[str, Any] = {
        "y": ("y", np.arange(sizes["y"]) * px, {"units": "µm"}),
        "x": ("x", np.arange(sizes["x"]) * px, {"units": "µm"}),
        "p": ("p", [g or "0" for g in positions]),
    }
    if channels and len(channels) == sizes["c"]:
        coords["c"] = ("c", channels)
    z_um = attrs.get("z_positions_um")
    if z_um and len(z_um) == sizes["z"]:
        coords["z"] = ("z", np.asarray(z_um, float), {"units": "µm"})
    t_s = attrs.get("t_s")
    if t_s and len(t_s) == sizes["t"]:
        coords["t"] = ("t", np.asarray(t_s, float), {"units": "s"})
    var = xr.Variable(DIMS, data)
    return xr.DataArray(var, coords=coords, name=attrs.get("name", path.name), attrs=attrs)
