"""``RingReader.next_into`` / ``next_meta_into``: ``next`` without a Frame, dict or array per frame."""

from __future__ import annotations

import re
import threading
import time
import tracemalloc

import numpy as np
import pytest

from labkit.buffers import FrameRing, RingError, RingReader

SHAPE = (16, 24)
META = RingReader.meta_dtype
FIELDS = ("index", "timestamp_s", "exposure_ms", "z_um", "x_um", "y_um")


def frame_of(value: int) -> np.ndarray:
    return np.arange(np.prod(SHAPE), dtype=np.uint16).reshape(SHAPE) + np.uint16(value)


@pytest.fixture
def ring():
    with FrameRing.create(SHAPE, "uint16", n_slots=4) as r:
        yield r


def _write(ring: FrameRing, i: int) -> None:
    meta = {"timestamp_s": 1000.0 + i, "exposure_ms": 0.5 * i, "z_um": -i}
    if i % 3:  # x/y given for some frames only: the others stay NaN
        meta.update(x_um=i / 7, y_um=2.0**-i)
    ring.write(frame_of(i), **meta)


def _record(frame) -> tuple:
    return (frame.index, *(frame.meta[k] for k in FIELDS[1:]))


def test_next_into_equals_next_frame_for_frame_including_losses(ring):
    """Two readers on one ring, one with next(), one with next_into(): the same frames, the
    same pixels and metadata, the same frames_lost after bursts that lap both readers."""
    by_next, by_into = ring.reader("next"), ring.reader("into")
    out = np.zeros(SHAPE, np.uint16)
    meta = np.zeros((), META)
    written = 0
    for burst in (1, 3, 9, 2, 4, 5, 13, 1):  # 9, 5 and 13 overwrite frames nobody read yet
        for _ in range(burst):
            _write(ring, written)
            written += 1
        while True:
            try:
                frame = by_next.next(timeout=0)
            except TimeoutError:
                with pytest.raises(TimeoutError):
                    by_into.next_into(out, meta, timeout=0)
                break
            index = by_into.next_into(out, meta, timeout=0)
            assert index == frame.index == int(meta["index"])
            np.testing.assert_array_equal(out, frame.data)
            np.testing.assert_array_equal(np.array(meta.item()), np.array(_record(frame)))
            assert (by_into.cursor, by_into.frames_lost) == (by_next.cursor, by_next.frames_lost)
    assert by_next.frames_lost > 0  # the bursts did lap the readers
    stats = ring.stats()["readers"]
    assert stats["into"]["frames_lost"] == stats["next"]["frames_lost"] == by_into.frames_lost


def test_rows_of_a_stack_flat_bytes_and_wider_records(ring):
    """The spool's shape of use: out[row] of a stack, meta[row] of records with more fields."""
    reader = ring.reader()
    stack = np.zeros((3, *SHAPE), np.uint16)
    records = np.zeros(3, [("frame", "<i8"), *[(k, META[k]) for k in FIELDS], ("tag", "u1")])
    records["frame"] = [7, 8, 9]
    for i in range(3):
        _write(ring, i)
    for row in (2, 0, 1):
        assert reader.next_into(stack, records, timeout=0, row=row) == (row + 1) % 3
    assert stack[2, 0, 0] == 0 and stack[0, 0, 0] == 1 and stack[1, 0, 0] == 2
    np.testing.assert_array_equal(records["index"], [1, 2, 0])
    np.testing.assert_array_equal(records["frame"], [7, 8, 9])  # other fields untouched
    np.testing.assert_array_equal(records["z_um"], [-1.0, -2.0, 0.0])
    assert np.isnan(records["x_um"][2]) and records["x_um"][0] == 1 / 7
    flat = np.zeros(ring.frame_nbytes, np.uint8)  # raw bytes, no metadata wanted
    _write(ring, 3)
    assert reader.next_into(flat) == 3
    np.testing.assert_array_equal(flat.view(np.uint16).reshape(SHAPE), frame_of(3))


