"""DevicePanel, TracePlot and Dashboard in real pages: Voila, JupyterLab and Notebook 7."""

from __future__ import annotations

import json

import pytest

from labkit.testing import wait_until
from labkit.testing._notebooks import check_stop_and_start
from labkit.testing._traces import trace_feed_cells, wait_trace_lines
from labkit.testing.fixtures import run_all_cells, wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # #c62828


def _panel_cells(log_path):
    return [
        "import json\n"
        "from labkit.devices.sim import SimCamera\n"
        "from labkit.widgets import DevicePanel\n"
        "camera = SimCamera('camera', sensor_shape=(64, 64))\n"
        f"log_path = {str(log_path)!r}\n"
        "def record(device, name, value):\n"
        "    with open(log_path, 'a') as f:\n"
        "        f.write(json.dumps([name, value]) + '\\n')\n"
        "camera.add_listener(record)\n"
        "panel = DevicePanel(camera)\n"
        "panel",
    ]


def _recorded(log_path):
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def _wait_recorded(log_path, entry, timeout_s=15.0):
    wait_until(
        lambda: entry in _recorded(log_path), timeout_s, f"the kernel recording {entry}", 0.1
    )


def test_device_panel_edits_reach_the_device_and_errors_show_in_red(voila_server, page):
    log_path = voila_server.root / "panel_values.jsonl"
    write_notebook(voila_server.root / "panel.ipynb", _panel_cells(log_path))
    page.goto(voila_server.render_url("panel.ipynb"))
    wait_for_widget(page, ".labkit-device-panel")

    exposure = page.locator(".labkit-prop-exposure_ms input[type=number]")
    exposure.fill("25")
    exposure.press("Enter")
    _wait_recorded(log_path, ["exposure_ms", 25.0])

    page.locator(".labkit-prop-binning select").select_option(label="2")
    _wait_recorded(log_path, ["binning", 2])
    page.locator(".labkit-prop-shape .labkit-value", has_text="32, 32").wait_for(timeout=10_000)

    roi = page.locator(".labkit-prop-roi input[type=number]")
    assert roi.count() == 4  # one small box per item
    roi.nth(3).fill("16")
    roi.nth(3).press("Enter")
    _wait_recorded(log_path, ["roi", [0, 0, 64, 16]])

    exposure.fill("5000")
    exposure.press("Enter")
    error = page.locator(".labkit-prop-exposure_ms .labkit-error")
    page.wait_for_function(
        "() => document.querySelector('.labkit-prop-exposure_ms .labkit-error').innerText"
        ".includes('above the limit')",
        timeout=10_000,
    )
    assert "above the limit 2000 ms" in error.inner_text()
    assert error.evaluate("e => getComputedStyle(e).color") == RED
    page.wait_for_function(
        "() => document.querySelector('.labkit-prop-exposure_ms input[type=number]').value === '25'",
        timeout=10_000,
    )
    assert ["exposure_ms", 5000.0] not in _recorded(log_path)
    # the slider moves the device too (log scale: the middle of 0.01..2000 ms is ~4.5 ms)
    slider = page.locator(".labkit-prop-exposure_ms input[type=range]")
    slider.evaluate(
        "e => { e.value = '500'; e.dispatchEvent(new Event('input')); "
        "e.dispatchEvent(new Event('change')); }"
    )
    wait_until(
        lambda: any(n == "exposure_ms" and 4 < v < 5 for n, v in _recorded(log_path)),
        15,
        "the kernel recording the slider's exposure_ms",
        0.1,
    )
    # a valid edit clears the red text once the kernel's reply arrives (the device records the
    # value before the reply is sent, so wait for it rather than read the text at once)
    page.wait_for_function(
        "() => document.querySelector('.labkit-prop-exposure_ms .labkit-error').innerText === ''",
        timeout=10_000,
    )
    page.screenshot(path=str(voila_server.root / "device_panel.png"))
    assert page.console_errors == []


def test_bqplot_traceplot_draws_moving_lines(voila_server, page):
    cells = trace_feed_cells("TracePlot(buf.reader(), window_s=5, renderer='bqplot')")
    write_notebook(voila_server.root / "traces.ipynb", cells)
    page.goto(voila_server.render_url("traces.ipynb"))
    wait_for_widget(page, ".labkit-traceplot")
    lines = page.locator(".labkit-traceplot path.line")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.labkit-traceplot path.line')]"
        ".filter(p => (p.getAttribute('d') || '').length > 50).length === 2",
        timeout=20_000,
    )
    first = lines.first.get_attribute("d")
    page.wait_for_function(
        "(d0) => document.querySelector('.labkit-traceplot path.line').getAttribute('d') !== d0",
        arg=first,
        timeout=10_000,
    )
    legend = page.locator(".labkit-traceplot text.legendtext").all_text_contents()
    assert legend == ["sine", "cosine"]
    assert page.console_errors == []


DASHBOARD_CELLS = [
    "import atexit\n"
    "import labkit as lk\n"
    "scope = lk.Scope(shape=(256, 256))\n"
    "atexit.register(scope.close)\n"
    "scope.start()",
    "dash = scope.dashboard(title='browser test')\natexit.register(dash.close)\ndash",
]


def _check_dashboard(page):
    wait_for_widget(page, ".labkit-dashboard", timeout_s=90)
    page.locator(".labkit-state-running").wait_for(timeout=30_000)
    for selector in (
        ".labkit-device-camera",
        ".labkit-start",
        ".labkit-stop",
        ".labkit-traceplot",
        ".labkit-spool-panel",
    ):
        page.locator(selector).first.wait_for(state="attached", timeout=30_000)
    assert page.locator(".labkit-dashboard canvas").count() >= 1  # the live view's canvas
    wait_trace_lines(page, ".labkit-dashboard .labkit-traceplot", 3)  # its canvas draws
    page.locator(".labkit-health", has_text="fps").wait_for(timeout=30_000)
    check_stop_and_start(page.locator(".labkit-dashboard"))  # the badge follows the page's clicks


def test_dashboard_in_notebook7(lab_server, page):
    """The whole dashboard, driven from a Notebook 7 page. (In JupyterLab and Voila the
    quickstart notebook's dashboard gets the same checks: tests/test_notebooks_browser.py.)"""
    write_notebook(lab_server.root / "dash7.ipynb", DASHBOARD_CELLS)
    page.goto(lab_server.notebook7_url("dash7.ipynb"))
    run_all_cells(page)
    _check_dashboard(page)
