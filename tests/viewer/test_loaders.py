"""load_in_manager: files are read here (never by the manager), within a memory budget."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile
import xarray as xr

import labkit.viewer as lv


@pytest.fixture(scope="module", autouse=True)
def _library_threads(tmp_path_factory):
    """zarr/xarray start process-wide I/O threads on first use; start them before the leak check."""
    from labkit.viewer._loaders import load_paths

    d = tmp_path_factory.mktemp("warm")
    _write_all(d, _da())
    list(load_paths([str(p) for p in _paths(d)]))


def _write_all(d, da):
    da.to_dataset().to_netcdf(d / "a.nc", engine="scipy")
    da.to_dataset().to_zarr(d / "b.zarr", consolidated=False)
    with h5py.File(d / "c.h5", "w") as f:
        f.create_dataset("group/frames", data=da.values)
    tifffile.imwrite(d / "d.tif", da.values.astype(np.uint16))


def _paths(d):
    return [d / n for n in ("a.nc", "b.zarr", "c.h5", "d.tif")]


def _da():
    return xr.DataArray(np.arange(24, dtype=np.float32).reshape(2, 3, 4), dims=("t", "y", "x"), name="stack",
                        coords={"x": np.linspace(0, 1, 4)})  # fmt: skip


def test_each_format_is_loaded_and_shown(manager, tmp_path):
    da = _da()
    _write_all(tmp_path, da)
    paths = _paths(tmp_path)
    summaries = lv.load_in_manager(paths)
    assert [s["shape"] for s in summaries] == [[2, 3, 4]] * 4
    assert [s["name"] for s in summaries] == ["stack", "stack", "frames", "d"]
    xr.testing.assert_allclose(lv.fetch(0), da)
    np.testing.assert_array_equal(lv.fetch(2).values, da.values)
    np.testing.assert_array_equal(lv.fetch(3).values, da.values.astype(np.uint16))


def test_load_errors_reach_the_caller(manager, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        lv.load_in_manager(tmp_path / "missing.nc")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="cannot tell the format"):
        lv.load_in_manager(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="unknown loader"):
        lv.load_in_manager(tmp_path / "notes.txt", loader_name="csv")
    assert lv.is_running() and manager.windows.list() == []


@pytest.mark.slow
def test_manager_loads_a_labkit_series(manager, tmp_path):
    import labkit as lk

    with lk.Scope(shape=(32, 48)) as scope:
        scope.start()
        handle = scope.spool.start(tmp_path / "s.ome.zarr", max_frames=3, preflight_mode="skip")
        handle.wait(60)
        # a series with a trace beside the frames opens as a Dataset: the window shows the frames
        both = scope.spool.start(
            tmp_path / "t.ome.zarr", max_frames=3, preflight_mode="skip", trace_streams=["signal"]
        )
        both.wait(60)
    (summary,) = lv.load_in_manager(handle.path)
    assert summary["shape"][0] == 3 and summary["shape"][-2:] == [32, 48]
    np.testing.assert_array_equal(
        lv.fetch(summary["uid"]).values, lk.open_series(handle.path).values
    )
    (summary,) = lv.load_in_manager(both.path)
    assert summary["shape"][0] == 3 and summary["shape"][-2:] == [32, 48]
    np.testing.assert_array_equal(
        lv.fetch(summary["uid"]).values, lk.open_series(both.path)["frames"].values
    )


def _bomb(path, shape=(1 << 18, 1 << 18)) -> None:
    """A tiny HDF5 file declaring a huge compressed dataset (all fill value)."""
    with h5py.File(path, "w") as f:
        chunks = tuple(min(n, 1024) for n in shape)
        f.create_dataset("huge", shape=shape, dtype="u1", chunks=chunks, compression="gzip")


def test_a_small_file_declaring_a_huge_array_is_refused_before_allocating(
    manager, tmp_path, monkeypatch
):
    import tracemalloc

    path = tmp_path / "bomb.h5"
    _bomb(path)
    assert path.stat().st_size < 10_000  # 64 GiB declared in a few KB
    monkeypatch.setenv("LABKIT_LOAD_BUDGET_BYTES", str(1 << 30))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"declares 68.72 GB .* load budget of 1.07 GB"):
            lv.load_in_manager(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20
    assert manager.windows.list() == []
    small = tmp_path / "small.h5"
    _bomb(small, shape=(64, 64))
    with pytest.raises(ValueError, match="max_bytes"):
        lv.load_in_manager(small, max_bytes=1000)
    assert lv.load_in_manager(small, max_bytes=1 << 20)[0]["shape"] == [64, 64]


def test_loader_keywords_go_to_the_loader_and_unknown_ones_raise(manager, tmp_path):
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f.create_dataset("a", data=np.zeros(3))
        f.create_dataset("b", data=np.ones(5))
    (summary,) = lv.load_in_manager(tmp_path / "two.h5", dataset="b")
    assert summary["shape"] == [5] and summary["name"] == "b"
    with pytest.raises(TypeError, match="frobnicate"):
        lv.load_in_manager(tmp_path / "two.h5", frobnicate=True)


def test_registered_loaders_are_used_by_name_and_extension(manager, tmp_path):
    calls = []

    def load_csv(path, delimiter=","):
        calls.append(path)
        return xr.DataArray(np.loadtxt(path, delimiter=delimiter, ndmin=2), name="csv")

    lv.register_loader("csv-test", load_csv, extensions=(".csvt",))
    (tmp_path / "a.csvt").write_text("1,2\n3,4\n")
    (summary,) = lv.load_in_manager(tmp_path / "a.csvt")
    assert summary["shape"] == [2, 2] and calls == [str(tmp_path / "a.csvt")]
    assert "csv-test" in lv.loaders()
    with pytest.raises(ValueError, match="exists already"):
        lv.register_loader("hdf5", load_csv)


def test_keywords_a_loader_cannot_use_are_refused_not_dropped(manager, tmp_path):
    import zarr

    zarr.create_array(tmp_path / "plain.zarr", shape=(4,), dtype="f8")
    with pytest.raises(TypeError, match=r"plain zarr array; keywords \['decode_times'\]"):
        lv.load_in_manager(tmp_path / "plain.zarr", decode_times=False)
    assert lv.load_in_manager(tmp_path / "plain.zarr")[0]["shape"] == [4]
