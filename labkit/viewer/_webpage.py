"""Placeholder manager web page (tornado in a thread): a list of windows with a JPEG of each.

The real page with anywidget viewers lives in ``_page.py`` (same ``start_page`` signature);
the server uses it when it exists.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from labkit.viewer._server import ManagerServer

__all__ = ["PageHandle", "render_jpeg", "start_page"]

logger = logging.getLogger(__name__)


def render_jpeg(data, view: dict | None = None, quality: int = 85) -> bytes:
    """JPEG of the 2-D image a window shows (extra dims at their slice index, auto contrast)."""
    import simplejpeg

    view = view or {}
    slices = view.get("slices", {})
    sel = {d: int(slices.get(d, 0)) for d in data.dims[:-2]}
    image = np.asarray(data.isel(sel).values if sel else data.values, dtype=np.float32)
    if image.ndim == 1:
        image = image[None, :]
    image = np.nan_to_num(image)
    lo = view.get("contrast_lo")
    hi = view.get("contrast_hi")
    lo = float(image.min()) if lo is None else float(lo)
    hi = float(image.max()) if hi is None else float(hi)
    scaled = np.clip((image - lo) / max(hi - lo, 1e-12), 0, 1) * 255
    gray = np.ascontiguousarray(scaled.astype(np.uint8)[:, :, None])
    return simplejpeg.encode_jpeg(gray, quality=quality, colorspace="GRAY")


class PageHandle:
    """A running page server: ``url`` and ``close()``."""

    def __init__(
        self, url: str, loop: asyncio.AbstractEventLoop, thread: threading.Thread, http
    ) -> None:
        self.url, self._loop, self._thread, self._http = url, loop, thread, http

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        async def _stop() -> None:
            self._http.stop()
            await self._http.close_all_connections()
            self._loop.stop()

        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(_stop()))
        self._thread.join(5)


def start_page(server: ManagerServer, ip: str, port: int = 0) -> PageHandle:
    """Serve the placeholder page for ``server`` on ``ip:port`` (0 = free port)."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    class Index(tornado.web.RequestHandler):
        def get(self) -> None:
            rows = []
            for w in server.windows.list():
                s = w.summary()
                rows.append(
                    f"<li data-uid='{s['uid']}'><b>{s['index']}: {html.escape(s['name'])}</b> "
                    f"{tuple(s['shape'])} {s['dtype']} {html.escape(s['source'])} "
                    f"{'watched' if s['watched'] else ''} v{s['version']}<br>"
                    f"<img src='/window/{s['uid']}.jpg?v={s['version']}'></li>"
                )
            self.write(
                "<!doctype html><meta http-equiv='refresh' content='1'><title>labkit manager</title>"
                f"<h1>labkit manager {server.uid}</h1><ul>{''.join(rows) or '<li>no windows</li>'}</ul>"
            )

    class Windows(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps([w.summary() for w in server.windows.list()]))

    class Image(tornado.web.RequestHandler):
        def get(self, uid: str) -> None:
            try:
                w = server.windows.get(uid)
            except LookupError:
                raise tornado.web.HTTPError(404) from None
            self.set_header("Content-Type", "image/jpeg")
            self.write(render_jpeg(w.data, w.view))

    sockets = tornado.netutil.bind_sockets(port, address=ip)
    bound = sockets[0].getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        app = tornado.web.Application(
            [(r"/", Index), (r"/api/windows", Windows), (r"/window/(\w+)\.jpg", Image)]
        )
        http = tornado.httpserver.HTTPServer(app)
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
    return PageHandle(f"http://{ip}:{bound}/", loop, thread, holder["http"])
