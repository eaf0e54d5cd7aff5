"""The public client API: show / load / replace / fetch / watch / shutdown."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

import xarray as xr

from labkit.viewer._errors import ManagerError
from labkit.viewer._hash import as_dataarray
from labkit.viewer._target import Target, close_clients, resolve
from labkit.viewer._watch import Watcher

__all__ = [
    "fetch",
    "is_running",
    "load_in_manager",
    "load_workspace",
    "maybe_push",
    "replace_data",
    "save_workspace",
    "show_in_manager",
    "shutdown",
    "watch",
    "watch_info",
    "watched_variables",
]

logger = logging.getLogger(__name__)

_watchers: dict[tuple[int, str], Watcher] = {}
_watchers_lock = threading.Lock()


def show_in_manager(data: Any, target: Target = None, link: bool | list = False, **kw: Any) -> dict:
    """Open a viewer window on ``data`` (a DataArray or numeric ndarray) in a manager.

    ``link=True`` links the new window with all open windows (cursors and contrast shared);
    a list of indices/uids links it with those. ``name=`` sets the window title, ``view=`` its
    initial view state. Returns the window summary (``index``, ``uid``, ...).

    Raises:
        TypeError: ``data`` is not an array.
        ManagerNotFoundError, ManagerAmbiguousError, ManagerUnavailableError: see :func:`resolve`.
    """
    name = kw.pop("name", None)
    data = as_dataarray(data, name)
    return resolve(target).request("show", data=data, name=name, link=link, source=_source(), **kw)


def load_in_manager(
    paths: str | os.PathLike | Iterable,
    loader_name: str | None = None,
    target: Target = None,
    **load_kwargs: Any,
) -> list[dict]:
    """Load files (netCDF, Zarr, HDF5, TIFF, labkit series) here and show each in a window.

    The files are read by this process (the manager never opens paths a client names), checked
    against :data:`labkit.viewer.LOAD_BUDGET_BYTES` before anything is allocated, and sent as data.
    ``loader_name`` forces a loader (see :func:`labkit.viewer.loaders`); ``load_kwargs`` go to it.
    Returns one summary per window.

    Raises:
        FileNotFoundError: a path does not exist.  ValueError: unknown format or loader, or a file
            whose arrays exceed the memory budget.  TypeError: keywords the loader does not take.
    """
    from labkit.viewer._loaders import load_paths

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    handle = resolve(target)
    return [
        handle.request("show", data=data, name=name, source=_source())
        for name, data in load_paths([os.fspath(p) for p in paths], loader_name, **load_kwargs)
    ]


def replace_data(index_or_uid: int | str, data: Any, target: Target = None) -> dict:
    """Show new data in an existing window (view state kept where it still fits)."""
    data = as_dataarray(data)
    return resolve(target).request("replace", window=index_or_uid, data=data)


def fetch(index_or_uid: int | str, target: Target = None) -> xr.DataArray:
    """The DataArray a window shows (a writable copy).

    Raises:
        WindowNotFoundError: no such window.
    """
    data = resolve(target).request("fetch", window=index_or_uid)
    return data.copy(deep=True)


def is_running(target: Target = None, timeout_s: float = 1.0) -> bool:
    """True when the (selected) manager answers a ping within ``timeout_s``."""
    try:
        return resolve(target).is_running(timeout_s)
    except ManagerError:
        return False


def save_workspace(path: str | os.PathLike, target: Target = None) -> dict:
    """Save all windows (data, view state, watch links) to an HDF5 file written by this process.

    Returns ``{"path", "windows"}``. An existing file is replaced only if it is a labkit workspace.

    Raises:
        FileExistsError: ``path`` exists and is not a labkit workspace (nothing is written).
    """
    from labkit.viewer._workspace import write_workspace

    windows = resolve(target).request("export")
    return write_workspace(os.fspath(path), windows)


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


def _namespace_and_shell(namespace: dict | None, shell: Any, depth: int) -> tuple[dict, Any]:
    if namespace is not None:
        return namespace, shell
    if shell is not None:
        return shell.user_ns, shell
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        ip = None
    if ip is not None and getattr(ip, "user_ns", None) is not None:
        return ip.user_ns, ip
    return sys._getframe(depth).f_globals, None


def watch(
    *names: str,
    shell: Any = None,
    namespace: dict | None = None,
    stop: bool = False,
    remove: bool = False,
    stop_all: bool = False,
    restore: bool = False,
    shadow_builtins: bool = False,
    target: Target = None,
    poll_interval_s: float | None = 0.25,
) -> list[str]:
    """Watch variables: every change is pushed to a manager window; viewer edits come back.

    ``watch("x", "y")`` starts watching (and pushes now); ``stop=True`` stops watching the names
    (all when none given), ``remove=True`` also closes their windows; ``stop_all=True`` stops every
    watcher of this process; ``restore=True`` reconnects watched windows restored from a workspace,
    by name (creating the variables; a name that would shadow a builtin is refused unless
    ``shadow_builtins=True``). Without ``namespace``/``shell`` it uses the IPython kernel's namespace (checked after
    each cell) or else the caller's globals (polled every ``poll_interval_s`` by a thread).
    Returns the names now watched in that namespace.

    Raises:
        NameError: a name is not defined.
        TypeError: a name is not an array.
        ManagerNotFoundError: no manager is running (or none matches ``target``).
        ManagerAmbiguousError: several managers match and none is the default.
        ManagerUnavailableError: the manager did not answer.
    """
    if stop_all:
        _stop_all(remove_windows=remove)
        return []
    ns, sh = _namespace_and_shell(namespace, shell, depth=2)
    if stop or remove:
        # no manager lookup without a target: stopping must work when the manager is gone
        uid = resolve(target).uid if target is not None else None
        with _watchers_lock:
            found = [(k, w) for k, w in _watchers.items() if k[0] == id(ns) and uid in (None, k[1])]
        remaining: set[str] = set()
        for key, w in found:
            w.remove(names or None, remove_windows=remove)
            if not w.variables:
                w.close()
                with _watchers_lock:
                    _watchers.pop(key, None)
            remaining |= set(w.variables)
        return sorted(remaining)
    handle = resolve(target)
    key = (id(ns), handle.uid)
    with _watchers_lock:
        watcher = _watchers.get(key)
    if watcher is None:
        watcher = Watcher(ns, handle, shell=sh, poll_interval_s=poll_interval_s)
        with _watchers_lock:
            _watchers[key] = watcher
    try:
        if restore:
            watcher.restore(shadow_builtins=shadow_builtins)
        if names:
            watcher.add(names)
    finally:
        if not watcher.variables:
            watcher.close()
            with _watchers_lock:
                _watchers.pop(key, None)
    return sorted(watcher.variables)


def maybe_push() -> list[str]:
    """Check every watched variable now and push the changed ones; returns their names."""
    with _watchers_lock:
        watchers = list(_watchers.values())
    return [n for w in watchers for n in w.check_all()]


def watched_variables() -> list[str]:
    """Names watched by this process (all namespaces and managers)."""
    with _watchers_lock:
        return sorted({n for w in _watchers.values() for n in w.variables})


def watch_info(target: Target = None) -> list[dict]:
    """Per watcher: manager, client id, mode and per-variable push counters."""
    with _watchers_lock:
        watchers = list(_watchers.values())
    uid = resolve(target).uid if target is not None else None
    return [w.info() for w in watchers if uid is None or w.handle.uid == uid]


def _stop_all(remove_windows: bool = False) -> None:
    with _watchers_lock:
        watchers = list(_watchers.values())
        _watchers.clear()
    for w in watchers:
        w.close(remove_windows=remove_windows)


def shutdown(remove: bool = False) -> None:
    """Stop all watchers (closing their windows when ``remove``), join their threads, close sockets."""
    _stop_all(remove_windows=remove)
    close_clients()
