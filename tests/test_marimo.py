"""labkit widgets in marimo, served by ``marimo run`` and driven in headless Chromium.

- ``notebooks/marimo_live.py``: ``mo.ui.anywidget(LiveView(scope))``.
- ``notebooks/marimo_dashboard.py``: ``scope.dashboard()`` shown in a cell. The dashboard's
  panels are Form anywidgets and its ``_display_()`` is a marimo layout; one server and one page
  session serve every dashboard test of this module (started before the per-test leak check).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from labkit.testing import marimo_log_problems, wait_painting, wait_until
from labkit.testing._browser import app_page
from labkit.testing._servers import marimo_run

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
APP = NOTEBOOKS / "marimo_live.py"
DASHBOARD_APP = NOTEBOOKS / "marimo_dashboard.py"
RED = "rgb(198, 40, 40)"  # #c62828


@pytest.mark.parametrize("app", sorted(NOTEBOOKS.glob("marimo_*.py")), ids=lambda p: p.stem)
def test_marimo_apps_pass_marimo_check(app):
    result = subprocess.run(
        [sys.executable, "-m", "marimo", "check", str(app)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_live_view_paints_frames_in_marimo(page, tmp_path):
    log = tmp_path / "marimo.log"
    with marimo_run(APP, log) as url:
        page.goto(url)
        page.wait_for_function(
            "() => window.labkit && Object.values(window.labkit.views).some(v => v.painted >= 3)",
            timeout=90_000,
        )
        stats = page.evaluate("() => Object.values(window.labkit.views)[0]")
        # WebGL2 on a real GPU; Canvas2D where WebGL2 is only CPU-emulated (headless Chromium here)
        expected = "canvas2d" if stats["software_gl"] else "webgl2"
        assert stats["renderer"] == expected and stats["texture"] == [256, 256]
        page.get_by_text("camera exposure: 10.0 ms, state: running").wait_for(timeout=30_000)
        wait_painting(page, frames=20)  # the app, left open, stays live
        assert marimo_log_problems(log.read_text()) == [] and page.console_errors == []
        page.goto("about:blank")


# ---------------------------------------------------------------------------- the dashboard app
@pytest.fixture(scope="module")
def dashboard(chromium, tmp_path_factory):
    """One ``marimo run`` of the dashboard app and one page on it, for the whole module."""
    root = tmp_path_factory.mktemp("marimo-dashboard")
    with marimo_run(DASHBOARD_APP, root / "marimo.log") as url, app_page(chromium, url) as page:
        page.locator(".labkit-dashboard .labkit-state-running").wait_for(timeout=90_000)
        yield page, root


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_app_left_open_stays_live_with_values_and_no_errors(dashboard):
    page, root = dashboard
    wait_painting(page, frames=20)
    page.locator(".labkit-health", has_text="fps").wait_for(timeout=30_000)
    exposure = page.locator(".labkit-device-camera .labkit-prop-exposure_ms input[type=number]")
    assert float(exposure.input_value()) > 0
    _readback(page, "state = running")
    assert marimo_log_problems((root / "marimo.log").read_text()) == []
    assert page.console_errors == []


def _readback(page, text: str, timeout_s: float = 20.0) -> None:
    """Wait until the app's read-back cell (re-run every second) shows ``text``."""
    page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_live_view_paints_and_buttons_work_in_marimo(dashboard):
    page, _root = dashboard
    page.wait_for_function(
        "() => window.labkit && Object.values(window.labkit.views).some(v => v.painted >= 3)",
        timeout=60_000,
    )
    page.locator(".labkit-health", has_text="fps").wait_for(timeout=30_000)
    page.locator("button.labkit-stop").click()
    page.locator(".labkit-state-stopped").wait_for(timeout=30_000)
    _readback(page, "state = stopped")  # the engine itself stopped
    page.locator("button.labkit-start").click()
    page.locator(".labkit-state-running").wait_for(timeout=30_000)
    _readback(page, "state = running")
    assert page.console_errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_device_panel_edit_reaches_the_engine_and_errors_show_red_in_marimo(dashboard):
    page, root = dashboard
    exposure = page.locator(".labkit-device-camera .labkit-prop-exposure_ms input[type=number]")
    exposure.fill("25")
    exposure.press("Enter")
    _readback(page, "camera exposure_ms = 25,")
    gain = page.locator(".labkit-device-camera .labkit-prop-gain input[type=number]")
    gain.fill("2.5")
    gain.press("Enter")
    _readback(page, "gain = 2.5")
    # (no binning change here: a new camera shape makes the engine replace its ring segment,
    # which the per-test leak check would count against this module-wide server)

    exposure.fill("5000")
    exposure.press("Enter")
    error = page.locator(".labkit-device-camera .labkit-prop-exposure_ms .labkit-error")
    error.filter(has_text="above the limit 2000 ms").wait_for(timeout=10_000)
    assert error.evaluate("e => getComputedStyle(e).color") == RED
    # the box shows the device's value again: the form's reply to the refused edit carries the
    # value the kernel read back from the engine after refusing 5000, so the engine kept 25 ms
    wait_until(lambda: exposure.input_value() == "25", what="the box showing 25 again")
    _readback(page, "camera exposure_ms = 25,")
    page.screenshot(path=str(root / "marimo_dashboard.png"), full_page=True)
    assert page.console_errors == []


