"""Shared strategies and comparisons for the wire tests."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# the autouse leak fixture is function-scoped on purpose: it checks the whole test
WIRE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.datetime64_dtypes(),
    hnp.timedelta64_dtypes(),
    hnp.unicode_string_dtypes(min_len=1, max_len=4),
    hnp.byte_string_dtypes(min_len=1, max_len=4),
)


@st.composite
def any_arrays(draw, max_dims: int = 3, max_side: int = 5) -> np.ndarray:
    """Arrays of many dtypes/shapes: 0-d, empty, C, F and non-contiguous layouts."""
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    arr = draw(hnp.arrays(dtype, shape))
    layout = draw(st.sampled_from(["c", "f", "strided", "transposed"]))
    if layout == "f":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = arr[..., ::2]
    elif layout == "transposed":
        arr = arr.T
    return arr


def assert_same(got, expected, path: str = "") -> None:
    """Exact equality for wire round trips: same types, dtypes, shapes and array bytes."""
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), path
        assert got.dtype == expected.dtype, (path, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (path, got.shape, expected.shape)
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes(), path
        return
    assert type(got) is type(expected), (path, type(got), type(expected))
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got), path
    elif isinstance(expected, complex):
        assert_same(got.real, expected.real, path)
        assert_same(got.imag, expected.imag, path)
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert list(got) == list(expected), path
        for key in expected:
            assert_same(got[key], expected[key], f"{path}[{key!r}]")
    else:
        assert got == expected, path


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    any_arrays(max_dims=2, max_side=3),
)

trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(-1000, 1000)), children, max_size=4
        ),
    ),
    max_leaves=12,
)
