"""The manager page's server side: frame codec, websocket protocol, bad input, token, origin."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.testing import wait_until
from labkit.viewer._page import decode_frame, encode_frame


@pytest.fixture
def manager(registry_dir):
    """An in-process manager with its web page."""
    server = lv.ManagerServer(registry_dir=registry_dir).start()
    yield server
    server.stop()


def test_frame_codec_round_trip_and_rejects_garbage():
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    frame = encode_frame({"type": "custom", "n": 1}, [memoryview(image), b"ab"])
    header, buffers = decode_frame(frame)
    assert header == {"type": "custom", "n": 1, "buffers": [24, 2]}
    assert np.array_equal(np.frombuffer(buffers[0], np.float32), image.ravel())
    assert bytes(buffers[1]) == b"ab"
    assert decode_frame('{"type": "update"}')[0] == {"type": "update"}
    for bad in (b"", b"\x00", frame[:10], b"\xff\xff\x00\x00{}", b"\x02\x00\x00\x00[]", "[1]"):
        with pytest.raises(ValueError):
            decode_frame(bad)
    lying = encode_frame({"type": "x"}, [b"abc"])[:-1]  # a buffer shorter than announced
    with pytest.raises(ValueError, match="buffer lengths"):
        decode_frame(lying)


class LoopThread:
    """An asyncio loop on its own thread.

    Playwright's sync API keeps a loop running on the main thread once a browser test has run
    in this session, so these clients never run a loop on the main thread themselves.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="page-client-loop")
        self.thread.start()

    def run(self, coro, timeout_s: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class PageClient:
    """A websocket client speaking the page protocol (what manager_page.js does)."""

    def __init__(self, url: str) -> None:
        base, query = url.split("?")
        self.url = f"{base.replace('http://', 'ws://')}ws?{query}"
        self.loop = LoopThread()
        self.conn = None

    def __enter__(self) -> PageClient:
        from tornado.websocket import websocket_connect

        self.conn = self.run(lambda: websocket_connect(self.url))
        return self

    def run(self, make_awaitable, timeout_s: float = 5.0):
        """Run ``make_awaitable()`` on this client's loop (futures must be made inside it)."""

        async def go():
            return await asyncio.wait_for(make_awaitable(), timeout_s)

        return self.loop.run(go(), timeout_s + 5.0)

    def __exit__(self, *exc) -> None:
        stream = self.conn.protocol.stream
        self.loop.loop.call_soon_threadsafe(self.conn.close)
        try:  # the socket closes once the server's close frame is in (after the data before it)
            wait_until(stream.closed, 30, "the websocket closed by the server's close frame")
        finally:
            self.loop.close()

    def send(self, header: dict | bytes) -> None:
        frame = header if isinstance(header, bytes) else encode_frame(header)
        self.run(lambda: self.conn.write_message(frame, binary=True))

    def recv(self, timeout_s: float = 5.0) -> tuple[dict, list]:
        frame = self.run(self.conn.read_message, timeout_s)
        assert frame is not None, "the page server closed the websocket"
        header, buffers = decode_frame(frame)
        content = header.get("content") or {}
        if header["type"] == "custom" and content.get("type") in ("slice", "profiles"):
            ack = {"type": "ack", "of": content["type"], "seq": content["seq"]}  # as the viewer
            self.send({"type": "custom", "model_id": header["model_id"], "content": ack})
        return header, buffers

    def recv_until(self, predicate, timeout_s: float = 5.0) -> tuple[dict, list]:
        for _ in range(50):
            header, buffers = self.recv(timeout_s)
            if predicate(header):
                return header, buffers
        raise AssertionError("expected message never came")


def is_slice(header: dict) -> bool:
    return header["type"] == "custom" and header["content"]["type"] == "slice"


def test_websocket_protocol_open_slice_view_edit_close(manager):
    data = xr.DataArray(np.arange(24, dtype=np.uint16).reshape(2, 3, 4), dims=("z", "y", "x"))
    window = manager.windows.add(data, "stack", source="nb.ipynb")
    with PageClient(manager.url) as client:
        listing, _ = client.recv()
        assert listing["type"] == "windows"
        assert listing["windows"][0]["name"] == "stack"
        assert listing["windows"][0]["source"] == "nb.ipynb"
        opened, _ = client.recv()
        assert opened["type"] == "open" and opened["model_id"] == window.uid
        assert opened["state"]["info"]["shape"] == [2, 3, 4]
        client.send({"type": "custom", "model_id": window.uid, "content": {"type": "ready"}})
        msg, buffers = client.recv_until(is_slice)
        content = msg["content"]
        assert content["dtype"] == "u16" and (content["w"], content["h"]) == (4, 3)
        assert np.array_equal(np.frombuffer(buffers[0], np.uint16), np.arange(12))
        # the page moves the slider: the registry follows and a new slice comes
        view = {**opened["state"]["view"], "slices": {"z": 1}}
        client.send({"type": "update", "model_id": window.uid, "state": {"view": view}})
        msg, buffers = client.recv_until(is_slice)
        assert np.array_equal(np.frombuffer(buffers[0], np.uint16), np.arange(12, 24))
        assert manager.windows.get(window.uid).view["slices"] == {"z": 1}
        # an edit from the page: fill a 2x1 rectangle on every slice
        edit = {"type": "edit", "op": "fill", "roi": [0, 0, 2, 1], "value": 9}
        client.send({"type": "custom", "model_id": window.uid, "content": edit})
        client.recv_until(lambda h: h["type"] == "custom" and h["content"]["type"] == "slice")
        assert manager.windows.get(window.uid).data.values[:, 0, :2].tolist() == [[9, 9], [9, 9]]
        # close from the page
        client.send({"type": "close_window", "uid": window.uid})
        listing, _ = client.recv_until(lambda h: h["type"] == "windows")  # the list first
        assert listing["windows"] == [] and len(manager.windows) == 0
        closed, _ = client.recv_until(lambda h: h["type"] == "close")
        assert closed["model_id"] == window.uid


def test_bad_page_messages_get_errors_and_the_page_lives_on(manager):
    window = manager.windows.add(np.zeros((2, 2)))
    with PageClient(manager.url) as client:
        client.recv_until(lambda h: h["type"] == "open")
        for bad in (
            b"\x00garbage",
            encode_frame({"type": "update", "model_id": "nope", "state": {}}),
            encode_frame({"type": "launch_missiles", "model_id": window.uid}),
            encode_frame({"type": "close_window", "uid": "nope"}),
        ):
            client.send(bad)
            err, _ = client.recv_until(lambda h: h["type"] == "error")
            assert err["message"]
        client.send({"type": "custom", "model_id": window.uid, "content": {"type": "ready"}})
        msg, _ = client.recv_until(is_slice)
        assert msg["content"]["type"] == "slice"
        # windows added later are opened on connected pages
        later = manager.windows.add(np.ones((3, 3)), "later")
        opened, _ = client.recv_until(lambda h: h["type"] == "open")
        assert opened["model_id"] == later.uid


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5
        ) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _at(url: str, path: str, token: bool = True) -> str:
    """``path`` under the page whose URL (with its token) is ``url``."""
    base, query = url.split("?")
    return f"{base}{path}?{query}" if token else f"{base}{path}"


