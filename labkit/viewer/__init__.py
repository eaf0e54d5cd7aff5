"""Viewer manager and watch/push: sync xarray variables to viewer windows over ZeroMQ.

Start a manager with ``labkit manager`` (or :class:`ManagerServer` in a kernel thread), then from
any notebook::

    import labkit.viewer as lv
    lv.show_in_manager(data)          # a window on a DataArray
    lv.watch("x")                     # push every change of x; viewer edits come back
    lv.fetch(0)                       # the DataArray window 0 shows

See docs/viewer.md for the protocol and the guarantees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.viewer._api import (
    fetch,
    get_log_file_path,
    is_running,
    load_in_manager,
    load_workspace,
    replace_data,
    save_workspace,
    show_in_manager,
)
from labkit.viewer._errors import (
    ManagerAmbiguousError,
    ManagerError,
    ManagerNotFoundError,
    ManagerUnavailableError,
    UnknownMethodError,
    WindowNotFoundError,
)
from labkit.viewer._loaders import load_budget_bytes, loaders, register_loader
from labkit.viewer._magic import load_ipython_extension, unload_ipython_extension
from labkit.viewer._registry import ManagerEntry, Registry
from labkit.viewer._server import ManagerServer
from labkit.viewer._target import (
    ManagerHandle,
    clear_default_manager,
    get_default_manager,
    manager_selection_info,
    managers,
    set_default_manager,
    use_manager,
)
from labkit.viewer._watch_api import (
    maybe_push,
    shutdown,
    watch,
    watch_info,
    watched_variables,
)
from labkit.viewer._windows import WindowRegistry, WindowState

if TYPE_CHECKING:  # the lazy widgets below, spelled out for type checkers and IDEs
    from labkit.viewer._page import ManagerPanel
    from labkit.viewer._window import ViewerWindow

show = show_in_manager

__all__ = [
    # client API
    "fetch",
    "get_log_file_path",
    "is_running",
    "load_in_manager",
    "maybe_push",
    "replace_data",
    "show",
    "show_in_manager",
    "shutdown",
    "watch",
    "watch_info",
    "watched_variables",
    "save_workspace",
    "load_workspace",
    # file loaders (run in the client)
    "loaders",
    "register_loader",
    "load_budget_bytes",
    # manager selection
    "ManagerHandle",
    "clear_default_manager",
    "get_default_manager",
    "manager_selection_info",
    "managers",
    "set_default_manager",
    "use_manager",
    # server side
    "ManagerEntry",
    "ManagerServer",
    "Registry",
    "WindowRegistry",
    "WindowState",
    # widgets (loaded on first use: they import anywidget/ipywidgets)
    "ManagerPanel",
    "ViewerWindow",
    # errors
    "ManagerAmbiguousError",
    "ManagerError",
    "ManagerNotFoundError",
    "ManagerUnavailableError",
    "UnknownMethodError",
    "WindowNotFoundError",
    # IPython
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY_WIDGETS = {"ViewerWindow": "labkit.viewer._window", "ManagerPanel": "labkit.viewer._page"}


# Hidden from type checkers, which then report a misspelt name instead of typing it Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY_WIDGETS:
            import importlib

            value = getattr(importlib.import_module(_LAZY_WIDGETS[name]), name)
            globals()[name] = value
            return value
        raise AttributeError(f"module 'labkit.viewer' has no attribute {name!r}")
