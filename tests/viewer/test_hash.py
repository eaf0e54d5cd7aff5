"""Exact change detection (what erlab's sampled CRC misses)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.viewer._hash import content_hash


def _da():
    return xr.DataArray(
        np.zeros((256, 256), np.float32),
        dims=("y", "x"),
        coords={"x": np.arange(256.0)},
        attrs={"units": "nm"},
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 256 * 256 - 1), st.floats(allow_nan=False, min_value=1e-30, max_value=1e30))
def test_any_single_element_change_is_detected(flat_index, value):
    a = _da()
    before = content_hash(a)
    a.values.reshape(-1)[flat_index] = value
    assert content_hash(a) != before


def test_coords_attrs_name_and_dtype_changes_are_detected_equal_content_is_not():
    a = _da()
    h = content_hash(a)
    assert content_hash(a.copy(deep=True)) == h
    b = a.copy(deep=True)
    b = b.assign_coords(x=np.where(np.arange(256) == 3, 99.0, np.arange(256.0)))
    c = a.copy(deep=True)
    c.attrs["units"] = "um"
    d = a.rename("other")
    e = a.astype(np.float64)
    assert len({h, content_hash(b), content_hash(c), content_hash(d), content_hash(e)}) == 5


def test_non_contiguous_views_hash_by_content():
    base = np.arange(64, dtype=np.int32).reshape(8, 8)
    view = xr.DataArray(base[::2, ::2], dims=("y", "x"))
    same = xr.DataArray(np.ascontiguousarray(base[::2, ::2]), dims=("y", "x"))
    assert content_hash(view) == content_hash(same)
    base[2, 2] = -1
    assert content_hash(view) != content_hash(same)
