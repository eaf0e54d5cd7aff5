"""What a window sends: image planes, slice binning, cursor/ROI/line/extra-dim profiles."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from labkit.viewer._slicing import (
    ROI_PROFILE_MAX_ELEMENTS,
    bin_window,
    image_plane,
    line_profile,
    profiles,
    wire_array,
)
from labkit.viewer._view import default_view_state, update_view


def cube() -> xr.DataArray:
    values = np.arange(3 * 4 * 5, dtype=np.float64).reshape(3, 4, 5)
    return xr.DataArray(
        values,
        dims=("t", "y", "x"),
        coords={
            "t": ("t", [0.0, 0.5, 1.0], {"units": "s"}),
            "y": ("y", np.arange(4) * 0.2, {"units": "µm"}),
            "x": ("x", np.arange(5) * 0.2, {"units": "µm"}),
        },
        name="cube",
    )


def view_of(data: xr.DataArray, **changes) -> dict:
    return update_view(data, default_view_state(data), changes)


def test_image_plane_follows_slices_dims_and_slice_bins():
    data = cube()
    assert np.array_equal(image_plane(data, view_of(data, slices={"t": 2})), data.values[2])
    assert image_plane(data, view_of(data)).dtype == np.float32
    swapped = view_of(data, image_dims=["x", "t"], slices={"y": 3})
    assert np.array_equal(image_plane(data, swapped), data.values[:, 3, :].T)
    averaged = view_of(data, slices={"t": 1}, bins={"t": 3})
    assert np.allclose(image_plane(data, averaged), data.values.mean(axis=0))
    ints = xr.DataArray(np.ones((2, 3), np.uint16))
    assert image_plane(ints, view_of(ints)).dtype == np.uint16
    line = xr.DataArray(np.arange(4, dtype=np.int64))
    assert image_plane(line, view_of(line)).shape == (1, 4)
    assert wire_array(np.array([True])).dtype == np.uint8
    assert wire_array(np.array([3 + 4j])).tolist() == [5.0]


def test_bin_window_is_centred_and_clipped():
    assert bin_window(5, 3, 10) == slice(4, 7) and bin_window(5, 4, 10) == slice(4, 8)
    assert bin_window(0, 5, 10) == slice(0, 3) and bin_window(9, 5, 10) == slice(7, 10)


def test_cursor_profiles_with_width_and_value_at_each_cursor():
    data = cube()
    view = view_of(
        data, slices={"t": 1}, cursors=[{"y": 1, "x": 2}, {"y": 3, "x": 0}], bins={"y": 3}
    )
    content, arrays = profiles(data, view, image_plane(data, view))
    got = dict(zip(content["arrays"], arrays, strict=True))
    plane = data.values[1]
    assert np.allclose(got["c0.h"], plane[0:3].mean(axis=0))  # rows 0..2 around y = 1
    assert np.allclose(got["c0.v"], plane[:, 2])
    assert np.allclose(got["c1.h"], plane[2:4].mean(axis=0))  # clipped at the edge
    assert content["values"] == pytest.approx([plane[0:3, 2].mean(), plane[2:4, 0].mean()])
    # along the extra dim at the active cursor (cursor 0), averaged over the same rows
    assert np.allclose(got["dim.t"], data.values[:, 0:3, 2].mean(axis=1))
    assert all(a.dtype == np.float32 for a in arrays)


def test_roi_stats_and_roi_mean_along_the_first_extra_dim():
    data = cube()
    view = view_of(data, slices={"t": 2}, roi={"y": [1, 3], "x": [0, 2]})
    content, arrays = profiles(data, view, image_plane(data, view))
    region = data.values[2, 1:3, 0:2]
    roi = content["roi"]
    assert roi["count"] == 4 and roi["dim"] == "t"
    assert (roi["mean"], roi["sum"], roi["min"], roi["max"]) == pytest.approx(
        (region.mean(), region.sum(), region.min(), region.max())
    )
    got = dict(zip(content["arrays"], arrays, strict=True))
    assert np.allclose(got["roi"], data.values[:, 1:3, 0:2].mean(axis=(1, 2)))


def test_roi_profile_is_skipped_with_a_reason_when_too_large(monkeypatch):
    import labkit.viewer._slicing as slicing

    monkeypatch.setattr(slicing, "ROI_PROFILE_MAX_ELEMENTS", 5)
    data = cube()
    view = view_of(data, roi={"y": [0, 4], "x": [0, 5]})
    content, _ = profiles(data, view, image_plane(data, view))
    assert "roi" not in content["arrays"] and "more than 5" in content["roi"]["skipped"]
    assert ROI_PROFILE_MAX_ELEMENTS > 5


def test_line_profile_samples_along_the_segment():
    plane = np.tile(np.arange(10, dtype=np.float32), (6, 1))  # value = column index
    values = line_profile(plane, (2.5, 0.5), (2.5, 9.5))  # centre of column 0 -> column 9
    assert len(values) == 10 and np.allclose(values, np.arange(10))
    diag = line_profile(plane, (0.5, 0.5), (5.5, 5.5), width=3)
    assert np.allclose(diag, np.linspace(0, 5, len(diag)), atol=0.35)  # edges clip the band
    data = cube()
    view = view_of(data, line=[{"y": 0.5, "x": 0.5}, {"y": 0.5, "x": 4.5}])
    content, arrays = profiles(data, view, image_plane(data, view))
    assert content["line"] == {"length": pytest.approx(0.8), "units": "µm", "width": 1}
    assert np.allclose(dict(zip(content["arrays"], arrays, strict=True))["line"], data.values[0, 0])


def test_auto_limits_are_percentiles_of_the_whole_image():
    from labkit.viewer._slicing import auto_limits

    plane = np.tile(np.arange(1000, dtype=np.float32), (1000, 1))  # 0 .. 999 along x
    plane[0, 0] = 1e9  # one hot pixel
    plane[5, :10] = np.nan
    lo, hi = auto_limits(plane)
    assert abs(lo - 1) < 3 and abs(hi - 998) < 3  # the hot pixel and NaN do not count
    pos_lo, _ = auto_limits(plane - 500, positive=True)  # a log scale: values > 0 only
    assert 0 < pos_lo < 3
    assert auto_limits(np.full((4, 4), 7.0)) == [7.0, 8.0]
    assert auto_limits(np.full((4, 4), -1.0), positive=True) is None


def test_the_roi_profile_is_reused_while_only_cursors_or_its_own_dim_move():
    data = cube()
    view = view_of(data, roi={"y": [0, 2], "x": [1, 3]})
    cache: dict = {}
    profiles(data, view, image_plane(data, view), cache)
    kept = cache["roi"][2]
    moved = update_view(data, view, {"cursor": {"y": 3}, "slices": {"t": 2}})
    content, arrays = profiles(data, moved, image_plane(data, moved), cache)
    got = dict(zip(content["arrays"], arrays, strict=True))
    assert cache["roi"][2] is kept  # not read again
    assert np.allclose(got["roi"], data.values[:, 0:2, 1:3].mean(axis=(1, 2)))
    assert content["roi"]["mean"] == pytest.approx(data.values[2, 0:2, 1:3].mean())  # new slice
    other = data + 1  # new data: read again
    profiles(other, moved, image_plane(other, moved), cache)
    assert cache["roi"][0] is other and cache["roi"][2] is not kept
