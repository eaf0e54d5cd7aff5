"""Rings and trace buffers across real (spawned) processes: readers, crashes, ownership."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal

import numpy as np
import pytest
from _buffers_children import attach_and_exit, own_and_hang, read_frames

from labkit.buffers import FrameRing, RingError, TraceBuffer, sweep_stale_segments

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT_S = 30


def recv_json(conn) -> dict:
    assert conn.poll(TIMEOUT_S), "child process did not answer"
    return json.loads(conn.recv_bytes())


def start(target, *args):
    parent, child = SPAWN.Pipe()
    proc = SPAWN.Process(target=target, args=(*args, child), daemon=True)
    proc.start()
    child.close()
    return proc, parent


def stop(proc, conn) -> None:
    proc.join(TIMEOUT_S)
    if proc.is_alive():  # pragma: no cover - only on failure
        proc.kill()
        proc.join()
    conn.close()


@pytest.mark.slow
def test_reader_in_another_process_reads_frames_and_shows_in_owner_stats():
    n = 12
    with FrameRing.create((64, 32), "uint16", n_slots=16) as ring:
        proc, conn = start(read_frames, ring.name, n)
        try:
            assert conn.poll(TIMEOUT_S) and conn.recv_bytes() == b"ready"
            expected = []
            for i in range(n):
                data = np.random.default_rng(i).integers(0, 4096, (64, 32), dtype=np.uint16)
                ring.write(data, z_um=0.5 * i)
                expected.append([i, int(data.sum(dtype="int64")), int(data[0, 0]), 0.5 * i])
            result = recv_json(conn)
            assert result == {"frames": expected, "lost": 0}
            stats = ring.stats()["readers"]
            assert stats["child"]["pid"] == proc.pid and stats["child"]["lag"] == 0
            conn.send_bytes(b"done")
        finally:
            stop(proc, conn)
        assert proc.exitcode == 0


@pytest.mark.slow
def test_consumer_exiting_without_close_does_not_unlink_and_its_reader_slot_is_reclaimed():
    with (
        FrameRing.create((8, 8), "uint16", n_slots=4) as ring,
        TraceBuffer.create(("v",), capacity=8) as trace,
    ):
        ring.write(np.full((8, 8), 42, np.uint16))
        trace.write([1.0, 2.0, 3.0], [[10.0], [20.0], [30.0]])
        proc, conn = start(attach_and_exit, ring.name, trace.name)
        try:
            assert recv_json(conn) == {"index": 0, "value": 42, "t": [1.0, 2.0, 3.0]}
        finally:
            stop(proc, conn)
        assert proc.exitcode == 0
        # the child's resource tracker / exit handlers removed nothing
        assert os.path.exists(f"/dev/shm/{ring.name}") and os.path.exists(f"/dev/shm/{trace.name}")
        assert ring.write(np.zeros((8, 8), np.uint16)) == 1
        reader = ring.reader("mine")
        assert int(reader.latest().data[0, 0]) == 0
        assert list(ring.stats()["readers"]) == ["mine"]  # the dead child's 'leaver' was reclaimed
        trace.write([4.0], [[40.0]])
        assert trace.reader().latest(2)[0].tolist() == [3.0, 4.0]


@pytest.mark.slow
def test_kill_9_owner_leaves_segments_that_the_sweep_removes():
    proc, conn = start(own_and_hang)
    try:
        names = recv_json(conn)
        with FrameRing.attach(names["ring"]) as attached:
            reader = attached.reader()
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(TIMEOUT_S)
            assert proc.exitcode == -signal.SIGKILL
            # the kill released the owner's lock, so a sweep removes the names it left: this
            # one, or one of any labkit process that creates a ring (a parallel pytest worker
            # may get there first, so which sweep removed them is not asserted)
            assert not attached.owner_alive()
            sweep_stale_segments()
            assert not any(os.path.exists(f"/dev/shm/{name}") for name in names.values())
            # a reader waiting on a dead owner is told so instead of hanging
            with pytest.raises(RingError, match="died"):
                reader.next(timeout=3)
            frames, lost = reader.read(0, 1)  # our mapping outlives the owner and the name
            assert lost == 0 and int(frames[0].data[0, 0]) == 1
            reader._owner_checked_at -= 2  # latest() checks the owner at most once a second
            with pytest.raises(RingError, match="died"):
                reader.latest()  # a viewer is told instead of showing the last frame forever
    finally:
        stop(proc, conn)


def test_sweep_leaves_segments_of_live_owners_alone():
    with (
        FrameRing.create((4, 4), "uint8", n_slots=2) as ring,
        TraceBuffer.create("x", capacity=4) as trace,
    ):
        assert ring.name.startswith(f"labkit-{os.getpid()}-")
        assert not {ring.name, trace.name} & set(sweep_stale_segments())
        assert os.path.exists(f"/dev/shm/{ring.name}") and os.path.exists(f"/dev/shm/{trace.name}")
    assert not os.path.exists(f"/dev/shm/{ring.name}") and not os.path.exists(
        f"/dev/shm/{trace.name}"
    )


def test_a_forked_child_neither_unlinks_nor_closes_nor_writes_the_parents_ring():
    with (
        FrameRing.create((4, 4), "uint8", n_slots=2) as ring,
        TraceBuffer.create("x", capacity=4) as trace,
    ):
        reader = ring.reader("parent")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: try everything an inherited object could do, report, and leave
            code = 0
            try:
                try:
                    ring.write(np.zeros((4, 4), np.uint8))
                    code |= 1
                except RingError:
                    pass
                reader.close()
                ring.close()
                trace.close()
            except BaseException:
                code |= 2
            os.write(write_fd, bytes([code]))
            os._exit(0)
        os.close(write_fd)
        try:
            code = os.read(read_fd, 1)
        finally:
            os.close(read_fd)
            os.waitpid(pid, 0)
        assert code == b"\x00", f"child status {code!r}: 1 = it could write, 2 = closing raised"
        assert os.path.exists(f"/dev/shm/{ring.name}") and os.path.exists(f"/dev/shm/{trace.name}")
        assert not ring.owner_closed and "parent" in ring.stats()["readers"]
        assert ring.write(np.ones((4, 4), np.uint8)) == 0
        assert reader.next(timeout=1).index == 0
