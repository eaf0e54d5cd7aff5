"""labkit: a Jupyter-first interactive acquisition toolkit.

Importing labkit has no side effects: no threads, sockets or files are created until you
make a :class:`Scope`, a widget or a manager. Public names are loaded lazily so that
``import labkit`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError

if TYPE_CHECKING:  # what the lazy loader below returns, spelled out for type checkers and IDEs
    from labkit import (
        analysis,
        bench,
        buffers,
        devices,
        engine,
        processing,
        protocols,
        rpc,
        spool,
        testing,
        viewer,
        widgets,
        wire,
    )
    from labkit.engine import EngineState, Scope, SettingsError, connect
    from labkit.processing.tracking import track
    from labkit.protocols import Script, print_script_commands
    from labkit.spool import open_series, repair_series
    from labkit.viewer import fetch, watch
    from labkit.viewer import show_in_manager as show
    from labkit.widgets import DevicePanel, LiveView, ScriptPanel, TracePlot

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> module that defines it (loaded on first attribute access)
_LAZY: dict[str, str] = {
    # engine
    "Scope": "labkit.engine",
    "connect": "labkit.engine",
    "EngineState": "labkit.engine",
    "SettingsError": "labkit.engine",
    # processing
    "track": "labkit.processing.tracking",
    # protocols
    "Script": "labkit.protocols",
    "print_script_commands": "labkit.protocols",
    # spool
    "open_series": "labkit.spool",
    "repair_series": "labkit.spool",
    # viewer (short aliases of labkit.viewer.*)
    "show": "labkit.viewer",
    "watch": "labkit.viewer",
    "fetch": "labkit.viewer",
    # widgets
    "LiveView": "labkit.widgets",
    "TracePlot": "labkit.widgets",
    "DevicePanel": "labkit.widgets",
    "ScriptPanel": "labkit.widgets",
}

_ALIASES = {"show": "show_in_manager"}

_SUBMODULES = {
    "analysis",
    "devices",
    "buffers",
    "wire",
    "rpc",
    "processing",
    "protocols",
    "engine",
    "spool",
    "viewer",
    "widgets",
    "testing",
    "bench",
}

__all__ = [
    "__version__",
    "LabkitError",
    # engine
    "EngineState",
    "Scope",
    "SettingsError",
    "connect",
    # processing
    "track",
    # protocols
    "Script",
    "print_script_commands",
    # spool
    "open_series",
    "repair_series",
    # viewer
    "fetch",
    "show",
    "watch",
    # widgets
    "DevicePanel",
    "LiveView",
    "ScriptPanel",
    "TracePlot",
    # subpackages
    "analysis",
    "bench",
    "buffers",
    "devices",
    "engine",
    "processing",
    "protocols",
    "rpc",
    "spool",
    "testing",
    "viewer",
    "widgets",
    "wire",
]


# Hidden from type checkers, which then report a misspelt name instead of typing it Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _SUBMODULES:
            return importlib.import_module(f"labkit.{name}")
        if name in _LAZY:
            module = importlib.import_module(_LAZY[name])
            value = getattr(module, _ALIASES.get(name, name))
            globals()[name] = value
            return value
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
