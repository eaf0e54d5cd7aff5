"""Viewport planning, binning and encodings of the live view (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from labkit.widgets._binning import (
    MAX_TEXTURE_SIDE,
    Viewport,
    bin_factor,
    bin_mean,
    encode_jpeg,
    encode_view,
    plan_crop,
    to_uint8,
)


def reference_mean(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k * k, a.shape[1] // k * k
    blocks = a[:h, :w].reshape(h // k, k, w // k, k).astype(np.float64)
    return blocks.mean(axis=(1, 3))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_bin_mean_matches_block_mean(k, dtype):
    rng = np.random.default_rng(k)
    a = rng.integers(0, np.iinfo(dtype).max, (67, 130), dtype=dtype)
    out = bin_mean(a, k)
    ref = reference_mean(a, k)
    assert out.dtype == dtype and out.flags.c_contiguous
    assert out.shape == ref.shape
    # integer result: truncated mean (float32 rounding for non powers of two may cost 1)
    assert np.all(np.abs(out.astype(np.float64) - np.floor(ref)) <= 1)


def test_bin_mean_of_saturated_frame_does_not_overflow():
    a = np.full((64, 64), 65535, np.uint16)
    for k in (2, 3, 4, 16):
        assert bin_mean(a, k).min() >= 65534


def test_bin_mean_k1_is_a_copy_not_a_view():
    a = np.arange(12, dtype=np.uint16).reshape(3, 4)
    out = bin_mean(a[:, 1:3], 1)
    assert out.flags.c_contiguous and not np.shares_memory(out, a)
    np.testing.assert_array_equal(out, a[:, 1:3])


def test_bin_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        bin_mean(np.zeros((2, 2, 2), np.uint16), 2)
    with pytest.raises(ValueError, match=">= 1"):
        bin_mean(np.zeros((2, 2), np.uint16), 0)


def test_bin_factor_one_texel_per_device_pixel_or_more():
    assert bin_factor(640 / 2048) == 3
    assert bin_factor(0.5) == 2
    assert bin_factor(1.0) == 1
    assert bin_factor(8.0) == 1
    with pytest.raises(ValueError):
        bin_factor(0)


def test_plan_fit_2048_into_640_canvas():
    vp = Viewport.fit(2048, 2048, 640, 640)
    crop = plan_crop((2048, 2048), vp)
    assert crop.k == 3
    assert (crop.x0, crop.y0) == (0, 0)
    assert crop.out_shape == (682, 682)
    assert (crop.x1 - crop.x0) % 3 == 0


def test_plan_zoomed_in_sends_full_resolution_region_with_margin():
    vp = Viewport(640, 640, 4.0, 1000, 1000, 1160, 1160)  # 160 frame px visible at 4 device px each
    crop = plan_crop((2048, 2048), vp, margin=0.1)
    assert crop.k == 1
    assert (crop.x0, crop.x1, crop.y0, crop.y1) == (984, 1176, 984, 1176)


def test_plan_clamps_to_frame_and_handles_empty_region():
    crop = plan_crop((100, 200), Viewport(640, 640, 2.0, -50, 90, 30, 500))
    assert crop.x0 == 0 and crop.y1 <= 100 and crop.x1 <= 200
    whole = plan_crop((100, 200), Viewport(640, 640, 2.0, 0, 0, 0, 0))
    assert (whole.x0, whole.y0, whole.x1, whole.y1, whole.k) == (0, 0, 200, 100, 1)


def test_plan_caps_texture_size():
    crop = plan_crop((10000, 10000), Viewport(10000, 10000, 1.0, 0, 0, 10000, 10000))
    assert max(crop.out_shape) <= MAX_TEXTURE_SIDE
    assert crop.k >= 3


def test_to_uint8_keeps_data_units_via_scale_and_offset():
    a = np.linspace(1000, 3000, 300 * 300).astype(np.uint16).reshape(300, 300)
    u8, scale, offset = to_uint8(a)
    assert u8.dtype == np.uint8 and u8.min() == 0 and u8.max() == 255
    back = u8.astype(np.float64) * scale + offset
    assert np.max(np.abs(back - a)) <= scale  # within one 8-bit step


def test_to_uint8_small_range_is_lossless():
    a = np.array([[500, 510], [600, 755]], np.uint16)
    u8, scale, offset = to_uint8(a)
    assert scale == 1.0 and offset == 500
    np.testing.assert_array_equal(u8.astype(np.int64) + 500, a)


def test_jpeg_round_trip_is_close():
    y, x = np.mgrid[0:128, 0:160]
    a = (1000 + 10 * x + 5 * y).astype(np.uint16)
    data, scale, offset = encode_jpeg(a, quality=90)
    assert data[:2] == b"\xff\xd8"
    dec = simplejpeg.decode_jpeg(data, colorspace="GRAY")[:, :, 0]
    assert dec.shape == a.shape
    back = dec.astype(np.float64) * scale + offset
    assert np.median(np.abs(back - a)) < 3 * scale


def test_encode_view_raw16_header_matches_the_payload():
    a = np.arange(300 * 400, dtype=np.uint32).reshape(300, 400).astype(np.uint16)
    view = encode_view(a, Viewport(100, 100, 0.25, 0, 0, 400, 300), "raw16")
    head = view.header()
    assert head["encoding"] == "raw16" and head["bin"] == 4
    assert (head["h"], head["w"]) == view.payload.shape == (75, 100)
    assert (head["rw"], head["rh"]) == (400, 300) and view.nbytes == 75 * 100 * 2
    assert bytes(view.buffer) == view.payload.tobytes()


def test_encode_view_sends_8bit_frames_as_raw8_and_rejects_3d():
    a = np.full((10, 10), 200, np.uint8)
    view = encode_view(a, Viewport.fit(10, 10, 10, 10), "raw16")
    assert view.encoding == "raw8" and view.payload.dtype == np.uint8
    with pytest.raises(ValueError, match="2-D frames"):
        encode_view(np.zeros((2, 2, 2), np.uint16), Viewport.fit(2, 2, 2, 2), "raw16")


@pytest.mark.parametrize("k", [2, 3, 4])
def test_float_bin_mean_matches_block_mean(k):
    a = np.random.default_rng(k).random((67, 130)).astype(np.float32)
    a[5, 7] = np.nan
    h, w = 67 // k * k, 130 // k * k
    ref = a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    out = bin_mean(a, k)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert np.allclose(out, ref, rtol=1e-5, equal_nan=True)
    assert np.isnan(out[5 // k, 7 // k])  # a NaN spreads to its block, as in a mean


def test_viewport_from_a_front_end_message():
    msg = {"canvas_w": 640, "canvas_h": 480, "zoom": 0.5, "x0": 0, "y0": 0, "x1": 1280, "y1": 960}
    assert Viewport.from_message(msg) == Viewport(640, 480, 0.5, 0, 0, 1280, 960)
    with pytest.raises(ValueError, match="malformed viewport"):
        Viewport.from_message({**msg, "x1": "wide"})
    with pytest.raises(ValueError, match="zoom must be > 0"):
        Viewport.from_message({**msg, "zoom": 0})
