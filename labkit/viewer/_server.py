"""The manager server: request + event sockets, the window registry, heartbeat, web page.

Run it in the foreground (``labkit manager`` → :meth:`ManagerServer.serve_forever`) or in a
background thread of a notebook kernel (:meth:`ManagerServer.start`), so a JupyterLab or Voila
notebook can be the manager. One thread owns both sockets; other threads (viewer widgets) talk to
it through the thread-safe :class:`~labkit.viewer._windows.WindowRegistry`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import uuid
from typing import Any

import zmq

from labkit.viewer import _handlers
from labkit.viewer._proto import (
    Event,
    Reply,
    Request,
    WireAuthError,
    WireDecodeError,
    check_bind_ip,
    error_reply,
    pack,
    unpack,
)
from labkit.viewer._registry import HEARTBEAT_S, ManagerEntry, Registry
from labkit.viewer._windows import WindowRegistry, WindowState

__all__ = ["DEFAULT_EVENT_PORT", "DEFAULT_REQUEST_PORT", "ManagerServer"]

logger = logging.getLogger(__name__)

DEFAULT_REQUEST_PORT = 45555
DEFAULT_EVENT_PORT = 45556
MAX_UNACKED_EVENTS = 256  # per client; older unacked events are dropped with a warning


def _bind(sock: zmq.Socket, ip: str, port: int) -> int:
    """Bind ``port``, or a free port when it is 0 or taken; returns the bound port."""
    if port:
        try:
            sock.bind(f"tcp://{ip}:{port}")
            return port
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE:
                raise
            logger.info("port %d on %s is taken; using a free port", port, ip)
    return sock.bind_to_random_port(f"tcp://{ip}")


class ManagerServer:
    """A viewer manager.

    Args:
        ip: address to bind (loopback by default; anything else needs ``key``).
        request_port, event_port: preferred ports (0 = any free port); taken ports fall back
            to free ones.
        key: HMAC key; when set every message must be signed with it.
        registry_dir: where the registry of live managers lives (default: runtime dir).
        register: add this manager to the registry (tests may skip it).
        page: serve the manager web page; ``page_port`` 0 picks a free port.

    Raises:
        ValueError: non-loopback ``ip`` without a key.
    """

    def __init__(
        self,
        ip: str = "127.0.0.1",
        request_port: int = DEFAULT_REQUEST_PORT,
        event_port: int = DEFAULT_EVENT_PORT,
        *,
        key: bytes | None = None,
        registry_dir: str | os.PathLike | None = None,
        register: bool = True,
        page: bool = True,
        page_port: int = 0,
        key_file: str = "",
    ) -> None:
        check_bind_ip(ip, key)
        key = key.encode() if isinstance(key, str) else key
        self.ip, self.key, self.uid = ip, key, uuid.uuid4().hex[:12]
        self.windows = WindowRegistry()
        self.registry = Registry(registry_dir) if register else None
        self._ctx = zmq.Context()
        self._req = self._ctx.socket(zmq.ROUTER)
        self._evt = self._ctx.socket(zmq.ROUTER)
        for s in (self._req, self._evt):
            s.linger = 0
        self._evt.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._evt.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client takes its id over
        self.request_port = _bind(self._req, ip, request_port)
        self.event_port = _bind(self._evt, ip, event_port)
        self._wake_r, self._wake_w = os.pipe()
        self._pending_events: collections.deque[tuple[str, str, Any, Any]] = collections.deque()
        # client id -> seq -> (coalesce key, frames), kept until acked
        self._outbox: dict[str, collections.OrderedDict[int, tuple[Any, list]]] = {}
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.started_s = time.time()
        self._unsubscribe = self.windows.subscribe(self._on_window_event)
        self._page: Any = None
        self.url = ""
        try:
            if page:
                self._start_page(page_port)
            self.entry = ManagerEntry(
                uid=self.uid,
                pid=os.getpid(),
                ip=ip,
                request_port=self.request_port,
                event_port=self.event_port,
                url=self.url,
                started_s=self.started_s,
                heartbeat_s=time.time(),
                version=_version(),
                key_file=key_file,
            )
            if self.registry is not None:
                self.registry.add(self.entry)
        except BaseException:  # release the sockets (and page) before reporting the failure
            self._close_now()
            raise
        logger.info(
            "manager %s on %s ports %d/%d", self.uid, ip, self.request_port, self.event_port
        )

    # ---- lifecycle
    def _start_page(self, port: int) -> None:
        """The manager page (``_page.py``); the placeholder (``_webpage.py``) if it is absent or
        its front end is not built."""
        from labkit.viewer import _webpage

        start_page: Any = _webpage.start_page
        try:
            from labkit.viewer import _page

            start_page = _page.start_page
        except ImportError:
            pass
        try:
            self._page = start_page(self, self.ip, port)
        except FileNotFoundError as exc:
            logger.warning("manager page unavailable (%s); serving the placeholder page", exc)
            self._page = _webpage.start_page(self, self.ip, port)
        self.url = self._page.url

    def start(self) -> ManagerServer:
        """Serve in a background daemon thread (e.g. inside a notebook kernel); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, name="labkit-manager", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Handle requests until :meth:`stop` (or a ``shutdown`` request); then close."""
        poller = zmq.Poller()
        poller.register(self._req, zmq.POLLIN)
        poller.register(self._evt, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_beat = time.monotonic() + HEARTBEAT_S
        try:
            while not self._stop.is_set():
                timeout_ms = max(0.0, next_beat - time.monotonic()) * 1000
                ready = dict(poller.poll(int(timeout_ms)))
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
                if self._req in ready:
                    self._handle_request(self._req.recv_multipart(copy=False))
                if self._evt in ready:
                    self._handle_event_socket(self._evt.recv_multipart(copy=False))
                self._flush_events()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_S
                    if self.registry is not None:
                        try:
                            self.registry.heartbeat(self.uid)
                        except OSError as exc:  # registry dir gone: keep serving
                            logger.warning("heartbeat failed: %s", exc)
        finally:
            self._close_now()

    def request_stop(self) -> None:
        """Ask the serving loop to exit (safe from signal handlers and other threads)."""
        self._stop.set()
        self._wake()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and release sockets, the page and the registry entry."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            if self._thread is not threading.current_thread():
                self._thread.join(timeout_s)
        else:
            self._close_now()

    close = stop

    def __enter__(self) -> ManagerServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        if self.registry is not None:
            try:
                self.registry.remove(self.uid)
            except OSError:
                pass
        if self._page is not None:
            self._page.close()
        self._req.close(0)
        self._evt.close(0)
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ---- requests
    def _handle_request(self, frames: list) -> None:
        if len(frames) < 2:
            return  # nothing to reply to
        ident, body = frames[0], frames[1:]
        envelope = [ident]
        if len(body) > 1 and len(body[0]) == 0:  # a REQ client: keep its empty delimiter
            envelope.append(b"")
            body = body[1:]
        try:
            msg = unpack(body, self.key)
        except WireAuthError as exc:
            logger.warning("request with a bad signature dropped unanswered: %s", exc)
            return
        except WireDecodeError as exc:
            logger.warning("bad request answered with an error: %s", exc)
            return self._reply(envelope, error_reply(-1, exc))
        except Exception as exc:  # decoder bug: never let it kill the manager
            logger.exception("undecodable request")
            return self._reply(envelope, error_reply(-1, exc))
        if not isinstance(msg, Request):
            return self._reply(
                envelope,
                error_reply(-1, TypeError(f"expected a Request, got {type(msg).__name__}")),
            )
        handler = _handlers.HANDLERS.get(msg.method)
        if handler is None:
            unknown = ValueError(
                f"unknown method {msg.method!r}; known: {', '.join(sorted(_handlers.HANDLERS))}"
            )
            return self._reply(envelope, error_reply(msg.id, unknown))
        try:
            result = handler(self, dict(msg.params or {}))
        except Exception as exc:
            logger.info("request %s failed: %r", msg.method, exc)
            return self._reply(envelope, error_reply(msg.id, exc))
        self._reply(envelope, Reply(id=msg.id, result=result))

    def _reply(self, envelope: list, msg: Any) -> None:
        try:
            frames = pack(msg, self.key)
        except Exception as exc:  # e.g. a result the codec cannot encode
            frames = pack(error_reply(getattr(msg, "id", -1), exc), self.key)
        self._req.send_multipart([*envelope, *frames], copy=False)

    # ---- reliable events to clients
    def _handle_event_socket(self, frames: list) -> None:
        if len(frames) < 2:
            return
        client = frames[0].bytes.decode("utf-8", "replace")
        try:
            msg = unpack(frames[1:], self.key)
            if not isinstance(msg, Request):
                raise WireDecodeError(f"expected hello/ack, got {type(msg).__name__}")
        except Exception as exc:
            logger.warning("bad message on the event socket from %r dropped: %s", client, exc)
            return
        box = self._outbox.get(client)
        if box is None:
            return  # nothing was ever queued for this client
        if msg.method == "ack":
            seq = int((msg.params or {}).get("seq", -1))
            for s in [s for s in box if s <= seq]:
                del box[s]
        elif msg.method == "hello":
            last = int((msg.params or {}).get("last_seq", -1))
            for s in [s for s in box if s <= last]:
                del box[s]
            for s, (_, ev) in list(box.items()):
                self._send_event(client, s, ev)

    def emit_to_client(
        self, client_id: str, topic: str, payload: Any, coalesce: Any = None
    ) -> None:
        """Queue an event for one client (thread-safe); it is resent until acked.

        Events with the same non-None ``coalesce`` key replace older unacked ones (state events:
        only the newest value of a variable matters).
        """
        self._pending_events.append((client_id, topic, payload, coalesce))
        self._wake()

    def forget_client(self, client_id: str) -> None:
        """Drop the unacked events of a client that stopped watching (thread-safe)."""
        self._pending_events.append((client_id, "", None, "__forget__"))
        self._wake()

    def _flush_events(self) -> None:
        while self._pending_events:
            client, topic, payload, coalesce = self._pending_events.popleft()
            if coalesce == "__forget__":
                self._outbox.pop(client, None)
                continue
            self._seq += 1
            try:
                frames = pack(Event(topic=topic, payload=payload, seq=self._seq), self.key)
            except Exception:
                logger.exception("cannot encode %s event for %s", topic, client)
                continue
            box = self._outbox.setdefault(client, collections.OrderedDict())
            if coalesce is not None:
                for s in [s for s, (k, _) in box.items() if k == coalesce]:
                    del box[s]
            box[self._seq] = (coalesce, frames)
            while len(box) > MAX_UNACKED_EVENTS:
                dropped, _ = box.popitem(last=False)
                logger.warning(
                    "client %s acks no events: dropping unacked event %d", client, dropped
                )
            self._send_event(client, self._seq, frames)

    def _send_event(self, client: str, seq: int, frames: list) -> None:
        try:
            self._evt.send_multipart([client.encode(), *frames], copy=False)
        except zmq.ZMQError as exc:  # not connected (yet): replayed on its next hello
            logger.debug("event %d for %s kept for replay: %s", seq, client, exc)

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
        }


def _version() -> str:
    from labkit import __version__

    return __version__
