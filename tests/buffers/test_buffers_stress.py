"""A writer flat out against a reader: no torn frame is ever returned and every loss is counted."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from labkit.buffers import FrameRing, RingError

TOTAL = 1000
SHAPE = (512, 512)  # 512 KiB per frame: copies take long enough to be overwritten mid-copy


def _race_a_writer(reading) -> None:
    """A writer thread writes TOTAL frames flat out into a 2-slot ring (frame i is all ``i % 8``,
    z_um = i) while ``read = reading(reader)`` reads: ``read(row) -> (index, data, (meta_index,
    meta_z), intact)``.
    ``intact()`` is asked after the data was used; a frame it rejects is thrown away. No frame
    kept may be torn, and kept + thrown away + counted losses must be every frame written."""
    with FrameRing.create(SHAPE, "uint16", n_slots=2) as ring:
        reader = ring.reader("stress")
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


@pytest.mark.slow
@pytest.mark.parametrize("copy", [True, False])
def test_concurrent_writer_never_yields_a_torn_frame_and_counts_every_loss(copy):
    def reading(reader):
        def read(_row):
            frame = reader.next(timeout=10, copy=copy)
            meta = (frame.index, frame.meta["z_um"])
            return frame.index, frame.data, meta, (lambda: copy or frame.is_intact())

        return read

    _race_a_writer(reading)


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

    _race_a_writer(reading)


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
