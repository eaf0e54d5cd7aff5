"""SpoolPanel in a real Voila page: click Start, watch progress, the series is on disk; errors red."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # #c62828


def _cells(data_dir: Path) -> list[str]:
    return [
        "import atexit\n"
        "import labkit as lk\n"
        "from labkit.widgets import SpoolPanel\n"
        "scope = lk.Scope(shape=(128, 128))\n"
        "atexit.register(scope.close)\n"
        "scope.camera.frame_rate_hz = 50\n"
        "scope.start()\n"
        f"scope.spool.dir_pattern = {str(data_dir)!r}\n"
        "scope.spool.update_settings(shard_seconds=0.2, fsync_interval_s=0.2)  # progress in small steps\n"
        "panel = SpoolPanel(scope)\n"
        "panel",
    ]


def test_click_start_shows_progress_and_writes_the_series(voila_server, page):
    data_dir = voila_server.root / "spool-data"
    write_notebook(voila_server.root / "spool_panel.ipynb", _cells(data_dir))
    page.goto(voila_server.render_url("spool_panel.ipynb"))
    wait_for_widget(page, ".labkit-spool-panel")
    max_frames = page.locator(".labkit-spool-max-frames input")
    max_frames.fill("100")
    max_frames.press("Tab")
    page.locator(".labkit-spool-start").click()
    # progress moves: a partial count first (2 s at 50 fps), then the end state
    frames = page.locator(".labkit-spool-frames .labkit-value")
    page.wait_for_function(
        "() => /^([1-9]\\d?) \\/ 100 frames · running/.test("
        "document.querySelector('.labkit-spool-frames .labkit-value').innerText)",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => document.querySelector('.labkit-spool-frames .labkit-value').innerText.includes('100 / 100 frames · finished')",
        timeout=60_000,
    )
    assert "dropped 0" in page.locator(".labkit-spool-stats").inner_text()
    path_text = page.locator(".labkit-spool-path").inner_text()
    path = Path(re.search(r"(/\S+\.ome\.zarr)", path_text).group(1))
    assert path.parent == data_dir and (path / "zarr.json").exists()
    assert len(list((path / "0" / "c").rglob("*"))) > 1  # shards on disk
    assert frames.inner_text().startswith("100 / 100")
    bar = page.locator(".labkit-spool-frames .labkit-bar-fill")
    assert bar.evaluate("e => e.style.width") == "100%"
    assert page.locator(".labkit-spool-start").is_enabled()
    assert page.locator(".labkit-spool-stop").is_disabled()
    page.screenshot(path=str(voila_server.root / "spool_panel.png"))
    assert page.console_errors == []


def test_start_error_is_shown_red(voila_server, page):
    blocker = voila_server.root / "not-a-dir"
    blocker.write_text("x")
    write_notebook(voila_server.root / "spool_panel_err.ipynb", _cells(blocker / "sub"))
    page.goto(voila_server.render_url("spool_panel_err.ipynb"))
    wait_for_widget(page, ".labkit-spool-panel")
    page.locator(".labkit-spool-start").click()
    error = page.locator(".labkit-spool-panel .labkit-form-status.labkit-error")
    error.wait_for(timeout=30_000)
    assert "cannot write" in error.inner_text()
    assert error.evaluate("e => getComputedStyle(e).color") == RED


def test_interactive_preflight_dialog_then_record_anyway_and_stop(voila_server, page):
    data_dir = voila_server.root / "spool-interactive"
    write_notebook(voila_server.root / "spool_panel_dialog.ipynb", _cells(data_dir))
    page.goto(voila_server.render_url("spool_panel_dialog.ipynb"))
    wait_for_widget(page, ".labkit-spool-panel")
    max_frames = page.locator(".labkit-spool-max-frames input")
    max_frames.fill("2000000000")  # 65 TB: the free-space check fails
    max_frames.press("Tab")
    page.locator(".labkit-spool-preflight select").select_option(label="interactive")
    page.locator(".labkit-spool-start").click()
    dialog = page.locator(".labkit-preflight-dialog").first
    dialog.wait_for(timeout=60_000)
    assert "free space" in dialog.inner_text()
    assert not data_dir.exists() or not any(
        data_dir.iterdir()
    )  # nothing recorded before the answer
    page.locator(".labkit-preflight-record").click()
    page.wait_for_function(
        "() => / frames · running/.test(document.querySelector('.labkit-spool-frames .labkit-value').innerText)"
        " && parseInt(document.querySelector('.labkit-spool-frames .labkit-value').innerText) > 0",
        timeout=60_000,
    )
    page.locator(".labkit-spool-stop").click()
    page.wait_for_function(
        "() => document.querySelector('.labkit-spool-frames .labkit-value').innerText.includes('finished')",
        timeout=60_000,
    )
    assert [p for p in data_dir.iterdir() if p.name.endswith(".ome.zarr")]
    page.locator(".labkit-preflight-dialog").first.wait_for(state="hidden", timeout=10_000)
    assert page.locator(".labkit-preflight-record").is_hidden()