def _spool_into(page, data_dir: Path, max_frames: int) -> None:
    """Point the dashboard's spool panel at a new directory (its first series is ``…_A``) and
    set the frame count."""
    directory = page.locator(".labkit-spool-dir input")
    directory.fill(str(data_dir))
    directory.press("Enter")
    page.locator(".labkit-spool-series .labkit-value", has_text="_A").wait_for(timeout=10_000)
    box = page.locator(".labkit-spool-max-frames input")
    box.fill(str(max_frames))
    box.press("Enter")


def _panel_shows(page, text: str, timeout_s: float = 60.0) -> None:
    """Wait for the spool panel's progress to read ``text``; fail with what the panel shows."""
    try:
        page.locator(".labkit-spool-frames .labkit-value", has_text=text).wait_for(
            timeout=timeout_s * 1000
        )
    except PlaywrightTimeoutError:
        shown = page.locator(".labkit-spool-panel :is(.labkit-value, .labkit-error)")
        pytest.fail(f"the spool panel never read {text!r}: {' · '.join(shown.all_inner_texts())}")


@pytest.mark.browser
@pytest.mark.slow
def test_spool_start_in_marimo_writes_the_series(dashboard):
    page, root = dashboard
    data_dir = root / "spool-data"
    _spool_into(page, data_dir, 20)
    # what Start does, whatever this (shared, loaded) machine's preflight measures: a failed
    # check is a warning here (the preflight modes have a test of their own below)
    page.locator(".labkit-spool-preflight select").select_option(label="warn")
    page.locator(".labkit-spool-start").click()
    _panel_shows(page, "20 / 20 frames · finished")
    (series,) = [p for p in data_dir.iterdir() if p.name.endswith(".ome.zarr")]
    assert (series / "zarr.json").exists()
    assert str(series) in page.locator(".labkit-spool-path .labkit-value").inner_text()
    assert "dropped 0" in page.locator(".labkit-spool-stats .labkit-value").inner_text()
    assert page.console_errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_spool_interactive_preflight_in_marimo_cancel_then_record_anyway(dashboard):
    page, root = dashboard
    data_dir = root / "spool-preflight"
    _spool_into(page, data_dir, 2_000_000_000)  # 262 TB at 256² uint16: free space fails
    preflight = page.locator(".labkit-spool-preflight select")
    preflight.select_option(label="interactive")
    frames = page.locator(".labkit-spool-frames .labkit-value")
    dialog = page.locator(".labkit-preflight-dialog").first
    try:
        # Cancel: nothing is written
        page.locator(".labkit-spool-start").click()
        dialog.wait_for(timeout=60_000)
        assert "free space" in dialog.inner_text()
        page.locator(".labkit-preflight-cancel").click()
        frames.filter(has_text="cancelled").wait_for(timeout=30_000)
        dialog.wait_for(state="hidden", timeout=10_000)
        assert not data_dir.exists() or not any(data_dir.iterdir())
        # Record anyway: the series runs until Stop
        page.locator(".labkit-spool-start").click()
        dialog.wait_for(timeout=60_000)
        page.locator(".labkit-preflight-record").click()
        frames.filter(has_text="running").wait_for(timeout=60_000)
        page.locator(".labkit-spool-stop").click()
        frames.filter(has_text="finished").wait_for(timeout=60_000)
        assert [p for p in data_dir.iterdir() if p.name.endswith(".ome.zarr")]
        dialog.wait_for(state="hidden", timeout=10_000)
        assert page.console_errors == []
    finally:  # the module shares this page: leave the panel as the other tests expect it
        preflight.select_option(label="abort")
        box = page.locator(".labkit-spool-max-frames input")
        box.fill("20")
        box.press("Enter")


@pytest.mark.browser
@pytest.mark.slow
def test_trace_plot_area_is_present_in_marimo(dashboard):
    page, _root = dashboard
    area = page.locator(".labkit-dashboard-traces")
    area.wait_for(timeout=30_000)
    area.locator("canvas").first.wait_for(timeout=30_000)  # TracePlot's canvas renderer
    tabs = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
    assert {"camera", "stage", "signal"} <= set(tabs)
