"""The manager web page: the manager's windows as live viewers, served by its own tornado server.

``labkit/static/manager_page.js`` implements a minimal anywidget model (``get``/``set``/``on``/
``save_changes``/``send`` with binary buffers) over one websocket per page, and renders every
window with the same ESM (``labkit/static/viewer.js``) a notebook's :class:`ViewerWindow` uses.
On the server side each (page, window) pair gets a :class:`WindowController`, the same object the
notebook widget drives over its comm.

Websocket frames (both ways, binary): ``uint32 LE header length | JSON header | buffers...``,
the header's ``"buffers"`` lists the byte length of each buffer. Messages:

- server → page: ``windows`` (the list: name, shape, dtype, source, watched, ...), ``open``
  (``model_id`` + initial state), ``update`` (trait changes), ``custom`` (+ buffers), ``close``.
- page → server: ``update`` (``view`` changes), ``custom`` (``ready``, ``edit`` ...),
  ``close_window`` (``uid``). Malformed messages are answered with an ``error`` message.

Every request needs the page's ``?token=`` (random per manager, in the printed URL, compared in
constant time). The ``Host`` header must name this server (loopback names for a loopback page:
no DNS rebinding), a request carrying an ``Origin`` must come from the page's own origin (so
other web sites cannot script it, websocket included), and every response forbids framing and
referrers. Slices are newest-wins per window and page; the page reconnects by itself. :class:`ManagerPanel` is the same page as a notebook widget, for a JupyterLab or Voila
kernel that is itself the manager.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ipywidgets

from labkit.viewer._window import ViewerWindow, WindowController
from labkit.widgets._static import STATIC_DIR, bundle_path

if TYPE_CHECKING:
    from labkit.viewer._server import ManagerServer

__all__ = [
    "ManagerPanel",
    "PageHandle",
    "decode_frame",
    "encode_frame",
    "start_page",
]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<I")

_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>labkit manager</title>
<style>body{{margin:12px;font:13px system-ui,sans-serif;background:#fafafa}}</style></head>
<body><div id="lk-manager" data-manager="{uid}">loading…</div>
<script type="module" src="static/manager_page.js{query}"></script></body></html>
"""


_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it elsewhere
}
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(ip: str) -> frozenset[str]:
    """Host names a page bound to ``ip`` answers to (loopback ones only for a loopback page)."""
    if _is_loopback(ip):
        return _LOOPBACK_NAMES | {ip}
    names = {ip, socket.gethostname().lower(), socket.getfqdn().lower()}
    return _LOOPBACK_NAMES | frozenset(n for n in names if n)


def encode_frame(header: dict[str, Any], buffers: list | tuple = ()) -> bytes:
    """One websocket frame: length-prefixed JSON header, then the raw buffers."""
    views = [memoryview(b).cast("B") for b in buffers]
    head = json.dumps({**header, "buffers": [v.nbytes for v in views]}).encode()
    head += b" " * (-(_HEADER.size + len(head)) % 8)  # buffers start 8-byte aligned (typed arrays)
    return b"".join([_HEADER.pack(len(head)), head, *views])


def decode_frame(frame: bytes | str) -> tuple[dict[str, Any], list[memoryview]]:
    """Inverse of :func:`encode_frame` (a text frame is a bare JSON header).

    Raises:
        ValueError: truncated frame, bad JSON, or buffer lengths that do not add up.
    """
    buffers: list[memoryview] = []
    if isinstance(frame, str):
        header = json.loads(frame)
    else:
        if len(frame) < _HEADER.size:
            raise ValueError("truncated frame")
        (n,) = _HEADER.unpack_from(frame)
        if _HEADER.size + n > len(frame):
            raise ValueError("truncated frame header")
        header = json.loads(frame[_HEADER.size : _HEADER.size + n])
        view, pos = memoryview(frame), _HEADER.size + n
        for length in header.get("buffers", []) if isinstance(header, dict) else []:
            if not isinstance(length, int) or length < 0 or pos + length > len(frame):
                raise ValueError("buffer lengths do not match the frame")
            buffers.append(view[pos : pos + length])
            pos += length
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ValueError("a message is a JSON object with a 'type'")
    return header, buffers


