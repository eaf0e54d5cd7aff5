"""The dashboard's settings row: export writes the scope's settings as YAML in its folder, import
applies a file, a bad file or name is shown in red naming what to change (kernel side; the page
is driven in test_dashboard_settings_browser.py)."""

from __future__ import annotations

import pytest
import yaml

import labkit as lk
from labkit.testing import wait_until
from labkit.widgets import Dashboard


@pytest.fixture
def scope():
    with lk.Scope(shape=(64, 64), ring_slots=8) as s:
        yield s


def test_export_then_import_round_trips(scope, tmp_path):
    with Dashboard(scope, traces=False, settings_dir=tmp_path) as dash:
        row = dash.settings
        assert row.values["file"] == "labkit-settings.yaml"
        assert row.edit("file", "rig.yaml")
        scope.camera.exposure_ms = 12.0
        row.click("export")
        assert row.status == ("ok", f"settings written to {tmp_path / 'rig.yaml'}")
        saved = yaml.safe_load((tmp_path / "rig.yaml").read_text())
        assert saved["properties"]["camera"]["exposure_ms"] == 12.0
        scope.camera.exposure_ms = 40.0
        row.click("import")
        assert row.status[0] == "ok" and "applied from" in row.status[1]
        assert scope.camera.exposure_ms == 12.0
        wait_until(  # the panel follows the engine's property events
            lambda: dash.panels["camera"].values["exposure_ms"] == 12.0, what="the panel's value"
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../rig.yaml", "not a file name"),
        ("/etc/rig.yaml", "not a file name"),
        (".hidden.yaml", "not a file name"),
        ("rig.txt", "end in .yaml or .yml"),
    ],
)
def test_only_yaml_file_names_in_the_folder_are_taken(scope, tmp_path, name, message):
    with Dashboard(scope, traces=False, settings_dir=tmp_path) as dash:
        assert not dash.settings.edit("file", name)
        assert message in dash.settings.errors["file"]
        assert dash.settings.values["file"] == "labkit-settings.yaml"


def test_a_bad_file_is_shown_in_red_naming_the_key(scope, tmp_path):
    (tmp_path / "bad.yaml").write_text("labkit: 1\nproperties:\n  camera:\n    binning: 3\n")
    scope.camera.binning = 1
    with Dashboard(scope, traces=False, settings_dir=tmp_path) as dash:
        dash.settings.edit("file", "bad.yaml")
        dash.settings.click("import")
        level, text = dash.settings.status
        assert level == "error"
        assert "properties.camera.binning" in text and "1, 2, 4" in text
        dash.settings.edit("file", "missing.yaml")
        dash.settings.click("import")
        assert dash.settings.status[0] == "error" and "missing.yaml" in dash.settings.status[1]
    assert scope.camera.binning == 1