def test_a_reader_lapped_by_the_writer_gets_the_exact_lost_count(ring):
    reader = ring.reader("slow")
    n = ring.n_slots
    for i in range(3 * n):
        _write(ring, i)
    out = np.zeros(SHAPE, np.uint16)
    meta = np.zeros(1, META)
    got = [reader.next_into(out, meta, timeout=1) for _ in range(n)]
    assert got == list(range(2 * n, 3 * n))
    assert int(out[0, 0]) == 3 * n - 1 and meta["z_um"][0] == -(3 * n - 1)
    assert reader.frames_lost == 2 * n == ring.stats()["readers"]["slow"]["frames_lost"]
    for i in range(3 * n, 4 * n + 1):  # one more than the ring holds
        _write(ring, i)
    assert reader.next_meta_into(meta, timeout=0) == 3 * n + 1 and reader.frames_lost == 2 * n + 1


def test_a_torn_or_overwritten_slot_is_skipped_and_counted(ring):
    reader = ring.reader()
    for i in range(4):
        _write(ring, i)
    out = np.zeros(SHAPE, np.uint16)
    meta = np.zeros((), META)
    with ring.claim() as slot:  # frame 4 is being written into slot 0, still holding frame 0
        slot.array[:] = 99
        assert reader.next_into(out, meta, timeout=0) == 1  # frame 0 is not returned half-written
        assert reader.frames_lost == 1 and int(meta["index"]) == 1
        np.testing.assert_array_equal(out, frame_of(1))
    # without a copy: the pixels stay in the ring and is_intact() says when they changed
    index = reader.next_meta_into(meta, timeout=0)
    view = reader.frame_view(index)
    assert index == 2 and reader.is_intact(2) and int(view[0, 0]) == 2
    assert not view.flags.writeable  # nobody scribbles into the ring through it
    for i in range(5, 8):
        _write(ring, i)
    assert not reader.is_intact(2) and int(view[0, 0]) == 6  # slot 2 now holds frame 6


def test_next_into_waits_for_a_frame_and_times_out(ring):
    reader = ring.reader()
    out = np.zeros(SHAPE, np.uint16)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="no new frame within 0.2 s"):
        reader.next_into(out, timeout=0.2)
    assert time.monotonic() - t0 >= 0.2 and reader.cursor == 0 and reader.frames_lost == 0
    writer = threading.Thread(target=lambda: (time.sleep(0.2), _write(ring, 5)))
    writer.start()
    try:
        assert reader.next_into(out, timeout=10) == 0
    finally:
        writer.join()
    np.testing.assert_array_equal(out, frame_of(5))


def test_next_into_raises_ring_error_once_the_ring_or_the_reader_is_closed():
    ring = FrameRing.create(SHAPE, "uint16", n_slots=4)
    attached = RingReader.attach(ring.name, "attached")
    own = ring.reader("own")
    out = np.zeros(SHAPE, np.uint16)
    _write(ring, 0)
    ring.close()
    assert attached.next_into(out, timeout=0) == 0  # frames written before the close still come
    with pytest.raises(RingError, match="closed by its owner"):
        attached.next_into(out, timeout=5)
    with pytest.raises(RingError, match="closed"):
        own.next_into(out, timeout=0)  # its ring was closed in this process
    attached.close()
    with pytest.raises(RingError, match="is closed; open a new reader"):
        attached.next_meta_into(timeout=0)
    with pytest.raises(RingError, match="is closed"):
        attached.frame_view(0)
    assert not attached.is_intact(0)


