"""Exceptions raised by the viewer manager client and server."""

from __future__ import annotations

__all__ = [
    "ManagerAmbiguousError",
    "ManagerError",
    "ManagerNotFoundError",
    "ManagerUnavailableError",
    "WindowNotFoundError",
]


class ManagerError(RuntimeError):
    """Base class of viewer-manager errors."""


class ManagerNotFoundError(ManagerError, LookupError):
    """No live manager matches the requested index/uid, or none is running at all.

    The message lists the live managers and says how to start one (``labkit manager``).
    """


class ManagerAmbiguousError(ManagerError):
    """Several managers are live and no default was chosen.

    Pass ``target=i``, call ``set_default_manager(i)`` or set ``LABKIT_MANAGER``.
    """


class ManagerUnavailableError(ManagerError, TimeoutError):
    """The manager did not answer within the timeout (it died, hangs or the address is wrong)."""


class WindowNotFoundError(ManagerError, LookupError):
    """No window with that index or uid exists in the manager."""
