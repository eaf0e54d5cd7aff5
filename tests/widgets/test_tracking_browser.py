"""Bead tracking in the dashboard of a sim tweezers scope, in real Voila and JupyterLab pages:
beads found and picked in the page are drawn over the live view, a z table is scanned from the
page and shown, the beads' x/y/z are plotted, and the lock's badge turns green.

The page-driven flow runs in Voila; in JupyterLab the shipped notebook runs (Run All) and its
dashboard shows the same marks, lock badge and traces (the widget is the same in both)."""

from __future__ import annotations

import re

import pytest

from labkit.testing._traces import wait_trace_lines
from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import atexit\n"
    "import labkit as lk\n"
    "scope = lk.Scope(devices='labkit.devices.sim:tweezers_devices', shape=(288, 288), seed=7)\n"
    "atexit.register(scope.close)\n"
    "scope.camera.tether_rms_nm = 0.0\n"
    "scope.camera.frame_rate_hz = 40\n"
    "scope.start()",
    "dash = scope.dashboard(title='tweezers', tracking=True, traces=False)\n"
    "atexit.register(dash.close)\n"
    "dash",
]

MARKS_JS = (
    "(n) => window.labkit && Object.values(window.labkit.views).some(v => v.marks_drawn === n"
    " && v.painted > 0)"
)
#: pixels of the marks' colour (#4fc3f7) on the live view's overlay canvas
MARK_PIXELS_JS = """() => {
  let n = 0;
  for (const c of document.querySelectorAll('.labkit-dashboard .lk-live canvas')) {
    const ctx = c.width ? c.getContext('2d') : null;
    if (!ctx) continue;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - 79) < 12 && Math.abs(d[i + 1] - 195) < 12 && Math.abs(d[i + 2] - 247) < 12
          && d[i + 3] > 128) n++;
  }
  return n;
}"""


def _fill(page, selector: str, value: str) -> None:
    box = page.locator(selector)
    box.fill(value)
    box.press("Enter")


def _check_tracking(page, shots) -> None:
    wait_for_widget(page, ".labkit-dashboard", timeout_s=90)
    page.locator(".labkit-state-running").wait_for(timeout=30_000)
    page.locator(
        ".widget-tab .lm-TabBar-tab, .widget-tab .p-TabBar-tab", has_text="tracking"
    ).click()
    panel = page.locator(".labkit-tracking")
    panel.wait_for(state="visible", timeout=10_000)
    assert "off" in panel.locator(".labkit-field-lock_state").inner_text()

    # Find beads: nine ROIs, drawn over the live image
    panel.locator("button.labkit-find").click()
    panel.locator(".labkit-field-beads", has_text="9: bead0").wait_for(timeout=30_000)
    page.wait_for_function(MARKS_JS, arg=9, timeout=30_000)
    assert page.evaluate(MARK_PIXELS_JS) > 200

    # Pick: a click on the image adds a bead there
    page.locator(".labkit-dashboard button.lk-pick").click()
    stage = page.locator(".labkit-dashboard .lk-stage").first.bounding_box()
    page.mouse.click(stage["x"] + stage["width"] * 0.5, stage["y"] + stage["height"] * 0.5)
    panel.locator(".labkit-field-beads", has_text="10: bead0").wait_for(timeout=30_000)
    page.wait_for_function(MARKS_JS, arg=10, timeout=30_000)
    page.locator(".labkit-dashboard button.lk-pick").click()  # Pick off: clicks move the profile
    panel.locator("button.labkit-find").click()  # back to the nine real beads
    page.wait_for_function(MARKS_JS, arg=9, timeout=30_000)

    # scan a short z table from the page: progress, then the table's view
    # the default range, -1.5 to 1.5 µm, in 11 planes
    _fill(panel, ".labkit-field-step_um input[type=number]", "0.3")
    _fill(panel, ".labkit-field-frames_per_plane input[type=number]", "2")
    panel.locator("button.labkit-scan").click()
    view = page.locator(".labkit-zlut-view")
    view.wait_for(timeout=90_000)
    assert "11 from -1.50 to 1.50 µm" in view.inner_text()
    assert "nm median" in view.locator(".labkit-checks").inner_text()
    panel.locator(".labkit-field-scan_progress", has_text="ZLUT(9 beads").wait_for(timeout=10_000)

    # track: x, y, z of the beads plotted
    panel.locator("button.labkit-track").click()
    for coord in ("x", "y", "z"):
        wait_trace_lines(page, f".labkit-bead-{coord}", 3, timeout_s=60)

    # lock on bead0: the badge turns green
    panel.locator(".labkit-field-lock_bead select").select_option(label="bead0")
    panel.locator("button.labkit-lock").click()
    badge = panel.locator(".labkit-lock-locked")
    badge.wait_for(timeout=30_000)
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(46, 125, 50)"
    page.screenshot(path=str(shots), full_page=True)
    panel.locator("button.labkit-unlock").click()
    panel.locator(".labkit-lock-off").wait_for(timeout=30_000)
    assert page.console_errors == []


def test_tracking_in_voila(voila_server, page):
    write_notebook(voila_server.root / "tracking.ipynb", CELLS)
    page.set_viewport_size({"width": 1600, "height": 1100})
    page.goto(voila_server.render_url("tracking.ipynb"))
    _check_tracking(page, voila_server.root / "tracking_voila.png")


def test_tracking_notebook_run_all_locks_and_shows_the_beads(lab_server, page):
    """notebooks/tracking.ipynb, Run All in JupyterLab and left open."""
    from pathlib import Path

    from labkit.testing import run_in_lab

    page.set_viewport_size({"width": 1600, "height": 1100})
    notebook = Path(__file__).parents[2] / "notebooks" / "tracking.ipynb"
    run = run_in_lab(lab_server, page, notebook)
    run.check_clean()
    text = run.output_text()
    assert "9 beads: ['bead0'" in text and "ZLUT(9 beads, 21 planes" in text
    # the lock's state when lock() replied: searching, or locked already on a fast reply
    assert re.search(r"(searching|locked) on bead0 of \('bead0_x', 'bead0_y', 'bead0_z', "
                     r"'bead0_quality'\)", text), text  # fmt: skip
    page.wait_for_function(MARKS_JS, arg=9, timeout=60_000)
    page.locator(".widget-tab .lm-TabBar-tab, .widget-tab .p-TabBar-tab",
                 has_text="tracking").click()  # fmt: skip
    page.locator(".labkit-tracking .labkit-lock-locked").wait_for(timeout=60_000)
    wait_trace_lines(page, ".labkit-bead-z", 3, timeout_s=60)
    run.check_clean()
