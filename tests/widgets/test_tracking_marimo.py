"""Bead tracking in marimo: ``notebooks/marimo_tracking.py`` served by ``marimo run`` in headless
Chromium — bead ROIs drawn over the live view, the beads' traces drawn, the z table shown, and the
lock switched on and off from the tracking tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.testing import log_problems
from labkit.testing._browser import app_page
from labkit.testing._servers import marimo_run
from labkit.testing._traces import TRACE_PIXELS_JS
from labkit.testing._wait import wait_until
from labkit.widgets._traceplot import COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = Path(__file__).parents[2] / "notebooks" / "marimo_tracking.py"
#: pixels of the marks' colour (#4fc3f7) on an overlay canvas
MARK_PIXELS_JS = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - 79) < 12 && Math.abs(d[i + 1] - 195) < 12 && Math.abs(d[i + 2] - 247) < 12
        && d[i + 3] > 100) n++;
  return n;
}"""
LINES = {f"ch{i}": [int(c[k : k + 2], 16) for k in (1, 3, 5)] for i, c in enumerate(COLORS[:3])}
MARKS_JS = (
    "(n) => window.labkit && Object.values(window.labkit.views).some(v => v.marks_drawn === n"
    " && v.painted > 0)"
)


def test_tracking_dashboard_in_marimo(chromium, tmp_path):
    log = tmp_path / "marimo.log"
    with marimo_run(APP, log) as url, app_page(chromium, url, width=1400, height=1000) as page:
        page.locator(".labkit-dashboard .labkit-state-running").wait_for(timeout=120_000)
        page.wait_for_function(MARKS_JS, arg=9, timeout=60_000)
        overlay = page.locator(".labkit-dashboard canvas.lk-overlay").first  # marks set before
        wait_until(lambda: overlay.evaluate(MARK_PIXELS_JS) > 200, what="the marks painted")
        for coord in ("x", "y", "z"):  # marimo renders widgets in shadow roots: read by locator
            canvas = page.locator(f".labkit-bead-{coord} canvas.lk-trace-canvas")
            wait_until(lambda c=canvas: min(c.evaluate(TRACE_PIXELS_JS, LINES)["counts"].values())
                       >= 50, timeout_s=60, what=f"bead {coord} lines")  # fmt: skip
        assert "11 from -1.00 to 1.00 µm" in page.locator(".labkit-zlut").inner_text()
        page.get_by_role("tab", name="tracking").click()
        panel = page.locator(".labkit-tracking")
        panel.wait_for(state="visible", timeout=10_000)
        panel.locator("button.labkit-lock").click()
        panel.locator(".labkit-lock-locked").wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "tracking_marimo.png"), full_page=True)
        panel.locator("button.labkit-unlock").click()
        panel.locator(".labkit-lock-off").wait_for(timeout=30_000)
        assert log_problems(log.read_text()) == [] and page.console_errors == []
        page.goto("about:blank")
