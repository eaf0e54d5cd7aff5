"""SimCamera: fluorescent beads under a microscope, fast enough for 2048² at ≥ 100 fps."""

from __future__ import annotations

import math
import threading
import time
from typing import Any, ClassVar

import numpy as np

from labkit.devices._device import Device
from labkit.devices._property import PropertyLimitError, prop
from labkit.devices.sim._render import SUBPIXEL, NoiseBank, StampCache
from labkit.devices.sim._stage import SimStage

__all__ = ["SimCamera"]

SENSOR_PIXEL_UM = 0.1  # sample-plane size of one unbinned sensor pixel
PSF_SIGMA_UM = 0.12  # in-focus Gaussian PSF width
Z_RAYLEIGH_UM = 1.0  # defocus at which the PSF is √2 wider
BACKGROUND_E_PER_MS = 2.0  # per unbinned pixel
BEAD_E_PER_MS = 3000.0  # photons per bead (mean brightness)
READ_NOISE_E = 1.6
OFFSET_ADU = 100.0
_MAX_SIGMA_PX = 40.0  # beads blurred more than this are invisible: skip them


def _frame_shape(v: dict[str, Any]) -> tuple[int, int]:
    _, _, w, h = v["roi"]
    return (h // v["binning"], w // v["binning"])


def _frame_dtype(v: dict[str, Any]) -> np.dtype:
    return np.dtype(np.uint8 if v["bit_depth"] == 8 else np.uint16)


class SimCamera(Device):
    """Simulated camera looking at diffraction-limited fluorescent beads.

    - Beads (``n_beads`` over the full sensor field, a periodic sample) drift by Brownian
      motion with ``diffusion_um2_s``; simulated time advances by ``1 / frame_rate_hz`` per
      rendered frame, so the same seed and the same calls give the same frames.
    - The PSF is a Gaussian whose width grows with ``|z - focus_um|`` where z is the linked
      stage's *actual* z (plus a small per-bead depth); x/y of the stage pan the field.
    - Background, shot noise and read noise; values are ``gain`` ADU per electron plus an
      offset of 100 ADU, clipped to ``2**bit_depth - 1``; dtype uint8 for 8 bits, else uint16.
    - ``roi`` (x, y, w, h, in sensor pixels) and ``binning`` set ``shape = (h//b, w//b)``.

    Args:
        name: device name.
        seed: seeds bead layout, drift and noise.
        sensor_shape: (height, width) of the full sensor in pixels.
        n_beads: number of beads in the full sensor field.
        stage: optional stage whose actual position sets defocus and pans the field.
        **values: initial property values.
    """

    kind: ClassVar[str] = "camera"

    exposure_ms = prop(
        float,
        units="ms",
        low=0.01,
        high=2000,
        default=10.0,
        description="integration time per frame",
    )
    frame_rate_hz = prop(
        float,
        units="Hz",
        low=0.1,
        high=1000,
        default=30.0,
        description="frames per second when streaming",
    )
    roi = prop(
        tuple[int, int, int, int],
        units="px",
        low=0,
        description="region of interest (x, y, width, height) on the sensor",
    )
    binning = prop(int, allowed=(1, 2, 4), default=1, description="sums b×b sensor pixels into one")
    bit_depth = prop(
        int,
        units="bit",
        allowed=(8, 12, 16),
        default=16,
        description="ADC depth (uint8 for 8, else uint16)",
    )
    gain = prop(
        float,
        units="ADU/e⁻",
        low=0.01,
        high=100,
        default=1.0,
        description="digital counts per photo-electron",
    )
    focus_um = prop(
        float,
        units="µm",
        low=-500,
        high=500,
        default=0.0,
        description="stage z at which the beads are sharp",
    )
    diffusion_um2_s = prop(
        float,
        units="µm²/s",
        low=0,
        high=100,
        default=0.02,
        description="Brownian drift of the beads",
    )

    @prop(tuple[int, int], readonly=True, units="px")
    def shape(self) -> tuple[int, int]:
        """(height, width) of a frame after roi and binning"""
        return _frame_shape(self._values)

    @prop(str, readonly=True)
    def dtype(self) -> str:
        """numpy dtype of a frame ("uint8" or "uint16")"""
        return _frame_dtype(self._values).name

    @prop(float, readonly=True, units="µm")
    def pixel_size_um(self) -> float:
        """sample-plane size of one (binned) pixel"""
        return SENSOR_PIXEL_UM * self._values["binning"]

    @prop(tuple[int, int], readonly=True, units="px")
    def sensor_shape(self) -> tuple[int, int]:
        """(height, width) of the full sensor"""
        return self._sensor

    def __init__(
        self,
        name: str = "camera",
        *,
        seed: int = 0,
        sensor_shape: tuple[int, int] = (2048, 2048),
        n_beads: int = 300,
        stage: SimStage | None = None,
        **values: Any,
    ) -> None:
        height, width = (int(v) for v in sensor_shape)
        if height < 4 or width < 4:
            raise ValueError(f"sensor_shape must be at least (4, 4), got {sensor_shape!r}")
        self._sensor = (height, width)
        self.seed = int(seed)
        self.stage = stage
        self.frames_rendered = 0
        self.sim_time_s = 0.0
        rng = np.random.default_rng([self.seed, 1])
        field_um = np.array([height, width], dtype=np.float64) * SENSOR_PIXEL_UM
        self._field_um = field_um
        self._beads_um = rng.uniform(0.0, 1.0, size=(int(n_beads), 2)) * field_um  # (y, x)
        self._bead_z_um = rng.normal(0.0, 0.3, size=int(n_beads))
        self._bead_brightness = rng.lognormal(0.0, 0.25, size=int(n_beads))
        self._drift_rng = np.random.default_rng([self.seed, 2])
        self._frame_rng = np.random.default_rng([self.seed, 4])
        self._bead_noise = np.random.default_rng([self.seed, 5]).standard_normal(
            1 << 20, dtype=np.float32
        )
        self._noise = NoiseBank(self.seed)
        self._render_lock = threading.Lock()  # render state: beads, rngs, caches
        self._stamps = StampCache()
        values.setdefault("roi", (0, 0, width, height))
        super().__init__(name, **values)
        self._set_spec("roi", default=(0, 0, width, height), high=float(max(width, height)))

    @property
    def n_beads(self) -> int:
        """Number of beads in the full sensor field."""
        return len(self._beads_um)

    # ------------------------------------------------------------------ validation
    def _apply(self, name: str, value: Any) -> None:
        if name not in ("roi", "binning"):
            return
        roi = value if name == "roi" else (self._values.get("roi") or (0, 0, *self._sensor[::-1]))
        b = value if name == "binning" else self._values["binning"]
        x, y, w, h = roi
        height, width = self._sensor
        problem = None
        if x + w > width or y + h > height:
            problem = f"reaches past the {width}×{height} sensor"
        elif w < b or h < b:
            problem = f"is smaller than one {b}×{b} binned pixel"
        if problem:
            raise PropertyLimitError(
                f"roi={tuple(roi)} {problem} of {self.qualified_name}; choose x + w ≤ {width}, y + h ≤ {height}"
                f" and w, h ≥ binning ({b}), e.g. roi=(0, 0, {width}, {height})",
                device=self.qualified_name,
                prop_name=name,
                value=value,
            )

    # ------------------------------------------------------------------ rendering
    def snap(self) -> tuple[np.ndarray, dict[str, float]]:
        """Render one frame into a new array; returns ``(frame, meta)`` (see :meth:`render_into`)."""
        with self._lock:
            settings = dict(self._values)
        out = np.empty(_frame_shape(settings), dtype=_frame_dtype(settings))
        return out, self._render(out, settings)

    def render_into(self, out: np.ndarray) -> dict[str, float]:
        """Fill ``out`` (``shape``, ``dtype``) with the next frame; returns its metadata.

        Uses the settings in effect when the call starts; a concurrent ``set`` never waits for
        a render (only for the settings snapshot). Metadata: ``exposure_ms``, ``x_um``,
        ``y_um``, ``z_um`` (the stage's actual position, 0 without a stage) and
        ``timestamp_s`` (``time.time()`` at the start of the frame).

        Raises:
            ValueError: ``out`` has the wrong shape or dtype (allocate
                ``np.empty(camera.shape, camera.dtype)``; roi/binning/bit_depth change them).
        """
        with self._lock:
            settings = dict(self._values)
        shape, dtype = _frame_shape(settings), _frame_dtype(settings)
        if out.shape != shape or out.dtype != dtype:
            raise ValueError(
                f"{self.qualified_name}: out has shape {out.shape} {out.dtype}, frames are {shape} {dtype}; "
                f"allocate np.empty(camera.shape, camera.dtype) after changing roi/binning/bit_depth"
            )
        return self._render(out, settings)

    def _render(self, out: np.ndarray, v: dict[str, Any]) -> dict[str, float]:
        timestamp_s = time.time()
        b, gain, exposure = v["binning"], v["gain"], v["exposure_ms"]
        max_adu = (1 << v["bit_depth"]) - 1
        background_e = self._background_e(v)
        with self._render_lock:
            self._noise.prepare(
                out.shape,
                out.dtype,
                mean_adu=OFFSET_ADU + gain * background_e,
                std_adu=gain * math.sqrt(background_e + (READ_NOISE_E * b) ** 2),
                max_adu=max_adu,
            )
            self._noise.fill(out, self._frame_rng)
            self._advance_beads(v)
            stage_xyz = self.stage.position() if self.stage is not None else (0.0, 0.0, 0.0)
            self._draw_beads(out, v, stage_xyz, max_adu)
            self.frames_rendered += 1
        x_um, y_um, z_um = stage_xyz
        return {
            "exposure_ms": exposure,
            "x_um": x_um,
            "y_um": y_um,
            "z_um": z_um,
            "timestamp_s": timestamp_s,
        }

    def _background_e(self, v: dict[str, Any]) -> float:
        """Mean background photo-electrons per (binned) pixel of a frame with settings ``v``."""
        return BACKGROUND_E_PER_MS * v["exposure_ms"] * v["binning"] ** 2

    def _advance_beads(self, v: dict[str, Any]) -> None:
        dt = 1.0 / v["frame_rate_hz"]
        self.sim_time_s += dt
        diffusion = v["diffusion_um2_s"]
        if diffusion > 0:
            step = self._drift_rng.normal(
                0.0, math.sqrt(2.0 * diffusion * dt), size=self._beads_um.shape
            )
            self._beads_um += step
            np.mod(self._beads_um, self._field_um, out=self._beads_um)

    def bead_positions_px(self) -> np.ndarray:
        """(n, 2) bead centres (row, col) in frame pixels (pixel centres at integers) right now.

        Ground truth for tests and tracking demos; includes beads outside the frame.
        """
        with self._lock:
            settings = dict(self._values)
        stage = self.stage.position() if self.stage is not None else (0.0, 0.0, 0.0)
        with self._render_lock:
            return self._frame_coords(settings, stage) - 0.5

    def _frame_coords(self, v: dict[str, Any], stage_xyz: tuple[float, float, float]) -> np.ndarray:
        x0, y0, w, h = v["roi"]
        sensor = (self._beads_um - np.array([stage_xyz[1], stage_xyz[0]])) / SENSOR_PIXEL_UM
        sensor %= np.array(self._sensor, dtype=np.float64)
        return (sensor - np.array([y0, x0])) / v["binning"]

    def _draw_beads(
        self,
        out: np.ndarray,
        v: dict[str, Any],
        stage_xyz: tuple[float, float, float],
        max_adu: int,
    ) -> None:
        b, gain = v["binning"], v["gain"]
        rows, cols = out.shape
        coords = self._frame_coords(v, stage_xyz)
        dz = stage_xyz[2] + self._bead_z_um - v["focus_um"]
        sigma_px = PSF_SIGMA_UM * np.sqrt(1.0 + (dz / Z_RAYLEIGH_UM) ** 2) / (SENSOR_PIXEL_UM * b)
        margin = 25
        keep = (
            (coords[:, 0] > -margin)
            & (coords[:, 0] < rows + margin)
            & (coords[:, 1] > -margin)
            & (coords[:, 1] < cols + margin)
            & (sigma_px < _MAX_SIGMA_PX)
        )
        if not keep.any():
            return
        coords, sigma_px = coords[keep], sigma_px[keep]
        photons = BEAD_E_PER_MS * v["exposure_ms"] * self._bead_brightness[keep]
        levels = StampCache.level(sigma_px)
        whole = np.floor(coords).astype(np.int64)
        sub = np.minimum(((coords - whole) * SUBPIXEL).astype(np.int64), SUBPIXEL - 1)
        for level in np.unique(levels):
            half, stamps = self._stamps.get(int(level))
            idx = np.flatnonzero(levels == level)
            expected = stamps[sub[idx, 0], sub[idx, 1]] * photons[idx, None, None].astype(
                np.float32
            )
            noise = self._noise_patch(expected.size).reshape(expected.shape)
            noise *= np.sqrt(expected)
            expected += noise
            expected *= np.float32(gain)
            np.rint(expected, out=expected)
            np.clip(expected, 0, max_adu, out=expected)
            patches = expected.astype(np.int32)
            for k, i in enumerate(idx):
                self._add_patch(out, patches[k], whole[i, 0] - half, whole[i, 1] - half, max_adu)

    def _noise_patch(self, n: int) -> np.ndarray:
        bank = self._bead_noise
        if n > bank.size:
            return self._frame_rng.standard_normal(n, dtype=np.float32)
        start = int(self._frame_rng.integers(0, bank.size - n + 1))
        return bank[start : start + n].copy()

    @staticmethod
    def _add_patch(out: np.ndarray, patch: np.ndarray, top: int, left: int, max_adu: int) -> None:
        size = patch.shape[0]
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + size, out.shape[0]), min(left + size, out.shape[1])
        if r0 >= r1 or c0 >= c1:
            return
        region = out[r0:r1, c0:c1]
        total = region + patch[r0 - top : r1 - top, c0 - left : c1 - left]
        np.minimum(total, max_adu, out=total)
        region[...] = total
