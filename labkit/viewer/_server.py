"""The manager server: the window registry served over :mod:`labkit.rpc`, heartbeat, web page.

Run it in the foreground (``labkit manager`` → :meth:`ManagerServer.serve_forever`) or in a
background thread of a notebook kernel (:meth:`ManagerServer.start`), so a JupyterLab or Voila
notebook can be the manager. Requests run on the RPC server's worker threads; other threads
(viewer widgets, the page) act on windows through the thread-safe
:class:`~labkit.viewer._windows.WindowRegistry`. Edits made in a viewer reach the watching notebook
as reliable events addressed to its client id (acked, replayed after a reconnect, bounded).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from labkit.rpc import CallInfo, RpcServer, ServerKeys
from labkit.viewer import _handlers
from labkit.viewer._registry import HEARTBEAT_S, ManagerEntry, Registry
from labkit.viewer._windows import WindowRegistry, WindowState

__all__ = ["MAX_MESSAGE_BYTES", "ManagerServer"]

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 << 30  # one frame (an array part); bigger arrays travel split
EVENT_BACKLOG_BYTES = 1 << 30  # per watcher: unacked edits (each the newest of its variable)


class ManagerServer:
    """A viewer manager.

    Args:
        address: ``None`` for a private ``ipc://`` socket in the runtime directory (this machine;
            the default), or ``tcp://HOST:PORT`` for other machines (CURVE: clients need the
            connection file, whose path is in :attr:`connection_file` and the registry).
        keys: the TCP server's CURVE identity (:class:`labkit.rpc.ServerKeys`).
        registry_dir: where the registry of live managers lives (default: the runtime dir).
        register: add this manager to the registry (tests may skip it).
        page: serve the manager web page (always with a token); ``page_port`` 0 picks a free
            port, ``page_ip`` is loopback unless you need the page elsewhere, ``page_token``
            keeps the page's token across restarts (open pages reconnect; default: a new one).
        max_message_bytes: largest frame a client may send.

    Raises:
        ValueError: ``page_token`` is shorter than 32 characters.
        RuntimeDirError: the runtime directory is not private.
        zmq.ZMQError: the address cannot be bound.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        keys: ServerKeys | None = None,
        registry_dir: str | os.PathLike | None = None,
        register: bool = True,
        page: bool = True,
        page_port: int = 0,
        page_ip: str = "127.0.0.1",
        page_token: str | None = None,
        public_host: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.uid = uuid.uuid4().hex[:12]
        self.windows = WindowRegistry()
        self.registry = Registry(registry_dir) if register else None
        if self.registry is not None:
            self.registry.ensure_directory()  # private, before the socket is made there
        self.started_s = time.time()
        self._page: Any = None
        self.url = ""
        self.rpc = RpcServer(
            address,
            kind="manager",
            dispatch=self._dispatch,
            inline=("ping",),
            stop_after=("shutdown",),
            keys=keys,
            connection_file=True,
            public_host=public_host,
            runtime=self.registry.directory if self.registry is not None else None,
            max_message_bytes=max_message_bytes,
            backlog_bytes=EVENT_BACKLOG_BYTES,
            shared_memory=True,  # ipc clients lend big arrays through shared memory
        )
        self._unsubscribe: Callable[[], None] | None = self.windows.subscribe(self._on_window_event)
        try:
            if page:
                from labkit.viewer._page import start_page

                self._page = start_page(self, page_ip, page_port, token=page_token)
                self.url = self._page.url
            self.entry = ManagerEntry(
                uid=self.uid,
                pid=os.getpid(),
                address=self.rpc.address,
                connection_file=str(self.rpc.connection_file or ""),
                url=self.url,
                started_s=self.started_s,
                heartbeat_s=time.time(),
                version=_version(),
            )
            if self.registry is not None:
                self.registry.add(self.entry)
                self.rpc.add_timer(HEARTBEAT_S, self._heartbeat)
        except BaseException:  # release the socket (and page) before reporting the failure
            self._release()
            self.rpc.stop()
            raise
        logger.info("manager %s on %s, page %s", self.uid, self.rpc.address, self.url or "-")

    @property
    def address(self) -> str:
        return self.rpc.address

    @property
    def connection_file(self) -> str:
        return self.entry.connection_file

    # ---- lifecycle
    def start(self) -> ManagerServer:
        """Serve in a background daemon thread (e.g. inside a notebook kernel); returns self."""
        self.rpc.start(before_close=self._release)
        return self

    def serve_forever(self) -> None:
        """Handle requests until :meth:`stop` (or a ``shutdown`` request); then close."""
        self.rpc.serve(before_close=self._release)

    def request_stop(self) -> None:
        """Ask the serving loop to exit (safe from signal handlers and other threads)."""
        self.rpc.request_stop()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and release the socket, the page and the registry entry."""
        self.rpc.stop(timeout_s)
        self._release()

    close = stop

    def __enter__(self) -> ManagerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _release(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is None:
            return
        unsubscribe()
        if self.registry is not None:
            try:
                self.registry.remove(self.uid)
            except OSError:
                pass
        if self._page is not None:
            self._page.close()

    def _heartbeat(self) -> None:
        assert self.registry is not None
        try:
            self.registry.heartbeat(self.uid)
        except OSError as exc:  # registry dir gone: keep serving
            logger.warning("heartbeat failed: %s", exc)

    # ---- requests
    def _dispatch(self, method: str, params: dict, call: CallInfo) -> Any:
        handler = _handlers.HANDLERS.get(method)
        if handler is None:
            raise _handlers.UnknownMethodError(
                f"unknown manager method {method!r}; known: {', '.join(sorted(_handlers.HANDLERS))}"
            )
        return handler(self, params, call)

    # ---- reliable events to watching clients
    def emit_to_client(
        self, client_id: str, topic: str, payload: Any, coalesce: Any = None
    ) -> None:
        """Queue an event for one client (thread-safe); it is resent until acked.

        Events with the same non-None ``coalesce`` key replace older unacked ones (state events:
        only the newest value of a variable matters).
        """
        self.rpc.send_event(client_id, topic, payload, coalesce)

    def forget_client(self, client_id: str) -> None:
        """Drop the unacked events of a client that stopped watching (thread-safe)."""
        self.rpc.forget_client(client_id)

    def _on_window_event(self, event: str, window: WindowState) -> None:
        if event == "edited" and window.watched and window.client_id:
            payload = {"var_name": window.var_name, "uid": window.uid, "data": window.data}
            self.emit_to_client(
                window.client_id, "edit", payload, coalesce=("edit", window.var_name)
            )

    # ---- info
    def info(self) -> dict:
        return {
            **self.entry.to_json(),
            "windows": [w.summary() for w in self.windows.list()],
            "rpc": self.rpc.stats(),
        }


def _version() -> str:
    from labkit import __version__

    return __version__
