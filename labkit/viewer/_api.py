"""The public client API: show / load / replace / fetch / workspaces / log file.

Watching (``watch``, ``maybe_push``, ...) is in ``_watch_api.py``. The names and keywords follow
erlab's ImageTool manager (``erlab.interactive.imagetool.manager``); docs/viewer.md lists where
labkit differs on purpose.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._errors import ManagerError
from labkit.viewer._inputs import show_options, split_arrays, strict_keywords
from labkit.viewer._logfile import get_log_file_path
from labkit.viewer._target import Target, resolve

__all__ = [
    "fetch",
    "get_log_file_path",
    "is_running",
    "load_in_manager",
    "load_workspace",
    "replace_data",
    "save_workspace",
    "show_in_manager",
]


def _names(name: Any, items: list[tuple[str | None, xr.DataArray]]) -> list[str | None]:
    if name is None:
        return [n for n, _ in items]
    if isinstance(name, str):
        if len(items) > 1:
            raise ValueError(f"name={name!r} for {len(items)} windows: pass a list of names")
        return [name]
    names = list(name)
    if len(names) != len(items):
        raise ValueError(f"{len(names)} names for {len(items)} windows; give one name per window")
    return [None if n is None else str(n) for n in names]


def show_in_manager(data: Any, target: Target = None, **kwargs: Any) -> dict | list[dict]:
    """Open viewer windows on ``data`` in a manager.

    ``data`` is a DataArray or numeric ndarray (one window; returns its summary: ``index``,
    ``uid``, ...), or a list of them, a Dataset (a window per data variable) or a DataTree (a
    window per data variable of every node), which return a list of summaries.

    Keywords (erlab's ImageTool keywords are honoured):

    - ``name``: window title (a list for several windows); ``view``: initial view state.
    - ``link=True``: link the windows shown by this call (position, bins and colour scale);
      a list of indices/uids links them with those windows too. ``link_group`` names the group;
      ``link_colors=False`` shares position and bins but not the colour scale.
    - ``cmap``, ``vmin``, ``vmax``, ``gamma``, ``zero_centered``: the colour scale
      (view ``colormap``, ``contrast_lo``, ``contrast_hi``, ``gamma``, ``zero_centered``).
    - ``transpose``: swap the two image dims; ``rad2deg``: angle coordinates (True: erlab's
      phi, theta, beta, alpha, chi, xi; or a list of names) converted to degrees.
    - ``file_path``: the window's source (shown in its title).

    Raises:
        TypeError: ``data`` is not an array, or an unknown keyword (the message lists them all).
        ValueError: a value the window cannot take (colormap, view key, dims, ...); nothing opens.
        ManagerNotFoundError, ManagerAmbiguousError, ManagerUnavailableError: see ``resolve``.
    """
    options = show_options(kwargs)
    items = split_arrays(data)
    names = _names(kwargs.get("name"), items)
    arrays = [options.prepare(d) for _, d in items]
    summaries = resolve(target).request(
        "show",
        data=arrays,
        name=names,
        view=[options.view_for(d) for d in arrays],
        link=options.link,
        link_group=options.link_group,
        link_colors=options.link_colors,
        source=options.source or _source(),
    )
    return summaries[0] if isinstance(data, xr.DataArray | np.ndarray) else summaries


def load_in_manager(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    loader_name: str | None = None,
    target: Target = None,
    **load_kwargs: Any,
) -> list[dict]:
    """Load files (netCDF, Zarr, HDF5, TIFF, labkit series, registered loaders) here and show
    each array they hold in a window (a Dataset: one per data variable).

    The files are read by this process (the manager never opens paths a client names), their
    declared sizes checked against :func:`labkit.viewer.load_budget_bytes` before anything is
    allocated, and sent as data. ``loader_name`` forces a loader (:func:`labkit.viewer.loaders`);
    ``load_kwargs`` go to it. Every path, format and keyword is checked before the first file is
    read. Returns one summary per window.

    Raises:
        FileNotFoundError: a path does not exist.  ValueError: unknown format or loader, or a file
            whose arrays exceed the memory budget.  TypeError: a keyword the loader does not take
            (the message lists those it takes).
    """
    from labkit.viewer._loaders import load_paths

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = [os.fspath(p) for p in paths]
    handle = resolve(target)
    summaries: list[dict] = []
    for (name, loaded), path in zip(
        load_paths(files, loader_name, **load_kwargs), files, strict=True
    ):
        items = split_arrays(loaded, what=path)
        if len(items) == 1 and items[0][0] is None:
            items = [(name, items[0][1])]
        summaries += handle.request(
            "show",
            data=[d for _, d in items],
            name=[n for n, _ in items],
            source=str(Path(path).resolve()),
        )
    return summaries


@strict_keywords
def replace_data(
    index: int | str | list[int | str] | tuple[int | str, ...], data: Any, target: Target = None
) -> dict | list[dict]:
    """Show new data in existing windows (view state kept where it still fits).

    ``index`` is one window (index or uid) and ``data`` one array, or ``index`` a list of windows
    and ``data`` as many arrays (a list, a Dataset or a DataTree, in their order). Every window is
    checked before any is replaced. Returns the summary, or one per window for a list.

    Raises:
        ValueError: the number of windows and arrays differ.  WindowNotFoundError: no such window
            (nothing replaced).  TypeError: ``data`` is not an array.
    """
    items = split_arrays(data)
    keys = list(index) if isinstance(index, list | tuple) else [index]
    if len(keys) != len(items):
        raise ValueError(
            f"replace_data got {len(keys)} window(s) for {len(items)} array(s); pass one index "
            "per array (a list of indices for a list, Dataset or DataTree)"
        )
    result = resolve(target).request("replace", window=keys, data=[d for _, d in items])
    return result if isinstance(index, list | tuple) else result[0]


@strict_keywords
def fetch(index: int | str, target: Target = None) -> xr.DataArray:
    """The DataArray a window shows (a writable copy).

    Raises:
        WindowNotFoundError: no such window (erlab returns None; labkit raises).
    """
    data = resolve(target).request("fetch", window=index)
    return data.copy(deep=True)


@strict_keywords
def is_running(target: Target = None, timeout_s: float = 1.0) -> bool:
    """True when the (selected) manager answers a ping within ``timeout_s``."""
    try:
        return resolve(target).is_running(timeout_s)
    except ManagerError:
        return False


@strict_keywords
def save_workspace(path: str | os.PathLike, target: Target = None) -> dict:
    """Save all windows (data, view state, watch links) to an HDF5 file written by this process.

    Returns ``{"path", "windows"}``. An existing file is replaced only if it is a labkit workspace.

    Raises:
        FileExistsError: ``path`` exists and is not a labkit workspace (nothing is written).
    """
    from labkit.viewer._workspace import write_workspace

    windows = resolve(target).request("export")
    return write_workspace(os.fspath(path), windows)


@strict_keywords
def load_workspace(path: str | os.PathLike, target: Target = None) -> list[dict]:
    """Restore windows saved by :func:`save_workspace`; ``watch(restore=True)`` reconnects them.

    The file is read here and the windows sent to the manager.

    Raises:
        FileNotFoundError: no such file.  ValueError: not a labkit workspace, or larger than the
            memory budget.
    """
    from labkit.viewer._workspace import read_workspace

    handle = resolve(target)
    return [handle.request("restore", **window) for window in read_workspace(os.fspath(path))]


def _source() -> str:
    main = sys.modules.get("__main__")
    return str(getattr(main, "__session__", "") or getattr(main, "__file__", "") or "python")
