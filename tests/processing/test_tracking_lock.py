"""The bead lock's PI controller on an injected clock: a model sample whose bead z drifts, a
position-commanded stage with one frame of delay, no threads and no sleeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labkit.processing.tracking import LockController, LockSettings, LockState, Quality

FPS = 30.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Sample:
    """A bead whose z is ``stage z + drift_um_s · t``, x and y in px ``(bead − stage) / px``;
    the tracker sees the stage one frame late (the frame was exposed before the move)."""

    def __init__(self, drift_um_s: float = 0.0, drift_px_s: float = 0.0, pixel_um: float = 0.1):
        self.drift_um_s, self.drift_px_s, self.pixel_um = drift_um_s, drift_px_s, pixel_um
        self.stage = np.zeros(3)
        self.seen_stage = np.zeros(3)

    def position(self, t: float) -> np.ndarray:
        x = 10.0 + self.drift_px_s * t - self.seen_stage[0] / self.pixel_um
        y = 20.0 - self.seen_stage[1] / self.pixel_um
        z = 1.0 + self.drift_um_s * t + self.seen_stage[2]
        return np.array([x, y, z])

    def frame(self, lock: LockController, clock: Clock, quality: int = 0) -> np.ndarray | None:
        position = self.position(clock.t)
        self.seen_stage = self.stage.copy()
        target = lock.update(position, quality)
        if target is not None:
            self.stage = target
        clock.t += 1.0 / FPS
        return target


def run(lock: LockController, sample: Sample, clock: Clock, seconds: float) -> list[np.ndarray]:
    """Frames for ``seconds``; the bead's position after each."""
    seen = []
    for _ in range(int(seconds * FPS)):
        sample.frame(lock, clock)
        seen.append(sample.position(clock.t))
    return seen


