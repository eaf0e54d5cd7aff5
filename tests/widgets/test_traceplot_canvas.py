"""TracePlot with the Canvas2D renderer, in the kernel: renderer choice, the binary message
layout, credit and rate flow control, and the controls the browser edits (as synced traits).

The browser side is played by calling the widget's custom-message handler with what the front
end sends ("ready", "resize", "ack") and recording what the widget sends; the real front end is
tested in test_traceplot_marimo.py and test_traceplot_voila.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from labkit.buffers import TraceBuffer
from labkit.testing import wait_until
from labkit.widgets import TracePlot
from labkit.widgets._trace_canvas import TraceCanvas, encode_traces, running_in_marimo
from labkit.widgets._traceplot import decimate_minmax


@pytest.fixture
def trace():
    buf = TraceBuffer.create(("sine", "noise"), capacity=20_000)
    yield buf
    buf.close()


def _write(buf, t0, n, rate_hz=1000.0):
    t = t0 + np.arange(n) / rate_hz
    v = np.column_stack([np.sin(t), np.full(n, 2.0)])
    buf.write(t, v)
    return t, v


class Browser:
    """Records what the canvas widget sends and answers like the front end does."""

    def __init__(self, canvas: TraceCanvas, plot_w: int = 300):
        self.canvas = canvas
        self.sent: list[tuple[dict, list]] = []
        canvas.send = lambda content, buffers=None: self.sent.append((content, buffers or []))
        self.msg({"type": "ready", "view": "v1"})
        self.msg({"type": "resize", "plot_w": plot_w})

    def msg(self, content: dict) -> None:
        self.canvas._on_custom_msg(self.canvas, content, [])

    def ack_all(self) -> None:
        for content, _ in self.sent:
            self.msg({"type": "ack", "seq": content["seq"]})

    def decode(self, i: int = -1) -> tuple[dict, np.ndarray, np.ndarray]:
        content, (tbuf, vbuf) = self.sent[i]
        t = np.frombuffer(tbuf, dtype="<f4")
        v = np.frombuffer(vbuf, dtype="<f4").reshape(content["n_channels"], content["n"])
        return content, t, v


class Clock:
    """The canvas's injected clock: time passes only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _canvas_plot(source, clock: Clock | None = None, **kw) -> TracePlot:
    plot = TracePlot(source, renderer="canvas", autostart=False, **kw)
    if clock is not None:
        plot.canvas.clock = clock
    return plot


def test_renderer_choice_outside_and_inside_marimo(trace, monkeypatch):
    assert not running_in_marimo()  # pytest is not a marimo notebook
    plot = TracePlot(trace.reader(), renderer="bqplot", autostart=False)
    assert plot.renderer == "bqplot" and plot.canvas is None and plot.lines is not None
    plot.close()
    plot = TracePlot(trace.reader(), autostart=False)  # "auto": the canvas outside marimo too
    assert plot.renderer == "canvas" and isinstance(plot.canvas, TraceCanvas)
    assert plot.children == (plot.canvas,) and plot.lines is None and plot.window is None
    assert plot._display_() is plot.canvas  # what marimo shows, also inside mo.vstack
    plot.close()
    # what marimo.running_in_notebook() answers inside a marimo kernel
    # (patch the real module: other tests may have imported marimo and installed its widget hooks,
    # which a stand-in module would break)
    import marimo

    monkeypatch.setattr(marimo, "running_in_notebook", lambda: True)
    assert running_in_marimo()
    plot = TracePlot(trace.reader(), autostart=False)
    assert plot.renderer == "canvas"
    plot.close()
    with pytest.raises(ValueError, match="renderer must be one of auto, bqplot, canvas"):
        TracePlot(trace.reader(), renderer="svg")


def test_bqplot_plot_in_marimo_explains_itself(trace):
    plot = TracePlot(trace.reader(), renderer="bqplot", autostart=False)
    shown = plot._display_()
    assert "marimo-callout-output" in shown.text and "marimo cannot show" in shown.text
    plot.close()


