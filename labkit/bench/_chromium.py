"""A headless Chromium for the benchmarks' pages, and a bare DevTools connection to one page.

The benchmarks open a page with Playwright (over CDP) and then measure it without Playwright:
an attached Playwright enables the Network domain, so Chromium copies every WebSocket frame to
the Playwright driver, which costs the page's machine about half a core a real user's browser
never spends.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["Chromium", "DevTools"]

log = logging.getLogger(__name__)


class DevTools:
    """``Runtime.evaluate`` on one page over a bare DevTools websocket (own thread and loop).

    The measurement reads the page through this and not through Playwright: Playwright enables
    the Network domain, so Chromium base64-copies every WebSocket frame (~1 MB per live frame) to
    the Playwright driver and on to Python — about half a core of this 2-core machine that a real
    user's browser never spends. Raises ``ConnectionError`` when the page goes away.
    """

    def __init__(self, ws_url: str, timeout_s: float = 30.0) -> None:
        import asyncio

        from tornado.websocket import websocket_connect

        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="bench-devtools", daemon=True
        )
        self._thread.start()
        self._id = 0

        async def connect() -> Any:
            return await websocket_connect(ws_url, max_message_size=1 << 26)

        self._ws = self._run(connect())

    def _run(self, coro: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout_s)

    def call(self, method: str, params: dict | None = None) -> dict:
        """One DevTools command on the page (``Page.bringToFront``, ...); returns its result.

        Raises:
            RuntimeError: the command failed.  ConnectionError: the page went away.
        """
        self._id += 1
        my_id = self._id

        async def call() -> Any:
            await self._ws.write_message(
                json.dumps({"id": my_id, "method": method, "params": params or {}})
            )
            while True:
                raw = await self._ws.read_message()
                if raw is None:
                    raise ConnectionError("the DevTools connection to the page closed")
                msg = json.loads(raw)
                if msg.get("id") == my_id:
                    result = msg.get("result", {})
                    if "exceptionDetails" in result or "error" in msg:
                        raise RuntimeError(f"{method} failed: {msg}")
                    return result

        return self._run(call())

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` (promises are awaited)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        return self.call("Runtime.evaluate", params)["result"].get("value")

    def close(self) -> None:
        """Close the connection (its socket too: the browser may be gone) and the loop."""

        async def shut() -> None:
            stream = getattr(getattr(self._ws, "protocol", None), "stream", None)
            self._ws.close()  # drops .protocol: the stream was taken before
            if stream is not None:
                stream.close()

        try:
            self._run(shut())
        except Exception as exc:  # noqa: BLE001 - closing what is already gone
            log.debug("DevTools close: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


class Chromium:
    """Debian's Chromium with a DevTools port: Playwright connects over CDP for the set-up (open
    the page, run the cells) and then disconnects, so the measurement runs without it."""

    def __init__(self, profile_dir: Path) -> None:
        import subprocess

        from labkit.testing._browser import CHROMIUM_ARGS, CHROMIUM_PATH
        from labkit.testing._servers import die_with_parent, free_port, wait_http

        self.port = free_port()
        self.proc = subprocess.Popen(
            [CHROMIUM_PATH, "--headless=new", *CHROMIUM_ARGS, f"--user-data-dir={profile_dir}",
             f"--remote-debugging-port={self.port}", "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent(),  # prctl only, before exec
        )  # fmt: skip
        self.endpoint = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.endpoint}/json/version", 30, self.proc)

    def page_ws_url(self, url_prefix: str) -> str:
        import urllib.request

        with urllib.request.urlopen(f"{self.endpoint}/json", timeout=10) as resp:
            targets = json.loads(resp.read())
        for t in targets:
            if t.get("type") == "page" and str(t.get("url", "")).startswith(url_prefix):
                return t["webSocketDebuggerUrl"]
        raise RuntimeError(f"no page at {url_prefix} among {[t.get('url') for t in targets]}")

    def close(self) -> None:
        import signal
        import subprocess

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
