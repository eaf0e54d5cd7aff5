"""The back half of the spool pipeline: compress workers, the writer and the flusher.

Mixed into :class:`labkit.spool._pipeline.Pipeline`, which owns the queues, counters and threads.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from typing import Any

import numpy as np

from labkit.spool._blocks import Block
from labkit.spool._errors import SpoolWriteError
from labkit.spool._sinks import DirectFrameSink, FrameSink

log = logging.getLogger(__name__)


class WriterStages:
    """Compress → write → flush; every method runs in a thread the Pipeline starts and joins."""

    counters: Any
    sink: FrameSink
    _direct_sink: DirectFrameSink | None
    compressor: Any
    journal: Any
    layout: Any
    error: BaseException | None
    source_error: str | None
    task_errors: list[str]
    state: str
    fsync: bool
    fsync_interval_s: float
    on_progress: Any
    on_done: Any
    final_attrs: Any
    _abort: threading.Event
    _journal_lock: threading.Lock
    _counter_lock: threading.Lock
    _free: queue.Queue
    _compress_q: queue.Queue
    _write_q: queue.Queue
    _flush_q: queue.Queue
    _n_compress: int
    _frames_meta: list

    def journal_event(self, record: dict[str, Any], sync: bool = True) -> None:
        raise NotImplementedError

    def journal_events(self, records: list[dict[str, Any]], sync: bool = False) -> None:
        raise NotImplementedError

    def flush_deferred(self) -> None:
        raise NotImplementedError

    def _defer(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    # compressors --------------------------------------------------------------------------
    def _compress_loop(self) -> None:
        while True:
            block = self._compress_q.get()
            if block is None:
                self._write_q.put(None)
                return
            if not self._abort.is_set():
                try:
                    t0 = time.perf_counter()
                    self.compressor.compress_block(block, self._codecs_behind)
                    with self._counter_lock:  # codec threads add up concurrently
                        self.counters.codec_s += time.perf_counter() - t0
                except Exception as exc:  # pragma: no cover - codec bug
                    log.exception("compression failed")
                    self.error = self.error or exc
                    self._abort.set()
            self._write_q.put(block)

    def _codecs_behind(self) -> bool:
        """Every buffer is in use and a shard waits for a codec thread: the codecs are the
        bottleneck (a CPU shared with other work) and the reader is about to wait while the
        ring overwrites frames. Frames then go at the codec's fast level."""
        return self._free.qsize() == 0 and self._compress_q.qsize() > 0

    # writer -------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        c = self.counters
        producers = max(1, self._n_compress)
        finished = 0
        pending: dict[int, Block] = {}
        next_seq = 0
        flusher = threading.Thread(
            target=self._flush_loop, name="labkit-spool-flusher", daemon=True
        )
        flusher.start()
        try:
            while finished < producers:
                item = self._write_q.get()
                if item is None:
                    finished += 1
                    continue
                pending[item.seq] = item
                while next_seq in pending:
                    block = pending.pop(next_seq)
                    next_seq += 1
                    self._write_block(block)
                    self._free.put(block)
            for block in pending.values():  # only after an abort mid-way
                c.frames_discarded += block.n
        finally:
            self._flush_q.put(None)
            flusher.join()
        self._finish()

    def _write_block(self, block: Block) -> None:
        """Write the shard (page cache), then hand its sync + journal line to the flusher."""
        c = self.counters
        if self._abort.is_set():
            c.frames_discarded += block.n
            if block.fd >= 0 and self._direct_sink is not None:
                self._direct_sink.discard_block(block)
            return
        try:
            t0 = time.perf_counter()
            nbytes, token = self.sink.write_block(block)
            c.write_s += time.perf_counter() - t0
        except Exception as exc:  # OSError, h5py/tifffile errors wrapping one
            self._fail(exc, block.n)
            return
        c.bytes_out += nbytes
        c.frames_out += block.n
        c.frames_fast_codec += block.n_fast  # counted here: one thread, written blocks only
        record = block.journal_record(self.sink.location(block.key))
        # listed now (the complete shard is in the page cache: it survives a process crash);
        # the flusher marks it synced once it is on the disk
        self.journal_event(record, sync=False)
        self._flush_q.put((token, block.seq, block.frames().copy()))  # not the record: freed now

    def _flush_loop(self) -> None:
        """Make shards durable in batches while the writer goes on.

        The writer journals each complete shard as soon as it is in the page cache (so a
        process crash loses at most the shard being assembled). Every ``fsync_interval_s``
        (and at the end) the flusher fdatasyncs the pending shards, journals them ``synced``
        and fdatasyncs the journal once: few disk flushes. A frame counts as written then.
        """
        last_emit = 0.0
        last_sync = time.monotonic()
        pending: list[tuple] = []
        done = False
        while not done:
            try:
                item = self._flush_q.get(timeout=0.05)
            except queue.Empty:
                item = ()
            if item is None:
                done = True
            elif item:
                pending.append(item)
            self.flush_deferred()  # dropped ranges etc. from the reader: page cache, no fsync
            now = time.monotonic()
            if pending and (done or not self.fsync or now - last_sync >= self.fsync_interval_s):
                self._flush_batch(pending)
                pending = []
                last_sync = now
            if now - last_emit > 0.25:
                last_emit = now
                self.on_progress()

    def _flush_batch(self, batch: list[tuple]) -> None:
        c = self.counters
        synced = []
        for k, (token, _, meta) in enumerate(batch):  # written before any error: keep them
            try:
                t0 = time.perf_counter()
                self.sink.sync(token, self.fsync)
                c.sync_s += time.perf_counter() - t0
            except Exception as exc:
                self._fail(exc, len(meta))
                for later, _, later_meta in batch[k + 1 :]:
                    self.sink.release(later)
                    c.frames_discarded += len(later_meta)
                break
            self._frames_meta.append(meta)
            c.frames_written += len(meta)
            synced.append({"event": "synced", "seq": batch[k][1]})
        self.journal_events(synced, sync=False)  # one write, then one fdatasync below
        with self._journal_lock:
            try:
                self.journal.sync()
            except OSError as exc:
                log.warning("could not sync the journal: %s", exc)

    def _fail(self, exc: BaseException, n_frames: int) -> None:
        c = self.counters
        c.frames_discarded += n_frames
        root: BaseException | None = exc
        while root is not None and not getattr(root, "errno", None):  # libraries wrap the OSError
            root = root.__cause__ or root.__context__
        errno = getattr(root, "errno", None) or 0
        reason = (
            getattr(root, "strerror", None)
            or f"{exc} (a short write: disk full or file size limit?)"
        )
        err = SpoolWriteError(
            errno,
            f"writing {self.sink.path} failed after {c.frames_out} frames: {reason}. "
            f"The {c.frames_out} frames written so far are readable with labkit.open_series; "
            "free disk space or pick another directory and start a new series.",
        )
        err.__cause__ = exc
        self.error = err
        self._abort.set()
        log.error("%s", err)
        self._defer({"event": "error", "message": str(err), "errno": errno})
        if threading.current_thread().name != "labkit-spool-reader":  # the reader never writes
            self.flush_deferred()

    def _finish(self) -> None:
        c = self.counters
        c.t_end = time.monotonic()
        status = "failed" if self.error else "complete"
        frames = (
            np.concatenate(self._frames_meta)
            if self._frames_meta
            else np.zeros(0, self.layout_meta_dtype())
        )
        per_frame = {
            k: [None if isinstance(v, float) and math.isnan(v) else v for v in frames[k].tolist()]
            for k in ("frame", "index", "timestamp_s", "exposure_ms", "z_um")
        }
        try:
            self.sink.finish(self.final_attrs(status, [per_frame]), c.frames_written)
        except Exception as exc:
            log.error("could not write the final metadata of %s: %s", self.sink.path, exc)
            if self.error is None:
                self.error = SpoolWriteError(
                    getattr(exc, "errno", 0) or 0, f"closing {self.sink.path} failed: {exc}"
                )
        try:
            self.sink.close()
        except Exception as exc:  # pragma: no cover
            log.error("closing %s failed: %s", self.sink.path, exc)
        self.journal_event(
            {
                "event": "stop",
                "status": "failed" if self.error else "complete",
                "frames": c.frames_written,
                "dropped": c.frames_dropped,
                "discarded": c.frames_discarded,
                "fast_codec": c.frames_fast_codec,
                "time": time.time(),
            }
        )
        with self._journal_lock:
            self.journal.close()
        self.state = "failed" if self.error else "finished"
        if self.on_done is not None:
            try:
                self.on_done()
            except Exception:  # pragma: no cover
                log.exception("closing the spool reader failed")
        self.on_progress()

    @staticmethod
    def layout_meta_dtype() -> np.dtype:
        from labkit.spool._layout import FRAME_META

        return FRAME_META
