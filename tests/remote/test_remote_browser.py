"""A remote live view painted in a real Voila page: the kernel reads a ``labkit engine`` in another
network namespace over TCP+CURVE (lz4 frames); the link is cut and the page shows it in red, then
frames are painted again once it is back."""

from __future__ import annotations

import pytest

import labkit as lk
from labkit.testing import serve_engine, wait_until
from labkit.testing._notebooks import wait_painting
from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_remote_live_view_paints_in_voila_and_shows_a_cut_link(netns, runtime, voila_server, page):
    served = serve_engine(
        runtime, f"tcp://{netns.ns_ip}:0", shape="512,512", prefix=netns.exec_prefix()
    )
    try:
        with lk.connect(served.connection_file, streams="shared") as control:
            control.camera.frame_rate_hz = 30
            control.start()  # the engine acquires whoever watches
            write_notebook(
                voila_server.root / "remote_live.ipynb",
                [
                    "import labkit as lk\n"
                    f"scope = lk.connect({served.connection_file!r}, streams='network', codec='lz4')\n"
                    "view = scope.live(width_px=384)\nview"
                ],
            )
            page.goto(voila_server.render_url("remote_live.ipynb"))
            stage = wait_for_widget(page, ".lk-live .lk-stage", timeout_s=90)
            wait_painting(page, frames=10, timeout_s=60)
            first = stage.screenshot()
            wait_painting(page, frames=10, timeout_s=30)
            assert stage.screenshot() != first  # new frames from the other namespace

            netns.link(False)
            status = page.locator(".lk-live .lk-status.lk-error")
            status.wait_for(timeout=15_000)
            assert "link to the engine" in status.inner_text()
            netns.link(True)
            wait_painting(page, frames=10, timeout_s=60)
            wait_until(
                lambda: page.locator(".lk-live .lk-status.lk-error").count() == 0,
                30,
                "the red status to clear",
            )
            # the test's own control connection went through the cut too: like any client it
            # raises LinkDownError while its link is down and works again once it is up
            wait_until(lambda: control.link["state"] == "up", 30, "the control link to be up")
            control.stop()
    finally:
        served.stop()
