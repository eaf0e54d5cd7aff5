"""Notebook widgets: live view, trace plot, device panel, spool panel, dashboard, form, bead
tracking panel and z table view.

Names are loaded lazily so importing labkit.widgets does not import anywidget/bqplot until used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "LiveView": "labkit.widgets._liveview",
    "FrameSource": "labkit.widgets._liveview",
    "ArraySource": "labkit.widgets._liveview",
    "TracePlot": "labkit.widgets._traceplot",
    "TraceCanvas": "labkit.widgets._trace_canvas",
    "DevicePanel": "labkit.widgets._device_panel",
    "SpoolPanel": "labkit.widgets._spool_panel",
    "Dashboard": "labkit.widgets._dashboard",
    "Form": "labkit.widgets._form",
    "TrackingPanel": "labkit.widgets._tracking",
    "ZLUTView": "labkit.widgets._zlut_view",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labkit.widgets' has no attribute {name!r}")
