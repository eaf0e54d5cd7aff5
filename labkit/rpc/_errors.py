"""Errors of the RPC layer. Each message says what to do next."""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.wire import register_error

__all__ = [
    "ConnectionFileError",
    "RpcAuthError",
    "RpcError",
    "RpcTimeoutError",
    "RpcUnavailableError",
    "RuntimeDirError",
    "ServerBusyError",
]


class RpcError(LabkitError):
    """Base class of the errors raised by :mod:`labkit.rpc`."""


class RuntimeDirError(RpcError, PermissionError):
    """The runtime directory is not private (mode 0700, owned by this user)."""


class ConnectionFileError(RpcError, ValueError):
    """A connection file is missing, readable by others, empty or malformed."""


class RpcAuthError(RpcError, PermissionError):
    """The server refused this client: its keys do not match the server's connection file."""


class RpcUnavailableError(RpcError, ConnectionError):
    """The server stopped answering (dead, unreachable, or the link is down)."""


class RpcTimeoutError(RpcError, TimeoutError):
    """A call got no reply in time, though the server still answers pings (it is busy)."""


class ServerBusyError(RpcError):
    """The server refused a request because a limit was reached (clients, queued work)."""


for _cls in (RpcError, ServerBusyError, RpcTimeoutError):
    register_error(_cls)
del _cls
