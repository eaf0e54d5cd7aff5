"""xarray codec: exact round trips of DataArray/Dataset and the attribute policy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from wire_helpers import WIRE_SETTINGS

from labkit.wire import WireEncodeError, decode, encode

index_dtypes = st.sampled_from(["<i8", "<u4", "<f8", "<f4", "<U3", "<M8[ns]", "|b1"])
attr_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=6),
        st.sampled_from([np.float32(2.5), np.int16(-4), np.bool_(False), np.str_("s")]),
    ),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=6,
)
# small arrays only at the top level: xarray's own comparison fails on arrays nested in dicts
top_attr_values = attr_values | st.sampled_from([np.arange(3), np.array(["a", "bc"])])
attrs = st.dictionaries(st.text(min_size=1, max_size=5), top_attr_values, max_size=3)


xr_dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(sizes=(32, 64)),
    hnp.complex_number_dtypes(),
    hnp.unicode_string_dtypes(min_len=1, max_len=4),
    hnp.byte_string_dtypes(min_len=1, max_len=4),
    st.sampled_from(["M8[s]", "M8[ms]", "M8[us]", "M8[ns]", "m8[s]", "m8[ns]"]).map(np.dtype),
)


def xr_arrays(dtype, shape):
    """Arrays xarray itself accepts: datetimes within pandas' range, units s..ns."""
    dtype = np.dtype(dtype)
    if dtype.kind in "mM":
        ints = hnp.arrays(np.int64, shape, elements=st.integers(-(10**15), 10**15))
        return ints.map(lambda a: a.view(dtype))
    return hnp.arrays(dtype, shape)


@st.composite
def data_arrays(draw) -> xr.DataArray:
    ndim = draw(st.integers(0, 3))
    dims = draw(st.lists(st.sampled_from("tzyxc"), min_size=ndim, max_size=ndim, unique=True))
    sizes = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
    values = draw(xr_arrays(draw(xr_dtypes), tuple(sizes)))
    coords = {}
    for dim, size in zip(dims, sizes, strict=True):
        if draw(st.booleans()):  # dimension coordinate (an index)
            data = draw(xr_arrays(draw(index_dtypes), (size,)))
            coords[dim] = xr.Variable((dim,), data, draw(attrs))
        if draw(st.booleans()):  # non-dimension coordinate along one dim
            coords[f"{dim}_label"] = ((dim,), draw(xr_arrays(draw(xr_dtypes), (size,))))
    if ndim >= 2 and draw(st.booleans()):  # multi-dimensional coordinate
        coords["grid"] = (tuple(dims), draw(hnp.arrays(np.float64, tuple(sizes))), draw(attrs))
    if draw(st.booleans()):  # scalar coordinate
        coords["exposure_ms"] = ((), np.float64(draw(st.floats(0, 100))), {"units": "ms"})
    name = draw(st.one_of(st.none(), st.text(max_size=5), st.integers(0, 9)))
    return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=draw(attrs))


@WIRE_SETTINGS
@given(data_arrays())
def test_random_dataarrays_round_trip_identically(da):
    out = decode(encode(da))
    xr.testing.assert_identical(out, da)
    assert out.dtype == da.dtype
    for name in da.coords:
        assert out.coords[name].dtype == da.coords[name].dtype


@WIRE_SETTINGS
@given(data_arrays(), attrs)
def test_random_datasets_round_trip_identically(da, ds_attrs):
    ds = xr.Dataset({"signal": da.rename(None), "twice": da.rename(None)}, attrs=ds_attrs)
    xr.testing.assert_identical(decode(encode(ds)), ds)


def _image() -> xr.DataArray:
    y, x = np.arange(4) * 0.65, np.arange(5) * 0.65
    da = xr.DataArray(
        np.arange(20, dtype=np.uint16).reshape(4, 5),
        dims=("y", "x"),
        coords={"y": y, "x": x, "row": ("y", ["a", "b", "c", "d"]), "t_s": 1.5},
        name="frame",
        attrs={"exposure_ms": np.float32(10.0), "roi": (0, 0, 5, 4), "meta": {"stage": [1, 2]}},
    )
    da.x.attrs["units"] = "um"
    return da


def test_image_round_trip_keeps_coord_attrs_and_values_zero_copy():
    da = _image()
    frames = encode(da)
    out = decode(frames)
    xr.testing.assert_identical(out, da)
    assert out.x.attrs == {"units": "um"}
    assert np.shares_memory(out.values, da.values)
    assert out.attrs["exposure_ms"] == 10.0 and type(out.attrs["exposure_ms"]) is float


def test_object_string_coords_are_sent_as_unicode():
    da = xr.DataArray(
        [1, 2], dims="c", coords={"label": ("c", np.array(["ab", "c"], dtype=object))}
    )
    out = decode(encode(da))
    assert out.label.dtype == np.dtype("<U2")
    assert list(out.label.values) == ["ab", "c"]


@pytest.mark.parametrize(
    ("attrs", "where"),
    [
        ({"calib": object()}, "DataArray 'frame'.attrs['calib']"),
        (
            {"meta": {"when": np.datetime64("2026-01-01")}},
            "DataArray 'frame'.attrs['meta']['when']",
        ),
        ({"lut": np.zeros(20_000)}, "DataArray 'frame'.attrs['lut']"),
        ({"raw": b"\x00\x01"}, "DataArray 'frame'.attrs['raw']"),
        ({"z": 1j}, "DataArray 'frame'.attrs['z']"),
        ({"m": {1: "a"}}, "DataArray 'frame'.attrs['m']"),
    ],
)
def test_non_json_attrs_are_rejected_naming_the_attribute(attrs, where):
    da = _image()
    da.attrs.update(attrs)
    with pytest.raises(WireEncodeError) as info:
        encode(da)
    message = str(info.value)
    assert where in message
    assert "str" in message  # says what to convert it to


def test_coordinate_attr_errors_name_the_coordinate():
    da = _image()
    da.x.attrs["fit"] = {1, 2}
    with pytest.raises(WireEncodeError, match=r"coords\['x'\]\.attrs\['fit'\]"):
        encode(da)


def test_object_values_and_multiindex_are_rejected_with_a_fix():
    with pytest.raises(WireEncodeError, match="astype"):
        encode(xr.DataArray(np.array([{}, 1], dtype=object), dims="i"))
    stacked = _image().stack(pixel=("y", "x"))
    with pytest.raises(WireEncodeError, match="reset_index"):
        encode(stacked)
