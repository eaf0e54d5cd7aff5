"""``labkit bench nodes``: processing nodes beside the camera, and several cameras in one page.

Engine figures (a 2048² uint16 sim camera at 100 fps, engine in a child process):

- time per frame of a ``roi_stats`` node (4 ROIs of 64², mean and max) and of a ``frame_stats``
  node, as the engine's health reports them, beside the same statistics computed directly on a
  frame in this process (``roi_stats``: the labkit function itself, so the ratio is the node's
  overhead; ``frame_stats``: four whole-frame numpy passes, the obvious way);
- the camera's rate with three nodes running (ROI statistics, frame statistics, a 4x4-binned
  every-4th-frame downsampler), as engine threads and as worker processes, beside its rate with
  no node in the same run (goal: 100 fps, never slowed), with frames the nodes lost.

Page figure: two 1024² cameras at 100 fps on one dashboard in a real Voila page, the painted fps
of each live view (goal ≥ 30 each), beside the same dashboard with one camera.

``--quick`` (the smoke test's run) uses frames of a quarter of the side (512² and 256²) and
shorter windows: it checks that every figure is measured and reported, not the goals; the names
say the size measured.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from labkit.bench._report import BenchResult, progress

__all__ = ["bench_cameras", "camera_dashboard", "one_camera", "run", "two_cameras"]

ENGINE_SIZE = {False: 2048, True: 512}  # frame side of the engine figures, by quick
PAGE_SIZE = {False: 1024, True: 256}  # frame side of the page's cameras, by quick


def _rois(size: int) -> list[tuple[str, int, int, int, int]]:
    """4 ROIs of 64² spread over a ``size``² frame."""
    return [
        (f"bead{i}", (200 + 400 * i) * size // 2048, (300 + 350 * i) * size // 2048, 64, 64)
        for i in range(4)
    ]


def _nodes(size: int) -> tuple[tuple[str, dict[str, Any]], ...]:
    return (
        ("roi_stats", {"rois": _rois(size), "stats": ["mean", "max"]}),
        ("frame_stats", {}),
        ("downsample", {"every": 4, "bin": 4}),
    )


def _scope(shape: tuple[int, int]) -> Any:
    from labkit.engine import Scope

    scope = Scope(mode="process", shape=shape)
    scope.camera.frame_rate_hz = 100
    scope.camera.exposure_ms = 5
    scope.start()
    return scope


def _rate(scope: Any, seconds: float) -> tuple[float, int, dict]:
    """Frames per second acquired over ``seconds``, frames late meanwhile, node figures."""
    h0, t0 = scope.health(), time.monotonic()
    time.sleep(seconds)
    h1, t1 = scope.health(), time.monotonic()
    nodes = {
        name: {
            "frames_in": n["frames_in"] - h0.nodes.get(name, {}).get("frames_in", 0),
            "frames_lost": n["frames_lost"] - h0.nodes.get(name, {}).get("frames_lost", 0),
            "ms_per_frame": n["ms_per_frame"],
        }
        for name, n in h1.nodes.items()
    }
    fps = (h1.frames_acquired - h0.frames_acquired) / (t1 - t0)
    return fps, h1.frames_late - h0.frames_late, nodes


def _node_ms(scope: Any, name: str, seconds: float) -> float:
    """Median of the node's smoothed time per frame sampled over ``seconds``."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        samples.append(float(scope.health().nodes[name]["ms_per_frame"]))
    return statistics.median(samples)


def _direct_ms(fn: Any, frame: np.ndarray, n: int) -> float:
    fn(frame)
    t0 = time.perf_counter()
    for _ in range(n):
        fn(frame)
    return 1e3 * (time.perf_counter() - t0) / n


def _four_passes(frame: np.ndarray) -> dict[str, float]:
    return {
        "min": float(frame.min()), "max": float(frame.max()),
        "mean": float(frame.mean(dtype=np.float64)),
        "saturated": float(np.count_nonzero(frame >= 65535)),
    }  # fmt: skip