def test_page_serves_its_assets_and_listing_with_its_token(manager):
    manager.windows.add(np.zeros((2, 5)), "listed")
    assert "?token=" in manager.url and len(manager.url.split("token=")[1]) >= 32
    assert _status(manager.url) == 200
    assert _status(_at(manager.url, "static/manager_page.js")) == 200
    assert _status(_at(manager.url, "static/viewer.js")) == 200
    with urllib.request.urlopen(_at(manager.url, "api/windows"), timeout=5) as r:
        assert json.loads(r.read())[0]["shape"] == [2, 5]


def test_page_refuses_no_token_wrong_token_foreign_hosts_and_origins(manager):
    for path in ("", "api/windows", "static/manager_page.js", "ws"):
        assert _status(_at(manager.url, path, token=False)) == 403
        assert _status(_at(manager.url, path, token=False) + "?token=wrong") == 403
    port = manager.url.split(":")[2].split("/")[0]
    assert _status(manager.url, {"Host": f"localhost:{port}"}) == 200
    assert _status(manager.url, {"Host": f"evil.example:{port}"}) == 403  # DNS rebinding
    assert _status(_at(manager.url, "api/windows"), {"Host": "evil.example"}) == 403
    assert _status(manager.url, {"Origin": "http://evil.example"}) == 403
    assert _status(manager.url, {"Origin": f"http://127.0.0.1:{port}"}) == 200


