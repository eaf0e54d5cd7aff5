"""Every shipped notebook run as a newcomer runs it: opened in JupyterLab, Run All Cells, and left
open. What it shows must stay alive (live views keep painting, panels show values), with no
error output in the notebook and no traceback in the kernel's log."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import psutil
import pytest

from labkit.testing import log_problems, output_errors, run_in_lab, wait_painting, wait_until
from labkit.testing._notebooks import check_stop_and_start
from labkit.testing._traces import wait_trace_lines
from labkit.testing.fixtures import wait_for_widget

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def _look_at(locator, condition_js: str, timeout_s: float = 30.0) -> None:
    """Scroll ``locator`` into view, as a person scrolls to it, and wait for ``condition_js``."""
    locator.scroll_into_view_if_needed()
    locator.page.wait_for_function(condition_js, timeout=timeout_s * 1000)


def test_quickstart_run_all_leaves_a_live_dashboard(lab_server, page):
    page.set_viewport_size({"width": 1400, "height": 1000})
    run = run_in_lab(lab_server, page, NOTEBOOKS / "quickstart.ipynb")
    run.check_clean()
    text = run.output_text()
    # the recorded series read back lazily (xarray's HTML repr: "t: 100 y: 512 x: 512")
    assert re.search(r"t: 100\W*y: 512\W*x: 512", text), text[:3000]
    assert any((lab_server.home / "labkit-data").rglob("zarr.json")), "no series was written"
    # the dashboard a newcomer scrolls to after Run All is live, not closed
    dashboard = page.locator(".labkit-dashboard")
    dashboard.scroll_into_view_if_needed()
    dashboard.locator(".labkit-state-running").wait_for(timeout=30_000)
    wait_painting(page, frames=20)
    dashboard.locator(".labkit-health", has_text="fps").wait_for(timeout=30_000)
    exposure = dashboard.locator(
        ".labkit-device-camera .labkit-prop-exposure_ms input[type=number]"
    )
    assert exposure.input_value() == "10"
    _traces_draw_and_the_page_stops_and_starts(dashboard)
    run.check_clean()  # still nothing wrong after it ran for a while


def test_quickstart_as_a_voila_dashboard_stays_live_and_its_kernel_releases_all(voila_server, page):
    """The dashboard notebook as a Voila app: every cell runs on page load, the page shows the
    outputs (the series read back, the dashboard) and stays live; shutting its kernel down (what
    Voila does when the page is closed) releases the scope without a traceback."""
    name = "quickstart_voila.ipynb"
    shutil.copyfile(NOTEBOOKS / "quickstart.ipynb", voila_server.root / name)
    before = {k["pid"] for k in voila_server.kernels()}
    offset = voila_server.log_size()
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(voila_server.render_url(name))
    wait_for_widget(page, ".labkit-dashboard", timeout_s=120)
    page.locator(".labkit-dashboard .labkit-state-running").wait_for(timeout=30_000)
    page.locator(".labkit-dashboard").scroll_into_view_if_needed()  # below the series' repr
    wait_painting(page, frames=20)
    page.locator(".labkit-health", has_text="fps").wait_for(timeout=30_000)
    assert re.search(r"t: 100\W*y: 512\W*x: 512", page.inner_text("body"))
    assert output_errors(page) == [] and page.console_errors == []
    (pid,) = {k["pid"] for k in voila_server.kernels()} - before
    assert _segments_of(pid), "the notebook's scope made no shared memory in its kernel"
    _traces_draw_and_the_page_stops_and_starts(page.locator(".labkit-dashboard"))
    wait_painting(page, frames=20)  # still live
    voila_server.shutdown_kernels()  # (a kernel that does not exit in time is killed)
    wait_until(lambda: not psutil.pid_exists(pid), timeout_s=30, what="the kernel exiting")
    assert _segments_of(pid) == [], "the kernel left its shared memory behind"
    assert log_problems(voila_server.log_since(offset)) == []


def _traces_draw_and_the_page_stops_and_starts(dashboard) -> None:
    """The dashboard's trace plot draws, and its Stop and Start buttons drive the engine."""
    for selector in (".labkit-traceplot", ".labkit-spool-panel", ".labkit-start"):
        dashboard.locator(selector).first.wait_for(state="attached", timeout=30_000)
    wait_trace_lines(dashboard.page, ".labkit-dashboard .labkit-traceplot", 3)
    check_stop_and_start(dashboard)


def _segments_of(pid: int) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"labkit-{pid}-")]


def test_spool_series_records_reads_back_and_the_panel_shows_it(lab_server, page):
    run = run_in_lab(lab_server, page, NOTEBOOKS / "spool_series.ipynb")
    run.check_clean()
    text = run.output_text()
    assert re.search(r"t: 100\W*y: 256\W*x: 256", text), text[:3000]
    assert "state='finished'" in text and "frames_dropped=0" in text
    assert re.search(r"mean brightness of the first 50 frames: \d+\.\d counts", text)
    # the panel followed the series started from code, and shows where it went
    panel = page.locator(".labkit-spool-panel")
    panel.locator(
        ".labkit-spool-frames .labkit-value", has_text="100 / 100 frames · finished"
    ).wait_for(timeout=30_000)
    path = panel.locator(".labkit-spool-path .labkit-value").inner_text()
    assert str(lab_server.home / "labkit-data") in path and path.strip().endswith(".ome.zarr")
    # the last frame, read back from disk, is painted by the live view
    _look_at(
        page.locator(".lk-live").last,
        "() => Object.values(window.labkit.views).some(v => v.painted >= 1 && v.texture[0] > 0)",
    )
    run.check_clean()


