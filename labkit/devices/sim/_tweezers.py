"""SimTweezersCamera: magnetic-tweezers beads in bright field, whose ring pattern encodes z.

The plain :class:`~labkit.devices.sim.SimCamera` draws Gaussian spots that blur the same way
above and below focus, so z cannot be read from them. A tweezers microscope looks at beads a few
µm out of focus in bright field: each bead is the in-line hologram of a small scatterer, a
Fresnel zone pattern whose rings spread out as the bead moves away from the focal plane. That is
what this camera draws, with the ground truth (x, y, z of every bead) exposed for tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labkit.devices._property import prop
from labkit.devices.sim._camera import OFFSET_ADU, READ_NOISE_E, SENSOR_PIXEL_UM, SimCamera
from labkit.devices.sim._stage import SimStage

__all__ = ["SimTweezersCamera", "ring_pattern"]

RING_WAVELENGTH_UM = 0.45  # effective wavelength in water (550 nm / 1.33)
RING_DEFOCUS_UM = 3.0  # distance bead → focal plane when stage z + bead z == focus_um
RING_MIN_DEFOCUS_UM = 1.0  # closer than this the rings alias at 0.1 µm pixels: the pattern stops
RING_ENVELOPE_UM = 1.5  # 1/e^½ radius of the ring amplitude
STAMP_RADIUS_UM = 4.5  # rings are drawn out to here (amplitude ≈ 1 % of ring_contrast)
TETHER_TIME_S = 0.05  # relaxation time of a tethered bead's fluctuations


def ring_pattern(r2_um2: np.ndarray, defocus_um: np.ndarray | float) -> np.ndarray:
    """Relative ring amplitude (−1…1) at squared distance ``r2_um2`` from a bead ``defocus_um`` µm
    from the focal plane: ``exp(-r²/2w²) cos(π r² / (λ d))``, the Fresnel zone pattern of a small
    scatterer, damped. ``defocus_um`` broadcasts against ``r2_um2`` (clamped to ≥ 1 µm)."""
    d = np.maximum(np.asarray(defocus_um, dtype=np.float32), RING_MIN_DEFOCUS_UM)
    phase = r2_um2 * (np.float32(math.pi / RING_WAVELENGTH_UM) / d)
    out = np.cos(phase)
    out *= np.exp(r2_um2 * np.float32(-0.5 / RING_ENVELOPE_UM**2))
    return out


class SimTweezersCamera(SimCamera):
    """Simulated magnetic-tweezers camera: tethered beads seen in bright field as ring patterns.

    Each bead draws ``background_e * (1 + ring_contrast * ring_pattern(r², d))`` photo-electrons
    per pixel, ``r`` the distance from the bead centre and ``d = 4 µm + z`` its distance to the
    focal plane, where ``z = stage z + bead height − focus_um`` (:meth:`bead_z_um`). The rings
    spread monotonically as z grows (from z = −3 µm up), so a lookup table of radial profiles
    reads z back. Pixels are sampled at their centres from the continuous pattern (no stamp
    quantisation), so :meth:`bead_positions_px` and :meth:`bead_z_um` are exact ground truth.

    - Beads sit on a jittered grid (never overlapping), tethered: each fluctuates around its
      anchor by ``tether_rms_nm`` in x, y and z (relaxation 50 ms of simulated time). The first
      ``n_reference`` beads are stuck to the surface (no fluctuation): reference beads for drift.
    - ``diffusion_um2_s`` moves the whole sample (every anchor together): the common drift that
      reference-bead subtraction removes. ``z_drift_um_s`` moves it in z at a steady rate
      (thermal focus drift, what a bead lock holds against). The stage pans the field and sets z as for SimCamera.
    - Shot noise is Gaussian with the Poisson variance (drawn from a bank of normals, so 100
      beads at 2048² render at video rate); ``poisson=True`` draws exact Poisson counts instead
      (several times slower; for accuracy benchmarks).

    Args:
        name: as for :class:`SimCamera`.
        seed: as for :class:`SimCamera`.
        sensor_shape: as for :class:`SimCamera`.
        stage: as for :class:`SimCamera`.
        **values: as for :class:`SimCamera`.
        n_beads: number of beads (default: 100, or as many as fit on the sensor).
        n_reference: how many of them are stuck reference beads (default: 2, or fewer beads).
        poisson: draw exact Poisson shot noise.

    Raises:
        ValueError: more beads than fit on the sensor without overlapping.
    """

    background_e = prop(
        float,
        units="e⁻/px",
        low=1,
        high=50_000,
        default=1000.0,
        description="bright-field illumination per sensor pixel per frame",
    )
    ring_contrast = prop(
        float, low=0, high=0.9, default=0.5, description="amplitude of the bead rings (relative)"
    )
    tether_rms_nm = prop(
        float,
        units="nm",
        low=0,
        high=500,
        default=20.0,
        description="thermal fluctuation of tethered beads (per axis)",
    )
    diffusion_um2_s = prop(
        float,
        units="µm²/s",
        low=0,
        high=100,
        default=0.0,
        description="Brownian drift of the whole sample (all beads together)",
    )
    z_drift_um_s = prop(
        float,
        units="µm/s",
        low=-10,
        high=10,
        default=0.0,
        description="steady z drift of the whole sample (thermal focus drift), in simulated time",
    )

    def __init__(
        self,
        name: str = "camera",
        *,
        seed: int = 0,
        sensor_shape: tuple[int, int] = (2048, 2048),
        n_beads: int | None = None,
        n_reference: int | None = None,
        stage: SimStage | None = None,
        poisson: bool = False,
        **values: Any,
    ) -> None:
        height, width = (int(v) for v in sensor_shape)
        cell_px = 2 * math.ceil(STAMP_RADIUS_UM / SENSOR_PIXEL_UM) + 3
        grid = (max(1, height // cell_px), max(1, width // cell_px))
        fits = grid[0] * grid[1] if min(height, width) >= cell_px else 0
        n = min(100, fits) if n_beads is None else int(n_beads)
        if n > fits or n < 0:
            raise ValueError(
                f"{n} beads do not fit on a {height}×{width} sensor without overlapping (at most "
                f"{fits}: one per {cell_px}×{cell_px} px cell); use fewer beads or a bigger sensor"
            )
        n_reference = min(2, n) if n_reference is None else int(n_reference)
        if not 0 <= n_reference <= n:
            raise ValueError(f"n_reference must be between 0 and n_beads ({n}), got {n_reference}")
        super().__init__(
            name, seed=seed, sensor_shape=sensor_shape, n_beads=n, stage=stage, **values
        )
        rng = np.random.default_rng([self.seed, 11])
        cell = rng.choice(fits, size=n, replace=False) if n else np.zeros(0, np.int64)
        cell_um = np.array([height / grid[0], width / grid[1]]) * SENSOR_PIXEL_UM
        slack_um = np.maximum(cell_um - cell_px * SENSOR_PIXEL_UM, 0.0)
        rows, cols = np.divmod(cell, grid[1])
        centre = (np.stack([rows, cols], axis=1) + 0.5) * cell_um
        self._anchor_um = centre + rng.uniform(-0.5, 0.5, size=(n, 2)) * slack_um
        self._height_um = rng.normal(0.0, 0.2, size=n)
        self._tethered = np.arange(n) >= n_reference
        self._fluct_um = np.zeros((n, 3))  # (y, x, z) offsets from the anchor
        self._poisson = bool(poisson)
        self._beads_um = self._anchor_um.copy()
        self._sample_z_um = 0.0  # the z drift of the whole sample so far

    @property
    def reference_beads(self) -> np.ndarray:
        """Indices of the stuck (untethered) beads, for drift subtraction."""
        return np.flatnonzero(~self._tethered)

    def bead_z_um(self) -> np.ndarray:
        """(n,) z of every bead right now: stage z + sample drift + bead height − focus_um (what its
        rings show)."""
        with self._lock:
            focus = self._values["focus_um"]
        stage_z = self.stage.position()[2] if self.stage is not None else 0.0
        with self._render_lock:
            return stage_z + self._sample_z_um + self._height_um + self._fluct_um[:, 2] - focus

    # ------------------------------------------------------------------ model
    def _background_e(self, v: dict[str, Any]) -> float:
        return v["background_e"] * v["binning"] ** 2

    def _advance_beads(self, v: dict[str, Any]) -> None:
        dt = 1.0 / v["frame_rate_hz"]
        self.sim_time_s += dt
        if v["diffusion_um2_s"] > 0:  # the sample drifts as a whole
            step = self._drift_rng.normal(0.0, math.sqrt(2.0 * v["diffusion_um2_s"] * dt), size=2)
            self._anchor_um = np.mod(self._anchor_um + step, self._field_um)
        self._sample_z_um += v["z_drift_um_s"] * dt
        rms_um = v["tether_rms_nm"] * 1e-3
        decay = math.exp(-dt / TETHER_TIME_S)
        kick = self._drift_rng.standard_normal(self._fluct_um.shape)
        kick *= rms_um * math.sqrt(1.0 - decay * decay)
        self._fluct_um *= decay
        self._fluct_um += kick
        self._fluct_um[~self._tethered] = 0.0
        self._beads_um = np.mod(self._anchor_um + self._fluct_um[:, :2], self._field_um)

    def _draw_beads(
        self,
        out: np.ndarray,
        v: dict[str, Any],
        stage_xyz: tuple[float, float, float],
        max_adu: int,
    ) -> None:
        b, gain = v["binning"], v["gain"]
        pixel_um = SENSOR_PIXEL_UM * b
        half = math.ceil(STAMP_RADIUS_UM / pixel_um)
        rows, cols = out.shape
        centres = self._frame_coords(v, stage_xyz) - 0.5  # pixel centres at integers
        whole = np.rint(centres).astype(np.int64)
        keep = np.all((whole > -half - 1) & (whole < np.array([rows, cols]) + half), axis=1)
        if not keep.any():
            return
        centres, whole = centres[keep], whole[keep]
        z_um = (
            stage_xyz[2] + self._sample_z_um + self._height_um[keep] + self._fluct_um[keep, 2]
            - v["focus_um"]
        )  # fmt: skip
        offsets = np.arange(-half, half + 1, dtype=np.float32)
        frac = (centres - whole).astype(np.float32)
        dy = (offsets[None, :] - frac[:, :1]) * np.float32(pixel_um)  # (n, S) µm
        dx = (offsets[None, :] - frac[:, 1:]) * np.float32(pixel_um)
        r2 = dy[:, :, None] ** 2 + dx[:, None, :] ** 2  # (n, S, S) µm²
        defocus = (RING_DEFOCUS_UM + z_um).astype(np.float32)[:, None, None]
        expected = ring_pattern(r2, defocus)
        background = np.float32(self._background_e(v))
        expected *= background * np.float32(v["ring_contrast"])
        expected += background
        electrons = self._shot_noise(expected)
        electrons *= np.float32(gain)
        electrons += np.float32(OFFSET_ADU)
        np.rint(electrons, out=electrons)
        np.clip(electrons, 0, max_adu, out=electrons)
        patches = electrons.astype(out.dtype)
        for k in range(len(whole)):
            top, left = whole[k, 0] - half, whole[k, 1] - half
            r0, c0 = max(top, 0), max(left, 0)
            r1, c1 = min(top + 2 * half + 1, rows), min(left + 2 * half + 1, cols)
            if r0 < r1 and c0 < c1:
                out[r0:r1, c0:c1] = patches[k, r0 - top : r1 - top, c0 - left : c1 - left]

    def _shot_noise(self, expected: np.ndarray) -> np.ndarray:
        """Electrons counted for ``expected`` (float32): Poisson, or Gaussian with its variance."""
        if self._poisson:
            counts = self._frame_rng.poisson(expected).astype(np.float32)
            counts += self._frame_rng.standard_normal(
                expected.shape, dtype=np.float32
            ) * np.float32(READ_NOISE_E)
            return counts
        noise = self._noise_patch(expected.size).reshape(expected.shape)
        noise *= np.sqrt(expected + np.float32(READ_NOISE_E**2))
        noise += expected
        return noise
