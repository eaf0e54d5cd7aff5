"""Bench suite ``tracking``: bead tracking speed and accuracy, beside a plain-numpy reference
tracker and (when installed) MagScope's magtrack, all on the same simulated frames.

- Speed: µs per bead per frame and frames per second for 1, 10 and 100 beads in 2048² uint16
  frames of :class:`~labkit.devices.sim.SimTweezersCamera`, each bead read from the full frame
  (the crop is included) and its z looked up in a 61-plane table. labkit uses 2 threads.
- Accuracy: x/y and z RMS errors against the simulator's exact truth, on 25 ring beads with
  Poisson noise (1000 e⁻/px background, 50 px ROIs); each tracker records its own 50 nm table
  from the same focus scan, then tracks the same frames at random z between the planes and
  random sub-pixel positions.

Each note carries the machine's load average: the figures are wall time on a shared machine.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

import numpy as np

from labkit.bench._report import BenchResult
from labkit.bench._tracking_peers import Magtrack, NumpyReference, magtrack_available
from labkit.devices.sim import SimCamera, SimStage, SimTweezersCamera
from labkit.processing.tracking import ZLUT, BeadTracker, ZLUTBuilder, find_beads

__all__ = ["run"]

ROI_SIZE = 50
TABLE_Z_UM = np.round(np.arange(-1.5, 1.5001, 0.05), 3)  # 50 nm steps
NUMPY = "plain-numpy reference tracker (COM, 1 px profile, nearest plane)"
MAGTRACK = "magtrack 1.0 stack_to_xyzp_advanced (CPU, 10-frame stacks)"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def _cycling(
    fn: Callable[[np.ndarray], object], inputs: list[np.ndarray]
) -> Callable[[int], object]:
    """``step(i)`` calling ``fn`` on the inputs in turn."""
    return lambda i: fn(inputs[i % len(inputs)])


def _seconds(step: Callable[[int], object], calls: int, min_s: float) -> tuple[float, float]:
    """(wall, CPU) seconds per ``step(i)``, called at least ``calls`` times and ``min_s`` long."""
    step(0)
    n, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while n < calls or time.perf_counter() - wall0 < min_s:
        step(n)
        n += 1
    return (time.perf_counter() - wall0) / n, (time.process_time() - cpu0) / n


def _scan(camera: SimTweezersCamera, stage: SimStage, per_plane: int) -> list[np.ndarray]:
    """Frames of a focus scan through TABLE_Z_UM, ``per_plane`` at each plane (plane-major)."""
    frames = []
    for z in TABLE_Z_UM:
        stage.move(z=float(z))
        stage.wait(timeout_s=5)
        frames += [camera.snap()[0] for _ in range(per_plane)]
    stage.move(z=0.0)
    stage.wait(timeout_s=5)
    return frames


def _mean_per_plane(profiles: list[np.ndarray], per_plane: int) -> np.ndarray:
    """(beads, planes, bins) means of per-frame (beads, bins) profiles of a plane-major scan."""
    stacked = np.stack(profiles).reshape(TABLE_Z_UM.size, per_plane, *profiles[0].shape)
    return stacked.mean(axis=1).transpose(1, 0, 2)


def _subset(table: ZLUT, n: int) -> ZLUT:
    return ZLUT(
        table.z_um, table.profiles[:n], table.beads[:n], roi_size=table.roi_size,
        oversample=table.oversample, normalised=True,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- speed
def _speed(quick: bool) -> list[BenchResult]:
    stage = SimStage("stage", speed_um_s=1e5)
    camera = SimTweezersCamera("camera", seed=2, sensor_shape=(2048, 2048), stage=stage)
    frames = [camera.snap()[0] for _ in range(4)]
    rois = find_beads(frames[0], ROI_SIZE)[:100]
    scan = _scan(camera, stage, 1)
    table = ZLUT.from_stack(np.stack(scan), TABLE_Z_UM, rois)
    reference = NumpyReference(rois)
    reference_table = _mean_per_plane([reference.profiles(f)[1] for f in scan], 1)
    peer = Magtrack(rois) if magtrack_available() else None
    if peer is not None:  # one table for all beads, as magtrack is called (bead 0's profiles)
        shared = np.stack([peer.profiles(f)[0] for f in scan], axis=1)
        peer_table = np.vstack([TABLE_Z_UM, shared])
        stack = np.stack([frames[i % 4] for i in range(10)], axis=-1)  # (y, x, frames)
    min_s = 0.2 if quick else 1.5
    results = []
    for n in (1, 10, 100):
        with BeadTracker(threads=2) as tracker:
            tracker.prepare(rois[:n], frames[0].shape, _subset(table, n))
            wall, cpu = _seconds(_cycling(tracker.track, frames), 20, min_s)
        ref = NumpyReference(rois[:n])
        ref.set_table(TABLE_Z_UM, reference_table[:n])
        numpy_s, _ = _seconds(_cycling(ref.track, frames), 2, min_s / 3)
        label = f"{n} bead{'s' if n > 1 else ''} at 2048²"
        note = f"CPU {1e6 * cpu / n:.1f} µs/bead, 2 threads; {_load()}"
        results += [
            BenchResult(
                f"tracking: {label}, µs per bead per frame", 1e6 * wall / n, "µs", NUMPY,
                1e6 * numpy_s / n, higher_is_better=False, goal=60.0, goal_kind="value", note=note,
            ),
            BenchResult(
                f"tracking: {label}, frames per second", 1 / wall, "fps", NUMPY, 1 / numpy_s,
                goal=150.0 if n == 100 else None, goal_kind="value", note=note,
            ),
        ]  # fmt: skip
        if peer is not None:
            track_stack = functools.partial(Magtrack(rois[:n]).track_stack, zlut=peer_table)
            peer_s, _ = _seconds(_cycling(track_stack, [stack]), 2, min_s)
            per_bead_us = 1e6 * peer_s / stack.shape[-1] / n
            results.append(
                BenchResult(
                    f"tracking: {label}, µs per bead per frame, beside magtrack",
                    1e6 * wall / n,
                    "µs",
                    MAGTRACK,
                    per_bead_us,
                    higher_is_better=False,
                    goal=5.0,
                    note=f"magtrack {1e6 / per_bead_us / n:.0f} fps incl. crop; {note}",
                )  # fmt: skip
            )
    camera.close()
    return results


# ---------------------------------------------------------------------------------- accuracy
def _accuracy(quick: bool) -> list[BenchResult]:
    stage = SimStage("stage", speed_um_s=1e5)
    camera = SimTweezersCamera(
        "camera", seed=1, sensor_shape=(512, 512), stage=stage, tether_rms_nm=0.0, poisson=True
    )
    rois = find_beads(camera.snap()[0], ROI_SIZE)
    centres = np.array([(r.y + (ROI_SIZE - 1) / 2, r.x + (ROI_SIZE - 1) / 2) for r in rois])
    truth_xy = camera.bead_positions_px()
    order = np.argmin(np.linalg.norm(centres[:, None] - truth_xy[None], axis=-1), axis=1)
    heights = camera.bead_z_um()[order]  # stage at 0: each bead's z offset from the stage z
    per_plane = 2 if quick else 10
    scan = _scan(camera, stage, per_plane)
    peer = Magtrack(rois) if magtrack_available() else None
    reference = NumpyReference(rois)
    with ZLUTBuilder(rois, scan[0].shape) as builder:
        for i, frame in enumerate(scan):
            builder.add(frame, float(TABLE_Z_UM[i // per_plane]))
        table = builder.build()
    reference.set_table(
        TABLE_Z_UM, _mean_per_plane([reference.profiles(f)[1] for f in scan], per_plane)
    )
    if peer is not None:
        peer.set_tables(TABLE_Z_UM, _mean_per_plane([peer.profiles(f) for f in scan], per_plane))
    rng = np.random.default_rng(3)
    errors: dict[str, list[np.ndarray]] = {"labkit": [], "numpy": [], "magtrack": []}
    with BeadTracker() as tracker:
        tracker.prepare(rois, scan[0].shape, table)
        for _ in range(15 if quick else 100):
            x, y = rng.uniform(-0.05, 0.05, 2)  # ± half a pixel
            stage.move(x=float(x), y=float(y), z=float(rng.uniform(-1.2, 1.2)))
            stage.wait(timeout_s=5)
            frame = camera.snap()[0]
            truth = np.column_stack(
                [camera.bead_positions_px()[order][:, ::-1], camera.bead_z_um()[order] - heights]
            )
            errors["labkit"].append(tracker.track(frame).values[:, :3] - truth)
            errors["numpy"].append(reference.track(frame) - truth)
            if peer is not None:
                errors["magtrack"].append(peer.track_per_bead(frame) - truth)
    camera.close()
    return _accuracy_results(errors, len(rois), per_plane)


def _rms(errors: list[np.ndarray]) -> tuple[float, float, int]:
    """(x/y RMS px, z RMS nm, values left out as NaN) over frames and beads."""
    e = np.stack(errors)
    bad = ~np.isfinite(e).all(axis=-1)
    good = e[~bad]
    return (
        float(np.sqrt(np.mean(good[:, :2] ** 2))),
        float(np.sqrt(np.mean(good[:, 2] ** 2)) * 1e3),
        int(bad.sum()),
    )


def _accuracy_results(errors: dict, n_beads: int, per_plane: int) -> list[BenchResult]:
    ours_xy, ours_z, ours_nan = _rms(errors["labkit"])
    ref_xy, ref_z, _ = _rms(errors["numpy"])
    note = (
        f"{len(errors['labkit'])} frames × {n_beads} beads, Poisson, 1000 e⁻/px background, "
        f"{per_plane} frames per plane; labkit NaN {ours_nan}"
    )
    results = [
        BenchResult("tracking: x/y RMS error", ours_xy, "px", NUMPY, ref_xy, higher_is_better=False, goal=0.015, goal_kind="value", note=note),
        BenchResult("tracking: z RMS error, 50 nm table", ours_z, "nm", NUMPY, ref_z, higher_is_better=False, goal=15.0, goal_kind="value", note=note),
    ]  # fmt: skip
    if errors["magtrack"]:
        mt_xy, mt_z, mt_nan = _rms(errors["magtrack"])
        mt_note = f"{note}; magtrack NaN {mt_nan} (z past its 7-point fit), left out"
        results += [
            BenchResult("tracking: x/y RMS error, beside magtrack", ours_xy, "px", MAGTRACK, mt_xy, higher_is_better=False, goal=0.015, goal_kind="value", note=mt_note),
            BenchResult("tracking: z RMS error, 50 nm table, beside magtrack", ours_z, "nm", MAGTRACK, mt_z, higher_is_better=False, goal=15.0, goal_kind="value", note=mt_note),
        ]  # fmt: skip
    return results


def _render(quick: bool) -> list[BenchResult]:
    """The tweezers camera's frame rate: ring beads cost more than the fluorescent spots."""
    rates = []
    for camera in (
        SimTweezersCamera("camera", seed=0, sensor_shape=(2048, 2048)),
        SimCamera("camera", seed=0, sensor_shape=(2048, 2048)),
    ):
        out = np.empty(camera.shape, camera.dtype)
        render = functools.partial(camera.render_into, out)
        wall, _ = _seconds(lambda i: render(), 5, 0.3 if quick else 2.0)  # noqa: B023 (used at once)
        rates.append(1 / wall)
        camera.close()
    return [
        BenchResult(
            "tracking: sim tweezers camera 2048² with 100 ring beads", rates[0], "fps",
            "SimCamera 2048² with 300 fluorescent spots", rates[1], goal=100.0, goal_kind="value",
            note=f"Gaussian shot noise with the Poisson variance; {_load()}",
        )
    ]  # fmt: skip


def run(quick: bool = False) -> list[BenchResult]:
    """Speed (1/10/100 beads at 2048²), accuracy (x/y, z RMS) and the sim camera's frame rate."""
    return _speed(quick) + _accuracy(quick) + _render(quick)