def test_viewer_watch_windows_show_and_follow_the_variable(lab_server, page):
    run = run_in_lab(lab_server, page, NOTEBOOKS / "viewer_watch.ipynb")
    run.check_clean()
    assert "equal to pattern: True" in run.output_text()
    rows = page.locator(".lk-manager-row")
    rows.nth(1).wait_for(timeout=30_000)
    texts = rows.all_inner_texts()
    assert len(texts) == 2, texts
    assert texts[0].startswith("0: pattern · 120×160 float64")
    # window 1 follows `stack`: watched, and pushed again after the cell that changed it
    assert "stack" in texts[1] and "watched" in texts[1] and "v1" in texts[1], texts[1]
    # both windows are painted in the notebook
    _look_at(
        page.locator(".lk-manager-panel"),
        "() => Object.values(window.labkit_viewers || {}).filter(v => v.painted > 0).length >= 2",
    )
    run.check_clean()


def test_streams_nodes_shows_both_cameras_traces_and_runs_actions(lab_server, page):
    page.set_viewport_size({"width": 1500, "height": 1000})
    run = run_in_lab(lab_server, page, NOTEBOOKS / "streams_nodes.ipynb")
    run.check_clean()
    text = run.output_text()
    assert "['left_mean', 'left_max', 'right_mean', 'right_max']" in text
    assert "delta_mm=9 is above the limit 5 mm of nudge()" in text
    assert "[20.0, 20.0]" in text  # the user command set both cameras
    assert "exposure_ms='bright' of expose() must be a number" in text
    # the ROI trace plot draws its four channels
    # (the notebook's plot, "bead ROIs", comes before the dashboard's: the page's first)
    wait_trace_lines(page, ".labkit-traceplot", n_channels=4)
    # the dashboard: a live view per camera, both painting
    dashboard = page.locator(".labkit-dashboard")
    dashboard.scroll_into_view_if_needed()
    dashboard.locator(".labkit-state-running").wait_for(timeout=30_000)
    assert dashboard.locator(".labkit-live-grid .lk-live").count() == 2
    wait_painting(page, frames=20)
    # the magnet's home() button runs the action and shows its result
    page.get_by_role("tab", name="magnet").click()
    magnet = dashboard.locator(".labkit-device-magnet")
    magnet.locator("button.labkit-action-home").click()
    magnet.locator(".labkit-action-status", has_text="done →").wait_for(timeout=30_000)
    run.check_clean()


def test_device_driver_devices_run_in_a_live_scope(lab_server, page):
    run = run_in_lab(lab_server, page, NOTEBOOKS / "device_driver.ipynb")
    run.check_clean()
    text = run.output_text()
    assert "a Camera: True" in text
    assert "power_mw=80 is above the limit 50 mW of Lamp 'lamp'" in text
    dashboard = page.locator(".labkit-dashboard")
    dashboard.scroll_into_view_if_needed()
    dashboard.locator(".labkit-state-running").wait_for(timeout=30_000)
    wait_painting(page, frames=20)
    # the lamp's panel (a tab) shows the value set through the engine in the last cell
    page.get_by_role("tab", name="lamp").click()
    power = dashboard.locator(".labkit-device-lamp .labkit-prop-power_mw input[type=number]")
    power.wait_for(timeout=10_000)
    assert power.input_value() == "40"
    run.check_clean()


def test_demo_notebook_runs_in_jupyterlab_too(lab_server, page):
    from labkit.widgets._demo import DEMO_NOTEBOOK

    run = run_in_lab(lab_server, page, DEMO_NOTEBOOK)
    run.check_clean()
    page.locator(".labkit-dashboard .labkit-state-running").wait_for(timeout=30_000)
    page.locator(".labkit-dashboard").scroll_into_view_if_needed()
    wait_painting(page, frames=20)
    run.check_clean()


def test_analysis_tracks_a_series_on_dask_while_it_is_recorded(lab_server, page):
    run = run_in_lab(lab_server, page, NOTEBOOKS / "analysis.ipynb", timeout_s=240)
    run.check_clean()
    text = run.output_text()
    assert re.search(r"\d+ beads: bead0", text), text[:3000]
    # the series ran until 5 shards were tracked, then every frame recorded was tracked
    counts = re.search(r"(\d+) frames recorded, (\d+) tracked", text)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 0, text[:3000]
    means = re.search(r"mean z per bead \(µm\): \{([^}]*)\}", text)
    assert means, text[:3000]
    z = [float(v) for v in re.findall(r": (-?\d+\.\d+)", means.group(1))]
    assert z and all(abs(v - 0.3) < 0.1 for v in z), z  # the stage was at 0.3 µm
