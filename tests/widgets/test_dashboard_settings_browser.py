"""The dashboard's settings row in a real Voila page: Export writes the YAML file on the kernel's
side, Import applies a file (the device panel shows the new value), a bad file shows in red."""

from __future__ import annotations

import pytest
import yaml

from labkit.testing import wait_until
from labkit.testing.fixtures import wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # #c62828


def _cells(folder) -> list[str]:
    return [
        "import atexit\n"
        "import labkit as lk\n"
        "scope = lk.Scope(shape=(96, 128), ring_slots=8)\n"
        "atexit.register(scope.close)\n"
        "scope.camera.exposure_ms = 17.0",
        f"dash = scope.dashboard(title='settings', traces=False, settings_dir={str(folder)!r})\n"
        "atexit.register(dash.close)\n"
        "dash",
    ]


def _use_file(page, name: str) -> None:
    box = page.locator(".labkit-settings-row .labkit-field-file input")
    box.fill(name)
    box.press("Enter")


def test_settings_export_and_import_from_the_page(voila_server, page, tmp_path):
    folder = tmp_path / "settings"
    folder.mkdir()
    write_notebook(voila_server.root / "settings_dash.ipynb", _cells(folder))
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(voila_server.render_url("settings_dash.ipynb"))
    wait_for_widget(page, ".labkit-dashboard", timeout_s=90)
    row = page.locator(".labkit-settings-row")
    row.wait_for(timeout=30_000)
    status = row.locator(".labkit-form-status")

    _use_file(page, "from_page.yaml")
    row.locator(".labkit-settings-export").click()
    wait_until(lambda: (folder / "from_page.yaml").is_file(), 20, "the exported file", 0.1)
    exported = yaml.safe_load((folder / "from_page.yaml").read_text())
    assert exported["properties"]["camera"]["exposure_ms"] == 17.0
    status.filter(has_text="settings written to").wait_for(timeout=10_000)

    (folder / "bad.yaml").write_text("labkit: 1\nproperties:\n  camera:\n    binning: 3\n")
    _use_file(page, "bad.yaml")
    row.locator(".labkit-settings-import").click()
    status.filter(has_text="properties.camera.binning").wait_for(timeout=10_000)
    assert "1, 2, 4" in status.inner_text()
    assert status.evaluate("e => getComputedStyle(e).color") == RED

    exported["properties"]["camera"]["exposure_ms"] = 33.0
    (folder / "good.yaml").write_text(yaml.safe_dump(exported))
    _use_file(page, "good.yaml")
    row.locator(".labkit-settings-import").click()
    status.filter(has_text="settings applied from").wait_for(timeout=10_000)
    page.wait_for_function(  # the camera panel shows what the file set
        "() => document.querySelector('.labkit-prop-exposure_ms input[type=number]')"
        ".value === '33'",
        timeout=10_000,
    )

    _use_file(page, "../escape.yaml")  # the page names files in the folder, never paths
    error = row.locator(".labkit-field-file .labkit-error")
    error.filter(has_text="not a file name").wait_for(timeout=10_000)
    assert not (folder.parent / "escape.yaml").exists()
    assert page.console_errors == []
