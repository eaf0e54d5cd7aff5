"""File loaders for ``load_in_manager``: netCDF, Zarr, HDF5, TIFF, labkit series, and your own.

Loaders run in the client (the manager never reads paths). Each checks the size its file declares
against the memory budget before it allocates anything, so a small crafted file cannot make the
process allocate gigabytes. Add a loader with :func:`register_loader`, or from a package through
the ``labkit.viewer.loaders`` entry point group (``name = "package.module:function"``; the function
takes ``(path, **kwargs)`` and returns what ``show_in_manager`` takes: a DataArray, a list of them,
a Dataset or a DataTree, one window per array). Keywords a loader does not take raise a
``TypeError`` naming those it takes before the file is opened.
"""

from __future__ import annotations

import inspect
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

from labkit.viewer._inputs import strict_keywords

__all__ = [
    "LOADERS",
    "check_budget",
    "check_loader_keywords",
    "load_budget_bytes",
    "load_paths",
    "loaders",
    "plan_loads",
    "register_loader",
]

logger = logging.getLogger(__name__)

Loader = Callable[..., Any]  # (path, **kwargs) -> DataArray | list | Dataset | DataTree
ENTRY_POINT_GROUP = "labkit.viewer.loaders"
BUDGET_ENV = "LABKIT_LOAD_BUDGET_BYTES"


@strict_keywords
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


def _all_vars(ds: xr.Dataset, path: str, max_bytes: int | None) -> xr.Dataset:
    """Every data variable of ``ds``, loaded after their declared sizes passed the budget."""
    _first_var(ds, path)  # raises when there is none
    declared = sum(_declared(v.shape, v.dtype) for v in ds.data_vars.values())
    check_budget(declared, path, max_bytes)
    return ds.load()


def load_netcdf(path: str, max_bytes: int | None = None, **kwargs: Any) -> Any:
    """Every data variable (a window each); ``kwargs`` go to ``xarray.open_dataset``."""
    try:
        ds = xr.open_dataset(path, **kwargs)
    except ValueError:  # netCDF4/HDF5 file without netCDF4/h5netcdf installed
        if kwargs:  # they were for xarray: never drop them silently
            raise
        return load_hdf5(path, max_bytes=max_bytes)
    with ds:
        return _all_vars(ds, path, max_bytes)


def load_zarr(path: str, max_bytes: int | None = None, **kwargs: Any) -> Any:
    """A zarr array, every data variable of an xarray group, or the first (full-resolution)
    array of a plain or OME-Zarr group; ``kwargs`` go to ``xarray.open_zarr``."""
    import zarr

    node = zarr.open(path, mode="r")
    if isinstance(node, zarr.Array):
        if kwargs:
            raise TypeError(
                f"{path} is a plain zarr array; keywords {sorted(kwargs)} are for xarray groups "
                "(only max_bytes applies here)"
            )
        check_budget(_declared(node.shape, node.dtype), path, max_bytes)
        return xr.DataArray(np.asarray(node[...]), name=Path(path).stem)
    try:
        ds = xr.open_zarr(path, consolidated=False, chunks=None, **kwargs)  # no dask pools
    except (ValueError, KeyError, FileNotFoundError):
        ds = None
    if ds is not None and ds.data_vars:
        return _all_vars(ds, path, max_bytes)
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


@strict_keywords
def register_loader(name: str, fn: Loader, extensions: tuple[str, ...] = ()) -> None:
    """Add a loader ``fn(path, **kwargs)`` under ``name`` (and for ``extensions``); it returns a
    DataArray, a list of them, a Dataset or a DataTree (a window per array).

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


@strict_keywords
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


def check_loader_keywords(name: str, loader: Loader, kwargs: dict[str, Any]) -> None:
    """Raise before loading when ``loader`` does not take one of ``kwargs``.

    Raises:
        TypeError: the message names the loader, the unknown keywords and the accepted ones.
    """
    try:
        params = inspect.signature(loader).parameters
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in list(params.items())[1:] if p.kind is not p.VAR_POSITIONAL]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise TypeError(
            f"loader {name!r} does not take {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(accepted) or 'no keywords'}"
        )


def plan_loads(
    paths: list[str], loader_name: str | None = None, **load_kwargs: Any
) -> list[tuple[str, str, Loader]]:
    """``(path, loader name, loader)`` per path, checked before any file is read.

    Raises:
        FileNotFoundError: a path does not exist.  ValueError: unknown format or loader.
        TypeError: a keyword a loader does not take.
    """
    known = loaders()
    if loader_name is not None and loader_name not in known:
        raise ValueError(f"unknown loader {loader_name!r}; choose one of {', '.join(known)}")
    plan = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist")
        name = loader_name or _guess(path)
        check_loader_keywords(name, known[name], load_kwargs)
        plan.append((path, name, known[name]))
    return plan


def load_paths(
    paths: list[str], loader_name: str | None = None, **load_kwargs: Any
) -> Iterator[tuple[str, Any]]:
    """Yield ``(default window name, what the loader returned)`` per path, after checking every
    path, format and keyword (:func:`plan_loads`).

    Raises:
        FileNotFoundError, ValueError, TypeError: see :func:`plan_loads`; ValueError also for a
            file over the memory budget.
    """
    for path, _name, loader in plan_loads(paths, loader_name, **load_kwargs):
        data = loader(path, **load_kwargs)
        default = getattr(data, "name", None) if isinstance(data, xr.DataArray) else None
        yield (str(default) if default is not None else Path(path).name), data
