"""The bead lock's controller: a PI loop that holds a bead still by moving the stage.

Pure logic on an injected clock (no threads, no devices): the engine feeds it each tracked
position of the lock bead and moves the stage where it says. ::

    lock = LockController(LockSettings(kp=0.5, ki=4.0), clock=time.monotonic)
    lock.engage(stage_xyz_um)                    # searching: the next good position is the target
    target = lock.update(position, quality)      # (x, y, z) µm for the stage, or None
    lock.state                                   # off / searching / locked / lost

Per axis, ``e = measured − target`` (px for x, y; µm for z) and ``u = kp·e + ki·∫e dt``; the stage
goes to ``engage position + gain·u`` where ``gain`` is the stage move that brings the measurement
back by one unit (−1 for z: raising the stage raises the bead; ``xy_um_per_px`` for x, y).
The correction is limited to ``max_correction_um`` from where the lock engaged and its change
to ``max_rate_um_s``; the integral stops growing while either limit holds (no wind-up).

States: ``searching`` until the error is within ``locked_within`` (and after a bad frame while it
is not), ``locked`` while it is, ``lost`` when no good position came for ``lost_after_s`` or the
correction sat at its limit that long — the lock then stops moving the stage until engaged again.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from labkit.processing.tracking._tracker import Quality

__all__ = ["LockController", "LockSettings", "LockState", "LockStatus"]

_AXES = ("x", "y", "z")
#: quality bits that make a position unusable for the lock (Z_RANGE still says which way to go)
_BAD = int(Quality.MISSING | Quality.POOR_MATCH)


class LockState(enum.StrEnum):
    OFF = "off"
    SEARCHING = "searching"
    LOCKED = "locked"
    LOST = "lost"


@dataclass(frozen=True)
class LockSettings:
    """How the lock holds its bead.

    Args:
        axes: the axes it holds, ``"z"`` (focus) or ``"xyz"`` (also x, y).
        kp: proportional gain (stage move per unit of error, 0…2).
        ki: integral gain (1/s).
        max_correction_um: farthest the stage goes from where the lock engaged, per axis.
        max_rate_um_s: fastest the stage target moves, per axis.
        locked_within_um: z error (µm) within which the lock says ``locked``.
        locked_within_px: x/y error (px) within which it says ``locked`` (axes ``"xyz"``).
        lost_after_s: seconds without a good position (or at the correction limit) before
            ``lost``.
        xy_um_per_px: stage µm that move the bead back by one pixel (sign included; the
            engine uses the camera's pixel size when None).

    Raises:
        ValueError: a setting out of range (the message names it and the range).
    """

    axes: str = "z"
    kp: float = 0.3
    ki: float = 3.0
    max_correction_um: float = 10.0
    max_rate_um_s: float = 5.0
    locked_within_um: float = 0.05
    locked_within_px: float = 0.2
    lost_after_s: float = 1.0
    xy_um_per_px: float | None = None

    def __post_init__(self) -> None:
        if self.axes not in ("z", "xyz"):
            raise ValueError(f"axes must be 'z' or 'xyz', got {self.axes!r}")
        ranges = {
            "kp": (0.0, 2.0), "ki": (0.0, 100.0), "max_correction_um": (1e-3, 1e4),
            "max_rate_um_s": (1e-3, 1e4), "locked_within_um": (1e-4, 100.0),
            "locked_within_px": (1e-3, 100.0), "lost_after_s": (1e-3, 3600.0),
        }  # fmt: skip
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and low <= value <= high):
                raise ValueError(f"{name}={value!r} is outside [{low}, {high}]")
        if self.kp == 0 and self.ki == 0:
            raise ValueError("kp and ki are both 0: the lock would never move the stage")

    @classmethod
    def of(cls, values: dict | LockSettings | None) -> LockSettings:
        """Settings from themselves, None (defaults) or a dict of fields.

        Raises:
            TypeError: an unknown field (names the accepted ones).
        """
        if isinstance(values, LockSettings):
            return values
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(values or {}) - set(names))
        if unknown:
            raise TypeError(f"unknown lock settings {unknown}; accepted: {names}")
        return cls(**(values or {}))


@dataclass(frozen=True)
class LockStatus:
    """A snapshot of the lock: state, why (on ``lost``), errors and the stage correction."""

    state: LockState
    reason: str = ""
    error: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # x px, y px, z µm
    correction_um: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # measured units

    def to_json(self) -> dict:
        def plain(v: tuple[float, ...]) -> list[float | None]:
            return [None if math.isnan(x) else round(float(x), 6) for x in v]

        return {
            "state": self.state.value, "reason": self.reason, "error": plain(self.error),
            "correction_um": plain(self.correction_um), "target": plain(self.target),
        }  # fmt: skip


class LockController:
    """The PI loop of the bead lock (see the module doc).

    Args:
        settings: :class:`LockSettings` (or a dict of its fields).
        clock: seconds, monotonic (injected in tests).
        pixel_size_um: the default for ``settings.xy_um_per_px``.
    """

    def __init__(
        self,
        settings: LockSettings | dict | None = None,
        clock: Callable[[], float] | None = None,
        pixel_size_um: float = 1.0,
    ) -> None:
        import time

        self.settings = LockSettings.of(settings)
        self.clock = clock or time.monotonic
        xy = self.settings.xy_um_per_px
        xy = float(pixel_size_um) if xy is None else float(xy)
        self._gain = np.array([xy, xy, -1.0])
        self._active = np.array([self.settings.axes == "xyz"] * 2 + [True])
        self.state = LockState.OFF
        self.reason = ""
        self._base = np.zeros(3)
        self._target = np.full(3, np.nan)
        self._integral = np.zeros(3)
        self._command = np.zeros(3)
        self._error = np.full(3, np.nan)
        self._last_t: float | None = None
        self._last_good = 0.0
        self._saturated_since: float | None = None

    # ------------------------------------------------------------------ control
    def engage(
        self, stage_um: Sequence[float], target: Sequence[float] | None = None
    ) -> LockStatus:
        """Start holding: ``stage_um`` is where the stage is now; ``target`` the (x px, y px,
        z µm) to hold (default: the first good position that comes)."""
        self._base = np.asarray(stage_um, dtype=np.float64).copy()
        self._target = np.full(3, np.nan) if target is None else np.asarray(target, np.float64)
        self._integral[:] = 0.0
        self._command[:] = 0.0
        self._error[:] = np.nan
        self._last_t = None
        self._last_good = self.clock()
        self._saturated_since = None
        self.state, self.reason = LockState.SEARCHING, ""
        return self.status()

    def release(self) -> LockStatus:
        """Stop holding (the stage stays where it is)."""
        self.state, self.reason = LockState.OFF, ""
        return self.status()

    def update(self, position: Sequence[float], quality: int) -> np.ndarray | None:
        """One tracked position of the lock bead (x px, y px, z µm) and its quality bits.

        Returns the stage target (x, y, z µm), or None when the stage should not move (off,
        lost, or no usable position).
        """
        if self.state in (LockState.OFF, LockState.LOST):
            return None
        now = self.clock()
        measured = np.asarray(position, dtype=np.float64)
        usable = not (int(quality) & _BAD) and not np.isnan(measured[self._active]).any()
        if not usable:
            self._no_position(now, "the bead is not tracked (missing or not matching)")
            return None
        if np.isnan(self._target[self._active]).any():
            self._target = measured.copy()
        self._last_good = now
        dt = 0.0 if self._last_t is None else max(0.0, now - self._last_t)
        self._last_t = now
        s = self.settings
        error = np.where(self._active, measured - self._target, 0.0)
        self._error = np.where(self._active, error, np.nan)
        limit = s.max_correction_um
        trial = self._integral + error * dt
        wanted = self._gain * (s.kp * error + s.ki * trial)
        saturated = np.abs(wanted) > limit
        change = np.clip(wanted, -limit, limit) - self._command
        step = s.max_rate_um_s * dt
        limited = saturated | (np.abs(change) > step)
        self._integral = np.where(limited, self._integral, trial)  # no wind-up at a limit
        self._command = np.where(self._active, self._command + np.clip(change, -step, step), 0.0)
        if self._at_limit(now, bool(saturated[self._active].any())):
            return None
        within = np.array([s.locked_within_px, s.locked_within_px, s.locked_within_um])
        inside = bool((np.abs(error) <= within)[self._active].all())
        self.state = LockState.LOCKED if inside else LockState.SEARCHING
        return self._base + self._command

    def poll(self) -> LockStatus:
        """Check the time without a position (no rows came): may turn the lock ``lost``."""
        now = self.clock()
        active = self.state in (LockState.SEARCHING, LockState.LOCKED)
        if active and now - self._last_good >= self.settings.lost_after_s:
            self.lose(f"no tracked positions arrive for {self.settings.lost_after_s:g} s")
        return self.status()

    def _no_position(self, now: float, why: str) -> None:
        if now - self._last_good >= self.settings.lost_after_s:
            self.lose(f"{why} for {self.settings.lost_after_s:g} s")
        elif self.state is LockState.LOCKED:
            self.state = LockState.SEARCHING

    def _at_limit(self, now: float, saturated: bool) -> bool:
        if not saturated:
            self._saturated_since = None
            return False
        if self._saturated_since is None:
            self._saturated_since = now
        if now - self._saturated_since >= self.settings.lost_after_s:
            self.lose(
                f"the correction stayed at its limit ({self.settings.max_correction_um:g} µm) "
                f"for {self.settings.lost_after_s:g} s"
            )
            return True
        return False

    def lose(self, reason: str) -> None:
        """Give the bead up (``lost``, with ``reason``): the stage stays where it is."""
        self.state, self.reason = LockState.LOST, reason

    # ------------------------------------------------------------------ reporting
    def status(self) -> LockStatus:
        """The lock's state, its last error and correction."""
        return LockStatus(
            self.state, self.reason, tuple(self._error.tolist()),  # type: ignore[arg-type]
            tuple(self._command.tolist()), tuple(self._target.tolist()),  # type: ignore[arg-type]
        )  # fmt: skip
