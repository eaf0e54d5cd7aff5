"""ScriptPanel in real pages (Voila, JupyterLab, marimo): Run from the page, the steps advance,
and a failing step shows in red with its error."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.testing._browser import app_page
from labkit.testing._servers import marimo_run
from labkit.testing.fixtures import run_all_cells, wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # #c62828
APP = Path(__file__).with_name("marimo_script_panel.py")
CELLS = [
    "import atexit\n"
    "import labkit as lk\n"
    "from labkit.protocols import Script\n"
    "from labkit.widgets import ScriptPanel\n"
    "scope = lk.Scope(devices='labkit.devices.sim:rig_devices', shape=(64, 64))\n"
    "atexit.register(scope.close)\n"
    "script = Script([\n"
    "    ('wait', {'seconds': 0.05}),\n"
    "    ('set_property', {'device': 'shutter', 'name': 'is_open', 'value': True}),\n"
    "    ('set_property', {'device': 'camera', 'name': 'exposure_ms', 'value': 1e9}),\n"
    "], name='failing')\n"
    "panel = ScriptPanel(scope, script)\n"
    "atexit.register(panel.close)\n"
    "panel",
]


def _run_and_see_the_failure(page):
    wait_for_widget(page, ".labkit-script-panel", timeout_s=90)
    page.locator(".labkit-script-name", has_text="failing: 3 steps").wait_for(timeout=30_000)
    page.locator("button.labkit-script-run").click()
    status = page.locator(".labkit-script-panel .labkit-form-status.labkit-error")
    status.wait_for(timeout=30_000)
    text = status.inner_text()
    assert "step 3 failed" in text and "exposure_ms" in text and "above the limit" in text
    assert status.evaluate("e => getComputedStyle(e).color") == RED
    progress = page.locator(".labkit-script-progress").inner_text()
    assert "2 / 3 steps · failed" in progress
    assert "set_property(device='camera'" in page.locator(".labkit-script-step").inner_text()
    assert not page.locator("button.labkit-script-run").is_disabled()  # it can run again
    assert page.locator("button.labkit-script-abort").is_disabled()


def test_script_panel_in_voila(voila_server, page):
    write_notebook(voila_server.root / "script_panel.ipynb", CELLS)
    page.goto(voila_server.render_url("script_panel.ipynb"))
    _run_and_see_the_failure(page)
    page.screenshot(path=str(voila_server.root / "script_panel.png"))
    assert page.console_errors == []


def test_script_panel_in_jupyterlab(lab_server, page):
    write_notebook(lab_server.root / "script_panel.ipynb", CELLS)
    page.goto(lab_server.notebook_url("script_panel.ipynb"))
    run_all_cells(page)
    _run_and_see_the_failure(page)


def test_script_panel_in_marimo(chromium, tmp_path):
    with marimo_run(APP, tmp_path / "marimo.log") as url:
        with app_page(chromium, url) as page:
            _run_and_see_the_failure(page)