def test_every_response_forbids_framing_and_referrers(manager):
    for url in (manager.url, _at(manager.url, "api/windows"), _at(manager.url, "", token=False)):
        try:
            response = urllib.request.urlopen(url, timeout=5)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["Referrer-Policy"] == "no-referrer"


def test_websocket_from_another_origin_or_without_token_is_refused(manager):
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    base, query = manager.url.split("?")
    url = f"{base.replace('http://', 'ws://')}ws"
    loop = LoopThread()
    try:
        for request in (
            HTTPRequest(f"{url}?{query}", headers={"Origin": "http://evil.example"}),
            HTTPRequest(url),
        ):

            async def connect(request=request):
                return await websocket_connect(request)

            with pytest.raises(HTTPClientError) as info:
                loop.run(connect())
            assert info.value.code == 403
    finally:
        loop.close()


def test_a_slow_page_gets_the_newest_slice_not_a_queue(manager):
    """Credit (two unacked slices) plus newest-wins: 20 quick versions reach the page as a few."""
    big = np.zeros((1024, 1024), np.float32)
    window = manager.windows.add(big, "big")
    with PageClient(manager.url) as client:
        client.recv_until(lambda h: h["type"] == "open")
        client.send({"type": "custom", "model_id": window.uid, "content": {"type": "ready"}})
        for i in range(1, 21):  # 20 new versions of 4 MB while the page reads nothing
            manager.windows.replace(window.uid, big + i)
        versions = []
        while not versions or versions[-1] < 20:
            header, buffers = client.recv_until(is_slice)
            if header["content"]["type"] == "slice":
                versions.append(header["content"]["version"])
                value = float(np.frombuffer(buffers[0], np.float32)[0])
                assert value >= header["content"]["version"]  # pixels never older than the label
        assert versions == sorted(versions) and len(versions) <= 4
        assert value == 20.0
        connection = next(iter(manager._page._state.connections))
        assert connection.controllers[window.uid].slices_sent <= 5  # not 21


def test_manager_panel_follows_the_registry():
    from labkit.viewer._page import ManagerPanel
    from labkit.viewer._windows import WindowRegistry

    registry = WindowRegistry()
    first = registry.add(np.zeros((4, 4)), "first", source="a.ipynb")
    panel = ManagerPanel(registry)
    try:
        assert list(panel.viewers) == [first.uid]
        second = registry.add(np.ones((2, 3, 5), np.uint16), "second")
        assert list(panel.viewers) == [first.uid, second.uid]
        labels = [row.children[0].value for row in panel.children[1].children]
        assert labels[0] == "0: first · 4×4 float64 · a.ipynb · v0"
        registry.replace(first.uid, np.zeros((4, 4)) + 1)
        assert panel.children[1].children[0].children[0].value.endswith("v1")
        panel.children[1].children[0].children[1].click()  # the Close button of "first"
        assert [w.uid for w in registry.list()] == [second.uid]
        assert list(panel.viewers) == [second.uid]
    finally:
        panel.close()
    registry.add(np.zeros((2, 2)))  # a closed panel follows no more
    assert panel.viewers == {}
