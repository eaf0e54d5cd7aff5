"""TracePlot in the kernel: reading a real shared-memory trace buffer, window, pause, decimation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from labkit.buffers import TraceBuffer
from labkit.testing import wait_until
from labkit.widgets import TracePlot
from labkit.widgets._traceplot import decimate_minmax


@pytest.fixture
def trace():
    buf = TraceBuffer.create(("sine", "noise"), capacity=1000)
    yield buf
    buf.close()


def _write(buf, t0, n, rate_hz=100.0):
    t = t0 + np.arange(n) / rate_hz
    v = np.column_stack([np.sin(t), np.full(n, 2.0)])
    buf.write(t, v)
    return t


def test_reads_buffer_and_draws_window(trace):
    plot = TracePlot(trace.reader(), window_s=2.0, autostart=False, renderer="bqplot")
    try:
        assert plot.channels == ("sine", "noise")
        assert list(plot.lines.labels) == ["sine", "noise"]
        _write(trace, 0.0, 500)  # 5 s at 100 Hz
        assert plot.update() == 500
        x = np.asarray(plot.lines.x)
        y = np.asarray(plot.lines.y)
        assert y.shape[0] == 2 and y.shape[1] == x.shape[0]
        assert x.max() == 0.0 and x.min() >= -2.0  # last 2 s, newest at 0
        assert np.allclose(y[1], 2.0)
        assert plot.redraws == 1
        plot.window.value = 4.0
        assert plot._x_scale.min == -4.0 and plot.window_s == 4.0
    finally:
        plot.close()


def test_pause_freezes_drawing_but_keeps_reading(trace):
    plot = TracePlot(trace.reader(), window_s=10.0, autostart=False, renderer="bqplot")
    try:
        _write(trace, 0.0, 100)
        plot.update()
        drawn = len(plot.lines.x)
        plot.pause.value = True
        assert plot.pause.description == "resume"
        _write(trace, 1.0, 100)
        assert plot.update() == 100
        assert len(plot.lines.x) == drawn
        plot.pause.value = False
        plot.update()
        assert len(plot.lines.x) == 200
    finally:
        plot.close()


def test_lost_rows_are_counted_and_shown(trace):
    plot = TracePlot(trace.reader(), autostart=False, renderer="bqplot")
    try:
        _write(trace, 0.0, 1500)  # capacity 1000: 500 overwritten before the read
        plot.update()
        assert plot.rows_lost == 500
        assert "500 rows lost" in plot.status.value
    finally:
        plot.close()


def test_autoscale_off_freezes_range(trace):
    plot = TracePlot(trace.reader(), autostart=False, renderer="bqplot")
    try:
        _write(trace, 0.0, 300)
        plot.update()
        plot.autoscale.value = False
        assert plot._y_scale.min is not None and plot._y_scale.max == pytest.approx(2.0)
        plot.autoscale.value = True
        assert plot._y_scale.min is None
    finally:
        plot.close()


def test_refresh_thread_runs_and_stops_on_close(trace):
    plot = TracePlot(trace.reader(), refresh_hz=20.0, renderer="bqplot")
    names = [t.name for t in threading.enumerate()]
    assert "labkit-traceplot" in names
    _write(trace, 0.0, 50)
    for _ in range(100):
        if plot.redraws:
            break
        threading.Event().wait(0.05)
    assert plot.redraws >= 1
    plot.close()
    assert "labkit-traceplot" not in [t.name for t in threading.enumerate()]


def test_broken_source_shows_error_and_stops():
    class Broken:
        channels = ("a",)

        def read_new(self):
            raise RuntimeError("engine died")

    plot = TracePlot(Broken(), autostart=False, renderer="bqplot")
    assert plot.update() == 0
    assert "engine died" in plot.status.value and plot.error
    plot.close()


def test_generic_source_without_channel_names():
    class Source:
        def __init__(self):
            self.calls = 0

        def read_new(self):
            self.calls += 1
            t = np.arange(10.0) + 10 * self.calls
            return t, np.column_stack([t, -t, t * 0]), 0

    plot = TracePlot(Source(), autostart=False, renderer="bqplot")
    plot.update()
    assert plot.channels == ("ch0", "ch1", "ch2")
    assert np.asarray(plot.lines.y).shape == (3, 10)
    plot.close()


def test_decimate_minmax_keeps_extremes():
    t = np.arange(10_000.0)
    v = np.zeros((10_000, 1))
    v[1234, 0] = 5.0
    v[9999, 0] = -3.0
    td, vd = decimate_minmax(t, v, 200)
    assert len(td) <= 200
    assert vd.max() == 5.0 and vd.min() == -3.0
    assert td[-1] == 9999.0


def test_scope_source_is_owned_and_followed_across_restart():

    import labkit as lk

    with lk.Scope(shape=(64, 64)) as scope:
        plot = TracePlot(scope, autostart=False, renderer="bqplot")
        first = plot.reader
        assert plot.channels == ("sine", "noise", "events")
        scope.start()
        wait_until(lambda: plot.update() > 0, what="samples in the plot")
        assert plot.redraws >= 1
        scope.restart()
        plot.update()
        assert plot.reader is not first and first.closed  # reads the new engine's buffer
        plot.close()
        assert plot.reader.closed  # the plot opened it, the plot closed it


def test_state_from_code_moves_the_bqplot_controls(trace):
    plot = TracePlot(trace.reader(), window_s=5.0, autostart=False, renderer="bqplot")
    try:
        _write(trace, 0.0, 300)
        plot.update()
        plot.paused = True
        assert plot.pause.value and plot.pause.description == "resume"
        plot.window_s = 3.0
        assert plot.window.value == 3.0 and plot._x_scale.min == -3.0
        plot.autoscale_y = False
        assert not plot.autoscale.value and plot._y_scale.max == pytest.approx(2.0)
        plot.paused = False
        assert not plot.pause.value and plot.pause.description == "pause"
    finally:
        plot.close()
