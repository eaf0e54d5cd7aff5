"""File loaders the manager uses for ``load_in_manager``: netCDF, Zarr, HDF5, TIFF, labkit series."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["LOADERS", "load_paths"]

logger = logging.getLogger(__name__)


def _first_var(ds: xr.Dataset, path: str) -> xr.DataArray:
    if not ds.data_vars:
        raise ValueError(f"{path} holds no data variables")
    name = next(iter(ds.data_vars))
    return ds[name]


def load_netcdf(path: str) -> xr.DataArray:
    try:
        ds = xr.open_dataset(path)
    except ValueError:  # netCDF4/HDF5 file without netCDF4/h5netcdf installed
        return load_hdf5(path)
    with ds:
        return _first_var(ds, path).load()


def load_zarr(path: str) -> xr.DataArray:
    try:
        ds = xr.open_zarr(path, consolidated=False, chunks=None)  # no dask: no per-thread pools
        return _first_var(ds, path).load()
    except (ValueError, KeyError, FileNotFoundError):
        import zarr

        node = zarr.open(path, mode="r")
        if isinstance(node, zarr.Array):
            return xr.DataArray(np.asarray(node[...]), name=Path(path).stem)
        for _, arr in node.arrays():  # OME-Zarr: first (full resolution) array
            return xr.DataArray(np.asarray(arr[...]), name=Path(path).stem)
        raise ValueError(f"{path} holds no zarr arrays") from None


def load_hdf5(path: str) -> xr.DataArray:
    import h5py

    with h5py.File(path, "r") as f:
        if "labkit_workspace" in f.attrs:
            raise ValueError(f"{path} is a labkit workspace: use load_workspace(path)")
        found: list = []
        f.visititems(
            lambda name, obj: (
                found.append(name)
                if isinstance(obj, h5py.Dataset) and obj.ndim >= 1 and not found
                else None
            )
        )
        if not found:
            raise ValueError(f"{path} holds no datasets")
        dset = f[found[0]]
        return xr.DataArray(dset[...], name=found[0].split("/")[-1])


def load_tiff(path: str) -> xr.DataArray:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        dims = [
            {"T": "t", "Z": "z", "C": "c", "Y": "y", "X": "x"}.get(a, a.lower())
            for a in series.axes
        ]
        data = series.asarray()
    if len(set(dims)) != len(dims):
        dims = [f"dim_{i}" for i in range(data.ndim)]
    return xr.DataArray(data, dims=dims, name=Path(path).stem)


def load_labkit(path: str) -> xr.DataArray:
    from labkit.spool import open_series  # type: ignore[attr-defined]

    return open_series(path).load()  # the window holds the values (lazy arrays cannot be sent)


LOADERS: dict[str, Callable[[str], xr.DataArray]] = {
    "netcdf": load_netcdf,
    "zarr": load_zarr,
    "hdf5": load_hdf5,
    "tiff": load_tiff,
    "labkit": load_labkit,
}

_EXT = {".nc": "netcdf", ".nc4": "netcdf", ".cdf": "netcdf", ".zarr": "zarr", ".h5": "hdf5", ".hdf5": "hdf5",
        ".hdf": "hdf5", ".tif": "tiff", ".tiff": "tiff"}  # fmt: skip


def _is_labkit_series(p: Path) -> bool:
    """A series written by labkit's spooler (zarr dir, .h5 or .ome.tif with labkit metadata)."""
    try:
        if p.is_dir():
            meta = p / "zarr.json"
            return meta.exists() and "labkit" in json.loads(meta.read_text("utf-8")).get(
                "attributes", {}
            )
        if p.with_name(p.name + ".json").exists():
            return True
        if p.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(p, "r") as f:
                return "labkit" in f.attrs
        if p.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(p) as tif:
                return '"labkit"' in (tif.pages.first.description or "")[:4096]
    except (OSError, ValueError):
        return False
    return False


def _guess(path: str) -> str:
    p = Path(path)
    if _is_labkit_series(p):
        return "labkit"
    ext = p.suffix.lower()
    if ext in _EXT:
        return _EXT[ext]
    if p.is_dir() and (
        (p / "zarr.json").exists() or (p / ".zgroup").exists() or (p / ".zarray").exists()
    ):
        return "zarr"
    raise ValueError(
        f"cannot tell the format of {path}; pass loader_name= one of {', '.join(LOADERS)}"
    )


def load_paths(
    paths: list[str], loader_name: str | None = None
) -> Iterator[tuple[str, xr.DataArray]]:
    """Yield ``(window name, DataArray)`` per path.

    Raises:
        FileNotFoundError: a path does not exist.  ValueError: unknown format or loader.
    """
    if loader_name is not None and loader_name not in LOADERS:
        raise ValueError(f"unknown loader {loader_name!r}; choose one of {', '.join(LOADERS)}")
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} does not exist (paths are read by the manager process)"
            )
        loader = LOADERS[loader_name or _guess(path)]
        data = loader(path)
        yield (str(data.name) if data.name is not None else Path(path).name), data
