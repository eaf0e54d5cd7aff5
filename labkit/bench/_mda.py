"""Bench suite ``mda``: per-event overhead of ``scope.run_mda`` beside pymmcore-plus's
``run_mda`` on the same sequence, and the frame rate of a burst time plan beside the camera's.

Both sides render frames with the same :class:`SimCamera` (512² uint16, 1 ms exposure), move a
z stage that arrives at once and switch a two-position state device for the channel:

- labkit: a thread-mode ``Scope`` with that SimCamera, a SimStage (10⁵ µm/s) and a
  SimFilterWheel; channels select the wheel's label (a state device named like the group).
- pymmcore-plus: ``UniMMCore`` with Python-side devices (``pymmcore_plus.experimental.unicore``):
  a ``SimpleCameraDevice`` whose ``snap`` renders with the same SimCamera, a ``StageDevice`` as
  the focus device driving the same SimStage (busy while it moves), a ``StateDevice`` with a config group of the same name; autoshutter off,
  hardware sequencing off for the per-event figure.

Per-event overhead is the wall time of a run minus the time the camera spent rendering, per
event. With the writer on, both write OME-Zarr through ome-writers with the backend it picks
(tensorstore, which the bench extra installs).
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from labkit.bench._report import BenchResult
from labkit.devices.sim import SimCamera, SimFilterWheel, SimStage

__all__ = ["run"]

SHAPE = (512, 512)
EXPOSURE_MS = 1.0
CAMERA_HZ = 200.0


class TimedSimCamera(SimCamera):
    """A SimCamera that adds up the seconds spent rendering (what both sides share)."""

    render_s = 0.0

    def _render(self, out: np.ndarray, v: dict[str, Any]) -> dict[str, float]:
        t0 = time.perf_counter()
        try:
            return super()._render(out, v)
        finally:
            self.render_s += time.perf_counter() - t0


def _seq(**fields: Any) -> Any:
    import useq

    return useq.MDASequence.model_validate(fields)


def _sequence(loops: int) -> Any:
    return _seq(
        time_plan={"interval": 0, "loops": loops},
        z_plan={"range": 2, "step": 1},
        channels=[{"group": "filters", "config": "DAPI"}, {"group": "filters", "config": "GFP"}],
        axis_order="tcz",
    )


def _settings(path: Path) -> Any:
    import ome_writers as ow

    return ow.AcquisitionSettings.model_validate(
        {"root_path": str(path), "format": {"name": "ome-zarr", "backend": "auto"}}
    )


# -- labkit ------------------------------------------------------------------------------------


def _labkit_devices(camera: TimedSimCamera) -> dict[str, Any]:
    stage = SimStage("stage", speed_um_s=1e5)
    camera.stage = stage
    return {"camera": camera, "stage": stage, "filters": SimFilterWheel("filters")}


def _labkit(seq: Any, out: Path | None, repeats: int) -> float:
    """Best per-event overhead (ms) of ``repeats`` runs."""
    from labkit.engine import Scope

    camera = TimedSimCamera("camera", seed=0, sensor_shape=SHAPE, exposure_ms=EXPOSURE_MS)
    n = len(list(seq))
    best = float("inf")
    with Scope(devices=_labkit_devices(camera)) as scope:
        warm = False if out is None else out / "labkit-warm.ome.zarr"
        scope.run_mda(seq, warm).wait(120)  # warm: imports, first store, first renders
        for i in range(repeats):
            path = False if out is None else out / f"labkit{i}.ome.zarr"
            camera.render_s = 0.0
            t0 = time.perf_counter()
            scope.run_mda(seq, path, burst=False).wait(600)
            wall = time.perf_counter() - t0
            best = min(best, (wall - camera.render_s) / n)
    return best * 1e3


def _labkit_burst(n: int) -> tuple[float, float]:
    """(frames per second the MDA kept, frames per second the camera delivered meanwhile)."""
    from labkit.engine import Scope

    camera = TimedSimCamera("camera", seed=0, sensor_shape=SHAPE, exposure_ms=EXPOSURE_MS)
    camera.frame_rate_hz = CAMERA_HZ
    seq = _seq(time_plan={"interval": 0, "loops": n})
    with Scope(devices=_labkit_devices(camera), ring_slots=64) as scope:
        scope.run_mda(_seq(time_plan={"interval": 0, "loops": 5}), False).wait(60)
        before = scope.health().frames_acquired
        t0 = time.perf_counter()
        final = scope.run_mda(seq, False).wait(600)
        wall = time.perf_counter() - t0
        delivered = scope.health().frames_acquired - before
    return final["frames_done"] / wall, delivered / wall


# -- pymmcore-plus -----------------------------------------------------------------------------


def _mm_core(camera: TimedSimCamera) -> Any:
    from pymmcore_plus.experimental.unicore import (
        SimpleCameraDevice,
        StageDevice,
        StateDevice,
        UniMMCore,
    )

    class Cam(SimpleCameraDevice):
        def __init__(self) -> None:
            super().__init__()
            self._exposure = EXPOSURE_MS

        def sensor_shape(self) -> tuple[int, int]:
            return SHAPE

        def dtype(self) -> Any:
            return np.uint16

        def get_exposure(self) -> float:
            return self._exposure

        def set_exposure(self, exposure: float) -> None:
            self._exposure = float(exposure)

        def snap(self, buffer: np.ndarray) -> dict:
            camera.render_into(buffer)
            return {}

    class Focus(StageDevice):  # the same SimStage physics as labkit's (busy while moving)
        def __init__(self) -> None:
            super().__init__()
            self._stage = stage

        def set_position_um(self, val: float) -> None:
            self._stage.move(z=float(val))

        def get_position_um(self) -> float:
            return self._stage.position()[2]

        def busy(self) -> bool:
            return self._stage.is_moving()

        def home(self) -> None: ...
        def stop(self) -> None: ...
        def set_origin(self) -> None: ...

    class Wheel(StateDevice):
        def __init__(self) -> None:
            super().__init__({0: "DAPI", 1: "GFP"})
            self._state = 0

        def get_state(self) -> int:
            return self._state

        def set_state(self, position: int) -> None:
            self._state = int(position)

    stage = SimStage("stage", speed_um_s=1e5)
    camera.stage = stage
    core = UniMMCore()
    for label, dev in (("Cam", Cam()), ("Z", Focus()), ("Wheel", Wheel())):
        core.loadPyDevice(label, dev)
        core.initializeDevice(label)
    core.setCameraDevice("Cam")
    core.setFocusDevice("Z")
    for config in ("DAPI", "GFP"):
        core.defineConfig("filters", config, "Wheel", "Label", config)
    core.setExposure(EXPOSURE_MS)
    core.setAutoShutter(False)  # the labkit side has no shutter either
    core.updateSystemStateCache()
    return core


def _pymmcore(seq: Any, out: Path | None, repeats: int) -> tuple[float, float]:
    """(best per-event overhead in ms, sequenced burst fps)."""
    camera = TimedSimCamera("camera", seed=0, sensor_shape=SHAPE, exposure_ms=EXPOSURE_MS)
    core = _mm_core(camera)
    n = len(list(seq))
    best = float("inf")
    try:
        core.mda.engine.use_hardware_sequencing = False
        core.mda.run(seq, output=None if out is None else _settings(out / "mm-warm.ome.zarr"))
        for i in range(repeats):
            output = None if out is None else _settings(out / f"mm{i}.ome.zarr")
            camera.render_s = 0.0
            t0 = time.perf_counter()
            core.mda.run(seq, output=output)
            wall = time.perf_counter() - t0
            best = min(best, (wall - camera.render_s) / n)
        core.mda.engine.use_hardware_sequencing = True
        burst = _seq(time_plan={"interval": 0, "loops": 200})
        t0 = time.perf_counter()
        core.mda.run(burst)
        fps = 200 / (time.perf_counter() - t0)
    finally:
        core.unloadAllDevices()
    return best * 1e3, fps


def run(quick: bool = False) -> list[BenchResult]:
    """Per-event overhead (goal: labkit ≤ pymmcore-plus) and burst frame rate."""
    logging.getLogger("pymmcore-plus").setLevel(logging.ERROR)
    # both sides write through ome-writers' backend ("auto": tensorstore with the bench extra);
    # import it outside the timed runs
    importlib.import_module("ome_writers._backends._tensorstore")
    loops, repeats = (3, 1) if quick else (20, 3)
    seq = _sequence(loops)
    n_events = len(list(seq))
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="labkit-bench-mda-"))
    try:
        lk_bare = _labkit(seq, None, repeats)
        mm_bare, mm_fps = _pymmcore(seq, None, repeats)
        lk_write = _labkit(seq, tmp, repeats)
        mm_write, _ = _pymmcore(seq, tmp, repeats)
        burst_n = 100 if quick else 400
        lk_fps, camera_fps = _labkit_burst(burst_n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = max(load, os.getloadavg()[0])
    where = (
        f"{n_events} events (t×c×z), 512² uint16 SimCamera renders on both sides; load {load:.1f}"
    )
    return [
        BenchResult(
            name="mda: per-event overhead, no writer",
            value=lk_bare, unit="ms/event", baseline="pymmcore-plus run_mda (UniMMCore)",
            baseline_value=mm_bare, higher_is_better=False, goal=1.0, note=where,
        ),
        BenchResult(
            name="mda: per-event overhead, OME-Zarr writer",
            value=lk_write, unit="ms/event", baseline="pymmcore-plus run_mda (UniMMCore)",
            baseline_value=mm_write, higher_is_better=False, goal=1.0,
            note=f"both through ome-writers (tensorstore); {where}",
        ),
        BenchResult(
            name=f"mda: burst time plan ({burst_n} frames), camera at {CAMERA_HZ:g} Hz",
            value=lk_fps, unit="fps", baseline="the camera's delivered frame rate",
            baseline_value=camera_fps, goal=0.95,
            note=f"camera set to {CAMERA_HZ:g} Hz; pymmcore-plus sequenced acquisition of its "
            f"Python camera (unpaced): {mm_fps:.0f} fps; load {load:.1f}",
        ),
    ]  # fmt: skip
