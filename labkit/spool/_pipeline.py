"""The spool pipeline: ring reader → shard assembly → compress workers → one writer thread.

Queues are bounded by a fixed pool of preallocated shard buffers. When the disk or the
compressors fall behind, the *spool reader* waits for a free buffer; the camera never waits:
the ring overwrites, the reader is told how many frames it lost, and every lost frame is
counted and journaled. All threads are joined by ``stop()``/``join()``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import RingError
from labkit.spool._blocks import Block, Compressor
from labkit.spool._journal import Journal
from labkit.spool._layout import Layout
from labkit.spool._settings import AcquisitionProtocol
from labkit.spool._sinks import DirectFrameSink, FrameSink
from labkit.spool._writer import WriterStages

log = logging.getLogger(__name__)


class Counters:
    """Plain counters, each written by one thread and read by anyone."""

    def __init__(self) -> None:
        self.frames_in = 0  # kept by the reader
        self.frames_written = 0  # on disk (synced) and journaled
        self.frames_out = 0  # handed to the file (page cache)
        self.frames_dropped = 0  # lost in the ring (reader too slow)
        self.frames_discarded = 0  # read but not written because of a write error
        self.frames_skipped_moving = 0  # exposed while the stage moved (z-stepping)
        self.frames_fast_codec = 0  # stored at the codec's fast level (codecs fell behind)
        self.first_timestamp_s: float | None = None  # the first kept frame's: traces start there
        self.bytes_in = 0
        self.bytes_out = 0
        # where the time went (s), timed per shard, not per frame: the reader waiting for a free
        # buffer (backpressure), codec threads compressing (summed), the writer writing shards,
        # the flusher in fdatasync
        self.wait_buffer_s = 0.0
        self.codec_s = 0.0
        self.write_s = 0.0
        self.sync_s = 0.0
        self.t_start = time.monotonic()
        self.t_end: float | None = None


class Pipeline(WriterStages):
    def __init__(
        self,
        reader: Any,
        layout: Layout,
        sink: FrameSink,
        compressor: Compressor,
        journal: Journal,
        *,
        max_frames: int | None,
        protocol: AcquisitionProtocol,
        z_positions_um: list[float],
        move_stage: Callable[[float], None] | None,
        on_progress: Callable[[], None],
        final_attrs: Callable[[str, list], dict],
        n_buffers: int = 4,
        n_compress: int = 2,
        fsync: bool = True,
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.reader = reader
        self.layout = layout
        self.sink = sink
        self.compressor = compressor
        self.journal = journal
        self.max_frames = max_frames
        self.protocol = protocol
        self.z_positions_um = z_positions_um
        self.move_stage = move_stage
        self.on_progress = on_progress
        self.final_attrs = final_attrs
        self.counters = Counters()
        self.error: BaseException | None = None
        self.task_errors: list[str] = []
        self.source_error: str | None = None
        self.on_done: Callable[[], None] | None = None
        self.state = "running"
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._journal_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        # uncompressed frames of a direct sink go from the ring slot straight into the shard file
        self._direct_sink: DirectFrameSink | None = (
            sink
            if isinstance(sink, DirectFrameSink)
            and sink.supports_direct()
            and not compressor.enabled
            else None
        )
        self.direct = self._direct_sink is not None
        self._free: queue.Queue[Block] = queue.Queue()
        out_bytes = compressor.bound(layout.frame_bytes) if compressor.enabled else 0
        for _ in range(n_buffers):
            self._free.put(Block(layout, with_pixels=not self.direct, out_bytes=out_bytes))
        # journal records from the reader (dropped ranges, task errors) wait here: the reader
        # never writes or syncs the journal; the writer/flusher write them in batches
        self._deferred: list[dict[str, Any]] = []
        self._deferred_lock = threading.Lock()
        self._n_compress = n_compress if compressor.enabled else 0
        self._compress_q: queue.Queue[Block | None] = queue.Queue()
        self._write_q: queue.Queue[Block | None] = queue.Queue()
        self._flush_q: queue.Queue[tuple | None] = queue.Queue(maxsize=2)
        self.fsync = fsync
        self.fsync_interval_s = fsync_interval_s
        self._frames_meta: list[np.ndarray] = []
        self._threads = [
            threading.Thread(target=self._read_loop, name="labkit-spool-reader", daemon=True)
        ]
        self._threads += [
            threading.Thread(
                target=self._compress_loop, name=f"labkit-spool-compress-{i}", daemon=True
            )
            for i in range(self._n_compress)
        ]
        self._threads.append(
            threading.Thread(target=self._write_loop, name="labkit-spool-writer", daemon=True)
        )

    # control ------------------------------------------------------------------------------
    def start(self) -> None:
        for t in self._threads:
            t.start()

    def request_stop(self) -> None:
        """Finish gracefully: stop reading, write every frame already read, close the series."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    @property
    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def journal_event(self, record: dict[str, Any], sync: bool = True) -> None:
        """Append ``record`` now (writer/flusher threads; the reader uses ``_defer``)."""
        self.journal_events([record], sync)

    def journal_events(self, records: list[dict[str, Any]], sync: bool = False) -> None:
        """The deferred reader records, then ``records``: one ``write`` for all of them."""
        with self._journal_lock:  # taken first: records reach the file in the order taken
            with self._deferred_lock:
                pending, self._deferred = self._deferred, []
            if not pending and not records:
                return
            try:
                self.journal.append_many(pending + records, sync=sync)
            except OSError as exc:  # the data path reports the disk problem; keep going
                log.warning("could not journal %d record(s): %s", len(pending) + len(records), exc)

    def flush_deferred(self) -> None:
        """Write what the reader deferred (the flusher calls this ~20 times a second)."""
        if self._deferred:
            self.journal_events([], sync=False)

    def _defer(self, record: dict[str, Any]) -> None:
        with self._deferred_lock:
            self._deferred.append(record)

    def _note_drop(self, first: int, last: int, before_frame: int, torn: bool = False) -> None:
        """Count ring frames ``first..last`` as dropped and queue one journal range for them.

        Contiguous losses before the same kept frame merge into one record; the reader does no
        I/O here (a journal write + fdatasync per drop used to stall it into more drops).
        """
        count = last - first + 1
        self.counters.frames_dropped += count
        with self._deferred_lock:
            prev = self._deferred[-1] if self._deferred else None
            if (
                prev is not None
                and prev.get("event") == "dropped"
                and prev["ring_index"][1] + 1 == first
                and prev["before_frame"] == before_frame
                and bool(prev.get("torn")) == torn
            ):
                prev["count"] += count
                prev["ring_index"][1] = last
                return
            record: dict[str, Any] = {
                "event": "dropped",
                "count": count,
                "before_frame": before_frame,
                "ring_index": [first, last],
            }
            if torn:
                record["torn"] = True
            self._deferred.append(record)

    # reader -------------------------------------------------------------------------------
    def _run_tasks(self, tasks: list, where: str) -> None:
        for task in tasks:
            try:
                task.run()
            except Exception as exc:  # a failed task is reported, the frames keep coming
                msg = f"protocol task {getattr(task.fn, '__name__', task.fn)!r} at {where} failed: {exc!r}"
                log.error(msg)
                self.task_errors.append(msg)
                self._defer({"event": "task_error", "where": where, "message": msg})

    def _move_z(self, z_index: int) -> float:
        z = self.z_positions_um[z_index]
        if self.move_stage is not None:
            self.move_stage(z)
        return time.time()

    def _next_free_block(self) -> Block | None:
        while not self._abort.is_set():
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _discard(self, block: Block) -> None:
        if block.fd >= 0 and self._direct_sink is not None:
            self._direct_sink.discard_block(block)
        self._free.put(block)

    def _submit(self, block: Block) -> None:
        (self._compress_q if self._n_compress else self._write_q).put(block)

    def _read_loop(self) -> None:
        c = self.counters
        layout = self.layout
        reader = self.reader
        tasks = sorted(self.protocol.tasks, key=lambda t: t.frame)
        next_task = 0
        block: Block | None = None
        seq = 0
        last_index = -1
        settle_after = 0.0
        try:
            self._run_tasks(self.protocol.at_start, "start")
            if layout.n_z:
                settle_after = self._move_z(0)
            while not self._stop.is_set() and not self._abort.is_set():
                if self.max_frames is not None and c.frames_in >= self.max_frames:
                    break
                while next_task < len(tasks) and tasks[next_task].frame <= c.frames_in:
                    self._run_tasks([tasks[next_task]], f"frame {tasks[next_task].frame}")
                    next_task += 1
                n = c.frames_in
                key, slot = layout.shard_of(n)
                if block is None or key != block.key:
                    if block is not None:
                        self._submit(block)
                        block = None
                    t_wait = time.perf_counter()
                    block = self._next_free_block()
                    c.wait_buffer_s += time.perf_counter() - t_wait
                    if block is None:
                        break
                    block.reset(key, seq)
                    seq += 1
                    if self._direct_sink is not None:
                        try:
                            self._direct_sink.open_block(block)
                        except OSError as exc:
                            self._fail(exc, 0)
                            break
                try:  # no Frame, dict or view per frame: pixels and header copied by address
                    if self.direct:  # pixels stay in the ring slot, written to disk from there
                        index = reader.next_meta_into(block.meta, timeout=0.1, row=slot)
                    else:
                        index = reader.next_into(block.raw, block.meta, timeout=0.1, row=slot)
                except TimeoutError:
                    continue
                except RingError as exc:  # the engine closed the ring or died: keep what we have
                    self.source_error = str(exc)
                    self._defer({"event": "source_closed", "message": str(exc), "frames": n})
                    log.warning("spool source ended after %d frames: %s", n, exc)
                    break
                if last_index >= 0 and index > last_index + 1:
                    self._note_drop(last_index + 1, index - 1, n)
                last_index = index
                if settle_after and block.meta_timestamp_s[slot] < settle_after:
                    c.frames_skipped_moving += 1
                    continue
                if self._direct_sink is not None:
                    try:
                        t_write = time.perf_counter()
                        self._direct_sink.write_frame(block, slot, reader.frame_view(index))
                        c.write_s += time.perf_counter() - t_write
                    except OSError as exc:
                        self._fail(exc, block.n)
                        break
                    if not reader.is_intact(index):  # the camera lapped us while we wrote it
                        self._note_drop(index, index, n, torn=True)
                        continue
                block.add_slot(slot)
                block.meta_frame[slot] = n  # index..y_um came with the frame
                if n == 0:
                    c.first_timestamp_s = float(block.meta_timestamp_s[slot])
                c.frames_in = n + 1
                c.bytes_in += layout.frame_bytes
                if layout.n_z and (n + 1) % layout.z_dwell == 0:
                    if self.max_frames is None or n + 1 < self.max_frames:
                        settle_after = self._move_z(layout.position(n + 1)[1])
        except BaseException as exc:
            log.exception("spool reader failed")
            self.error = self.error or exc
            self._abort.set()
        finally:
            if block is not None and block.n and not self._abort.is_set():
                self._submit(block)
            elif block is not None:
                self._discard(block)
            try:
                self._run_tasks(self.protocol.at_end, "end")
            finally:
                for _ in range(max(1, self._n_compress)):
                    (self._compress_q if self._n_compress else self._write_q).put(None)
