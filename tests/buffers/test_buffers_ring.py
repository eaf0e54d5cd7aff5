"""FrameRing / RingReader in one process (thread mode)."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

from labkit.buffers import FrameRing, RingError, RingReader, TraceBuffer

SHAPE = (16, 24)


def frame_of(value: int) -> np.ndarray:
    return np.full(SHAPE, value, dtype=np.uint16)


@pytest.fixture
def ring():
    with FrameRing.create(SHAPE, "uint16", n_slots=4) as r:
        yield r


def test_round_trip_with_metadata(ring):
    reader = ring.reader("viewer")
    data = np.arange(np.prod(SHAPE), dtype=np.uint16).reshape(SHAPE)
    index = ring.write(data, timestamp_s=12.5, exposure_ms=10, z_um=1.5, x_um=-2, y_um=3.25)
    assert index == 0 and ring.frames_written == 1
    frame = reader.next(timeout=1)
    assert frame.index == 0
    np.testing.assert_array_equal(frame.data, data)
    assert not frame.is_view and frame.is_intact()
    assert repr(frame).startswith(
        "<Frame 0 uint16[16, 24] copy t=12.500000 exposure_ms=10, z_um=1.5"
    )
    assert frame.timestamp_s == 12.5
    assert frame.meta == {
        "timestamp_s": 12.5,
        "exposure_ms": 10.0,
        "z_um": 1.5,
        "x_um": -2.0,
        "y_um": 3.25,
    }
    # a copy is independent of the slot
    data[:] = 0
    ring.write(data)
    assert frame.data[0, 1] == 1
    second = reader.next(timeout=1)
    assert second.index == 1 and math.isnan(second.meta["z_um"]) and second.timestamp_s > 1e9
    assert reader.cursor == 2 and reader.lag == 0 and reader.frames_lost == 0


def test_claim_writes_in_place_and_publishes_on_exit(ring):
    reader = ring.reader()
    with ring.claim() as slot:
        slot.array[:] = 7
        slot.meta.update(exposure_ms=3, z_um=4)
        assert ring.frames_written == 0  # not published yet
        assert reader.latest() is None
    assert ring.frames_written == 1
    frame = reader.next(timeout=1)
    assert frame.index == 0 and int(frame.data.max()) == 7 and frame.meta["exposure_ms"] == 3.0


def test_reader_behind_gets_exact_lost_count_and_newest_frames(ring):
    reader = ring.reader("slow")
    n = ring.n_slots
    for i in range(3 * n):
        ring.write(frame_of(i), z_um=i)
    assert ring.stats()["readers"]["slow"] == {
        "lag": 3 * n,
        "frames_lost": 2 * n,
        "cursor": 0,
        "pid": os.getpid(),
    }
    got = [reader.next(timeout=1) for _ in range(n)]
    assert [f.index for f in got] == list(range(2 * n, 3 * n))
    assert [int(f.data[0, 0]) for f in got] == list(range(2 * n, 3 * n))
    assert [f.meta["z_um"] for f in got] == [float(i) for i in range(2 * n, 3 * n)]
    assert reader.frames_lost == 2 * n
    assert ring.stats()["readers"]["slow"]["frames_lost"] == 2 * n
    with pytest.raises(TimeoutError):
        reader.next(timeout=0.01)


def test_drain_and_random_access_read(ring):
    reader = ring.reader()
    for i in range(6):
        ring.write(frame_of(i))
    frames, lost = reader.read(0, 10)  # 0, 1 overwritten; 6.. not written yet
    assert [f.index for f in frames] == [2, 3, 4, 5] and lost == 2
    assert reader.cursor == 0 and reader.frames_lost == 0  # random access moves nothing
    frames, lost = reader.drain(max_frames=3)
    assert [f.index for f in frames] == [2, 3, 4] and lost == 2 and reader.frames_lost == 2
    frames, lost = reader.drain()
    assert [f.index for f in frames] == [5] and lost == 0
    with pytest.raises(ValueError, match="start <= stop"):
        reader.read(3, 1)


def test_torn_read_detected_while_writer_is_in_the_slot(ring):
    reader = ring.reader()
    for i in range(4):
        ring.write(frame_of(i))
    view = reader.latest(copy=False)
    oldest = reader.read(0, 1, copy=False)[0][0]
    assert view.is_view and view.is_intact() and oldest.is_intact()
    with ring.claim() as slot:  # frame 4 goes into slot 0, still holding frame 0
        slot.array[:] = 99  # a half-written frame is in the slot
        assert not oldest.is_intact()  # seq is odd: the view no longer holds frame 0
        frames, lost = reader.read(0, 4)
        assert [f.index for f in frames] == [1, 2, 3] and lost == 1
        with pytest.raises(BufferError, match="overwritten"):
            oldest.copy()
    assert view.is_intact()  # frame 3 (slot 3) untouched
    for i in range(5, 8):
        ring.write(frame_of(i))
    assert not view.is_intact()  # slot 3 now holds frame 7
    assert int(view.data[0, 0]) == 7  # the memory changed under the view, and is_intact said so


def test_aborted_claim_publishes_nothing_and_the_old_frame_counts_as_lost(ring):
    reader = ring.reader()
    for i in range(4):
        ring.write(frame_of(i))
    with pytest.raises(ZeroDivisionError), ring.claim() as slot:
        slot.array[:] = 1
        _ = 1 / 0
    assert ring.frames_written == 4
    frames, lost = reader.read(0, 4)
    assert [f.index for f in frames] == [1, 2, 3] and lost == 1
    assert ring.write(frame_of(4)) == 4  # the next write reuses the index
    assert int(reader.latest().data[0, 0]) == 4


def test_next_blocks_without_spinning_and_times_out(ring):
    reader = ring.reader()
    thread0, process0, t0 = time.thread_time(), time.process_time(), time.monotonic()
    with pytest.raises(TimeoutError, match="no new frame within 0.5 s"):
        reader.next(timeout=0.5)
    waited = time.monotonic() - t0
    thread_cpu, process_cpu = time.thread_time() - thread0, time.process_time() - process0
    assert waited >= 0.5
    assert thread_cpu < 0.05, f"waiting 0.5 s burned {thread_cpu:.3f} s of CPU: busy-spin"
    assert process_cpu < 0.1, f"the process burned {process_cpu:.3f} s of CPU while waiting"


def test_next_wakes_when_another_thread_writes(ring):
    reader = ring.reader()
    writer = threading.Thread(target=lambda: (time.sleep(0.2), ring.write(frame_of(5), z_um=2)))
    writer.start()
    try:
        frame = reader.next(timeout=10)
    finally:
        writer.join()
    assert frame.index == 0 and int(frame.data[0, 0]) == 5 and frame.meta["z_um"] == 2.0


def test_out_parameter_reuses_a_buffer(ring):
    reader = ring.reader()
    ring.write(frame_of(3))
    out = np.zeros(SHAPE, np.uint16)
    frame = reader.next(timeout=1, out=out)
    assert frame.data is out and int(out[0, 0]) == 3
    with pytest.raises(ValueError, match=r"uint16 array of shape \(16, 24\)"):
        reader.latest(out=np.zeros((2, 2), np.uint16))
    with pytest.raises(ValueError, match="needs copy=True"):
        reader.latest(copy=False, out=out)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        reader.latest(out=out)
    strided = np.zeros((SHAPE[0], 2 * SHAPE[1]), np.uint16)[:, ::2]  # any layout still works
    assert reader.latest(out=strided).data is strided and int(strided[-1, -1]) == 3


def test_bad_frames_and_metadata_raise_errors_that_say_what_the_ring_expects(ring):
    with pytest.raises(
        ValueError, match=r"holds uint16 frames of shape \(16, 24\); got float32 \(16, 24\)"
    ):
        ring.write(np.zeros(SHAPE, np.float32))
    with pytest.raises(
        ValueError, match=r"holds uint16 frames of shape \(16, 24\); got uint16 \(24, 16\)"
    ):
        ring.write(np.zeros((24, 16), np.uint16))
    with pytest.raises(TypeError, match="expects a numpy array"):
        ring.write([[0] * 24] * 16)
    with pytest.raises(TypeError, match=r"unknown frame metadata 'exposure'.*exposure_ms, z_um"):
        ring.write(frame_of(1), exposure=5)
    with pytest.raises(TypeError, match="index is assigned by the ring"):
        ring.write(frame_of(1), index=3)
    with pytest.raises(TypeError, match="z_um='high' must be a number"):
        ring.write(frame_of(1), z_um="high")
    with pytest.raises(TypeError, match="unknown frame metadata 'gain'"), ring.claim() as slot:
        slot.meta["gain"] = 2
    assert ring.frames_written == 0  # nothing was published by any of these
    with pytest.raises(ValueError, match="at least 2 slots"):
        FrameRing.create(SHAPE, "uint16", n_slots=1)
    with pytest.raises(TypeError, match="plain numeric"):
        FrameRing.create(SHAPE, object)
    with pytest.raises(ValueError, match="invalid shared-memory name 'a/b'"):
        FrameRing.create(SHAPE, "uint16", name="a/b")
    with pytest.raises(RingError, match="already exists"):
        FrameRing.create(SHAPE, "uint16", name=ring.name)


def test_attached_ring_reads_but_never_writes(ring):
    ring.write(frame_of(1))
    with FrameRing.attach(ring.name) as attached:
        assert (attached.shape, attached.dtype, attached.n_slots) == (
            ring.shape,
            ring.dtype,
            ring.n_slots,
        )
        assert attached.frames_written == 1 and not attached.owner
        with pytest.raises(RingError, match="only its owner"):
            attached.write(frame_of(2))
        other = attached.reader("other")
        frame = other.latest()
        assert int(frame.data[0, 0]) == 1
        assert set(ring.stats()["readers"]) == {"other"}
    assert ring.stats()["readers"] == {}  # closing the attached ring closed its reader
    assert os.path.exists(f"/dev/shm/{ring.name}")
    with pytest.raises(RingError, match="no shared-memory segment named 'labkit_0_nothing'"):
        FrameRing.attach("labkit_0_nothing")


def test_reader_registry_fills_and_frees(ring, caplog):
    readers = [ring.reader(f"r{i}") for i in range(64)]
    assert ring.min_reader_cursor() == 0
    extra = ring.reader("one too many")  # still works, just not listed
    assert not extra.registered and "not listed in ring.stats()" in caplog.text
    ring.write(frame_of(1))
    assert extra.next(timeout=1).index == 0 and "one too many" not in ring.stats()["readers"]
    assert ring.min_reader_cursor() == 0  # the registered readers have not read anything
    readers[3].close()
    again = ring.reader("again")
    assert (
        again.registered
        and "again" in ring.stats()["readers"]
        and "r3" not in ring.stats()["readers"]
    )
    del readers[5]  # a reader dropped without close() frees its slot when collected
    assert "r5" not in ring.stats()["readers"]
    for reader in readers:
        reader.close()
    assert ring.min_reader_cursor() == 1  # only 'again' is left; it started after frame 0
    again.close()
    assert ring.min_reader_cursor() is None
    extra.close()
    with pytest.raises(RingError, match="closed"):
        extra.next(timeout=0)


def test_owner_close_wakes_a_waiting_reader_in_another_thread():
    ring = FrameRing.create(SHAPE, "uint16", n_slots=2)
    attached = RingReader.attach(ring.name, "waiter")
    errors: list[BaseException] = []

    def wait():
        try:
            attached.next(timeout=10)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.2)
    ring.close()
    thread.join(9)  # well before the reader's own 10 s timeout
    assert not thread.is_alive()
    assert (
        len(errors) == 1
        and isinstance(errors[0], RingError)
        and "closed by its owner" in str(errors[0])
    )
    assert not os.path.exists(f"/dev/shm/{ring.name}")
    with pytest.raises(RingError, match="closed by its owner"):
        attached.latest()  # no stale frame from a ring the engine replaced
    attached.close()


def test_zero_copy_frames_outlive_close_without_errors():
    ring = FrameRing.create(SHAPE, "uint16", n_slots=2)
    ring.write(frame_of(9))
    view = ring.reader().latest(copy=False)
    ring.close()  # must not raise BufferError although a view is alive
    assert not os.path.exists(f"/dev/shm/{ring.name}")
    assert int(view.data[0, 0]) == 9  # still mapped, no crash
    with pytest.raises(RingError, match="closed"):
        ring.write(frame_of(1))
    del view


def test_notify_word_wraps_without_warnings(ring):
    reader = ring.reader()
    ring._layout.notify[0] = 0xFFFFFFFF
    ring.write(frame_of(1))
    assert int(ring._layout.notify[0]) == 0
    assert reader.next(timeout=1).index == 0


def test_readers_registered_from_many_threads_get_distinct_slots(ring):
    readers: list[RingReader] = []
    lock = threading.Lock()

    def register(k: int) -> None:
        for j in range(2):
            reader = ring.reader(f"t{k}-{j}")
            with lock:
                readers.append(reader)

    threads = [threading.Thread(target=register, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ring.stats()["readers"]) == 16
    assert len({r._slot for r in readers}) == 16


def test_attach_waits_for_an_owner_that_is_still_writing_the_header():
    from labkit.buffers._layout import READER_SLOTS, RingLayout, segment_size
    from labkit.buffers._shm import Segment, new_segment_name

    dtype = np.dtype("uint16")
    segment = Segment.create(new_segment_name(), segment_size(SHAPE, dtype, 2, READER_SLOTS))
    try:
        timer = threading.Timer(
            0.2, RingLayout.initialize, (segment, SHAPE, dtype, 2, READER_SLOTS)
        )
        timer.start()
        with FrameRing.attach(segment.name) as attached:  # magic still zero: retried
            assert attached.shape == SHAPE and attached.n_slots == 2
        timer.join()
    finally:
        segment.close()
    with (
        TraceBuffer.create("x", capacity=4) as trace,
        pytest.raises(RingError, match="not a labkit frame ring"),
    ):
        FrameRing.attach(trace.name)  # a different kind of segment fails at once


def test_iterating_a_reader_ends_when_the_owner_closes_the_ring():
    ring = FrameRing.create(SHAPE, "uint16", n_slots=4)
    reader = RingReader.attach(ring.name, "iter")
    for i in range(3):
        ring.write(frame_of(i))
    ring.close()
    assert [int(f.data[0, 0]) for f in reader] == [
        0,
        1,
        2,
    ]  # frames written before the close, then the end
    reader.close()


def test_a_ring_larger_than_dev_shm_is_refused_up_front():
    with pytest.raises(
        RingError, match=r"needs .* MB but /dev/shm has only .* MB free; use fewer slots"
    ):
        FrameRing.create((1 << 20, 1 << 20), "uint16", n_slots=2)  # 4 TB
