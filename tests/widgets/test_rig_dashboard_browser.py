"""A rig's dashboard in a real Voila page: a live view per camera painting, a ROI drawn in the
page becoming an engine node whose trace is plotted, and a device action run from its button."""

from __future__ import annotations

import pytest

import labkit as lk
from labkit.testing._traces import wait_trace_lines
from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # #c62828

RIG_CELLS = [
    "import atexit\n"
    "import labkit as lk\n"
    "scope = lk.Scope(devices='labkit.devices.sim:rig_devices', shape=(192, 256))\n"
    "atexit.register(scope.close)\n"
    "scope.start()",
    "dash = scope.dashboard(title='rig')\natexit.register(dash.close)\ndash",
]

PAINTED_JS = (
    "(n) => window.labkit && Object.values(window.labkit.views).length === 2 && "
    "Object.values(window.labkit.views).every(v => v.painted >= n)"
)


def test_a_rig_dashboard_shows_both_cameras_roi_traces_and_device_actions(voila_server, page):
    write_notebook(voila_server.root / "rig.ipynb", RIG_CELLS)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(voila_server.render_url("rig.ipynb"))
    wait_for_widget(page, ".labkit-dashboard", timeout_s=90)
    page.locator(".labkit-state-running").wait_for(timeout=30_000)

    # both cameras paint, side by side in the grid
    assert page.locator(".labkit-live-grid .lk-live").count() == 2
    page.wait_for_function(PAINTED_JS, arg=10, timeout=60_000)
    first, second = (page.locator(".labkit-live-grid .lk-stage").nth(i) for i in (0, 1))
    a, b = first.bounding_box(), second.bounding_box()
    assert b["x"] >= a["x"] + a["width"] - 1  # camera2 right of camera
    page.locator(".labkit-health", has_text="camera2").wait_for(timeout=30_000)

    # a ROI drawn on camera2 (shift-drag) becomes a node; its mean and max are plotted
    assert page.locator(".labkit-roi-plot").count() == 0
    page.keyboard.down("Shift")
    page.mouse.move(b["x"] + b["width"] * 0.2, b["y"] + b["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.6, b["y"] + b["height"] * 0.5, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    wait_for_widget(page, ".labkit-roi-plot", timeout_s=30)
    wait_trace_lines(page, ".labkit-roi-plot", 2)
    legend = page.locator(".labkit-roi-plot .lk-trace-legend").inner_text().split()
    assert legend == ["roi_mean", "roi_max"]
    assert "ROI of camera2" in page.locator(".labkit-roi-plot").inner_text()

    # the magnet's actions: a bad argument is refused in red, home() runs with progress
    page.locator(".widget-tab .lm-TabBar-tab, .widget-tab .p-TabBar-tab", has_text="magnet").click()
    panel = page.locator(".labkit-device-magnet")
    panel.wait_for(state="visible", timeout=10_000)
    delta = panel.locator(".labkit-arg-nudge-delta_mm input[type=number]")
    delta.fill("9")
    delta.press("Enter")
    error = panel.locator(".labkit-arg-nudge-delta_mm .labkit-error")
    page.wait_for_function(
        "(e) => e.innerText.includes('above the limit 5 mm')", arg=error.element_handle(),
        timeout=10_000,
    )  # fmt: skip
    assert error.evaluate("e => getComputedStyle(e).color") == RED
    panel.locator("button.labkit-action-home").click()
    panel.locator(".labkit-action-status", has_text="done →").wait_for(timeout=30_000)
    panel.locator(".labkit-prop-height_mm input[type=number]").first.wait_for(timeout=5_000)
    page.wait_for_function(
        "() => document.querySelector('.labkit-device-magnet .labkit-prop-height_mm "
        "input[type=number]').value === '0'",
        timeout=10_000,
    )
    # record camera2 with the signal beside it from the spool panel
    spool = page.locator(".labkit-spool-panel")
    directory = spool.locator(".labkit-spool-dir input")
    directory.fill(str(voila_server.root / "rig-data"))
    directory.press("Enter")
    spool.locator(".labkit-spool-camera select").select_option(label="camera2")
    spool.locator(".labkit-spool-traces label", has_text="signal").locator("input").check()
    frames = spool.locator(".labkit-spool-max-frames input[type=number]")
    frames.fill("5")
    frames.press("Enter")
    spool.locator("button.labkit-spool-start").click()  # comm messages arrive in order
    spool.locator(".labkit-spool-frames", has_text="finished").wait_for(timeout=60_000)
    path = spool.locator(".labkit-spool-path").inner_text().split("→", 1)[1].strip()
    series = lk.open_series(path)
    assert series["frames"].shape == (5, 96, 128)  # camera2: half of 192 x 256
    assert "signal" in series.data_vars and series["signal"].sizes["signal_time"] > 0
    page.screenshot(path=str(voila_server.root / "rig_dashboard.png"), full_page=True)
    assert page.console_errors == []
