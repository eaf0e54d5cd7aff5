"""``open_series``: any labkit series as a lazy ``xr.DataArray`` (t[, z], y, x), or an
``xr.Dataset`` of those frames and the trace streams recorded beside them."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from labkit.protocols import is_mda_series, open_mda_series
from labkit.spool._errors import SpoolError
from labkit.spool._hdf5_open import open_hdf5
from labkit.spool._journal import journal_path, read_journal, shard_exists, summarize
from labkit.spool._layout import Layout
from labkit.spool._shards import ShardReader
from labkit.spool._store import LocalSeries, is_url, local_path

log = logging.getLogger(__name__)


class IncompleteSeriesWarning(UserWarning):
    """The series was not closed (crash); the frames listed in its journal are returned."""


class _LazyFrames(BackendArray):
    """Frames of a flat (n, y, x) store seen as (t[, z], y, x) through the layout; reads on demand."""

    def __init__(self, layout: Layout, n_frames: int, read_frame) -> None:
        self.layout = layout
        self.n_frames = n_frames
        self.read_frame = read_frame
        self.shape = layout.shape(n_frames)
        self.dtype = np.dtype(layout.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._get
        )

    def _get(self, key: tuple) -> np.ndarray:
        lead = self.shape[:-2]
        idx = [
            range(n)[k] if isinstance(k, slice) else k
            for k, n in zip(key[: len(lead)], lead, strict=True)
        ]
        grid = (
            np.indices([len(r) if isinstance(r, range) else 1 for r in idx]).reshape(len(idx), -1).T
        )
        out = np.zeros((grid.shape[0], *self.shape[-2:]), self.dtype)
        for row, pos in enumerate(grid):
            tz = [r[p] if isinstance(r, range) else r for r, p in zip(idx, pos, strict=True)]
            n = self.layout.frame_of(tz[0], tz[1] if len(tz) > 1 else 0)
            if n < self.n_frames:
                out[row] = self.read_frame(n)
        shape = [len(r) for r in idx if isinstance(r, range)]
        return out.reshape(*shape, *self.shape[-2:])[(..., key[-2], key[-1])]


def _read_attrs(path: Path) -> tuple[dict, Any]:
    """(labkit attrs, a frame reader factory) for each method."""
    if path.is_dir():
        root = json.loads((path / "zarr.json").read_text())
        return root["attributes"].get("labkit", {}), "zarr"
    side = path.with_name(path.name + ".json")
    if side.exists():  # final metadata of a single-file series (written at stop or by repair)
        return json.loads(side.read_text())["labkit"], "hdf5" if path.suffix in (
            ".h5",
            ".hdf5",
        ) else "tiff"
    if path.suffix in (".h5", ".hdf5"):
        with open_hdf5(path, "r", swmr=True) as f:
            return json.loads(f.attrs["labkit"]), "hdf5"
    if path.name.endswith((".tif", ".tiff")):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return json.loads(tif.pages.first.description)["labkit"], "tiff"
    raise SpoolError(f"{path} is not a labkit series (.ome.zarr directory, .h5 or .ome.tif)")


def open_series(
    path: str | Path, storage_options: dict[str, Any] | None = None
) -> xr.DataArray | xr.Dataset:
    """Open a series written by labkit as a lazy DataArray (t[, z], y, x).

    ``path``: a local path, or the fsspec URL of a zarr series in an object store
    (``s3://bucket/name.ome.zarr``, ``memory://...``) with ``storage_options`` for its
    filesystem (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``).

    Coords: ``t`` (s since the first frame), ``z`` (µm), ``y``/``x`` (µm from the pixel size);
    per-frame ``timestamp_s``/``exposure_ms``/``frame_z_um`` as coords on the frame axes;
    every labkit attr (device settings, dropped frames, version...) in ``.attrs``.
    A series that was never closed (crash) opens with the frames its journal lists and an
    ``IncompleteSeriesWarning``; ``labkit repair PATH`` closes a local one. Raises ``SpoolError``
    for paths that are not labkit series and ``FileNotFoundError`` if the path does not exist.

    A series recorded with ``trace_streams`` opens as an ``xr.Dataset``: that DataArray as
    ``frames`` (still lazy) and each trace as a variable ``<stream>`` (``<stream>_time``,
    ``<stream>_channel``) whose times are on the frames' ``t`` clock (see ``_open_traces``).

    An MDA series (``scope.run_mda``) opens as ``(t, p, c, z, y, x)``
    (:func:`labkit.protocols.open_mda_series`).
    """
    if is_url(path):
        from labkit.spool._store import ObjectStore

        return _open_store(ObjectStore(str(path), storage_options))
    if storage_options:
        raise TypeError(
            f"storage_options are for fsspec URLs (s3://..., memory://...); {path} is a local path"
        )
    path = local_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no series at {path}")
    if is_mda_series(path):
        return open_mda_series(path)
    attrs, method = _read_attrs(path)
    complete = attrs.get("status") in ("complete", "failed", "repaired")
    if complete and "frames" in attrs:
        frames = attrs["frames"]
    elif complete:  # a long series keeps its per-frame columns in the journal only
        frames = summarize(read_journal(journal_path(path)))["frames"]
    else:
        summary = summarize(read_journal(journal_path(path)), shard_exists(path))
        frames = summary["frames"]
        attrs = {**attrs, "frames_dropped": summary["frames_dropped"]}
        _warn_incomplete(path.name, str(path), attrs, frames)
    layout = Layout.from_json(attrs["layout"])
    n = (max(frames["frame"]) + 1) if frames["frame"] else 0
    if method == "zarr":
        reader: Any = ShardReader(LocalSeries(path), layout)
    elif method == "hdf5":
        reader = _Hdf5Reader(path)
    else:
        reader = _TiffReader(path)
    da = _frames_array(layout, n, reader, attrs, frames, str(path), complete, path.name)
    if not attrs.get("traces"):
        return da
    from labkit.spool._open_traces import series_dataset

    return series_dataset(da, path, method, attrs, complete)


def _warn_incomplete(name: str, where: str, attrs: dict, frames: dict) -> None:
    repair = f"run 'labkit repair {where}' to close it" if not is_url(where) else "it stays so"
    warnings.warn(
        f"series {name} was not closed (status {attrs.get('status')!r}): showing the "
        f"{len(frames['frame'])} frames its journal lists; {repair}",
        IncompleteSeriesWarning,
        stacklevel=3,
    )


def _frames_array(
    layout: Layout,
    n: int,
    reader: Any,
    attrs: dict,
    frames: dict,
    where: str,
    complete: bool,
    name: str,
) -> xr.DataArray:
    backend = _LazyFrames(layout, n, reader)
    data = xr.Variable(layout.dims(), indexing.LazilyIndexedArray(backend))
    return xr.DataArray(
        data,
        coords=_coords(layout, attrs, frames, layout.shape(n)),
        attrs=_flat_attrs(attrs, where, complete),
        name=attrs.get("series", name),
    )


def _open_store(store: Any) -> xr.DataArray:
    """A zarr series in an object store (only zarr is spooled there; no traces)."""
    from labkit.spool._store import read_object_journal

    try:
        attrs = store.read_json("zarr.json")["attributes"].get("labkit", {})
    except FileNotFoundError:
        raise FileNotFoundError(f"no series at {store.url}") from None
    complete = attrs.get("status") in ("complete", "failed", "repaired")
    if complete and "frames" in attrs:
        frames = attrs["frames"]
    else:
        shards = store.find("0/c") if not complete else None
        summary = summarize(
            read_object_journal(store), None if shards is None else shards.__contains__
        )
        frames = summary["frames"]
        if not complete:
            attrs = {**attrs, "frames_dropped": summary["frames_dropped"]}
            _warn_incomplete(store.name, store.url, attrs, frames)
    layout = Layout.from_json(attrs["layout"])
    n = (max(frames["frame"]) + 1) if frames["frame"] else 0
    reader = ShardReader(store, layout)
    return _frames_array(layout, n, reader, attrs, frames, store.url, complete, store.name)


class _Hdf5Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, n: int) -> np.ndarray:
        try:  # registers the Blosc filter of compressed series (no-op for raw ones)
            import hdf5plugin  # noqa: F401
        except ImportError:  # pragma: no cover - a declared dependency
            log.warning("hdf5plugin is not installed: compressed HDF5 series cannot be read")

        with open_hdf5(self.path, "r", swmr=True) as f:
            return f["data"][n]


class _TiffReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, n: int) -> np.ndarray:
        import tifffile

        with tifffile.TiffFile(self.path) as tif:
            return tif.pages[n].asarray()


def _coords(layout: Layout, attrs: dict, frames: dict, shape: tuple[int, ...]) -> dict:
    px = float(attrs.get("pixel_size_um") or 1.0)
    coords: dict[str, Any] = {
        "y": ("y", np.arange(shape[-2]) * px),
        "x": ("x", np.arange(shape[-1]) * px),
    }
    nt = shape[0]
    ts = np.full(nt, np.nan)
    exp = np.full(nt, np.nan)
    z_at = np.full(shape[:-2], np.nan)
    for f, t_s, e, z in zip(
        frames["frame"], frames["timestamp_s"], frames["exposure_ms"], frames["z_um"], strict=True
    ):
        t, zi = layout.position(int(f))
        if t < nt:
            if np.isnan(ts[t]):
                ts[t] = np.nan if t_s is None else t_s
                exp[t] = np.nan if e is None else e
            z_at[(t, zi) if layout.n_z else t] = np.nan if z is None else z
    t0 = np.nanmin(ts) if np.isfinite(ts).any() else 0.0
    coords["t"] = ("t", ts - t0, {"units": "s"})
    coords["timestamp_s"] = ("t", ts)
    coords["exposure_ms"] = ("t", exp)
    if layout.n_z:
        zs = attrs.get("z_positions_um") or list(range(layout.n_z))
        coords["z"] = ("z", np.asarray(zs, float)[: layout.n_z], {"units": "µm"})
        coords["frame_z_um"] = (("t", "z"), z_at)
    else:
        coords["frame_z_um"] = ("t", z_at)
    return coords


def _flat_attrs(attrs: dict, path: str, complete: bool) -> dict:
    out = {k: v for k, v in attrs.items() if k != "frames"}
    out["path"] = str(path)
    out["complete"] = bool(complete)
    for k in ("settings", "device_settings", "extra_metadata", "layout", "traces"):
        if isinstance(out.get(k), dict):
            out[k] = json.dumps(out[k])
    return out
