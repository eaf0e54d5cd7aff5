"""Which front end runs this kernel, for choices only a front end can decide (encodings, renderers)."""

from __future__ import annotations

import sys

__all__ = ["running_in_marimo"]


def running_in_marimo() -> bool:
    """True inside a marimo notebook or app (checked lazily: marimo is never imported here)."""
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:
        return bool(mo.running_in_notebook())
    except Exception:  # noqa: BLE001 - any failure means "not marimo"
        return False
