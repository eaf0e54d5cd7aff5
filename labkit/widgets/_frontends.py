"""Which front end runs this kernel, for choices only a front end can decide (encodings,
renderers), and how a widget learns that its front end let it go."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["close_with_comm", "running_in_marimo"]


def running_in_marimo() -> bool:
    """True inside a marimo notebook or app (checked lazily: marimo is never imported here)."""
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:
        return bool(mo.running_in_notebook())
    except Exception:  # noqa: BLE001 - any failure means "not marimo"
        return False


def close_with_comm(widget: Any) -> None:
    """Make ``widget.close()`` run when the widget's comm is closed from outside.

    marimo closes the comm of every widget a cell made when that cell re-runs or is deleted, but
    never tells the widget, so a live view's pump thread and ring reader (or a trace plot's, or a
    panel's device listener) would live on until the process exits. ``Widget.close_all()`` in
    Jupyter closes comms the same way. The comm's public ``close()`` is wrapped on this one
    instance and calls ``widget.close()`` once: ``Widget.close()`` itself closes the comm, so a
    second call would recurse. A comm dropped by garbage collection (``deleting=True``) does not
    call it: the widget is going away then.
    """
    comm = getattr(widget, "comm", None)
    if comm is None:
        return
    original = comm.close
    fired = False

    def close(*args: Any, **kwargs: Any) -> None:
        nonlocal fired
        original(*args, **kwargs)
        if kwargs.get("deleting", False) or fired:
            return
        fired = True
        widget.close()

    comm.close = close
