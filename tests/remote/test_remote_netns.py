"""A remote engine in another network namespace: frames cross a real veth link; the link is cut
mid-stream and restored while the engine spools; a token-bucket qdisc makes a slow link."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

import labkit as lk
from labkit.engine import LinkDownError, events
from labkit.testing import serve_engine, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def ns_engine(netns, runtime, engine_home):
    """``labkit engine`` inside the namespace, on its veth address."""
    served = serve_engine(
        runtime, f"tcp://{netns.ns_ip}:0", shape="256,256", prefix=netns.exec_prefix(),
        env={"HOME": str(engine_home)},
    )  # fmt: skip
    yield netns, served
    served.stop()


def _frame_after(reader, index: int, timeout_s: float = 60.0):
    def newer():
        try:
            reader.wait(0.2)
            frame = reader.latest()
        except LinkDownError:
            return None
        return frame if frame is not None and frame.index > index else None

    return wait_until(newer, timeout_s, f"a frame after {index}")


def test_frames_flow_from_an_engine_in_another_network_namespace(ns_engine):
    netns, served = ns_engine
    assert served.address.startswith(f"tcp://{netns.ns_ip}:")
    with lk.connect(served.connection_file, streams="network") as scope:
        export = scope._call("remote.export")["address"]
        assert export.startswith(f"tcp://{netns.ns_ip}:")  # the other namespace's address
        scope.start()
        with scope.open_reader() as reader:
            first = _frame_after(reader, -1)
            later = _frame_after(reader, first.index + 3)
            assert later.data.shape == (256, 256) and later.data.dtype.name == "uint16"
        scope.stop()


def test_link_cut_mid_stream_is_seen_within_2_s_and_views_resume_while_spool_loses_nothing(
    ns_engine,
):
    netns, served = ns_engine
    links: list[tuple[str, float]] = []
    with lk.connect(served.connection_file, streams="network") as scope:

        def on_event(event) -> None:
            link = events.parse(event, events.LinkEvent)  # typed: the "link" topic's Struct
            if link is not None:
                links.append((link.state, time.monotonic()))

        scope.subscribe(on_event)
        scope.camera.frame_rate_hz = 20
        scope.start()
        reader = scope.open_reader(name="view")
        try:
            before = _frame_after(reader, -1)
            handle = scope.spool.start("cut/series", max_frames=200, preflight_mode="skip")
            wait_until(lambda: scope.link["state"] == "up", 10, "link up")
            netns.link(False)
            cut = time.monotonic()
            wait_until(lambda: scope.link["state"] == "down", 5, "the cut to be noticed")
            noticed = scope._host.streams.client.link.down_since  # when the I/O thread saw it
            assert noticed - cut <= 2.0, f"noticed {noticed - cut:.2f} s after the cut"
            with pytest.raises(LinkDownError, match="down"):
                reader.latest()  # the live view shows this error (red) while the link is down
            with pytest.raises(LinkDownError):
                scope.camera.exposure_ms = 5  # calls fail at once instead of hanging
            time.sleep(1.0)  # the link stays down a while (frames keep coming on the engine)
            netns.link(True)
            wait_until(lambda: scope.link["state"] == "up", 20, "the link to come back")
            after = _frame_after(reader, before.index + 20)  # the view resumed
            assert after.index > before.index + 20
            final = handle.wait(60)  # the engine spooled all along
            assert final.state == "finished"
            assert final.frames_written == 200 and final.frames_dropped == 0
            assert scope.link["downs"] >= 1 and scope.link["reconnects"] >= 0
            assert scope.camera.exposure_ms > 0  # control calls work again
        finally:
            reader.close()
        scope.stop()
    states = [s for s, _ in links]  # the link events subscribers got, in order
    assert "down" in states and "up" in states[states.index("down") :]


@pytest.mark.skipif(shutil.which("tc") is None, reason="tc (iproute2) is not installed")
def test_a_token_bucket_slow_link_drops_display_frames_never_spool_frames(ns_engine):
    netns, served = ns_engine
    tbf = ["tc", "qdisc", "add", "dev", netns.host_if, "root", "tbf", "rate", "8mbit",
           "burst", "64kbit", "latency", "200ms"]  # fmt: skip
    if subprocess.run(tbf, capture_output=True).returncode != 0:
        pytest.skip("the tbf qdisc is not available on this kernel")
    try:
        # the qdisc shapes what leaves this side; the engine's frames leave the other side
        subprocess.run(
            ["ip", "netns", "exec", netns.name, "tc", "qdisc", "add", "dev",
             f"lkp{netns.name[3:]}", "root", "tbf", "rate", "8mbit", "burst", "64kbit",
             "latency", "200ms"],
            check=True, capture_output=True,
        )  # fmt: skip
        with lk.connect(served.connection_file, streams="network", codec="none") as scope:
            scope.camera.frame_rate_hz = 30  # 30 × 128 KB = 31 Mbit/s offered over 8 Mbit/s
            scope.start()
            with scope.open_reader() as reader:
                _frame_after(reader, -1)
                handle = scope.spool.start("slow", max_frames=90, preflight_mode="skip")
                final = handle.wait(60)
                assert final.frames_written == 90 and final.frames_dropped == 0
                wait_until(lambda: reader.frames_dropped > 10, 20, "display frames dropped")
                assert reader.frames_dropped > reader.frames_received
            scope.stop()
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", netns.host_if, "root"], capture_output=True)
