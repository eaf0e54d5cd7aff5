"""load_in_manager: the manager reads netCDF, Zarr, HDF5 and TIFF files itself."""

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


def test_manager_loads_each_format(manager, tmp_path):
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
    (summary,) = lv.load_in_manager(handle.path)
    assert summary["shape"][0] == 3 and summary["shape"][-2:] == [32, 48]
    np.testing.assert_array_equal(
        lv.fetch(summary["uid"]).values, lk.open_series(handle.path).values
    )
