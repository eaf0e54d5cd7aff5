"""Save and restore a manager's windows as one HDF5 file (no pickle), in the client process.

Layout: root attr ``labkit_workspace = 1``; group ``windows/<n>`` per window with dataset
``values``, group ``coords/<name>`` (dataset + attr ``dims``), and JSON attrs ``meta`` (name, dims,
source, watched, var_name, source_label), ``view`` (view state) and ``attrs`` (the DataArray attrs).

The manager only exports and restores windows as data: it never opens a path a client names. A
file is replaced only when it is a labkit workspace itself, and reading checks the declared sizes
against the load budget before allocating.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._loaders import check_budget

__all__ = ["read_workspace", "write_workspace"]

FORMAT_VERSION = 1


def _json(value: Any) -> str:
    return json.dumps(
        value, default=lambda o: o.item() if isinstance(o, np.generic) else o.tolist()
    )


def _storable(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OU":
        return np.asarray(values.astype(str), dtype=object)
    return values


def _is_workspace(path: str) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("labkit_workspace") == FORMAT_VERSION
    except OSError:
        return False


def write_workspace(path: str, windows: list[dict]) -> dict:
    """Write exported windows (``export`` request: data, view, name, ...) to ``path``.

    Raises:
        FileExistsError: ``path`` exists and is not a labkit workspace (it is left untouched).
    """
    import h5py

    if os.path.lexists(path) and (os.path.islink(path) or not _is_workspace(path)):
        raise FileExistsError(
            f"{path} exists and is not a labkit workspace; labkit only replaces its own workspace "
            "files: choose another path or remove that file first"
        )
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["labkit_workspace"] = FORMAT_VERSION
        root = f.create_group("windows")
        for n, w in enumerate(windows):
            data: xr.DataArray = w["data"]
            g = root.create_group(f"{n:04d}")
            g.create_dataset("values", data=_storable(np.asarray(data.values)))
            coords = g.create_group("coords")
            for cname, coord in data.coords.items():
                ds = coords.create_dataset(str(cname), data=_storable(np.asarray(coord.values)))
                ds.attrs["dims"] = _json([str(d) for d in coord.dims])
            meta = {"name": w["name"], "dims": [str(d) for d in data.dims], "data_name": data.name,
                    "source": w.get("source", ""), "watched": bool(w.get("watched")),
                    "var_name": w.get("var_name"), "source_label": w.get("source_label")}  # fmt: skip
            g.attrs["meta"] = _json(meta)
            g.attrs["view"] = _json(w.get("view") or {})
            g.attrs["attrs"] = _json(dict(data.attrs))
    os.replace(tmp, path)
    return {"path": path, "windows": len(windows)}


def read_workspace(path: str, max_bytes: int | None = None) -> list[dict]:
    """The windows saved in ``path``, as ``restore`` request parameters.

    Raises:
        FileNotFoundError: no such file.  ValueError: not a labkit workspace, or its arrays exceed
            the load budget (checked before anything is read).
    """
    import h5py

    if not os.path.exists(path):
        raise FileNotFoundError(f"workspace {path} does not exist")
    out = []
    with h5py.File(path, "r") as f:
        if f.attrs.get("labkit_workspace") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a labkit workspace (version {FORMAT_VERSION})")
        datasets: list[Any] = []
        f.visititems(
            lambda _name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None
        )
        declared = sum(int(np.prod(d.shape)) * max(d.dtype.itemsize, 1) for d in datasets)
        check_budget(declared, path, max_bytes)
        for key in sorted(f["windows"]):
            g = f["windows"][key]
            meta = json.loads(g.attrs["meta"])
            coords = {}
            for cname, ds in g["coords"].items():
                values = ds[...]
                if values.dtype.kind == "O":
                    values = values.astype(str)
                coords[cname] = (json.loads(ds.attrs["dims"]), values)
            data = xr.DataArray(g["values"][...], dims=meta["dims"], coords=coords, name=meta["data_name"],
                                attrs=json.loads(g.attrs["attrs"]))  # fmt: skip
            out.append(
                {
                    "data": data,
                    "name": meta["name"],
                    "source": meta["source"],
                    "watched": meta["watched"],
                    "var_name": meta["var_name"],
                    "source_label": meta.get("source_label"),
                    "view": json.loads(g.attrs["view"]),
                }
            )
    return out
