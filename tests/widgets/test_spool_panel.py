"""SpoolPanel kernel side on a real Scope: start from the panel, progress, errors in red."""

from __future__ import annotations

import functools
from pathlib import Path

import labkit as lk
from labkit.testing import wait_until as _wait_until
from labkit.widgets import SpoolPanel

wait_until = functools.partial(_wait_until, timeout_s=30.0)  # series on a busy machine


def test_panel_starts_series_and_shows_progress(tmp_path):
    with lk.Scope(shape=(64, 64)) as scope:
        scope.start()
        panel = SpoolPanel(scope)
        try:
            assert panel.edit("directory", str(tmp_path))
            assert panel.values["series"].endswith("_A")
            assert panel.edit("max_frames", 25)
            assert panel.edit("compression", "none")
            assert not panel.edit("max_frames", -3)  # the controller refuses, in red
            assert "max_frames" in panel.errors and panel.values["max_frames"] == 25
            assert panel.hidden["z_start_um"] and panel.edit("z_stepped", True)
            assert not panel.hidden["z_start_um"] and panel.edit("z_stepped", False)
            panel.click("start")
            handle = scope.spool.handle
            assert handle is not None and panel.disabled["stop"] is False
            assert panel.disabled["start"] is True
            handle.wait(timeout=30)
            wait_until(lambda: "finished" in panel.values["frames"]["text"])
            frames = panel.values["frames"]
            assert frames["text"].startswith("25 / 25")
            assert (frames["value"], frames["max"], frames["style"]) == (25, 25, "success")
            assert "dropped 0" in panel.values["stats"]
            assert Path(handle.path).exists() and str(handle.path) in panel.values["path"]
            assert panel.values["series"].endswith("_B")  # the next free name
            assert panel.error == "" and panel.disabled["start"] is False
        finally:
            panel.close()
        assert panel._on_progress not in scope.spool._listeners


