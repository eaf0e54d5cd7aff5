"""labkit.processing statistics against plain numpy on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.processing import Roi, frame_stats, roi_stats


def _expected(a: np.ndarray, saturation: float | None) -> dict[str, float]:
    return {
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean(dtype=np.float64)),
        "saturated": 0.0 if saturation is None else float(np.count_nonzero(a >= saturation)),
    }


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((2048, 2048), np.uint16),
        ((130, 7), np.uint8),  # rows not a multiple of the block
        ((2, 70_000), np.uint16),  # rows too wide for 32-bit row sums
        ((3, 4, 5), np.uint16),  # not 2-D: the plain path
        ((50, 60), np.float32),
        ((50, 60), np.int16),
    ],
)
def test_frame_stats_equal_numpy(shape, dtype):
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "f":
        a = rng.random(shape).astype(dtype)
        saturation = None
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        a.flat[::97] = info.max  # some saturated pixels in some blocks
        saturation = float(info.max)
    got = frame_stats(a)
    assert got == pytest.approx(_expected(a, saturation), rel=1e-12)


def test_frame_stats_of_a_full_wide_frame_do_not_overflow():
    a = np.full((3, 70_000), 65535, np.uint16)
    assert frame_stats(a) == {
        "min": 65535.0,
        "max": 65535.0,
        "mean": 65535.0,
        "saturated": 210_000.0,
    }


def test_frame_stats_count_saturation_at_the_level_given():
    a = np.zeros((200, 10), np.uint16)
    a[150, 3] = 1000  # in the third 64-row block only
    a[10, 0] = 999
    assert frame_stats(a, saturation=1000)["saturated"] == 1.0
    assert frame_stats(a, saturation=999)["saturated"] == 2.0
    assert frame_stats(a)["saturated"] == 0.0  # the dtype's maximum by default


def test_roi_stats_of_a_roi():
    a = np.arange(100, dtype=np.uint16).reshape(10, 10)
    out = roi_stats(a, [Roi("r", 2, 3, 2, 4)], ("mean", "max", "min", "sum"))
    block = a[2:4, 3:7]
    assert out == {
        "r_mean": pytest.approx(block.mean()), "r_max": 36.0, "r_min": 23.0,
        "r_sum": float(block.sum()),
    }  # fmt: skip
