"""The base class of every labkit error: ``except lk.LabkitError`` catches anything labkit raises
on purpose.

Each labkit error also keeps its builtin base (``PropertyLimitError`` is a ``ValueError``,
``SpoolWriteError`` an ``OSError``, ``RpcTimeoutError`` a ``TimeoutError``), so code that catches
builtins keeps working. This module imports nothing from labkit: every layer may use it.
"""

from __future__ import annotations

__all__ = ["LabkitError"]


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose (each also keeps its builtin base)."""
