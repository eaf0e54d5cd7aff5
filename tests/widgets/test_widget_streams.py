"""Widgets on a rig with several streams: a live view and a trace plot per stream, the
dashboard's live view per camera and its ROI nodes, and device actions in the device panel."""

from __future__ import annotations

import numpy as np
import pytest

import labkit as lk
from labkit.devices import ActionArgumentError, PropertyLimitError
from labkit.devices.sim import rig_devices
from labkit.testing import wait_until
from labkit.widgets import Dashboard, DevicePanel, LiveView, TracePlot

RIG = "labkit.devices.sim:rig_devices"


@pytest.fixture
def rig_scope():
    with lk.Scope(devices=rig_devices(shape=(96, 128))) as scope:
        scope.start()
        yield scope


def _frame(view):
    return wait_until(lambda: view._latest(copy=True), what="a frame in the live view")


def test_a_live_view_shows_the_camera_its_stream_names(rig_scope):
    with LiveView(rig_scope, stream="camera2") as second, LiveView(rig_scope) as first:
        assert second.stream == "camera2" and first.stream is None
        assert _frame(second).data.shape == (48, 64)  # camera2 has half the pixels
        assert _frame(first).data.shape == (96, 128)
    with pytest.raises(LookupError, match="frames streams: camera, camera2"):
        LiveView(rig_scope, stream="signal")
    with pytest.raises(TypeError, match="has no streams"):
        LiveView(np.zeros((4, 4), np.uint16), stream="camera")
    with pytest.raises(TypeError, match=r"unknown keyword arguments \['colour'\]"):
        LiveView(rig_scope, colour="red")


def test_a_trace_plot_follows_the_stream_it_is_given_and_switches(rig_scope):
    rig_scope.nodes.add("frame_stats", input="camera2", name="stats2")
    with TracePlot(rig_scope, stream="stats2", autostart=False) as plot:
        assert plot.stream == "stats2"
        assert plot.channels == ("min", "max", "mean", "saturated")
        wait_until(plot.update, what="frame statistics rows")
        plot.stream = "signal"
        assert plot.channels == ("sine", "noise", "events")
        wait_until(plot.update, what="signal rows")
        assert plot.reader.channels == ("sine", "noise", "events")
        with pytest.raises(LookupError, match="stats2 \\(trace\\)"):
            plot.stream = "nope"
        assert plot.stream == "signal"  # a refused switch keeps the old stream
    with pytest.raises(LookupError, match="no stream named 'nope'"):
        TracePlot(rig_scope, stream="nope")


def test_dashboard_shows_every_camera_and_each_camera_rate(rig_scope):
    with rig_scope.dashboard(traces=False) as dash:
        assert list(dash.lives) == ["camera", "camera2"]
        assert dash.live is dash.lives["camera"]
        assert "labkit-live-grid" in dash.live_area.widget._dom_classes
        assert dash.layout.grid_template_columns.count("100vh") == 2  # both images' widths
        health = wait_until(
            lambda: (
                "camera2" in dash.controls.values.get("health", "")
                and dash.controls.values["health"]
            ),
            what="per-camera health in the header",
        )
        assert health.startswith("camera ") and " fps · camera2 " in health
    with Dashboard(rig_scope, traces=False, cameras=["camera2"], cameras_layout="tabs") as dash:
        assert list(dash.lives) == ["camera2"]
    with rig_scope.dashboard(traces=False, cameras_layout="tabs") as dash:
        assert "labkit-live-tabs" in dash.live_area.widget._dom_classes
        assert [dash.live_area.widget.get_title(i) for i in range(2)] == ["camera", "camera2"]
    with pytest.raises(ValueError, match="cameras_layout must be one of grid, tabs"):
        rig_scope.dashboard(cameras_layout="stack")
    with pytest.raises(LookupError, match="frames streams: camera, camera2"):
        rig_scope.dashboard(cameras=["camera3"])


