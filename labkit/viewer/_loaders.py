"""File loaders for ``load_in_manager``: netCDF, Zarr, HDF5, TIFF, labkit series, and your own.

Loaders run in the client (the manager never reads paths). Each checks the size its file declares
against the memory budget before it allocates anything, so a small crafted file cannot make the
process allocate gigabytes. Add a loader with :func:`register_loader`, or from a package through
the ``labkit.viewer.loaders`` entry point group (``name = "package.module:function"``; the function
takes ``(path, **kwargs)`` and returns a DataArray).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import xarray as xr

__all__ = [
    "LOADERS",
    "check_budget",
    "load_budget_bytes",
    "load_paths",
    "loaders",
    "register_loader",
]

logger = logging.getLogger(__name__)

Loader = Callable[..., xr.DataArray]
ENTRY_POINT_GROUP = "labkit.viewer.loaders"
BUDGET_ENV = "LABKIT_LOAD_BUDGET_BYTES"


def load_budget_bytes() -> int:
    """Largest array a loader may allocate: ``$LABKIT_LOAD_BUDGET_BYTES``, else half the memory
    available now."""
    env = os.environ.get(BUDGET_ENV)
    if env:
        return int(env)
    return int(psutil.virtual_memory().available // 2)


def check_budget(nbytes: int, path: str, max_bytes: int | None = None) -> None:
    """Raise before allocating ``nbytes`` for ``path`` when that exceeds the budget.

    Raises:
        ValueError: the message names the size, the budget and how to raise it.
    """
    budget = load_budget_bytes() if max_bytes is None else int(max_bytes)
    if nbytes > budget:
        raise ValueError(
            f"{path} declares {nbytes / 1e9:.2f} GB of data, more than the load budget of "
            f"{budget / 1e9:.2f} GB; pass max_bytes=... to load it anyway (or set "
            f"${BUDGET_ENV}), or open it lazily with xarray"
        )


def _declared(shape: Any, dtype: Any) -> int:
    return int(math.prod(int(n) for n in shape)) * max(np.dtype(dtype).itemsize, 1)


def _first_var(ds: xr.Dataset, path: str) -> xr.DataArray:
    if not ds.data_vars:
        raise ValueError(f"{path} holds no data variables")
    return ds[next(iter(ds.data_vars))]


def load_netcdf(path: str, max_bytes: int | None = None, **kwargs: Any) -> xr.DataArray:
    try:
        ds = xr.open_dataset(path, **kwargs)
    except ValueError:  # netCDF4/HDF5 file without netCDF4/h5netcdf installed
        return load_hdf5(path, max_bytes=max_bytes)
    with ds:
        var = _first_var(ds, path)
        check_budget(_declared(var.shape, var.dtype), path, max_bytes)
        return var.load()


def load_zarr(path: str, max_bytes: int | None = None, **kwargs: Any) -> xr.DataArray:
    import zarr

    node = zarr.open(path, mode="r")
    if isinstance(node, zarr.Array):
        check_budget(_declared(node.shape, node.dtype), path, max_bytes)
        return xr.DataArray(np.asarray(node[...]), name=Path(path).stem)
    try:
        ds = xr.open_zarr(path, consolidated=False, chunks=None, **kwargs)  # no dask pools
    except (ValueError, KeyError, FileNotFoundError):
        ds = None
    if ds is not None and ds.data_vars:
        var = _first_var(ds, path)
        check_budget(_declared(var.shape, var.dtype), path, max_bytes)
        return var.load()
    for _, arr in node.arrays():  # OME-Zarr: first (full resolution) array
        check_budget(_declared(arr.shape, arr.dtype), path, max_bytes)
        return xr.DataArray(np.asarray(arr[...]), name=Path(path).stem)
    raise ValueError(f"{path} holds no zarr arrays")


def load_hdf5(path: str, max_bytes: int | None = None, dataset: str | None = None) -> xr.DataArray:
    import h5py

    with h5py.File(path, "r") as f:
        if "labkit_workspace" in f.attrs:
            raise ValueError(f"{path} is a labkit workspace: use load_workspace(path)")
        if dataset is None:
            found: list[str] = []
            f.visititems(
                lambda name, obj: (
                    found.append(name)
                    if isinstance(obj, h5py.Dataset) and obj.ndim >= 1 and not found
                    else None
                )
            )
            if not found:
                raise ValueError(f"{path} holds no datasets")
            dataset = found[0]
        dset = f[dataset]
        check_budget(_declared(dset.shape, dset.dtype), path, max_bytes)
        return xr.DataArray(dset[...], name=dataset.split("/")[-1])


def load_tiff(path: str, max_bytes: int | None = None, series: int = 0) -> xr.DataArray:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        found = tf.series[series]
        check_budget(_declared(found.shape, found.dtype), path, max_bytes)
        dims = [
            {"T": "t", "Z": "z", "C": "c", "Y": "y", "X": "x"}.get(a, a.lower()) for a in found.axes
        ]
        data = found.asarray()
    if len(set(dims)) != len(dims):
        dims = [f"dim_{i}" for i in range(data.ndim)]
    return xr.DataArray(data, dims=dims, name=Path(path).stem)


def load_labkit(path: str, max_bytes: int | None = None) -> xr.DataArray:
    from labkit.spool import open_series

    series = open_series(path)
    if isinstance(series, xr.Dataset):  # a series with trace streams: the window shows its frames
        series = series["frames"]
    check_budget(_declared(series.shape, series.dtype), path, max_bytes)
    return series.load()  # the window holds the values (lazy arrays cannot be sent)


LOADERS: dict[str, Loader] = {
    "netcdf": load_netcdf,
    "zarr": load_zarr,
    "hdf5": load_hdf5,
    "tiff": load_tiff,
    "labkit": load_labkit,
}

_EXT = {".nc": "netcdf", ".nc4": "netcdf", ".cdf": "netcdf", ".zarr": "zarr", ".h5": "hdf5", ".hdf5": "hdf5",
        ".hdf": "hdf5", ".tif": "tiff", ".tiff": "tiff"}  # fmt: skip
_entry_points_loaded = False


def register_loader(name: str, fn: Loader, extensions: tuple[str, ...] = ()) -> None:
    """Add a loader ``fn(path, **kwargs) -> DataArray`` under ``name`` (and for ``extensions``).

    Raises:
        ValueError: ``name`` is taken by another loader.  TypeError: ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"loader {name!r} must be callable, got {type(fn).__name__}")
    if name in LOADERS and LOADERS[name] is not fn:
        raise ValueError(f"a loader named {name!r} exists already; pick another name")
    LOADERS[name] = fn
    for ext in extensions:
        _EXT[ext.lower() if ext.startswith(".") else f".{ext.lower()}"] = name


def loaders() -> dict[str, Loader]:
    """Every loader by name: the built-in ones, registered ones and the entry-point group's."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                register_loader(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not break the built-in loaders
                logger.warning("loader plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
    return dict(LOADERS)


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
        f"cannot tell the format of {path}; pass loader_name= one of {', '.join(loaders())}"
    )


def load_paths(
    paths: list[str], loader_name: str | None = None, **load_kwargs: Any
) -> Iterator[tuple[str, xr.DataArray]]:
    """Yield ``(window name, DataArray)`` per path.

    Raises:
        FileNotFoundError: a path does not exist.  ValueError: unknown format or loader, or over
            the memory budget.  TypeError: a keyword the loader does not take.
    """
    known = loaders()
    if loader_name is not None and loader_name not in known:
        raise ValueError(f"unknown loader {loader_name!r}; choose one of {', '.join(known)}")
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist")
        loader = known[loader_name or _guess(path)]
        data = loader(path, **load_kwargs)
        yield (str(data.name) if data.name is not None else Path(path).name), data
