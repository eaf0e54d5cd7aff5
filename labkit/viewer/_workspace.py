"""Save and restore all windows of a manager to one HDF5 file (no pickle).

Layout: root attr ``labkit_workspace = 1``; group ``windows/<n>`` per window with dataset
``values``, group ``coords/<name>`` (dataset + attr ``dims``), and JSON attrs ``meta`` (name, dims,
source, watched, var_name), ``view`` (view state) and ``attrs`` (the DataArray attrs).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._windows import WindowRegistry, WindowState

__all__ = ["load_workspace", "save_workspace"]

FORMAT_VERSION = 1


def _json(value: Any) -> str:
    return json.dumps(
        value, default=lambda o: o.item() if isinstance(o, np.generic) else o.tolist()
    )


def _storable(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OU":
        return np.asarray(values.astype(str), dtype=object)
    return values


def save_workspace(windows: WindowRegistry, path: str) -> dict:
    """Write every window to ``path`` (HDF5); returns ``{"path", "windows"}``."""
    import h5py

    listed = windows.list()
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["labkit_workspace"] = FORMAT_VERSION
        root = f.create_group("windows")
        for n, w in enumerate(listed):
            g = root.create_group(f"{n:04d}")
            g.create_dataset("values", data=_storable(np.asarray(w.data.values)))
            coords = g.create_group("coords")
            for cname, coord in w.data.coords.items():
                ds = coords.create_dataset(str(cname), data=_storable(np.asarray(coord.values)))
                ds.attrs["dims"] = _json([str(d) for d in coord.dims])
            meta = {"name": w.name, "dims": [str(d) for d in w.data.dims], "data_name": w.data.name,
                    "source": w.source, "watched": w.watched, "var_name": w.var_name}  # fmt: skip
            g.attrs["meta"] = _json(meta)
            g.attrs["view"] = _json(w.view)
            g.attrs["attrs"] = _json(dict(w.data.attrs))
    os.replace(tmp, path)
    return {"path": path, "windows": len(listed)}


def load_workspace(windows: WindowRegistry, path: str) -> list[WindowState]:
    """Add the windows saved in ``path``; watched ones wait for ``watch(restore=True)``.

    Raises:
        FileNotFoundError: no such file.  ValueError: not a labkit workspace.
    """
    import h5py

    if not os.path.exists(path):
        raise FileNotFoundError(f"workspace {path} does not exist")
    added = []
    with h5py.File(path, "r") as f:
        if f.attrs.get("labkit_workspace") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a labkit workspace (version {FORMAT_VERSION})")
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
            added.append(
                windows.add(
                    data,
                    meta["name"],
                    source=meta["source"],
                    watched=meta["watched"],
                    var_name=meta["var_name"],
                    client_id=None,
                    view=json.loads(g.attrs["view"]),
                )
            )
    return added
