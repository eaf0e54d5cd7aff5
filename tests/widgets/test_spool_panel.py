"""SpoolPanel kernel side on a real Scope: start from the panel, progress, errors in red."""

from __future__ import annotations

import time
from pathlib import Path

import labkit as lk
from labkit.widgets import SpoolPanel


def _wait(cond, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_panel_starts_series_and_shows_progress(tmp_path):
    with lk.Scope(shape=(64, 64)) as scope:
        scope.start()
        panel = SpoolPanel(scope)
        try:
            panel.directory.value = str(tmp_path)
            assert panel.series.value.endswith("_A")
            panel.max_frames.value = 25
            panel.compression.value = "none"
            handle = panel.start()
            assert handle is not None and panel.stop_button.disabled is False
            handle.wait(timeout=30)
            _wait(lambda: "finished" in panel.frames.value)
            assert panel.frames.value.startswith("25 / 25")
            assert panel.progress_bar.value == 25 and panel.progress_bar.bar_style == "success"
            assert "dropped <b>0</b>" in panel.stats.value
            assert Path(handle.path).exists() and str(handle.path) in panel.path.value
            assert panel.series.value.endswith("_B")  # the next free name
            assert panel.error.value == ""
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
            panel.directory.value = str(blocker / "sub")
            panel.max_frames.value = 5
            assert panel.start() is None
            assert "cannot write" in panel.error.value and "#c62828" in panel.error.value
            assert panel.start_button.disabled is False
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
                panel.directory.value = str(mnt)
                panel.compression.value = "none"
                panel.preflight.value = "skip"
                handle = panel.start()
                _wait(lambda: handle.done)
                _wait(lambda: "failed" in panel.frames.value)
                assert "No space left" in panel.error.value and "#c62828" in panel.error.value
                assert (
                    panel.progress_bar.bar_style == "danger"
                    and panel.start_button.disabled is False
                )
            finally:
                panel.close()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
