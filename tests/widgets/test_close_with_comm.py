"""A widget whose comm is closed from outside (marimo re-running the cell that made it,
``Widget.close_all()``) closes itself: threads stop, readers close, listeners go. Closing the
widget the usual way still works once and does not recurse through its own comm."""

from __future__ import annotations

import threading

import ipywidgets
import numpy as np
import pytest

from labkit.buffers import TraceBuffer
from labkit.devices.sim import SimCamera
from labkit.widgets import DevicePanel, LiveView, TracePlot
from labkit.widgets._form import Form
from labkit.widgets._frontends import close_with_comm


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_comm_closed_from_outside_stops_the_live_views_pump():
    view = LiveView(np.zeros((32, 32), np.uint16))
    view.start()
    assert _threads(f"labkit-{view.view_id}")
    view.comm.close()  # what marimo's cell lifecycle does on a re-run
    assert not _threads(f"labkit-{view.view_id}")
    assert view.comm is None  # the widget itself is closed too
    with pytest.raises(RuntimeError, match="closed"):
        view.start()


def test_comm_closed_from_outside_stops_the_trace_plot():
    buf = TraceBuffer.create(("a",), capacity=100)
    try:
        plot = TracePlot(buf.reader(), window_s=1.0)
        assert _threads("labkit-traceplot")
        plot.comm.close()
        assert not _threads("labkit-traceplot")
        assert plot.comm is None
    finally:
        buf.close()


def test_comm_closed_from_outside_detaches_the_device_panel():
    cam = SimCamera("camera", sensor_shape=(32, 32))
    try:
        panel = DevicePanel(cam)
        cam.exposure_ms = 12.0
        assert panel.values["exposure_ms"] == 12.0  # listening
        panel.comm.close()
        cam.exposure_ms = 30.0
        assert panel.values["exposure_ms"] == 12.0  # no longer listening
        assert panel.comm is None
    finally:
        cam.close()


def test_close_all_and_plain_close_run_once_without_recursion():
    calls: list[tuple[str, int]] = []  # (form, how deep inside another close() of the same form)
    depth: dict[str, int] = {}

    class Counting(Form):
        def close(self):
            calls.append((self.form_id, depth.get(self.form_id, 0)))
            depth[self.form_id] = depth.get(self.form_id, 0) + 1
            try:
                super().close()
            finally:
                depth[self.form_id] -= 1

    a = Counting([Form.row("label", "x")])
    b = Counting([Form.row("label", "y")])
    a.close()
    # the user's close, then once from inside it (Widget.close closes the comm, whose close
    # calls the widget's close back); the call back does not call again
    assert [d for f, d in calls if f == a.form_id] == [0, 1]
    assert a.comm is None
    n = len(calls)
    ipywidgets.Widget.close_all()
    assert b.comm is None
    assert [d for f, d in calls[n:] if f == b.form_id] == [0, 1]
    assert a.form_id not in {f for f, _ in calls[n:]}  # closed before: untouched


def test_a_comm_dropped_by_garbage_collection_does_not_close_the_widget():
    closed = []

    class Fake:
        def __init__(self):
            self.comm = type("C", (), {"close": lambda self, **kw: None})()

        def close(self):
            closed.append(1)

    w = Fake()
    close_with_comm(w)
    w.comm.close(deleting=True)
    assert closed == []
    w.comm.close()
    w.comm.close()
    assert closed == [1]
