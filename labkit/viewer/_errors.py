"""Exceptions raised by the viewer manager client and server."""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.rpc import RpcUnavailableError
from labkit.wire import register_error

__all__ = [
    "ManagerAmbiguousError",
    "ManagerError",
    "ManagerNotFoundError",
    "ManagerUnavailableError",
    "UnknownMethodError",
    "WindowNotFoundError",
]


class ManagerError(LabkitError, RuntimeError):
    """Base class of viewer-manager errors."""


class ManagerNotFoundError(ManagerError, LookupError):
    """No live manager matches the requested index/uid, or none is running at all.

    The message lists the live managers and says how to start one (``labkit manager``).
    """


class ManagerAmbiguousError(ManagerError):
    """Several managers are live and no default was chosen.

    Pass ``target=i``, call ``set_default_manager(i)`` or set ``LABKIT_MANAGER``.
    """


class ManagerUnavailableError(ManagerError, RpcUnavailableError):
    """The manager did not answer (it died, hangs, or the address or connection file is wrong)."""


class WindowNotFoundError(ManagerError, LookupError):
    """No window with that index or uid exists in the manager."""


class UnknownMethodError(ManagerError, LookupError):
    """A request named a method the manager does not have (the message lists those it has)."""


# manager-side viewer errors are re-raised by class in the client (looked up by name, never imported)
for _cls in (
    ManagerError,
    ManagerNotFoundError,
    ManagerAmbiguousError,
    ManagerUnavailableError,
    UnknownMethodError,
    WindowNotFoundError,
):
    register_error(_cls)
del _cls