class _Connection:
    """One page (websocket): a controller per window; writes hop onto the page's event loop.

    Slices are newest-wins per window: while one is being written, a newer one replaces the
    waiting one (``slices_coalesced`` counts those), so a slow page never builds a queue.
    """

    def __init__(self, page: _PageServer, socket: Any) -> None:
        self.page, self.socket = page, socket
        self.controllers: dict[str, WindowController] = {}
        self.closed = False
        self.slices_coalesced = 0
        self._lock = threading.Lock()
        self._slice_waiting: dict[str, bytes] = {}
        self._slice_writing: set[str] = set()

    def write(self, header: dict[str, Any], buffers: list | tuple = ()) -> None:
        frame = encode_frame(header, buffers)  # copies the buffers now, in the caller's thread
        self.page.loop.call_soon_threadsafe(self._write_now, frame)

    def _write_now(self, frame: bytes) -> None:
        if self.closed:
            return
        try:
            self.socket.write_message(frame, binary=True)
        except Exception as exc:  # closed meanwhile
            logger.debug("page write dropped: %s", exc)

    def write_slice(self, uid: str, header: dict[str, Any], buffers: list) -> None:
        frame = encode_frame(header, buffers)
        with self._lock:
            self.slices_coalesced += uid in self._slice_waiting
            self._slice_waiting[uid] = frame
            if uid in self._slice_writing:
                return
            self._slice_writing.add(uid)
        self.page.loop.call_soon_threadsafe(self._next_slice, uid)

    def _next_slice(self, uid: str, done: Any = None) -> None:
        if done is not None and not done.cancelled() and done.exception() is not None:
            logger.debug("slice write failed: %s", done.exception())
        with self._lock:
            frame = self._slice_waiting.pop(uid, None)
            if frame is None or self.closed:
                self._slice_writing.discard(uid)
                return
        try:
            future = self.socket.write_message(frame, binary=True)
        except Exception as exc:  # closed meanwhile
            logger.debug("page slice dropped: %s", exc)
            with self._lock:
                self._slice_writing.discard(uid)
            return
        future.add_done_callback(lambda f: self._next_slice(uid, f))

    def open_window(self, uid: str) -> None:
        if self.closed or uid in self.controllers:
            return

        def push(changes: dict[str, Any]) -> None:
            self.write({"type": "update", "model_id": uid, "state": changes})

        def send(content: dict[str, Any], buffers: list) -> None:
            header = {"type": "custom", "model_id": uid, "content": content}
            if content.get("type") == "slice":
                self.write_slice(uid, header, buffers)
            else:
                self.write(header, buffers)

        try:
            controller = WindowController(self.page.server.windows, uid, push, send)
        except LookupError:
            return
        self.controllers[uid] = controller
        self.write({"type": "open", "model_id": uid, "state": controller.state()})

    def close_window(self, uid: str) -> None:
        controller = self.controllers.pop(uid, None)
        if controller is not None:
            controller.close()
            self.write({"type": "close", "model_id": uid})

    def handle(self, header: dict[str, Any]) -> None:
        kind = header["type"]
        if kind == "close_window":
            self.page.server.windows.close(str(header.get("uid")))
            return
        controller = self.controllers.get(str(header.get("model_id")))
        if controller is None:
            raise ValueError(f"no open window {header.get('model_id')!r} on this page")
        if kind == "update":
            view = (header.get("state") or {}).get("view")
            if isinstance(view, dict):
                controller.handle_view(view)
        elif kind == "custom":
            controller.handle_msg(header.get("content") or {})
        else:
            raise ValueError(f"unknown message type {kind!r}")

    def close(self) -> None:
        self.closed = True
        for controller in self.controllers.values():
            controller.close()
        self.controllers.clear()


class _PageServer:
    """State shared by the handlers: the manager, the loop and the open connections."""

    def __init__(
        self, server: ManagerServer, loop: asyncio.AbstractEventLoop, token: str | None
    ) -> None:
        self.server, self.loop = server, loop
        if token is not None and len(token) < 32:
            raise ValueError("a page token needs at least 32 characters (secrets.token_urlsafe())")
        self.token = token or secrets.token_urlsafe(32)
        self.connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._last_list = ""
        self._unsubscribe = server.windows.subscribe(self._on_window_event)

    def listing(self) -> list[dict[str, Any]]:
        return [w.summary() for w in self.server.windows.list()]

    def _on_window_event(self, event: str, window: Any) -> None:
        with self._lock:
            connections = list(self.connections)
        if event in ("added", "closed", "replaced", "edited", "view"):
            listing = self.listing()  # the list first: a page never shows a row without a window
            text = json.dumps(listing, sort_keys=True)
            if event != "view" or text != self._last_list:
                self._last_list = text
                for c in connections:
                    c.write({"type": "windows", "windows": listing})
        for c in connections:
            if event == "added":
                c.open_window(window.uid)
            elif event == "closed":
                c.close_window(window.uid)

    def add(self, connection: _Connection) -> None:
        with self._lock:
            self.connections.add(connection)
        connection.write({"type": "windows", "windows": self.listing()})
        for window in self.server.windows.list():
            connection.open_window(window.uid)

    def remove(self, connection: _Connection) -> None:
        with self._lock:
            self.connections.discard(connection)
        connection.close()

    def close(self) -> list[Any]:
        """Stop following the registry; returns the websocket handlers still open."""
        self._unsubscribe()
        with self._lock:
            connections = list(self.connections)
            self.connections.clear()
        for c in connections:
            c.close()
        return [c.socket for c in connections]


