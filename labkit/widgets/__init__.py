"""Notebook widgets: live view, trace plot, device, spool and script panels, dashboard, form, bead
tracking panel and z table view.

Names are loaded lazily so importing labkit.widgets does not import anywidget/bqplot until used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy loader below returns, spelled out for type checkers and IDEs
    from labkit.widgets._dashboard import Dashboard
    from labkit.widgets._device_panel import DevicePanel
    from labkit.widgets._form import Form
    from labkit.widgets._liveview import ArraySource, FrameSource, LiveView
    from labkit.widgets._script_panel import ScriptPanel
    from labkit.widgets._spool_panel import SpoolPanel
    from labkit.widgets._trace_canvas import TraceCanvas
    from labkit.widgets._traceplot import TracePlot
    from labkit.widgets._tracking import TrackingPanel
    from labkit.widgets._zlut_view import ZLUTView

_LAZY = {
    "LiveView": "labkit.widgets._liveview",
    "FrameSource": "labkit.widgets._liveview",
    "ArraySource": "labkit.widgets._liveview",
    "TracePlot": "labkit.widgets._traceplot",
    "TraceCanvas": "labkit.widgets._trace_canvas",
    "DevicePanel": "labkit.widgets._device_panel",
    "SpoolPanel": "labkit.widgets._spool_panel",
    "ScriptPanel": "labkit.widgets._script_panel",
    "Dashboard": "labkit.widgets._dashboard",
    "Form": "labkit.widgets._form",
    "TrackingPanel": "labkit.widgets._tracking",
    "ZLUTView": "labkit.widgets._zlut_view",
}

__all__ = [
    "ArraySource",
    "Dashboard",
    "DevicePanel",
    "Form",
    "FrameSource",
    "LiveView",
    "ScriptPanel",
    "SpoolPanel",
    "TraceCanvas",
    "TracePlot",
    "TrackingPanel",
    "ZLUTView",
]


# Hidden from type checkers, which then report a misspelt name instead of typing it Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            value = getattr(importlib.import_module(_LAZY[name]), name)
            globals()[name] = value
            return value
        raise AttributeError(f"module 'labkit.widgets' has no attribute {name!r}")
