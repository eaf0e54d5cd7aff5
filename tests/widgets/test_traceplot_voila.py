"""TracePlot(renderer="canvas") outside marimo: the same Canvas2D widget paints and scrolls in Voila."""

from __future__ import annotations

import pytest

from labkit.testing._traces import TRACE_PIXELS_JS as PIXELS_JS
from labkit.testing._traces import TRACE_STATS_JS as STATS_JS
from labkit.testing._traces import trace_feed_cells
from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = trace_feed_cells(
    "TracePlot(buf.reader(), window_s=4, renderer='canvas', title='voila canvas')"
)
COLORS = {"sine": (0x1F, 0x77, 0xB4), "cosine": (0xD6, 0x27, 0x28)}


def test_canvas_renderer_paints_and_scrolls_in_voila(voila_server, page, tmp_path):
    write_notebook(voila_server.root / "traces_canvas.ipynb", CELLS)
    page.goto(voila_server.render_url("traces_canvas.ipynb"))
    wait_for_widget(page, ".labkit-traceplot")
    page.wait_for_function(
        f"() => {{ const s = ({STATS_JS})(); return s && s.received >= 3; }}", timeout=30_000
    )
    canvas = page.locator(".labkit-traceplot canvas.lk-trace-canvas")
    first = canvas.evaluate(PIXELS_JS, COLORS)
    assert first["counts"]["sine"] > 50 and first["counts"]["cosine"] > 50, first["counts"]
    t0 = page.evaluate(STATS_JS)["t_end"]
    page.wait_for_function(f"() => ({STATS_JS})().t_end > {t0} + 0.3", timeout=10_000)
    assert canvas.evaluate(PIXELS_JS, COLORS)["hash"] != first["hash"]
    stats = page.evaluate(STATS_JS)
    assert float(stats["x_ticks"][0]) == -4.0 and stats["decode_errors"] == 0
    assert page.locator(".labkit-traceplot .lk-trace-legend").inner_text().split() == [
        "sine",
        "cosine",
    ]
    assert page.locator(".labkit-traceplot svg").count() == 0  # no bqplot figure
    page.screenshot(path=tmp_path / "voila_traces.png")
    assert page.console_errors == []
