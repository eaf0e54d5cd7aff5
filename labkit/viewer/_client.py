"""Client side of the manager protocol: one :class:`labkit.rpc.RpcClient` per manager and watcher.

A plain :class:`ManagerClient` sends requests (``show``, ``fetch``, ...). A watcher has its own,
with its client id and an event handler: the manager addresses viewer edits to that id, and the
RPC layer delivers them reliably (numbered, acked, replayed after a reconnect).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from labkit.rpc import RpcClient, RpcTimeoutError, RpcUnavailableError
from labkit.viewer._errors import ManagerUnavailableError
from labkit.viewer._registry import ManagerEntry
from labkit.wire import Event

__all__ = ["ManagerClient", "new_client_id"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0


def new_client_id() -> str:
    """A process-unique client id: host, pid and a random token."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class ManagerClient:
    """Requests to one manager (thread-safe); connects on first use.

    ``on_event(topic, payload)`` receives the events addressed to ``client_id`` (viewer edits).

    Raises (from :meth:`request`):
        ManagerUnavailableError: the manager is gone or did not answer within the timeout.
        WindowNotFoundError, TypeError, ValueError, ...: re-raised from the manager;
            other manager-side errors arrive as ``RemoteError``.
    """

    def __init__(
        self,
        entry: ManagerEntry,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client_id: str | None = None,
        on_event: Callable[[str, Any], None] | None = None,
        shared_memory: bool = True,
    ) -> None:
        self.entry, self.timeout_s = entry, timeout_s
        self.shared_memory = shared_memory  # big arrays through shared memory (ipc managers)
        self.client_id = client_id or new_client_id()
        self._on_event = on_event
        self._lock = threading.Lock()
        self._rpc: RpcClient | None = None

    def _connect(self) -> RpcClient:
        with self._lock:
            if self._rpc is not None and self._rpc.alive:
                return self._rpc
            if self._rpc is not None:
                self._rpc.close()
                self._rpc = None
            try:
                connection = self.entry.connection()
            except (OSError, ValueError) as exc:
                raise ManagerUnavailableError(
                    f"cannot read the connection file of manager {self.entry.uid}: {exc}"
                ) from None
            self._rpc = RpcClient(
                connection,
                on_event=self._deliver if self._on_event is not None else None,
                client_id=self.client_id,
                name=f"viewer client in pid {os.getpid()}",
                unavailable_error=ManagerUnavailableError,
                connect_timeout_s=self.timeout_s,
                label="viewer",
                shared_memory=self.shared_memory,
            )
            return self._rpc

    def _deliver(self, event: Event) -> None:
        assert self._on_event is not None
        self._on_event(event.topic, event.payload)

    @property
    def events_lost(self) -> int:
        """Events the manager had to drop for this client (it read them too slowly)."""
        rpc = self._rpc
        return 0 if rpc is None else rpc.events_lost

    def connect(self) -> None:
        """Connect now (a watcher does, so edit events flow before its first push)."""
        self._connect()

    def request(self, method: str, timeout_s: float | None = None, **params: Any) -> Any:
        """Call ``method`` on the manager and return its result (after the manager did the work)."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            return self._connect().call(method, params, timeout_s)
        except RpcTimeoutError as exc:
            raise ManagerUnavailableError(
                f"viewer manager at {self.entry.address} (pid {self.entry.pid}) did not answer "
                f"{method!r} within {timeout_s:g} s ({exc}); wait, or pick another manager with "
                "use_manager(i)"
            ) from None
        except RpcUnavailableError as exc:
            if isinstance(exc, ManagerUnavailableError):
                raise
            raise ManagerUnavailableError(
                f"viewer manager at {self.entry.address}: {exc}"
            ) from None

    def close(self) -> None:
        with self._lock:
            rpc, self._rpc = self._rpc, None
        if rpc is not None:
            rpc.close()
