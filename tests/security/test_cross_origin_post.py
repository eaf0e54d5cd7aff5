"""A web page on another origin POSTs ZMTP/1.0-framed bodies to every TCP port labkit opens.

The same bytes, sent by the same browser, deliver their messages to a ZeroMQ socket without a
security mechanism (the control): so the attack is real, and labkit's sockets refuse it.
"""

from __future__ import annotations

import base64
import json
import threading

import numpy as np
import pytest
import zmq

import labkit as lk
import labkit.viewer as lv
from labkit.engine._devices import build_devices
from labkit.engine._server import EngineServer
from labkit.testing import wait_until as wait_for
from labkit.testing._zmtp1 import parse_zmtp1, smuggled_body
from labkit.wire import Request, encode

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _frames(msg) -> list[bytes]:
    return [bytes(memoryview(f)) for f in encode(msg)]


def _page(targets: list[tuple[int, bytes]]) -> str:
    posts = json.dumps([[port, base64.b64encode(body).decode()] for port, body in targets])
    return f"""<!doctype html><html><body><script>
    for (const [port, b64] of {posts}) {{
      const body = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
      fetch(`http://127.0.0.1:${{port}}/`, {{method: "POST", mode: "no-cors", body}}).catch(() => 0);
    }}
    document.title = "posted";
    </script></body></html>"""


@pytest.fixture
def engine_over_tcp(runtime):
    server = EngineServer(build_devices(None, shape=(32, 32)), "tcp://127.0.0.1:0", ring_slots=4)
    thread = threading.Thread(target=server.serve, name="engine-under-attack")
    thread.start()
    yield server
    server.request_stop()
    thread.join(10)


def test_a_cross_origin_post_reaches_zeromq_but_changes_nothing_in_labkit(
    page, attacker_site, runtime, engine_over_tcp
):
    manager = lv.ManagerServer("tcp://127.0.0.1:0", registry_dir=runtime).start()  # + its page
    ctx = zmq.Context()
    control = ctx.socket(zmq.ROUTER)  # no security mechanism: what labkit used to be
    control.setsockopt(zmq.LINGER, 0)
    control_port = control.bind_to_random_port("tcp://127.0.0.1")
    try:
        with lk.connect(engine_over_tcp.rpc.connection_file) as scope:
            before = scope.camera.exposure_ms
        set_exposure = Request(
            id=1,
            method="set_property",
            params={"device": "camera", "name": "exposure_ms", "value": 1234.5},
        )
        show = Request(id=2, method="show", params={"data": np.zeros(3), "name": "pwned"})
        engine_body = smuggled_body([_frames(set_exposure)])
        manager_body = smuggled_body([_frames(show)])
        assert parse_zmtp1(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n" + engine_body)[-1] == _frames(
            set_exposure
        )  # the framing is what a ZMTP/1.0 reader makes of it
        page_port = int(manager.url.split(":")[2].split("/")[0])
        targets = [
            (control_port, engine_body),
            (int(engine_over_tcp.address.rsplit(":", 1)[1]), engine_body),
            (int(manager.address.rsplit(":", 1)[1]), manager_body),
            (page_port, manager_body),
        ]
        page.goto(attacker_site.serve(_page(targets)))
        # the control socket got the smuggled request, frame for frame
        received = []
        while not any(m[1:] == _frames(set_exposure) for m in received):
            assert control.poll(20_000), f"the control socket got {len(received)} messages only"
            received.append(control.recv_multipart())
        # labkit's sockets saw the connections and refused them
        wait_for(lambda: engine_over_tcp.rpc.stats()["connections_refused"] >= 1, what="engine")
        wait_for(lambda: manager.rpc.stats()["connections_refused"] >= 1, what="manager")
        assert engine_over_tcp.rpc.garbage_received == 0 and manager.rpc.garbage_received == 0
        with lk.connect(engine_over_tcp.rpc.connection_file) as scope:
            assert scope.camera.exposure_ms == before != 1234.5
        assert manager.windows.list() == []
    finally:
        control.close(0)
        ctx.term()
        lv.shutdown()
        manager.stop()