def test_a_roi_drawn_in_a_live_view_becomes_an_engine_node_and_a_plot(rig_scope):
    with rig_scope.dashboard(traces=False) as dash:
        assert dash.live_area.roi_plot is None
        dash.lives["camera2"].roi = (4, 8, 10, 6)  # (x, y, w, h), as the page sets it
        node = rig_scope.nodes["roi_camera2"]
        assert node["input"] == "camera2" and node["state"] == "running"
        plot = dash.live_area.roi_plot
        assert plot.stream == "roi_camera2" and plot.channels == ("roi_mean", "roi_max")
        wait_until(plot.update, what="ROI rows")
        # the node computes the ROI the view drew: its mean equals the mean of that region
        frames = {}
        with rig_scope.open_reader("camera2", name="check") as reader:
            wait_until(lambda: reader.latest() is not None, what="a camera2 frame")
            for _ in range(40):
                frame = reader.latest()
                frames[round(frame.timestamp_s, 6)] = frame.data[8:14, 4:14].mean()
        rows = rig_scope.traces["roi_camera2"]
        matched = [
            (float(v), frames[round(float(t), 6)])
            for t, v in zip(rows.time.values, rows.sel(channel="roi_mean").values, strict=True)
            if round(float(t), 6) in frames
        ]
        assert matched, "no ROI row shares a timestamp with a frame read here"
        for got, expected in matched:
            assert got == pytest.approx(expected)

        dash.lives["camera2"].roi = (60, 40, 10, 10)  # leaves the 48x64 frame
        assert "ROI of camera2" in dash.last_error and "leaves the 48x64 frame" in dash.last_error
        assert dash.controls.errors["state"] == dash.last_error  # red in the header
        assert "roi_camera2" not in rig_scope.nodes  # the refused ROI left no node behind

        dash.lives["camera"].roi = (0, 0, 16, 16)
        assert dash.last_error is None and plot.stream == "roi_camera"
        dash.lives["camera"].roi = None
        assert "roi_camera" not in rig_scope.nodes and dash.live_area.roi_plot is None
        dash.lives["camera2"].roi = (0, 0, 8, 8)
        assert "roi_camera2" in rig_scope.nodes
    assert "roi_camera2" not in rig_scope.nodes  # closing the dashboard removes its nodes


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_device_panel_runs_actions_with_checked_fields_progress_and_errors(mode):
    devices = rig_devices(shape=(32, 32)) if mode == "thread" else RIG
    with lk.Scope(devices=devices, mode=mode, shape=(32, 32)) as scope:
        with DevicePanel(scope.devices["magnet"]) as panel:
            names = [row["name"] for row in panel.schema]
            assert names[names.index("actions:heading") :] == [
                "actions:heading",
                "home.speed_mm_s", "home:run", "home:status",
                "nudge.delta_mm", "nudge:run", "nudge:status",
            ]  # fmt: skip
            assert panel.values["home.speed_mm_s"] == 20.0 and panel.hidden["home:status"]
            speed = next(r for r in panel.schema if r["name"] == "home.speed_mm_s")
            assert (speed["low"], speed["high"], speed["units"]) == (0.1, 50, "mm/s")

            assert not panel.edit("home.speed_mm_s", 500)  # checked like a property
            assert "above the limit 50 mm/s" in panel.errors["home.speed_mm_s"]
            assert panel.values["home.speed_mm_s"] == 20.0

            texts = []
            panel.observe(
                lambda c: texts.append((c["new"].get("home:status") or {}).get("text")),
                names="values",
            )
            panel.run_action("home", speed_mm_s=40, timeout_s=30)
            texts = [t for t in texts if t is not None]  # the field's edit came first
            assert texts[0] == "running…" and texts[-1].startswith("done → ")
            assert "50 %" in texts  # the action's own progress messages, in order
            assert texts.index("50 %") < texts.index("100 %")
            assert not panel.hidden["home:status"] and not panel.disabled["home()"]
            wait_until(lambda: panel.values["height_mm"] == 0.0, what="the homed height")

            with pytest.raises(ActionArgumentError, match=r"needs \['delta_mm'\]"):
                panel.run_action("nudge", timeout_s=30)
            assert "needs ['delta_mm']" in panel.errors["nudge:run"]  # red under the button
            assert panel.values["nudge:status"]["style"] == "danger"
            with pytest.raises(PropertyLimitError, match="above the limit 5 mm"):
                scope.devices["magnet"].nudge(delta_mm=9)
            assert panel.run_action("nudge", delta_mm=2.5, timeout_s=30) == 2.5
            assert "nudge:run" not in panel.errors  # a later success clears the red
            with pytest.raises(LookupError, match="actions: home, nudge"):
                panel.run_action("launch")
        assert DevicePanel(scope.devices["magnet"], actions=False).actions.rows() == []