def test_panel_shows_start_errors_in_red(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with lk.Scope(shape=(64, 64)) as scope:
        scope.start()
        panel = SpoolPanel(scope)
        try:
            assert panel.edit("directory", str(blocker / "sub"))
            assert panel.edit("max_frames", 5)
            assert panel.start() is None
            assert "cannot write" in panel.error and panel.status[0] == "error"
            assert not panel.disabled.get("start")
        finally:
            panel.close()


def test_method_change_offers_its_codecs(tmp_path):
    with lk.Scope(shape=(64, 64)) as scope:
        panel = SpoolPanel(scope)
        try:
            (row,) = [r for r in panel.schema if r["name"] == "compression"]
            assert ["blosc-lz4", "blosc-lz4"] in row["options"]
            assert panel.edit("method", "tiff")
            (row,) = [r for r in panel.schema if r["name"] == "compression"]
            codecs = [value for _label, value in row["options"]]
            assert codecs == scope.spool.supported_compression("tiff")
            assert panel.values["compression"] == "none"  # blosc-lz4 is not a tiff codec
            assert not panel.edit("compression", "blosc-lz4")
            assert "tiff" in panel.errors["compression"]
        finally:
            panel.close()


def test_panel_shows_write_errors_in_red(tmp_path):
    import os
    import subprocess

    import pytest

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        if os.environ.get("CI"):
            pytest.fail("cannot mount a tmpfs here — CI runs as root and must run this test")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with lk.Scope(shape=(128, 128)) as scope:
            scope.start()
            panel = SpoolPanel(scope)
            try:
                assert panel.edit("directory", str(mnt))
                assert panel.edit("compression", "none")
                assert panel.edit("preflight", "skip")
                handle = panel.start()
                wait_until(lambda: handle.done)
                wait_until(lambda: "failed" in panel.values["frames"]["text"])
                assert "No space left" in panel.error and panel.status[0] == "error"
                assert panel.values["frames"]["style"] == "danger"
                assert panel.disabled["start"] is False
            finally:
                panel.close()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_interactive_preflight_shows_checks_and_cancel_records_nothing(tmp_path):
    with lk.Scope(shape=(64, 64)) as scope:
        scope.start()
        panel = SpoolPanel(scope)
        try:
            assert panel.edit("directory", str(tmp_path))
            assert panel.edit("max_frames", 2_000_000_000)  # far more than the free space
            assert panel.edit("preflight", "interactive")
            assert panel.hidden["preflight_checks"]
            handle = panel.start()
            assert str(handle.state) == "waiting"
            assert not panel.hidden["preflight_checks"] and not panel.hidden["preflight_answer"]
            checks = panel.values["preflight_checks"]
            assert any(not ok and "free space" in msg for ok, msg in checks)
            panel.click("cancel")
            wait_until(lambda: str(handle.state) == "cancelled")
            assert panel.hidden["preflight_checks"] and panel.hidden["preflight_answer"]
            assert panel._answers is None
            wait_until(lambda: panel.disabled["start"] is False)
            assert not any(tmp_path.iterdir())  # nothing recorded
        finally:
            panel.close()


def test_panel_follows_a_series_started_from_code(tmp_path):
    with lk.Scope(shape=(64, 64)) as scope:
        scope.start()
        panel = SpoolPanel(scope)
        try:
            assert panel.disabled["stop"] is True
            handle = scope.spool.start(tmp_path / "from_code", max_frames=None)
            wait_until(lambda: "running" in panel.values["frames"]["text"])
            # where it goes, and Stop (not Start) while it runs, as if started from the panel
            assert panel.values["path"] == f"→ {handle.path}"
            assert panel.disabled["stop"] is False and panel.disabled["start"] is True
            panel.click("stop")
            handle.wait(timeout=30)
            wait_until(lambda: "finished" in panel.values["frames"]["text"])
            assert panel.disabled["start"] is False and panel.disabled["stop"] is True
        finally:
            panel.close()


def test_panel_records_the_camera_and_traces_it_is_told_and_follows_new_streams(tmp_path):
    import xarray as xr

    from labkit.devices.sim import rig_devices
    from labkit.testing import wait_until

    with lk.Scope(devices=rig_devices(shape=(48, 64))) as scope:
        scope.start()
        with SpoolPanel(scope) as panel:
            rows = {r["name"]: r for r in panel.schema}
            assert [v for _, v in rows["frames_stream"]["options"]] == ["camera", "camera2"]
            assert [v for _, v in rows["trace_streams"]["options"]] == ["signal"]
            assert not panel.hidden["frames_stream"] and not panel.hidden["trace_streams"]
            assert panel.values["frames_stream"] == "camera" and panel.values["trace_streams"] == []

            scope.nodes.add("frame_stats", input="camera2", name="stats2")
            wait_until(
                lambda: [v for _, v in {r["name"]: r for r in panel.schema}["trace_streams"]
                         ["options"]] == ["signal", "stats2"],
                what="the new node's stream offered in the panel",
            )  # fmt: skip
            assert not panel.edit("trace_streams", ["camera"])  # a camera is not a trace
            assert "one camera's frames" in panel.errors["trace_streams"]
            assert panel.edit("directory", str(tmp_path))
            assert panel.edit("frames_stream", "camera2")
            assert panel.edit("trace_streams", ["signal", "stats2"])
            assert panel.edit("max_frames", 6)
            handle = panel.start()
            assert handle is not None, panel.error
            handle.wait(timeout=60)
            series = lk.open_series(handle.path)
            assert isinstance(series, xr.Dataset)
            assert series["frames"].shape == (6, 24, 32)  # camera2's frames (half the pixels)
            assert {"signal", "stats2"} <= set(series.data_vars)

            scope.nodes.remove("stats2")  # a stream that goes away leaves the selection
            wait_until(lambda: panel.values["trace_streams"] == ["signal"], what="stats2 gone")
