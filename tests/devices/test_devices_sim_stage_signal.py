"""SimStage (finite-speed motion) and SimSignal (time-based sampling)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from labkit.devices import PropertyLimitError, Signal, Stage
from labkit.devices.sim import SimSignal, SimStage, default_devices

# ---------------------------------------------------------------------------------- stage


def test_stage_protocol_and_initial_position():
    stage = SimStage("stage", z_um=5.0)
    assert isinstance(stage, Stage)
    assert stage.position() == (0.0, 0.0, 5.0)  # starts there, not moving towards it
    assert not stage.is_moving()
    json.dumps(stage.describe())


def test_stage_moves_at_finite_speed():
    stage = SimStage("stage", speed_um_s=100.0)
    stage.move(z=100.0)  # takes 1 s
    assert stage.is_moving()
    assert stage.z_um == 100.0  # the property reads the target
    z = stage.position()[2]
    assert 0.0 < z < 100.0
    time.sleep(0.02)
    assert stage.position()[2] > z  # still travelling towards the target
    with pytest.raises(TimeoutError, match="still moving"):
        stage.wait(timeout_s=0.01)
    stage.speed_um_s = 100_000  # finishes the remaining path almost at once
    stage.wait(timeout_s=5)
    assert not stage.is_moving() and stage.position() == (0.0, 0.0, 100.0)


def test_stage_retarget_starts_from_actual_position():
    stage = SimStage("stage", speed_um_s=50.0)
    stage.z_um = 100.0
    time.sleep(0.02)
    stage.z_um = -100.0  # reverse mid-move
    z = stage.position()[2]
    assert 0.0 < z < 100.0  # never jumped to the first target
    assert stage.remaining_s() == pytest.approx((z + 100.0) / 50.0, rel=0.05)
    stage.speed_um_s = 100_000
    stage.wait(timeout_s=5)
    assert stage.position()[2] == -100.0


def test_stage_move_validates_all_targets_first():
    stage = SimStage("stage")
    with pytest.raises(
        PropertyLimitError, match=r"z_um=900 is above the limit 500 µm.*\[-500, 500\] µm"
    ):
        stage.move(x=10.0, z=900.0)
    assert stage.x_um == 0.0 and stage.z_um == 0.0 and not stage.is_moving()


def test_stage_listener_sees_targets():
    stage = SimStage("stage", speed_um_s=100_000)
    seen = []
    stage.add_listener(lambda dev, name, value: seen.append((dev, name, value)))
    stage.move(x=1.0, y=2.0)
    stage.wait(timeout_s=5)
    assert seen == [("stage", "x_um", 1.0), ("stage", "y_um", 2.0)]


# ---------------------------------------------------------------------------------- signal


def test_signal_protocol_and_shapes():
    sig = SimSignal("signal")
    assert isinstance(sig, Signal)
    assert sig.channels == ("sine", "noise", "events")
    time.sleep(0.01)
    t, v = sig.read()
    assert t.ndim == 1 and v.shape == (len(t), 3) and v.dtype == np.float64 and len(t) >= 1
    json.dumps(sig.describe())


def test_signal_read_count_follows_sample_rate():
    sig = SimSignal("signal", sample_rate_hz=2000.0)
    sig.read()
    outer_start = time.monotonic()
    first_t, _ = sig.read()
    inner_start = time.monotonic()
    time.sleep(0.1)
    inner_end = time.monotonic()
    t, _ = sig.read()
    outer_end = time.monotonic()
    # the count lies between the rate × the shortest and the longest span the reads could cover
    assert (inner_end - inner_start) * 2000 - 2 <= len(t) <= (outer_end - outer_start) * 2000 + 2
    np.testing.assert_allclose(np.diff(t), 1 / 2000, atol=1e-6)  # float64 epoch resolution
    if len(first_t):
        assert t[0] - first_t[-1] == pytest.approx(1 / 2000, abs=1e-6)  # no gap between reads
    assert abs(t[-1] - time.time()) < 1.0  # wall-clock timestamps


def test_signal_rate_change_keeps_timeline_continuous():
    sig = SimSignal("signal", sample_rate_hz=1000.0)
    time.sleep(0.02)
    t1, _ = sig.read()
    sig.sample_rate_hz = 10_000.0
    time.sleep(0.02)
    t2, _ = sig.read()
    assert len(t2) > 100
    np.testing.assert_allclose(np.diff(t2), 1e-4, atol=1e-6)
    assert t2[0] - t1[-1] == pytest.approx(1e-3, abs=1e-6)  # the next sample kept its slot


def test_signal_max_samples_and_backlog():
    sig = SimSignal("signal", sample_rate_hz=1000.0, max_backlog_s=0.01)
    time.sleep(0.05)
    t, v = sig.read(max_samples=4)
    assert len(t) == 4 and v.shape == (4, 3)
    assert sig.samples_dropped >= 20  # at most 10 ms (11 samples) were kept
    t, _ = sig.read()
    assert len(t) <= 12


def test_signal_channels_content():
    sig = SimSignal(
        "signal", sample_rate_hz=10_000.0, sine_freq_hz=50.0, noise_std=0.0, event_rate_hz=500.0
    )
    time.sleep(0.06)
    _, v = sig.read()
    assert v[:, 0].max() > 0.99 and v[:, 0].min() < -0.99 and np.abs(v[:, 0]).max() <= 1.0
    assert np.ptp(v[:, 1]) > 0  # random walk moves
    assert np.max(np.abs(np.diff(v[:, 1]))) < 0.1  # ... in small steps
    assert v[:, 2].max() >= 0.9 and (v[:, 2] >= 0).all()  # spikes decaying from height 1


def test_signal_seeded():
    a, b, c = SimSignal("s", seed=1), SimSignal("s", seed=1), SimSignal("s", seed=2)
    time.sleep(0.12)
    va, vb, vc = (s.read(max_samples=100)[1] for s in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert not np.array_equal(va[:, 1], vc[:, 1])


def test_default_devices_set():
    devices = default_devices(seed=0, shape=(64, 64))
    try:
        assert set(devices) == {"camera", "stage", "signal"}
        assert devices["camera"].sensor_shape == (64, 64)
        assert [d.describe()["kind"] for d in devices.values()] == ["camera", "stage", "signal"]
    finally:
        for dev in devices.values():
            dev.close()