def test_engaged_lock_holds_a_drifting_bead_and_reports_locked():
    clock, sample = Clock(), Sample(drift_um_s=0.2)
    lock = LockController(LockSettings(kp=0.3, ki=3.0), clock=clock)
    lock.engage(sample.stage)
    assert lock.state is LockState.SEARCHING
    z = [p[2] for p in run(lock, sample, clock, 10.0)]
    # a steady ramp leaves an error of rate / ki ≈ 0.2 / 3 µm against the first position (1 µm)
    assert max(abs(v - 1.0) for v in z[len(z) // 2 :]) < 0.1
    assert lock.status().correction_um[2] == pytest.approx(-2.0, abs=0.15)  # 10 s × 0.2 µm/s
    without = 1.0 + 0.2 * 10.0
    assert abs(z[-1] - 1.0) < abs(without - 1.0) / 10


def test_lock_on_a_still_bead_is_locked_and_keeps_the_stage_still():
    clock, sample = Clock(), Sample()
    lock = LockController(clock=clock)
    lock.engage(sample.stage)
    run(lock, sample, clock, 1.0)
    assert lock.state is LockState.LOCKED
    assert np.allclose(sample.stage, 0.0)


def test_explicit_target_moves_the_bead_there_within_the_rate_limit():
    clock, sample = Clock(), Sample()
    lock = LockController(LockSettings(max_rate_um_s=0.5, ki=5.0), clock=clock)
    lock.engage(sample.stage, target=(math.nan, math.nan, 2.0))  # 1 µm above where it is
    previous = sample.stage.copy()
    steps = []
    for _ in range(int(5 * FPS)):
        sample.frame(lock, clock)
        steps.append(abs(sample.stage[2] - previous[2]))
        previous = sample.stage.copy()
    assert max(steps) <= 0.5 / FPS + 1e-12  # the rate limit
    assert sample.position(clock.t)[2] == pytest.approx(2.0, abs=0.02)
    assert lock.state is LockState.LOCKED


def test_xy_axes_follow_the_bead_with_the_pixel_size_as_gain():
    clock, sample = Clock(), Sample(drift_px_s=1.0, pixel_um=0.1)
    lock = LockController(LockSettings(axes="xyz"), clock=clock, pixel_size_um=0.1)
    lock.engage(sample.stage)
    x = [p[0] for p in run(lock, sample, clock, 8.0)]
    assert max(abs(v - 10.0) for v in x[len(x) // 2 :]) < 0.5  # px; unlocked it would be 8 px off
    assert sample.stage[0] == pytest.approx(0.8, abs=0.1)  # 8 px × 0.1 µm followed


def test_z_only_lock_leaves_x_and_y_alone():
    clock, sample = Clock(), Sample(drift_px_s=1.0)
    lock = LockController(clock=clock)
    lock.engage(sample.stage)
    run(lock, sample, clock, 2.0)
    assert sample.stage[0] == 0.0 and sample.stage[1] == 0.0


def locked_on_a_still_bead(lost_after_s: float) -> tuple[Clock, Sample, LockController]:
    clock, sample = Clock(), Sample()
    lock = LockController(LockSettings(lost_after_s=lost_after_s), clock=clock)
    lock.engage(sample.stage)
    run(lock, sample, clock, 0.2)
    assert lock.state is LockState.LOCKED
    return clock, sample, lock


def test_missing_bead_turns_searching_then_lost_after_the_timeout():
    clock, sample, lock = locked_on_a_still_bead(lost_after_s=0.5)
    nan = np.full(3, np.nan)
    assert lock.update(nan, int(Quality.MISSING)) is None
    assert lock.state is LockState.SEARCHING
    for _ in range(int(0.6 * FPS)):
        clock.t += 1.0 / FPS
        assert lock.update(nan, int(Quality.MISSING)) is None
    assert lock.state is LockState.LOST
    assert "not tracked" in lock.status().reason
    clock.t += 1.0
    assert lock.update(sample.position(clock.t), 0) is None  # lost: it stays put until engaged
    assert lock.state is LockState.LOST


def test_poll_without_rows_loses_the_lock_after_the_timeout():
    clock, _, lock = locked_on_a_still_bead(lost_after_s=1.0)
    start = clock.t
    clock.t = start + 0.9
    assert lock.poll().state is LockState.LOCKED  # between frames: nothing changes
    clock.t = start + 1.1
    status = lock.poll()
    assert status.state is LockState.LOST and "no tracked positions" in status.reason


def test_correction_at_its_limit_loses_the_lock():
    clock, sample = Clock(), Sample(drift_um_s=2.0)
    lock = LockController(
        LockSettings(max_correction_um=0.5, max_rate_um_s=50, lost_after_s=0.5), clock=clock
    )
    lock.engage(sample.stage)
    run(lock, sample, clock, 3.0)
    assert lock.state is LockState.LOST
    assert "limit" in lock.status().reason
    assert abs(sample.stage[2]) <= 0.5 + 1e-12


def test_z_range_positions_still_drive_the_stage():
    clock, sample = Clock(), Sample()
    lock = LockController(clock=clock)
    lock.engage(sample.stage, target=(math.nan, math.nan, 0.0))
    assert lock.update(sample.position(clock.t), int(Quality.Z_RANGE)) is not None


def test_release_stops_the_lock():
    clock, sample = Clock(), Sample(drift_um_s=1.0)
    lock = LockController(clock=clock)
    lock.engage(sample.stage)
    run(lock, sample, clock, 0.5)
    assert lock.release().state is LockState.OFF
    assert lock.update(sample.position(clock.t), 0) is None


def test_settings_are_checked_and_unknown_ones_named():
    with pytest.raises(ValueError, match="kp"):
        LockSettings(kp=5)
    with pytest.raises(ValueError, match="axes"):
        LockSettings(axes="xy")
    with pytest.raises(ValueError, match="never move"):
        LockSettings(kp=0, ki=0)
    with pytest.raises(TypeError, match="accepted"):
        LockSettings.of({"gain": 1})
    assert LockSettings.of({"ki": 2}).ki == 2


def test_status_is_plain_data():
    clock = Clock()
    lock = LockController(clock=clock)
    status = lock.engage((0, 0, 0)).to_json()
    assert status["state"] == "searching" and status["error"] == [None, None, None]
