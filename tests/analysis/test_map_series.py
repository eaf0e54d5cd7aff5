"""map_series on dask.distributed: nodes, functions and chunks over finished series, over a
series still being written, from an object store, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import labkit as lk
from labkit.analysis import AnalysisError, map_series


@pytest.fixture(scope="module")
def scope():
    with lk.Scope(shape=(48, 64)) as s:
        s.start()
        yield s


@pytest.fixture(scope="module")
def finished(scope, tmp_path_factory):
    """A closed 60-frame zarr series (shards of ~10 frames) and its frames in memory."""
    path = tmp_path_factory.mktemp("series") / "done"
    h = scope.spool.start(path, max_frames=60, shard_seconds=0.1, preflight_mode="skip")
    h.wait(60)
    da = lk.open_series(h.path)
    return h.path, da.load()


# Tests on the module's shared cluster leave its client's pooled connections open (they belong
# to the module fixture, which closes them); the embedded-cluster test keeps the leak check.
shared_cluster = pytest.mark.allow_leaks


def frame_peak(frame, meta):
    return {"peak": float(frame.max()), "frame": float(meta["frame"])}


@shared_cluster
def test_builtin_node_over_a_finished_series(finished, dask_cluster):
    path, da = finished
    out = map_series(path, "frame_stats", client=dask_cluster)
    assert out.dims == ("t", "channel")
    assert list(out.channel.values) == ["min", "max", "mean", "saturated"]
    np.testing.assert_allclose(out.sel(channel="mean"), da.mean(("y", "x")))
    np.testing.assert_allclose(out.sel(channel="max"), da.max(("y", "x")))
    for name in ("t", "timestamp_s", "exposure_ms", "frame_z_um"):  # the series' coordinates
        np.testing.assert_array_equal(out[name].values, da[name].values)
    np.testing.assert_array_equal(out.frame.values, np.arange(60))


@shared_cluster
def test_function_per_frame_and_per_chunk(finished, dask_cluster):
    path, da = finished
    out = map_series(lk.open_series(path), frame_peak, client=dask_cluster)
    np.testing.assert_array_equal(out.sel(channel="frame"), np.arange(60))
    np.testing.assert_allclose(out.sel(channel="peak"), da.max(("y", "x")))
    rows = map_series(path, lambda frame, meta: frame[0], client=dask_cluster)
    assert rows.dims == ("t", "dim_1") and rows.shape == (60, 64)
    np.testing.assert_array_equal(rows.values, da.values[:, 0])

    def scaled_means(frames, scale):
        assert frames.dims == ("t", "y", "x") and "timestamp_s" in frames.coords
        return frames.mean(("y", "x")) * scale

    chunked = map_series(path, scaled_means, client=dask_cluster, per="chunk", scale=3)
    assert isinstance(chunked, xr.DataArray) and chunked.dims == ("t",)
    np.testing.assert_allclose(chunked.values, 3 * da.mean(("y", "x")).values)
    np.testing.assert_array_equal(chunked.t.values, da.t.values)


@shared_cluster
def test_a_series_still_being_written(scope, tmp_path, dask_cluster):
    """The series records until three shards are done: tasks ran while it was open, and the
    result covers every frame it holds once closed."""
    h = scope.spool.start(tmp_path / "live", shard_seconds=0.1, preflight_mode="skip")
    seen: list[tuple[int, int, bool]] = []

    def progress(done, listed, closed):
        seen.append((done, listed, closed))
        if done >= 3 and not closed:
            h.stop()

    out = map_series(h.path, "frame_stats", client=dask_cluster, progress=progress)
    assert h.done and any(done >= 3 and not closed for done, _, closed in seen), seen
    da = lk.open_series(h.path)
    assert out.sizes["t"] == da.sizes["t"] == h.progress.frames_written > 0
    np.testing.assert_allclose(out.sel(channel="mean"), da.mean(("y", "x")))
    np.testing.assert_array_equal(out.t.values, da.t.values)


@shared_cluster
def test_hdf5_series_while_written(scope, tmp_path, dask_cluster):
    h = scope.spool.start(
        tmp_path / "live", method="hdf5", max_frames=40, shard_seconds=0.1, preflight_mode="skip"
    )
    out = map_series(h.path, frame_peak, client=dask_cluster)
    h.wait(60)
    da = lk.open_series(h.path)
    np.testing.assert_allclose(out.sel(channel="peak"), da.max(("y", "x")))


@shared_cluster
def test_a_series_in_s3_read_by_the_workers(scope, s3, dask_cluster):
    url, options = s3
    scope.spool.storage_options = options
    try:
        h = scope.spool.start(f"{url}/run", max_frames=30, shard_seconds=0.1, preflight_mode="skip")
    finally:
        scope.spool.storage_options = {}
    out = map_series(h.path, "frame_stats", client=dask_cluster, storage_options=options)
    h.wait(60)
    da = lk.open_series(h.path, storage_options=options)
    np.testing.assert_allclose(out.sel(channel="mean"), da.mean(("y", "x")))


def test_embedded_cluster_and_scheduler_address(finished):
    """client=None starts (and closes: the leak check) its own cluster; an address connects."""
    path, da = finished
    out = map_series(path, "frame_stats", n_workers=1)
    np.testing.assert_allclose(out.sel(channel="min"), da.min(("y", "x")))
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        out = map_series(path, frame_peak, client=cluster.scheduler_address)
        assert cluster.scheduler.status.name == "running"  # the user's cluster stays up
    np.testing.assert_allclose(out.sel(channel="peak"), da.max(("y", "x")))


@shared_cluster
def test_bad_input_names_what_is_accepted(finished, dask_cluster):
    path, _ = finished
    with pytest.raises(TypeError, match="saturation"):
        map_series(path, "frame_stats", client=dask_cluster, bogus=1)
    with pytest.raises(TypeError, match="map_series takes the options client, per"):
        map_series(path, frame_peak, client=dask_cluster, bogus=1)
    with pytest.raises(ValueError, match="roi_stats, frame_stats, downsample"):
        map_series(path, "no_such_node", client=dask_cluster)
    with pytest.raises(ValueError, match="per must be one of 'frame', 'chunk'"):
        map_series(path, frame_peak, client=dask_cluster, per="pixel")
    with pytest.raises(TypeError, match="scheduler address"):
        map_series(path, frame_peak, client=42)
    with pytest.raises(TypeError, match="no 'path' attr"):
        map_series(xr.DataArray(np.zeros((2, 3, 3))), frame_peak, client=dask_cluster)
    with pytest.raises(FileNotFoundError):
        map_series(path.with_name("missing.ome.zarr"), frame_peak, client=dask_cluster)


@shared_cluster
def test_a_failing_task_raises_with_the_workers_error(finished, dask_cluster):
    path, _ = finished

    def broken(frame, meta):
        if meta["frame"] == 17:
            raise ZeroDivisionError("frame 17 is cursed")
        return 1.0

    with pytest.raises(AnalysisError, match="ZeroDivisionError: frame 17 is cursed"):
        map_series(path, broken, client=dask_cluster)