def _engine_results(quick: bool) -> list[BenchResult]:
    from labkit.processing import Roi, frame_stats, roi_stats

    seconds, window = (1.0, 0.5) if quick else (8.0, 2.0)  # rate, node time windows (s)
    results: list[BenchResult] = []
    size = ENGINE_SIZE[quick]
    scope = _scope((size, size))
    progress(f"nodes: {size}² camera started (engine in a child process)")
    try:
        frame = scope.camera.snap().values
        rois = [Roi.of(r) for r in _rois(size)]
        direct_roi = _direct_ms(lambda f: roi_stats(f, rois, ("mean", "max")), frame, 200)
        direct_stats = _direct_ms(frame_stats, frame, 50)
        naive_stats = _direct_ms(_four_passes, frame, 50)

        base_fps, base_late, _ = _rate(scope, seconds)
        for mode, label in (("thread", "engine threads"), ("process", "worker processes")):
            progress(f"nodes: three nodes as {label}")
            names = [
                scope.nodes.add(kind, mode=mode, name=f"{kind}_{mode}", **params)["name"]
                for kind, params in _nodes(size)
            ]
            time.sleep(0.25 if quick else 1.0)  # warm up (a worker maps the ring, numpy caches)
            fps, late, nodes = _rate(scope, seconds)
            lost = sum(n["frames_lost"] for n in nodes.values())
            roi_ms = _node_ms(scope, f"roi_stats_{mode}", window)
            stats_ms = _node_ms(scope, f"frame_stats_{mode}", window)
            for name in names:
                scope.nodes.remove(name)
            results += [
                BenchResult(
                    f"nodes: camera fps at {size}² with 3 nodes in {label}", fps, "fps",
                    "same camera, no node, same run", base_fps, goal=99.0, goal_kind="value",
                    note=f"{late} frames late (no node: {base_late}); nodes lost {lost} frames; "
                         "ROI stats + frame stats + 4x4 downsample of every 4th frame",
                ),
                BenchResult(
                    f"nodes: roi_stats node per {size}² frame ({label})", roi_ms, "ms",
                    "roi_stats() called directly on a frame", direct_roi, higher_is_better=False,
                    note="4 ROIs of 64², mean and max; wall time of process() + writing the row, "
                         "so in engine threads it includes waiting for the GIL",
                ),
                BenchResult(
                    f"nodes: frame_stats node per {size}² frame ({label})", stats_ms, "ms",
                    "four whole-frame numpy passes (min, max, mean, count >= max)", naive_stats,
                    higher_is_better=False,
                    note=f"frame_stats() called directly: {direct_stats:.2f} ms; the node reads "
                         "the frame in place in the ring (no copy)",
                ),
            ]  # fmt: skip
    finally:
        scope.close()
    return results


def bench_cameras(n_cameras: int, seed: int = 0, shape: tuple[int, int] = (1024, 1024)) -> dict:
    """Devices factory (``labkit.bench._nodes:bench_cameras``): ``n_cameras`` sim cameras of
    ``shape`` at 100 fps on one stage."""
    from labkit.devices.sim import SimCamera, SimStage

    stage = SimStage("stage")
    devices: dict[str, Any] = {"stage": stage}
    for i in range(n_cameras):
        name = "camera" if i == 0 else f"camera{i + 1}"
        camera = SimCamera(name, seed=seed + i, sensor_shape=shape, stage=stage)
        camera.frame_rate_hz = 100
        camera.exposure_ms = 5
        devices[name] = camera
    return devices


def camera_dashboard(n_cameras: int, size: int = 1024) -> tuple[Any, Any, Any]:
    """In the kernel: a dashboard of ``n_cameras`` (1 or 2) ``size``² cameras at 100 fps (engine
    in a child process). Returns (first live view, scope, dashboard)."""
    from labkit.engine import Scope

    factory = f"labkit.bench._nodes:{'one_camera' if n_cameras == 1 else 'two_cameras'}"
    scope = Scope(devices=factory, mode="process", shape=(size, size))
    scope.start()
    dash = scope.dashboard(title=f"{n_cameras} cameras", traces=False)
    return dash.live, scope, dash


def one_camera(seed: int = 0, shape: tuple[int, int] = (1024, 1024)) -> dict:
    """Devices factory: one camera of ``shape`` (default 1024²) at 100 fps."""
    return bench_cameras(1, seed, shape)


def two_cameras(seed: int = 0, shape: tuple[int, int] = (1024, 1024)) -> dict:
    """Devices factory: two cameras of ``shape`` (default 1024²) at 100 fps."""
    return bench_cameras(2, seed, shape)


def _page_results(quick: bool) -> list[BenchResult]:
    from playwright.sync_api import sync_playwright

    from labkit.bench._live import _measure
    from labkit.testing._jupyter import write_notebook
    from labkit.testing._servers import VoilaServer

    size = PAGE_SIZE[quick]
    measured: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="labkit-bench-nodes-") as tmp, sync_playwright() as pw:
        server = VoilaServer(Path(tmp) / "voila")
        server.root.mkdir(parents=True, exist_ok=True)
        server.start(timeout_s=120)
        progress("nodes: Voila up")
        try:
            for n in (2, 1):
                progress(f"nodes: the {n}-camera dashboard in Chromium")
                state = server.root / f"cameras{n}.state.json"
                write_notebook(
                    server.root / f"cameras{n}.ipynb",
                    [
                        "from labkit.bench._live import mirror_state\n"
                        "from labkit.bench._nodes import camera_dashboard\n"
                        f"view, scope, dash = camera_dashboard({n}, {size})\n"
                        f"mirror_state(view, scope, {str(state)!r}, owner=dash)\ndash"
                    ],
                )
                try:
                    measured[n] = _measure(
                        pw, server.render_url(f"cameras{n}.ipynb"), False, state, quick
                    )
                finally:
                    server.shutdown_kernels()
        finally:
            server.stop()
    each, alone = measured[2]["painted_fps_each"], measured[1]["painted_fps"]
    base = "the same dashboard with one camera"
    return [
        BenchResult(
            f"nodes: two {size}² cameras at 100 fps, live view {i + 1} painted fps", fps, "fps",
            base, alone, goal=30.0, goal_kind="value",
            note=f"one Voila page (dashboard grid); encoding {measured[2]['encoding']}",
        )
        for i, fps in enumerate(each)
    ]  # fmt: skip


def run(quick: bool = False) -> list[BenchResult]:
    """Engine node figures, then the two-camera page (about 2 min; quick about 1 min)."""
    return _engine_results(quick) + _page_results(quick)
