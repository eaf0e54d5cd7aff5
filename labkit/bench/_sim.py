"""Bench suite ``sim``: SimCamera sustained frame rate at 2048² uint16, beside a naive render.

The baseline renders the same scene the obvious way: ``np.random.poisson`` on a precomputed
full-frame expected-photon image, plus Gaussian read noise, cast to uint16 — so the ratio
shows what the noise bank and cached PSF stamps buy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labkit.bench._report import BenchResult
from labkit.devices.sim import SimCamera

__all__ = ["run"]

SHAPE = (2048, 2048)


def _sim_fps(n_frames: int, **values: Any) -> float:
    cam = SimCamera("camera", seed=0, sensor_shape=SHAPE, **values)
    try:
        out = np.empty(cam.shape, cam.dtype)
        for _ in range(3):  # warm caches (noise bank, stamps)
            cam.render_into(out)
        t0 = time.perf_counter()
        for _ in range(n_frames):
            cam.render_into(out)
        return n_frames / (time.perf_counter() - t0)
    finally:
        cam.close()


def _naive_fps(n_frames: int) -> float:
    cam = SimCamera("camera", seed=0, sensor_shape=SHAPE, diffusion_um2_s=0.0)
    try:
        # the expected-photon image of the same scene (noise-free, from the sim itself)
        frame = cam.snap()[0].astype(np.float64)
    finally:
        cam.close()
    expected_e = np.clip(frame - 100.0, 0.0, None)
    rng = np.random.default_rng(0)
    out = np.empty(SHAPE, np.uint16)
    t0 = time.perf_counter()
    for _ in range(n_frames):
        electrons = rng.poisson(expected_e) + rng.normal(0.0, 1.6, SHAPE)
        np.clip(electrons + 100.0, 0, 65535, out=electrons)
        out[...] = electrons
    return n_frames / (time.perf_counter() - t0)


def run(quick: bool = False) -> list[BenchResult]:
    """SimCamera fps (goal ≥ 100 at 2048² uint16) beside the naive Poisson render."""
    n_sim = 30 if quick else 300
    n_naive = 2 if quick else 8
    sim_fps = _sim_fps(n_sim)
    defocused_fps = _sim_fps(n_sim // 3, focus_um=3.0)  # bigger PSF stamps
    naive_fps = _naive_fps(n_naive)
    baseline = "np.random.poisson full-frame render"
    return [
        BenchResult(
            name="sim camera 2048² uint16",
            value=sim_fps,
            unit="fps",
            baseline=baseline,
            baseline_value=naive_fps,
            goal=100.0,
            goal_kind="value",
            note=f"{1e3 / sim_fps:.2f} ms/frame, 300 beads, single thread",
        ),
        BenchResult(
            name="sim camera 2048² uint16, 3 µm defocus",
            value=defocused_fps,
            unit="fps",
            baseline=baseline,
            baseline_value=naive_fps,
            goal=100.0,
            goal_kind="value",
            note=f"{1e3 / defocused_fps:.2f} ms/frame",
        ),
    ]
