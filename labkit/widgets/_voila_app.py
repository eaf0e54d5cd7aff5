"""The Voila server of ``labkit demo``, with Jupyter's protections turned back on.

Voila hard-codes ``allow_remote_access=True`` (no ``Host`` check); this subclass restores the check
for a loopback server (no DNS rebinding), requires the token (taken from ``$LABKIT_DEMO_TOKEN`` so
it never shows in the process list), keeps XSRF checks on, and forbids framing and referrers.
Run as ``python -m labkit.widgets._voila_app NOTEBOOK --port=... --Voila.ip=...``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any

from tornado.websocket import WebSocketClosedError
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

__all__ = ["SECURITY_HEADERS", "TOKEN_ENV", "LabkitVoila", "PageClosedFilter", "main"]

TOKEN_ENV = "LABKIT_DEMO_TOKEN"
SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it elsewhere
}


def is_loopback(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class _PageWithXsrfCookie(TornadoVoilaHandler):
    """The dashboard page, setting the ``_xsrf`` cookie: Voila's page reads it to sign the request
    that shuts its kernel down when the tab closes (without it, every closed tab left a kernel)."""

    async def get(self, path: str | None = None) -> Any:
        self.xsrf_token  # noqa: B018 - reading it sets the cookie
        return await super().get(path)


class PageClosedFilter(logging.Filter):
    """Turns asyncio's "Task exception was never retrieved" for a websocket write to a page that
    had just closed into one debug line. Jupyter's server writes kernel messages to the page
    without awaiting them; a tab closed while messages were on their way (under load: often)
    made the demo print a tornado traceback that says nothing is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, WebSocketClosedError):
            logging.getLogger(__name__).debug("a page closed while messages were sent to it")
            return False
        return True


class LabkitVoila(Voila):
    """Voila with a Host check on loopback, a required token and anti-framing headers."""

    def init_handlers(self) -> list:
        return [
            (h[0], _PageWithXsrfCookie, *h[2:]) if h[1] is TornadoVoilaHandler else h
            for h in super().init_handlers()
        ]

    def init_settings(self) -> dict[str, Any]:
        settings = super().init_settings()
        settings["allow_remote_access"] = not is_loopback(self.ip)
        settings["local_hostnames"] = ["localhost"]
        settings["headers"] = dict(SECURITY_HEADERS)
        return settings


def main() -> None:
    token = os.environ.pop(TOKEN_ENV, "")
    if len(token) < 32:
        raise SystemExit(f"${TOKEN_ENV} must hold the page token (32+ characters)")
    logging.getLogger("asyncio").addFilter(PageClosedFilter())
    LabkitVoila.launch_instance(token=token)


if __name__ == "__main__":
    main()
