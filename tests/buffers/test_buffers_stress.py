"""A writer flat out against a reader: no torn frame is ever returned and every loss is counted."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from labkit.buffers import FrameRing, RingError

TOTAL = 1000
SHAPE = (512, 512)  # 512 KiB per frame: copies take long enough to be overwritten mid-copy


def _race_a_writer(reading) -> tuple[int, int, int]:
    """A writer thread writes TOTAL frames flat out into a 2-slot ring (frame i is all ``i % 8``,
    z_um = i) while ``read = reading(reader)`` reads: ``read(row) -> (index, data, (meta_index,
    meta_z), intact)``.
    ``intact()`` is asked after the data was used; a frame it rejects is thrown away. No frame
    kept may be torn, and kept + thrown away + counted losses must be every frame written.

    Returns (copies the reader found torn and retried, frames thrown away, frames lost): the
    races this test is about, which the callers require to have happened."""
    with FrameRing.create(SHAPE, "uint16", n_slots=2) as ring:
        reader = ring.reader("stress")
        torn_copies = 0
        consumed = reader._consumed

        def count_torn(index: int, ok: bool) -> None:  # the reader's "copy was overwritten" path
            nonlocal torn_copies
            torn_copies += not ok
            consumed(index, ok)

        reader._consumed = count_torn
        read = reading(reader)
        frames = [np.full(SHAPE, i % 65536, np.uint16) for i in range(8)]
        writer = threading.Thread(
            target=lambda: [ring.write(frames[i % 8], z_um=i) for i in range(TOTAL)]
        )
        writer.start()
        seen: list[int] = []
        bad: list[tuple[int, int, int]] = []
        discarded = 0
        try:
            while len(seen) + discarded + reader.frames_lost < TOTAL:
                index, data, meta, intact = read(len(seen) % 2)
                lo, hi = int(data.min()), int(data.max())
                if not intact():
                    discarded += 1  # overwritten while we looked at it: must be thrown away
                    continue
                if lo != hi or lo != index % 8 or meta != (index, index):
                    bad.append((index, lo, hi))
                seen.append(index)
        finally:
            writer.join()
        assert ring.stats()["frames_written"] == TOTAL
        assert not bad, f"torn frames kept: {bad[:5]}"
        assert seen == sorted(set(seen)) and seen[-1] <= TOTAL - 1
        assert len(seen) + discarded + reader.frames_lost == TOTAL
        assert ring.stats()["readers"]["stress"]["frames_lost"] == reader.frames_lost
        with pytest.raises(TimeoutError):
            reader.next(timeout=0)
        return torn_copies, discarded, reader.frames_lost


def _until_raced(reading, hazard) -> None:
    """Race until ``hazard(torn_copies, discarded, lost)`` happened (20 races at most, each one
    checked in full; usually the first does it, but on a loaded machine the two threads may
    rarely overlap): a race that never produced the hazard would have tested nothing."""
    seen = []
    for _ in range(20):
        counts = _race_a_writer(reading)
        seen.append(counts)
        if hazard(*counts):
            return
    pytest.fail(f"the writer never raced the reader as required: {seen}")


@pytest.mark.slow
@pytest.mark.parametrize("copy", [True, False])
def test_concurrent_writer_never_yields_a_torn_frame_and_counts_every_loss(copy):
    def reading(reader):
        def read(_row):
            frame = reader.next(timeout=10, copy=copy)
            meta = (frame.index, frame.meta["z_um"])
            return frame.index, frame.data, meta, (lambda: copy or frame.is_intact())

        return read

    if copy:  # a copy the writer overwrote midway was detected and retried; frames were lapped
        _until_raced(reading, lambda torn, discarded, lost: torn > 0 and lost > torn)
    else:  # a zero-copy frame was overwritten while used, and is_intact() said so
        _until_raced(reading, lambda torn, discarded, lost: discarded > 0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["next_into", "next_meta_into"])
def test_next_into_under_a_concurrent_writer_never_keeps_a_torn_frame(method):
    """The same race for the allocation-free reads: next_into only returns frames copied
    whole, next_meta_into frames whose ring slot ``is_intact`` confirms after use."""

    def reading(reader):
        out = np.zeros((2, *SHAPE), np.uint16)
        meta = np.zeros(2, reader.meta_dtype)

        def read(row):
            if method == "next_into":
                index = reader.next_into(out, meta, timeout=10, row=row)
                data, intact = out[row], (lambda: True)
            else:
                index = reader.next_meta_into(meta, timeout=10, row=row)
                data, intact = reader.frame_view(index), (lambda: reader.is_intact(index))
            return index, data, (int(meta["index"][row]), float(meta["z_um"][row])), intact

        return read

    if method == "next_into":  # a copy overwritten midway was detected and retried
        _until_raced(reading, lambda torn, discarded, lost: torn > 0)
    else:  # a slot was overwritten while its pixels were used, and is_intact() said so
        _until_raced(reading, lambda torn, discarded, lost: discarded > 0)


def test_write_and_claim_from_two_threads_at_once_is_refused():
    with FrameRing.create((4, 4), "uint8", n_slots=2) as ring:
        with ring.claim():
            with pytest.raises(RingError, match="one thread at a time"):
                ring.write(np.zeros((4, 4), np.uint8))
        assert ring.write(np.zeros((4, 4), np.uint8)) == 1


def test_a_producer_that_waits_for_its_readers_loses_nothing():
    total, shape = 300, (128, 128)
    with FrameRing.create(shape, "uint16", n_slots=3) as ring:
        assert ring.wait_for_readers(max_lag=1, timeout=0)  # no readers: nothing to wait for
        reader = ring.reader("slow")
        waits_ok: list[bool] = []

        def produce():
            for i in range(total):
                waits_ok.append(ring.wait_for_readers(max_lag=ring.n_slots - 2, timeout=10))
                ring.write(np.full(shape, i % 65536, np.uint16))

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            got = []
            for _ in range(total):
                frame = reader.next(timeout=10)
                got.append(int(frame.data[0, 0]))
                if frame.index % 50 == 0:
                    threading.Event().wait(0.02)  # a slow consumer now and then
        finally:
            producer.join()
        assert all(waits_ok) and got == list(range(total)) and reader.frames_lost == 0
        with pytest.raises(TimeoutError):
            reader.next(timeout=0)
        ring.write(np.zeros(shape, np.uint16))
        ring.write(np.zeros(shape, np.uint16))
        assert not ring.wait_for_readers(max_lag=1, timeout=0.05)  # the reader is 2 behind