def test_importing_labkit_and_plotting_outside_marimo_never_imports_marimo():
    code = (
        "import sys, numpy as np\n"
        "import labkit as lk\n"
        "from labkit.buffers import TraceBuffer\n"
        "buf = TraceBuffer.create(('a',), capacity=10)\n"
        "p = lk.TracePlot(buf.reader(), autostart=False)\n"
        "p.close(); buf.close()\n"
        "assert p.renderer == 'canvas'\n"
        "assert 'marimo' not in sys.modules, 'marimo was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_binary_message_layout(trace):
    plot = _canvas_plot(trace.reader(), window_s=2.0)
    browser = Browser(plot.canvas, plot_w=300)
    try:
        t, v = _write(trace, 100.0, 5000)  # 5 s at 1 kHz; the window keeps the last 2 s
        assert plot.update() == 5000
        assert len(browser.sent) == 1
        content, t_rel, values = browser.decode()
        keep = t >= t[-1] - 2.0
        td, vd = decimate_minmax(t[keep], v[keep], 600)  # a min and a max per device pixel
        assert content["type"] == "traces" and content["seq"] == 0
        assert content["n"] == len(td) <= 600 and content["n_channels"] == 2
        assert content["t_end"] == pytest.approx(t[-1])
        assert content["window_s"] == 2.0 and content["n_samples"] == int(keep.sum())
        assert content["y_min"] == pytest.approx(-1.0, abs=0.1) and content["y_max"] == 2.0
        assert content["rows_lost"] == 0
        np.testing.assert_allclose(t_rel, (td - t[-1]).astype(np.float32), atol=1e-6)
        assert t_rel[-1] == 0.0 and t_rel[0] >= -2.0
        np.testing.assert_allclose(values, vd.T.astype(np.float32))
        assert all(isinstance(b, bytes) for b in browser.sent[0][1])  # raw buffers, not JSON lists
        assert plot.canvas.channels == ["sine", "noise"] and len(plot.canvas.colors) >= 2
    finally:
        plot.close()


def test_nothing_is_sent_without_a_view_or_credit(trace):
    clock = Clock()
    plot = _canvas_plot(trace.reader(), clock)
    canvas = plot.canvas
    early = []
    canvas.send = lambda content, buffers=None: early.append(content)
    try:
        _write(trace, 0.0, 100)
        plot.update()
        assert early == [] and plot.redraws == 0  # no browser view yet: nothing queues
        browser = Browser(canvas)
        plot.update()
        assert len(browser.sent) == 1  # the window read before the view came goes now
        for k in range(5):  # the browser does not ack: four updates in flight at most
            _write(trace, 1.0 + k, 10)
            clock.advance(0.06)  # past the 20 updates/s cap
            plot.update()
        seqs = [c["seq"] for c, _ in browser.sent]
        assert seqs == [0, 1, 2, 3]
        assert canvas.status == ("ok", "")
        # one cumulative ack (the page acks every second update) returns every earlier credit
        browser.msg({"type": "ack", "seq": 1})
        assert canvas._credit.in_flight == 2
        # acks that never come (a busy Jupyter kernel reads them only between cells): the
        # credit is reclaimed after the timeout, one more update goes, and the widget says why
        canvas._credit.timeout_s = 0.05
        clock.advance(0.06)
        plot.update()
        assert [c["seq"] for c, _ in browser.sent] == [0, 1, 2, 3, 4]
        assert canvas.status[0] == "warning" and "kernel is probably busy" in canvas.status[1]
        assert canvas.credit_timeouts == 2
        canvas._credit.timeout_s = 1.5
        browser.ack_all()
        clock.advance(0.06)
        _write(trace, 7.0, 10)
        plot.update()
        assert [c["seq"] for c, _ in browser.sent] == [0, 1, 2, 3, 4, 5]
        assert browser.sent[-1][0]["n_samples"] == 160 and canvas.status == ("ok", "")
        browser.msg({"type": "closed", "view": "v1"})
        browser.ack_all()
        clock.advance(0.06)
        _write(trace, 9.0, 10)
        plot.update()
        assert len(browser.sent) == 6 and canvas.views == 0  # the page closed: stop sending
    finally:
        plot.close()


def test_rate_is_capped_at_20_updates_per_second(trace):
    clock = Clock()
    plot = _canvas_plot(trace.reader(), clock)
    browser = Browser(plot.canvas)
    try:
        for k in range(10):  # as fast as possible, acking everything
            _write(trace, float(k), 10)
            plot.update()
            browser.ack_all()
        assert len(browser.sent) == 1  # the next one may go 45 ms later, not now
        clock.advance(0.06)
        plot.update()
        assert len(browser.sent) == 2 and browser.sent[-1][0]["n_samples"] == 100
    finally:
        plot.close()


def test_browser_controls_drive_the_pump(trace):
    clock = Clock()
    plot = _canvas_plot(trace.reader(), clock, window_s=10.0)
    canvas = plot.canvas
    browser = Browser(canvas)
    try:
        _write(trace, 0.0, 3000)
        plot.update()
        # pause (the button sets the synced trait): reading goes on, nothing is sent
        canvas.paused = True
        assert plot.paused
        browser.ack_all()
        clock.advance(0.06)
        _write(trace, 3.0, 1000)
        assert plot.update() == 1000 and len(browser.sent) == 1
        canvas.paused = False
        plot.update()
        assert len(browser.sent) == 2 and browser.sent[-1][0]["n_samples"] == 4000
        # window length: the next update carries the new span
        browser.ack_all()
        clock.advance(0.06)
        canvas.window_s = 2.0
        assert plot.window_s == 2.0
        plot.update()
        content, t_rel, _ = browser.decode()
        assert content["window_s"] == 2.0 and t_rel[0] >= -2.0 and content["n_samples"] == 2001
        # autoscale off freezes the y range; later data outside it does not move it
        canvas.autoscale = False
        assert not plot.autoscale_y
        frozen = (content["y_min"], content["y_max"])
        browser.ack_all()
        clock.advance(0.06)
        trace.write(np.array([5.0]), np.array([[50.0, -50.0]]))
        plot.update()
        assert (browser.sent[-1][0]["y_min"], browser.sent[-1][0]["y_max"]) == frozen
        plot.autoscale_y = True  # from code: the widget's checkbox follows
        assert canvas.autoscale
        browser.ack_all()
        clock.advance(0.06)
        plot.update()
        assert browser.sent[-1][0]["y_max"] == 50.0 and browser.sent[-1][0]["y_min"] == -50.0
        plot.window_s = 4.0
        assert canvas.window_s == 4.0
        with pytest.raises(ValueError, match="window_s must be > 0"):
            plot.window_s = 0
    finally:
        plot.close()


def test_a_paused_plot_says_how_many_samples_came_since_at_most_once_a_second(trace):
    clock = Clock()
    plot = _canvas_plot(trace.reader(), clock)
    canvas = plot.canvas
    browser = Browser(canvas)
    try:
        _write(trace, 0.0, 100)
        plot.update()
        assert canvas.status == ("ok", "")
        canvas.paused = True
        _write(trace, 0.1, 250)
        plot.update()
        assert canvas.status == ("paused", "paused · 250 new samples")
        _write(trace, 0.35, 50)
        clock.advance(0.5)  # within the second: the status stays (each change costs a message)
        plot.update()
        assert canvas.status == ("paused", "paused · 250 new samples")
        clock.advance(0.5)
        plot.update()
        assert canvas.status == ("paused", "paused · 300 new samples")
        assert len(browser.sent) == 1  # the picture itself was not sent while paused
        canvas.paused = False
        browser.ack_all()
        clock.advance(0.06)
        plot.update()
        assert canvas.status == ("ok", "") and len(browser.sent) == 2
        canvas.paused = True  # a new pause counts from zero
        _write(trace, 0.4, 1200)
        plot.update()
        assert canvas.status == ("paused", "paused · 1,200 new samples")
    finally:
        plot.close()


def test_the_bqplot_renderer_shows_the_paused_count_too(trace):
    plot = TracePlot(trace.reader(), renderer="bqplot", autostart=False)
    try:
        _write(trace, 0.0, 100)
        plot.update()
        plot.paused = True
        _write(trace, 0.1, 40)
        plot.update()
        assert plot._renderer.status.value == "paused · 40 new samples"
        plot.paused = False
        plot.update()
        assert plot._renderer.status.value == "140 samples"
    finally:
        plot.close()


def test_errors_and_lost_rows_reach_the_canvas():
    class Broken:
        channels = ("a",)

        def read_new(self):
            raise RuntimeError("engine died")

    plot = _canvas_plot(Broken())
    assert plot.update() == 0
    assert plot.canvas.status == ("error", "RuntimeError: engine died")
    plot.close()

    buf = TraceBuffer.create(("a",), capacity=100)
    try:
        plot = _canvas_plot(buf.reader())
        browser = Browser(plot.canvas)
        buf.write(np.arange(150.0), np.zeros((150, 1)))
        plot.update()
        assert browser.sent[-1][0]["rows_lost"] == 50
        plot.close()
    finally:
        buf.close()


def test_signal_device_source():
    from labkit.devices.sim import SimSignal

    signal = SimSignal("signal")
    plot = _canvas_plot(signal, window_s=1.0)
    try:
        assert plot.channels == ("sine", "noise", "events")
        wait_until(lambda: plot.update() > 0, what="samples from the signal")
        assert plot._pump.t.size > 0
    finally:
        plot.close()
        signal.close()
    with pytest.raises(TypeError, match="cannot read a int"):
        TracePlot(3, renderer="canvas", autostart=False)


def test_encode_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="values must be"):
        encode_traces(
            0,
            np.zeros(3),
            np.zeros((4, 1)),
            t_end=0,
            window_s=1,
            y_range=None,
            n_samples=0,
            rows_lost=0,
        )
    content, buffers = encode_traces(
        7, np.zeros(2), np.ones((2, 3)), t_end=1, window_s=1, y_range=None, n_samples=2, rows_lost=0
    )
    assert content["y_min"] is None and [len(b) for b in buffers] == [8, 24]