def test_wrong_out_or_meta_raises_an_error_naming_what_the_ring_expects(ring):
    reader = ring.reader()
    _write(ring, 0)
    meta = np.zeros((), META)
    want = r"writable C-contiguous uint16 array of shape \(16, 24\) \(or uint8 of shape \(768,\)\)"
    bad_outs = {
        "float32 (16, 24)": np.zeros(SHAPE, np.float32),
        "uint16 (24, 16)": np.zeros((24, 16), np.uint16),
        "uint8 (767,)": np.zeros(767, np.uint8),
        "a read-only or non-contiguous": np.zeros((16, 48), np.uint16)[:, ::2],
    }
    for got, out in bad_outs.items():
        with pytest.raises(ValueError, match=f"{want}.*got {re.escape(got)}"):
            reader.next_into(out, meta, timeout=0)
    readonly = np.zeros(SHAPE, np.uint16)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only or non-contiguous"):
        reader.next_into(readonly, meta, timeout=0)
    with pytest.raises(ValueError, match="got list"):
        reader.next_into([[0] * 24] * 16, meta, timeout=0)
    stack = np.zeros((2, *SHAPE), np.uint16)
    with pytest.raises(ValueError, match="stack of 2 frames: pass row="):
        reader.next_into(stack, timeout=0)
    with pytest.raises(ValueError, match=r"row=1 needs a stack of frames"):
        reader.next_into(np.zeros(SHAPE, np.uint16), timeout=0, row=1)
    with pytest.raises(IndexError, match="row=2 is outside out's 2 frames"):
        reader.next_into(stack, timeout=0, row=2)
    fields = "fields index \\(int64\\), timestamp_s, exposure_ms, z_um, x_um, y_um \\(float64\\)"
    gap = np.zeros((), [("index", "<i8"), ("pad", "<f8"), *[(k, "<f8") for k in FIELDS[1:]]])
    for bad in (
        np.zeros(6),
        np.zeros((), [("index", "<f8"), *[(k, "<f8") for k in FIELDS[1:]]]),
        gap,
    ):
        with pytest.raises(ValueError, match=f"meta must be a writable.*{fields}"):
            reader.next_into(stack, bad, timeout=0, row=0)
    with pytest.raises(ValueError, match="meta holds 3 records: pass row="):
        reader.next_into(np.zeros(SHAPE, np.uint16), np.zeros(3, META), timeout=0)
    with pytest.raises(IndexError, match="row=1 is outside meta's 1 records"):
        reader.next_into(stack, np.zeros(1, META), timeout=0, row=1)
    assert reader.cursor == 0  # nothing was read by any of these
    assert reader.next_into(stack, np.zeros(2, META), timeout=0, row=1) == 0


def _read_cost(ring: FrameRing, read, n_frames: int) -> tuple[int, int]:
    """(bytes still allocated after reading ``n_frames``, the largest allocation peak during
    any one read) under tracemalloc; frames are written between reads, outside the peaks."""
    frames = [np.full(ring.shape, i, ring.dtype) for i in range(3)]
    base = tracemalloc.get_traced_memory()[0]
    worst = 0
    for i in range(n_frames):
        ring.write(frames[i % 3])
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        read()
        worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
    return tracemalloc.get_traced_memory()[0] - base, worst


@pytest.mark.parametrize("shape", [SHAPE, (256, 256)])  # copied holding the GIL / np.copyto
def test_next_into_allocates_nothing_per_frame(shape):
    """Memory kept does not grow with the number of frames read, and a read allocates no
    object beyond an int (next(out=), measured beside it, builds a Frame and a dict)."""
    stack = np.zeros((4, *shape), np.uint16)
    records = np.zeros(4, META)
    out = np.zeros(shape, np.uint16)
    with (
        FrameRing.create(shape, "uint16", n_slots=4) as ring,
        FrameRing.create(shape, "uint16", n_slots=4) as other,
    ):
        into, by_next = ring.reader(), other.reader()
        tracemalloc.start()
        try:
            _read_cost(ring, lambda: into.next_into(stack, records, timeout=0, row=1), 50)  # warm
            _read_cost(other, lambda: by_next.next(timeout=0, out=out), 50)
            kept_few, peak_few = _read_cost(
                ring, lambda: into.next_into(stack, records, timeout=0, row=1), 100
            )
            kept_many, peak_many = _read_cost(
                ring, lambda: into.next_into(stack, records, timeout=0, row=2), 1000
            )
            _, peak_next = _read_cost(other, lambda: by_next.next(timeout=0, out=out), 100)
            _, peak_empty = _read_cost(ring, lambda: None, 100)  # what measuring itself costs
        finally:
            tracemalloc.stop()
        assert into.frames_lost == 0 and records["index"][2] == 1149
        assert stack[2, 0, 0] == 1149 % 3 and stack[2, -1, -1] == 1149 % 3
    assert kept_many - kept_few < 1024, (kept_few, kept_many)  # O(1), not O(frames)
    # at most a frame index as a Python int (32 B) alive at once, never an array or a dict
    assert max(peak_few, peak_many) <= peak_empty + 64, (peak_few, peak_many, peak_empty)
    assert peak_next > peak_empty + 128, (peak_next, peak_empty)  # the measure sees a Frame
