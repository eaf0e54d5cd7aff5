"""A ``labkit engine`` on TCP read over the network: frames, traces, node outputs, several clients,
a stalled client, display drops in health, and a spooler that runs beside the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq

import labkit as lk
from labkit.buffers import RingReader
from labkit.engine import RemoteFrameReader, RemoteSpool, RemoteTraceReader
from labkit.rpc import read_connection_file
from labkit.rpc._security import configure_client
from labkit.rpc._stream_wire import encode_header
from labkit.testing import serve_engine, wait_until
from labkit.widgets._trace_pump import TracePump

pytestmark = pytest.mark.slow


def _frames(reader, n: int, timeout_s: float = 60.0) -> list:
    """``n`` distinct frames from ``reader`` (each newer than the last)."""
    seen: list = []

    def more() -> bool:
        if reader.wait(0.2):
            frame = reader.latest()
            if frame is not None and (not seen or frame.index > seen[-1].index):
                seen.append(frame)
        return len(seen) >= n

    wait_until(more, timeout_s, f"{n} frames over the network")
    return seen


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd"])
def test_frames_cross_tcp_exactly_as_the_ring_holds_them(loopback_engine, codec):
    with lk.connect(loopback_engine.connection_file, streams="network", codec=codec) as scope:
        assert scope.link["state"] in ("connecting", "up")
        scope.start()
        with scope.open_reader(name="net") as reader:
            assert isinstance(reader, RemoteFrameReader)
            frames = _frames(reader, 5)
            assert [f.data.shape for f in frames] == [(256, 256)] * 5
            scope.stop()
            # the same machine also sees the ring: the last frame must match bit for bit
            with RingReader.attach(scope.streams["camera"].buffer) as local:
                last = local.latest()
            wait_until(lambda: reader.latest().index == last.index, 10, "the last frame")
            got = reader.latest()
            np.testing.assert_array_equal(got.data, last.data)
            assert got.timestamp_s == last.timestamp_s
            assert got.meta["exposure_ms"] == last.meta["exposure_ms"]
        assert scope.link["state"] == "up"


def test_traces_node_outputs_and_trace_plots_read_over_the_network(loopback_engine):
    with lk.connect(loopback_engine.connection_file, streams="network") as scope:
        scope.nodes.add("frame_stats", name="stats")
        scope.nodes.add("downsample", name="small", bin=4)  # a node's frames stream
        scope.start()
        with scope.open_reader("small") as small:
            assert isinstance(small, RemoteFrameReader)
            assert [f.data.shape for f in _frames(small, 3)] == [(64, 64)] * 3
        with scope.open_trace_reader("stats") as reader:
            assert isinstance(reader, RemoteTraceReader)
            rows: list = []

            def got_rows() -> bool:
                t, v, _lost = reader.read_new()
                rows.extend(zip(t, v, strict=True))
                return len(rows) >= 5

            wait_until(got_rows, 20, "node output rows")
            t = np.array([r[0] for r in rows])
            assert np.all(np.diff(t) > 0)  # in order, none twice
            assert all(len(r[1]) == len(reader.channels) for r in rows)
        # the trace plot's pump reads a remote scope through the same hook
        pump = TracePump(scope, None, 10.0)
        try:
            wait_until(lambda: pump.read() >= 0 and pump.t.size >= 5, 20, "signal rows")
            assert pump.rows_lost == 0
        finally:
            pump.close()
        signal = scope.traces["signal"]  # the engine's buffered rows, in one call
        assert signal.dims == ("time", "channel") and signal.sizes["time"] > 0
        scope.stop()


def _stalled_client(info, stream: str) -> tuple[zmq.Context, zmq.Socket]:
    """A client that subscribes with a large credit and then never reads."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    configure_client(sock, info)
    sock.setsockopt(zmq.RCVHWM, 1)
    sock.setsockopt(zmq.RCVBUF, 4096)
    sock.connect(info.address)
    sock.send(encode_header({"op": "sub", "sid": 1, "stream": stream, "credit": 64}))
    return ctx, sock


