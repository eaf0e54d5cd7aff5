"""Micro-Manager rigs in a scope: thread mode on a core the user loaded, process mode from a config
file, and a process-mode engine killed by a crashing device adapter, then restarted."""

from __future__ import annotations

import os

import numpy as np
import psutil
import pytest

import labkit as lk
from labkit.devices import PropertyLimitError
from labkit.devices.micromanager._core import load_core
from labkit.engine import EngineDiedError, EngineState
from labkit.testing import wait_until

pytestmark = pytest.mark.slow


def _frame_counts(reader, n: int) -> list[int]:
    """Pixel [0, 0] of the next ``n`` frames: the simulated camera's frame counter."""
    return [int(reader.next(timeout=10).data[0, 0]) for _ in range(n)]


def test_thread_mode_streams_micromanagers_sequence_into_the_ring(mm_config):
    core = load_core(mm_config)
    try:
        with lk.Scope(devices=lk.devices.micromanager(core), ring_slots=8) as scope:
            assert scope.camera.name == "Camera"
            scope.camera.exposure_ms = 2.0
            scope.camera.frame_rate_hz = 500.0
            assert core.getExposure() == 2.0
            scope.start()
            assert core.isSequenceRunning()  # frames come from the circular buffer
            with scope.open_reader(name="test") as reader:
                counts = _frame_counts(reader, 30)
            assert (np.diff(counts) >= 1).all()  # in order, each frame once
            scope.camera.binning = 2  # the stream restarts with the new frame size
            with scope.open_reader(name="after") as reader:
                assert reader.next(timeout=10).data.shape == (32, 40)
            scope.stop()
            assert not core.isSequenceRunning()
            frame = scope.camera.snap()
            assert frame.shape == (32, 40) and frame.attrs["camera"] == "Camera"
        assert "Camera" in core.getLoadedDevices()  # the core stays the user's
    finally:
        core.unloadAllDevices()


def test_process_mode_builds_the_rig_in_the_engine(mm_config):
    factory = lk.devices.micromanager(mm_config, limits_um={"x": (-1000, 1000)})
    with lk.Scope(devices=factory, mode="process") as scope:
        assert scope.status().engine_pid != os.getpid()
        assert {"Camera", "stage", "Wheel", "Shutter", "Lamp", "groups"} <= set(scope.devices)
        with pytest.raises(PropertyLimitError, match="2000"):
            scope.camera.exposure_ms = 5000.0
        groups = scope.devices["groups"]
        groups.Channel = "GFP"
        assert scope.devices["Wheel"].label == "GFP" and scope.devices["Lamp"].Mode == "high"
        scope.stage.move(x=10.0, z=2.0)
        scope.stage.wait(timeout_s=10)
        assert scope.stage.x_um == 10.0
        with pytest.raises(PropertyLimitError, match="1000"):
            scope.stage.x_um = 2000.0
        assert scope.camera.snap().shape == (64, 80)
        scope.camera.exposure_ms = 2.0
        scope.start()
        with scope.open_reader(name="test") as reader:
            counts = _frame_counts(reader, 20)
        assert (np.diff(counts) >= 1).all()
        scope.stop()


def test_process_mode_survives_a_crashing_adapter(mm_crash_config):
    factory = lk.devices.micromanager(mm_crash_config)
    with lk.Scope(devices=factory, mode="process") as scope:
        scope.camera.exposure_ms = 2.0
        scope.start()
        reader = scope.open_reader(name="survivor")
        reader.next(timeout=10)
        pid = scope.status().engine_pid
        with pytest.raises(EngineDiedError, match="exited with code -9"):
            scope.devices["Crasher"].Crash = "now"  # the adapter kills its process (a segfault)
        wait_until(lambda: scope.state is EngineState.FAILED, what="the scope to fail")
        assert psutil.Process().is_running()  # this kernel lives on
        reader.close()
        scope.restart()  # a fresh engine loads the Micro-Manager config again
        assert scope.status().engine_pid != pid
        assert scope.devices["Crasher"].Crash == "no"
        scope.devices["groups"].Channel = "DAPI"
        scope.start()
        with scope.open_reader(name="fresh") as fresh:
            assert fresh.next(timeout=10).data.shape == (64, 80)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_micromanager_scopes_settings_round_trip_through_yaml(mm_config, tmp_path):
    factory = lk.devices.micromanager(mm_config, pixel_size_um=0.5)
    with lk.Scope(devices=factory) as scope:
        scope.devices["groups"].Channel = "GFP"
        scope.devices["Lamp"].Power = 33.0
        scope.camera.binning = 2
        scope.camera.roi = (0, 0, 20, 16)
        path = scope.settings.save(tmp_path / "rig.yaml")
    text = path.read_text()
    assert "factory: micromanager" in text and str(mm_config.resolve()) in text
    with lk.Scope(config=path) as again:  # a fresh core loads the config, then the file applies
        assert again.devices["groups"].Channel == "GFP"
        assert again.devices["Wheel"].label == "GFP"
        assert again.devices["Lamp"].Power == 33.0
        assert again.camera.shape == (16, 20)
        assert again.camera.pixel_size_um == 1.0  # 0.5 µm × binning 2, from the factory's kwargs
