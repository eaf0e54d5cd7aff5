"""Security test fixtures: a private runtime dir, an attacker's web site, servers under attack."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A private runtime directory (mode 0700) for the test's sockets and connection files."""
    d = tmp_path / "rt"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(d))
    monkeypatch.delenv("LABKIT_MANAGER", raising=False)
    return d


class AttackerSite:
    """A web site on another origin (its own loopback port) serving one HTML page."""

    def __init__(self) -> None:
        self.html = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(site.html)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="attacker-site")
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def serve(self, html: str) -> str:
        self.html = html.encode()
        return self.url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def attacker_site() -> Iterator[AttackerSite]:
    site = AttackerSite()
    yield site
    site.close()