class PageHandle:
    """A running page server: ``url`` (with the token when there is one) and ``close()``."""

    def __init__(self, url: str, state: _PageServer, thread: threading.Thread, http: Any) -> None:
        self.url, self._state, self._thread, self._http = url, state, thread, http

    @property
    def connections(self) -> int:
        """Open page websockets."""
        return len(self._state.connections)

    def close(self) -> None:
        """Close every page connection and stop the server thread (idempotent)."""
        if not self._thread.is_alive():
            return
        sockets = self._state.close()
        loop = self._state.loop

        async def _stop() -> None:
            self._http.stop()
            for handler in sockets:  # websockets are not HTTP connections: close them here
                handler.close(1001, "the manager stopped")
            await asyncio.sleep(0.05)  # let the close frames go out
            for handler in sockets:
                conn = handler.ws_connection
                if conn is not None and conn.stream is not None:
                    conn.stream.close()
            await self._http.close_all_connections()
            loop.stop()

        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(_stop()))
        self._thread.join(5)


def _handlers(state: _PageServer, ip: str) -> list:
    import tornado.web
    import tornado.websocket

    hosts = allowed_hosts(ip)

    def check_request(handler: tornado.web.RequestHandler) -> None:
        """Host, Origin and token, before anything is served."""
        host = handler.request.host_name.strip("[]").lower()
        if host not in hosts and not (_is_loopback(host) and _is_loopback(ip)):
            raise tornado.web.HTTPError(403, f"host {host!r} is not this manager's page")
        origin = handler.request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, handler.request):
            raise tornado.web.HTTPError(403, "cross-origin request refused")
        token = handler.get_query_argument("token", "")
        if not hmac.compare_digest(token.encode(), state.token.encode()):
            raise tornado.web.HTTPError(403, "this page needs its ?token= (see the printed URL)")

    class Base(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            _secure(self)

        def prepare(self) -> None:
            check_request(self)

    class Index(Base):
        def get(self) -> None:
            self.set_header("Cache-Control", "no-store")
            self.write(_HTML.format(uid=state.server.uid, query=f"?token={state.token}"))

    class Windows(Base):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps(state.listing()))

    class Static(tornado.web.StaticFileHandler):
        def set_default_headers(self) -> None:
            _secure(self)

        def prepare(self) -> None:
            check_request(self)

        def set_extra_headers(self, path: str) -> None:
            self.set_header("Cache-Control", "no-cache")

    class Socket(tornado.websocket.WebSocketHandler):
        connection: _Connection | None = None

        def set_default_headers(self) -> None:
            _secure(self)

        def prepare(self) -> None:
            check_request(self)

        def check_origin(self, origin: str) -> bool:
            return _same_origin(origin, self.request)

        def open(self) -> None:
            self.connection = _Connection(state, self)
            state.add(self.connection)

        def on_message(self, message: bytes | str) -> None:
            try:
                header, _buffers = decode_frame(message)
                assert self.connection is not None
                self.connection.handle(header)
            except Exception as exc:  # bad input gets an error message; the page server lives on
                logger.info("page message rejected: %s", exc)
                self.write_message(encode_frame({"type": "error", "message": str(exc)}), True)

        def on_close(self) -> None:
            if self.connection is not None:
                state.remove(self.connection)

    class Favicon(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            _secure(self)

        def get(self) -> None:
            self.set_status(204)

    return [
        (r"/", Index),
        (r"/favicon.ico", Favicon),
        (r"/api/windows", Windows),
        (r"/ws", Socket),
        (r"/static/(.*)", Static, {"path": str(STATIC_DIR)}),
    ]


def _secure(handler: Any) -> None:
    """Headers every response carries: no framing, no sniffing, no referrer."""
    for name, value in _SECURITY_HEADERS.items():
        handler.set_header(name, value)


def _same_origin(origin: str, request: Any) -> bool:
    """True when ``origin`` (scheme://host:port) is the page's own (the request's Host)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc.lower() == request.host.lower()


def start_page(
    server: ManagerServer, ip: str, port: int = 0, token: str | None = None
) -> PageHandle:
    """Serve the manager page for ``server`` on ``ip:port`` (0 = a free port) in a thread, with
    ``token`` (default: a new random one).

    Raises:
        FileNotFoundError: the front end is not built (``labkit/static/manager_page.js``
            missing); the message says how to build it.
        OSError: the port cannot be bound.
    """
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    bundle_path("manager_page")  # FileNotFoundError saying how to build the front end
    loop = asyncio.new_event_loop()
    try:
        state = _PageServer(server, loop, token)
        sockets = tornado.netutil.bind_sockets(port, address=ip)
    except BaseException:
        loop.close()
        raise
    bound = sockets[0].getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        http = tornado.httpserver.HTTPServer(
            tornado.web.Application(_handlers(state, ip), websocket_max_message_size=64 << 20)
        )
        http.add_sockets(sockets)
        holder["http"] = http
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="labkit-manager-page", daemon=True)
    thread.start()
    ready.wait(5)
    host = f"[{ip}]" if ":" in ip else ip
    url = f"http://{host}:{bound}/?token={state.token}"
    return PageHandle(url, state, thread, holder["http"])


# ---------------------------------------------------------------- the page as a notebook widget
def _row_text(summary: dict[str, Any]) -> str:
    shape = "×".join(str(n) for n in summary["shape"])
    watched = " · watched" if summary["watched"] else ""
    return (
        f"{summary['index']}: {summary['name']} · {shape} {summary['dtype']} · "
        f"{summary['source'] or '-'}{watched} · v{summary['version']}"
    )


class ManagerPanel(ipywidgets.VBox):
    """The manager page as a notebook widget, for a kernel (JupyterLab or Voila) that is the
    manager: the window list (close buttons) and a :class:`ViewerWindow` per window, following
    windows as they are added, replaced and closed.

    ``source``: a ``ManagerServer`` or a ``WindowRegistry``; ``viewer_kw`` go to every
    :class:`ViewerWindow`. :meth:`close` stops following (the windows stay in the manager).
    """

    def __init__(self, source: Any, **viewer_kw: Any) -> None:
        from labkit.viewer._window import check_viewer_keywords

        check_viewer_keywords(viewer_kw)  # now, not when the first window appears
        self._registry = getattr(source, "windows", source)
        self._viewer_kw = viewer_kw
        self._rows = ipywidgets.VBox()
        self._viewers = ipywidgets.Box(layout=ipywidgets.Layout(flex_flow="row wrap"))
        self._entries: dict[str, tuple[Any, Any, Any]] = {}  # uid -> (row, label, viewer)
        self._lock = threading.RLock()
        title = ipywidgets.HTML(f"<b>labkit manager {getattr(source, 'uid', '')}</b>")
        super().__init__([title, self._rows, self._viewers])
        self.add_class("lk-manager-panel")
        self._unsubscribe = self._registry.subscribe(self._on_event)
        for window in self._registry.list():
            self._add(window.uid)

    @property
    def viewers(self) -> dict[str, ViewerWindow]:
        """The viewer widget of every window, by uid."""
        return {uid: entry[2] for uid, entry in self._entries.items()}

    def _add(self, uid: str) -> None:
        with self._lock:
            if uid in self._entries:
                return
            try:
                window = self._registry.get(uid)
            except LookupError:
                return
            label = ipywidgets.Label(_row_text(window.summary()))
            button = ipywidgets.Button(description="Close", layout=ipywidgets.Layout(width="70px"))
            button.on_click(lambda _b: self._registry.close(uid))
            row = ipywidgets.HBox([label, button])
            row.add_class("lk-manager-row")
            viewer = ViewerWindow(self._registry, uid, **self._viewer_kw)
            self._entries[uid] = (row, label, viewer)
            self._rows.children = (*self._rows.children, row)
            self._viewers.children = (*self._viewers.children, viewer)

    def _remove(self, uid: str) -> None:
        with self._lock:
            entry = self._entries.pop(uid, None)
            if entry is None:
                return
            row, _label, viewer = entry
            self._rows.children = tuple(c for c in self._rows.children if c is not row)
            self._viewers.children = tuple(c for c in self._viewers.children if c is not viewer)
        viewer.close()
        for child in row.children:
            child.close()
        row.close()

    def _on_event(self, event: str, window: Any) -> None:
        if event == "added":
            self._add(window.uid)
        elif event == "closed":
            self._remove(window.uid)
        elif window.uid in self._entries:
            self._entries[window.uid][1].value = _row_text(window.summary())

    def close(self) -> None:
        """Stop following the manager and close the panel's widgets."""
        unsubscribe = self.__dict__.pop("_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
            for uid in list(self._entries):
                self._remove(uid)
        super().close()
