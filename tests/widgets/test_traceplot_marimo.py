"""TracePlot in marimo: ``notebooks/marimo_traces.py`` served by ``marimo run`` (one server for the
module; every page is a fresh session of the app), in headless Chromium. The canvas is read
back pixel by pixel: the channel colours are painted, the picture scrolls, pause freezes it, and
the window control changes the time span."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit.testing import marimo_log_problems, wait_until
from labkit.testing._browser import app_page
from labkit.testing._servers import marimo_run
from labkit.testing._traces import TRACE_PIXELS_JS as PIXELS_JS
from labkit.testing._traces import TRACE_STATS_JS as STATS_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = Path(__file__).parents[2] / "notebooks" / "marimo_traces.py"
CANVAS = "canvas.lk-trace-canvas"
# COLORS[:3] in labkit/widgets/_traceplot.py: sine, noise, events
LINE_COLORS = {
    "sine": (0x1F, 0x77, 0xB4),
    "noise": (0xD6, 0x27, 0x28),
    "events": (0x2C, 0xA0, 0x2C),
}


@pytest.fixture(scope="module")
def marimo_log(tmp_path_factory):
    return tmp_path_factory.mktemp("marimo") / "marimo.log"


@pytest.fixture(scope="module")
def marimo_url(marimo_log):
    with marimo_run(APP, marimo_log) as url:
        yield url


@pytest.fixture(scope="module")
def trace_page(marimo_url, chromium):
    """One page (one app session) for the module: each session starts a scope that lives until
    marimo exits, so the tests share it; the server's teardown releases everything."""
    with app_page(chromium, marimo_url, width=1280, height=900) as page:
        page.wait_for_function(
            f"() => {{ const s = ({STATS_JS})(); return s && s.painted >= 3 && s.received >= 3; }}",
            timeout=90_000,
        )
        yield page


@pytest.fixture
def canvas(trace_page):
    return trace_page.locator(CANVAS)


def _controls(canvas, selector):
    return canvas.locator("xpath=..").locator(selector)


def _pixels(canvas):
    return canvas.evaluate(PIXELS_JS, LINE_COLORS)


def _paused_count(status) -> int:
    """Samples the kernel read since pausing, as the status line says ("paused · 1,234 new...")."""
    match = re.search(r"paused · ([\d,]+) new samples", status.inner_text())
    assert match, status.inner_text()
    return int(match.group(1).replace(",", ""))


def _stats(page):
    return page.evaluate(STATS_JS)


def test_canvas_paints_every_channel_and_scrolls(trace_page, canvas, tmp_path, marimo_log):
    page = trace_page
    page.get_by_text("renderer: canvas").wait_for(timeout=10_000)
    first = _pixels(canvas)
    for name, count in first["counts"].items():
        assert count > 50, f"channel {name} is not painted: {first['counts']}"
    legend = _controls(canvas, ".lk-trace-legend").inner_text()
    assert legend.split() == ["sine", "noise", "events"]
    t0 = _stats(page)["t_end"]
    page.wait_for_function(f"() => ({STATS_JS})().t_end > {t0} + 0.5", timeout=10_000)
    assert _pixels(canvas)["hash"] != first["hash"]  # the lines moved
    stats = _stats(page)
    assert stats["x_ticks"][0] == "-5" and stats["x_ticks"][-1] == "0"
    assert stats["decode_errors"] == 0 and stats["n_points"] <= 2 * stats["plot_w"]
    page.screenshot(path=tmp_path / "marimo_traces.png")
    assert page.console_errors == []
    assert marimo_log_problems(marimo_log.read_text()) == []  # no traceback in the app's log


def test_pause_freezes_the_picture_and_resume_scrolls_again(trace_page, canvas):
    page = trace_page
    pause = _controls(canvas, "button.lk-trace-pause")
    status = _controls(canvas, ".lk-trace-status")
    pause.click()
    page.wait_for_function(f"() => ({STATS_JS})().paused", timeout=5_000)
    # the kernel's "paused" status comes after any update it sent before pausing (one channel)
    status.filter(has_text="paused ·").wait_for(timeout=10_000)
    first = _paused_count(status)
    frozen = (_stats(page)["t_end"], _pixels(canvas)["hash"])
    received = _stats(page)["received"]
    # a later kernel event: its next status (once a second) counts more samples read meanwhile
    wait_until(lambda: _paused_count(status) > first, timeout_s=30, what="a later paused count")
    assert (_stats(page)["t_end"], _pixels(canvas)["hash"]) == frozen
    assert _stats(page)["received"] == received  # the kernel sent no picture while paused
    assert pause.inner_text() == "resume"
    pause.click()
    page.wait_for_function(f"() => ({STATS_JS})().t_end > {frozen[0]}", timeout=10_000)
    assert _pixels(canvas)["hash"] != frozen[1]


def test_window_control_changes_the_time_span(trace_page, canvas):
    page = trace_page
    status = _controls(canvas, ".lk-trace-status")
    page.wait_for_function(f"() => ({STATS_JS})().t_end > 0", timeout=10_000)
    box = _controls(canvas, "input.lk-trace-window")
    assert box.input_value() == "5"
    box.fill("2")
    box.press("Enter")
    page.wait_for_function(
        f"() => {{ const s = ({STATS_JS})(); return parseFloat(s.x_ticks[0]) === -2 && s.window_s === 2; }}",
        timeout=10_000,
    )
    # the kernel now keeps and sends 2 s: ~2000 samples at the sim signal's 1 kHz
    page.wait_for_function(
        "(el) => { const n = parseInt(el.textContent); return n > 0 && n <= 2100; }",
        arg=status.element_handle(),
        timeout=10_000,
    )
    assert _pixels(canvas)["counts"]["sine"] > 50