def test_several_clients_at_once_and_a_stalled_one_slows_nobody(runtime):
    served = serve_engine(runtime, "tcp://127.0.0.1:0", shape="1024,1024")
    try:
        with (
            lk.connect(served.connection_file, streams="network", codec="none") as a,
            lk.connect(served.connection_file, streams="network", codec="lz4") as b,
        ):
            a.start()
            export = a._call("remote.export")["address"]
            info = read_connection_file(served.connection_file)
            stalled = _stalled_client(
                type(info)(kind="streams", address=export, server_key=info.server_key,
                           client_public=info.client_public, client_secret=info.client_secret),
                "camera",
            )  # fmt: skip
            try:
                # the stalled peer's socket fills (4 MB frames, no reads): the server skips it
                wait_until(
                    lambda: any(r.get("send_blocked", 0) > 0 for r in a.health().readers.values()),
                    30,
                    "the export server skipping the stalled client",
                )
                with a.open_reader() as ra, b.open_reader() as rb:
                    fa, fb = _frames(ra, 10), _frames(rb, 10)
                    assert fa[-1].index > fa[0].index and fb[-1].index > fb[0].index
                blocked = [r for r in a.health().readers.values() if r.get("send_blocked", 0)]
                assert blocked and all(r["frames_sent"] < 64 for r in blocked)
            finally:
                stalled[1].close(0)
                stalled[0].term()
            a.stop()
    finally:
        served.stop()


def test_a_slow_link_drops_display_frames_counted_in_health(loopback_engine):
    with lk.connect(loopback_engine.connection_file, streams="network", codec="none") as scope:
        scope._host.streams.max_bytes_s = 256 * 256 * 2 * 3  # ~3 frames/s of 128 KB
        scope.camera.frame_rate_hz = 50
        scope.start()
        with scope.open_reader(name="slow") as reader:
            _frames(reader, 4)
            wait_until(lambda: reader.frames_dropped > 10, 20, "display frames dropped")
            figures = [v for k, v in scope.health().readers.items() if k.startswith("remote:")]
            assert figures and figures[0]["frames_dropped"] > 10
            assert figures[0]["frames_dropped"] >= figures[0]["frames_sent"]
        scope.stop()


def test_spooling_from_a_remote_client_runs_beside_the_engine(loopback_engine, engine_home):
    with lk.connect(loopback_engine.connection_file, streams="network") as scope:
        assert isinstance(scope.spool, RemoteSpool)
        with pytest.raises(ValueError, match="interactive"):
            scope.spool.start("x", preflight_mode="interactive")
        for path in ("/etc/labkit-series", "../../outside", ""):  # no path of the engine's machine
            with pytest.raises(ValueError, match="names a series"):
                scope.spool.start(path, preflight_mode="skip")
        with pytest.raises(PermissionError, match="chosen where it runs"):
            scope.spool.dir_pattern = "/tmp/elsewhere"
        scope.start()
        handle = scope.spool.start("beads/run1", max_frames=40, preflight_mode="skip")
        assert handle.path.is_relative_to(engine_home / "labkit-data")  # same machine here
        final = handle.wait(60)
        assert final.state == "finished"
        assert final.frames_written == 40 and final.frames_dropped == 0
        scope.stop()
        series = lk.open_series(handle.path)
        assert series.shape == (40, 256, 256)
    assert not list((engine_home.parent).glob("x*")) and not Path("/etc/labkit-series").exists()


def test_the_dashboard_spool_panel_drives_the_engines_spooler(loopback_engine):
    from labkit.widgets._spool_panel import SpoolPanel

    with lk.connect(loopback_engine.connection_file, streams="network") as scope:
        panel = SpoolPanel(scope)
        try:
            assert panel.values["directory"].endswith("%(day)02d")  # the engine's pattern
            assert panel.values["series"]  # the next series name, from the engine
            panel.edit("directory", "/tmp/elsewhere")
            assert "chosen where it runs" in str(panel.errors.get("directory", ""))
            panel.edit("max_frames", 12)
            scope.start()
            panel.click("start")
            wait_until(
                lambda: "12 / 12 frames · finished" in panel.values["frames"]["text"],
                60,
                "the panel to show the finished series (from spool events)",
            )
            assert "dropped 0" in panel.values["stats"]
            assert panel.error == ""
            scope.stop()
        finally:
            panel.close()
