"""``SpoolController``: settings, naming, preflight and starting series (``scope.spool``)."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labkit.protocols import Step, StepError, StepRunner
from labkit.spool import _naming
from labkit.spool._blocks import Compressor
from labkit.spool._errors import SeriesExistsError, SpoolError, SpoolPreflightError
from labkit.spool._handle import SpoolHandle, SpoolState
from labkit.spool._interactive import Confirm
from labkit.spool._journal import Journal, journal_path
from labkit.spool._layout import Layout
from labkit.spool._pipeline import Pipeline
from labkit.spool._preflight import PreflightReport, free_bytes
from labkit.spool._series_preflight import preflight_series
from labkit.spool._settings import (
    DEFAULTS,
    METHOD_CODECS,
    AcquisitionProtocol,
    Task,
    copy_settings,
    validate,
    z_positions,
)
from labkit.spool._sinks import SINKS
from labkit.spool._store import ObjectJournal, ObjectStore, is_url
from labkit.spool._streams import CameraSource, plan_streams
from labkit.spool._trace_recorder import TraceRecorder
from labkit.spool._zarr import ome_attrs

log = logging.getLogger(__name__)

PREFLIGHT_MODES = ("interactive", "warn", "abort", "skip")
MAX_FRAMES_IN_ATTRS = 100_000


class SpoolHost(Protocol):
    """What the spooler needs from a scope (see docs/internals.md).

    A host with named streams (a Scope) also has ``streams() -> {name: StreamInfo}``,
    ``open_trace_reader(stream)``, and takes ``stream=`` in ``open_reader``,
    ``frame_rate_hz`` and ``pixel_size_um``: then ``frames_stream``/``trace_streams`` work.
    """

    ring_name: str

    def open_reader(self, name: str) -> Any: ...
    def frame_rate_hz(self) -> float: ...
    def device_settings(self) -> dict: ...
    def move_stage(self, z_um: float, wait: bool = True) -> None: ...
    def set_property(self, device: str, name: str, value: Any) -> None: ...
    def emit(self, topic: str, payload: dict) -> None: ...
    def pixel_size_um(self) -> float: ...


class SpoolController:
    """Records series from a scope's ring to disk. ``scope.spool`` is one of these.

    ``start(...)`` returns a :class:`SpoolHandle` at once; the recording runs in background
    threads of this process. Settings persist between series (``update_settings``).
    """

    def __init__(
        self,
        host: SpoolHost,
        dir_pattern: str = _naming.DEFAULT_DIR_PATTERN,
        series_pattern: str = _naming.DEFAULT_SERIES_PATTERN,
        settings: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        #: fsspec options for a ``dir_pattern`` or ``fn`` that is a URL (``s3://...``); kept
        #: out of the series' metadata (they may hold credentials)
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        self.dir_pattern = dir_pattern
        self.series_pattern = series_pattern
        self._settings = validate({**DEFAULTS, **(settings or {})})
        self._sinks: dict[str, Any] = dict(SINKS)
        self._listeners: list = []
        self.handle: SpoolHandle | None = None

    # settings -----------------------------------------------------------------------------
    def get_settings(self) -> dict[str, Any]:
        """A copy of the current settings (see docs/spool.md for every key)."""
        return copy_settings(self._settings)

    def update_settings(self, settings: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Merge and validate; raises ``SpoolError`` naming a bad key or value (nothing changes then)."""
        merged = {**self._settings, **(settings or {}), **kw}
        self._settings = validate(merged, self._method_codecs())
        return self.get_settings()

    @property
    def available_spool_methods(self) -> list[str]:
        return list(self._sinks)

    def _method_codecs(self) -> dict[str, tuple[str, ...]]:
        return {
            name: tuple(getattr(cls, "codecs", METHOD_CODECS["zarr"]))
            for name, cls in self._sinks.items()
        }

    def supported_compression(self, method: str | None = None) -> list[str]:
        """Codecs ``method`` (default: the current one) can store, "none" first.

        zarr and hdf5: ``none``, ``blosc-lz4``, ``blosc-zstd``; tiff: ``none``, ``zlib``,
        ``zstd``. Pass one (optionally ``"name:level"``) as the ``compression`` setting.
        Raises ``SpoolError`` for an unknown method.
        """
        method = method or self._settings["method"]
        codecs = self._method_codecs()
        if method not in codecs:
            raise SpoolError(f"method {method!r} unknown; choose one of {', '.join(codecs)}")
        return list(codecs[method])

    def register_acquisition_type(self, name: str, cls: Any) -> None:
        """Add a method: ``cls(path, layout, compressor, fsync)`` with ``ext``, ``begin``, ``write_block``,
        ``location``, ``finish``, ``close`` (see ``labkit.spool._zarr.ZarrSink``)."""
        for attr in ("begin", "write_block", "finish", "close", "location"):
            if not hasattr(cls, attr):
                raise SpoolError(f"{cls.__name__} lacks {attr}(); see labkit.spool.FrameSink")
        self._sinks[name] = cls

    # naming -------------------------------------------------------------------------------
    def get_dirname(self, subdirectory: str | None = None) -> str:
        """The directory series go to (pattern expanded, ``~`` resolved; may not exist yet).

        A ``dir_pattern`` that is an fsspec URL (``s3://bucket/%(year)d``) gives a URL.
        """
        sub = subdirectory if subdirectory is not None else self._settings.get("subdirectory")
        if is_url(self.dir_pattern):
            base_url = _naming.expand(self.dir_pattern).rstrip("/")
            return f"{base_url}/{sub.strip('/')}" if sub else base_url
        base = Path(_naming.expand(self.dir_pattern)).expanduser()
        return str(base / sub) if sub else str(base)

    @property
    def dirname(self) -> str:
        return self.get_dirname()

    @property
    def display_dirname(self) -> str:
        home = str(Path.home())
        d = self.dirname
        return "~" + d[len(home) :] if d.startswith(home) else d

    @property
    def series_name(self) -> str:
        """The next unused series name in :attr:`dirname`, e.g. ``21_11_series_C``."""
        return self._next_name(self.dirname)

    def _next_name(self, dirname: str) -> str:
        base = _naming.expand(self.series_pattern)
        if is_url(dirname):
            names = ObjectStore(dirname, self.storage_options).names()
            return _naming.next_name_among(names, base)
        return _naming.next_series_name(Path(dirname), base)

    def get_free_space(self) -> float:
        """Free space (GB, 1e9 bytes) where the next series goes; NaN for an object store
        (which has no such figure)."""
        if is_url(self.dirname):
            return float("nan")
        return free_bytes(Path(self.dirname)) / 1e9

    def estimate_spool_time(self, **overrides: Any) -> float | None:
        """Seconds a series with the current settings takes (None if it runs until ``stop()``).

        Frames / frame rate, plus one frame interval per stage move when z-stepping.
        """
        s = validate({**self._settings, **overrides}, self._method_codecs())
        plan_streams(self.host, s, self._sinks)  # stream names are checked in every case
        if s["max_frames"] is None:
            return None
        rate = max(self._camera(s).frame_rate_hz(), 1e-9)
        moves = 0
        if s["z_stepped"]:
            moves = s["max_frames"] // s["z_dwell"]
        return (s["max_frames"] + moves) / rate

    # listeners (the spool panel) -----------------------------------------------------------
    def add_listener(self, fn) -> None:
        """``fn(progress_dict)`` is called from the writer thread on progress and at the end."""
        self._listeners.append(fn)

    def remove_listener(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _notify(self, handle: SpoolHandle, event: str) -> None:
        payload = {"event": event, "series": handle.series_name, **handle.progress.to_dict()}
        try:
            self.host.emit("spool", payload)
        except Exception:  # pragma: no cover - a broken event sink must not stop the writer
            log.exception("emitting a spool event failed")
        for fn in list(self._listeners):
            try:
                fn(payload)
            except Exception:
                log.exception("spool listener %r failed", fn)

    # series -------------------------------------------------------------------------------
    def _series_path(self, fn: str | os.PathLike | None, s: dict) -> tuple[Any, str]:
        ext = self._sinks[s["method"]].ext
        dirname = self.get_dirname(s["subdirectory"])
        if is_url(fn) or (is_url(dirname) and (fn is None or not Path(fn).is_absolute())):
            return self._store_series(fn, dirname, ext, s)
        if fn is None:
            name = _naming.next_series_name(
                Path(self.get_dirname(s["subdirectory"])), _naming.expand(self.series_pattern)
            )
            path = Path(self.get_dirname(s["subdirectory"])) / (name + ext)
        else:
            path = Path(fn).expanduser()
            if not path.is_absolute():
                path = Path(self.get_dirname(s["subdirectory"])) / path
            if not path.name.endswith(ext):
                path = path.with_name(_naming.strip_ext(path.name) + ext)
            name = _naming.strip_ext(path.name)
        if path.exists() or journal_path(path).exists():
            raise SeriesExistsError(
                f"series {path} already exists; labkit never overwrites data. Pick another name "
                "(or fn=None for the next free one)"
            )
        return path, name

    def _store_series(self, fn: Any, dirname: str, ext: str, s: dict) -> tuple[ObjectStore, str]:
        """The series' location in an object store (zarr only; never an existing name)."""
        if s["method"] != "zarr":
            raise SpoolError(
                f"method {s['method']!r} cannot write to an object store (it appends to one "
                "file); use method='zarr', whose shards are whole objects"
            )
        if fn is None:
            name = self._next_name(dirname)
            url = f"{dirname.rstrip('/')}/{name}{ext}"
        else:
            url = str(fn) if is_url(fn) else f"{dirname.rstrip('/')}/{fn}"
            url = url.rstrip("/")
            if not url.endswith(ext):
                url = url[: len(url) - len(url.rsplit("/", 1)[-1])] + (
                    _naming.strip_ext(url.rsplit("/", 1)[-1]) + ext
                )
            name = _naming.strip_ext(url.rsplit("/", 1)[-1])
        store = ObjectStore(url, self.storage_options)
        from labkit.spool._store import journal_store

        if store.exists() or journal_store(store).exists():
            raise SeriesExistsError(
                f"series {store.url} already exists; labkit never overwrites data. Pick another "
                "name (or fn=None for the next free one)"
            )
        return store, name

    def start(
        self,
        fn: str | os.PathLike | None = None,
        settings: dict | None = None,
        preflight_mode: str = "abort",
        *,
        confirm: Confirm | None = None,
        **kw: Any,
    ) -> SpoolHandle:
        """Start a series and return its handle at once.

        ``fn``: series path or name (None: the next free name in :attr:`dirname`);
        ``settings``/``**kw``: overrides for this series only. ``preflight_mode``: "abort"
        raises ``SpoolPreflightError`` on a failed check, "warn" logs and emits it, "skip"
        measures nothing, "interactive" asks the user (abort when it cannot; the handle waits in
        state "waiting" meanwhile). ``confirm(report, on_confirm, on_cancel) -> bool`` is how it
        asks: show ``report.checks``, later call ``on_confirm()`` (records; may raise) or
        ``on_cancel()``, and return False at once if nobody can be asked. Default: a dialog
        in the Jupyter notebook (:func:`labkit.spool._interactive.confirm_in_notebook`).
        Raises ``SeriesExistsError`` if ``fn`` exists and ``SpoolError`` if a series is running.
        """
        if preflight_mode not in PREFLIGHT_MODES:
            raise SpoolError(
                f"preflight_mode {preflight_mode!r} unknown; choose one of {', '.join(PREFLIGHT_MODES)}"
            )
        if self.handle is not None and not self.handle.done:
            raise SpoolError(f"series {self.handle.series_name} is still running; stop() it first")
        s = validate({**self._settings, **(settings or {}), **kw}, self._method_codecs())
        plan_streams(self.host, s, self._sinks)  # a bad stream name fails before anything runs
        path, name = self._series_path(fn, s)
        report = PreflightReport()
        if preflight_mode != "skip":
            report = preflight_series(self._camera(s), path.parent, s, self._sinks)
        where = path.url if isinstance(path, ObjectStore) else path
        if not report.ok:
            unasked = ""
            if preflight_mode == "interactive":
                from labkit.spool._interactive import confirm_in_notebook

                ask = confirm or confirm_in_notebook
                handle = SpoolHandle(where, name, s["method"], None, None)
                handle.store = path if isinstance(path, ObjectStore) else None
                handle.preflight = report

                def cancel() -> None:
                    handle._cancelled = True
                    self._notify(handle, "cancelled")

                if ask(report, lambda: self._launch(handle, s), cancel):
                    self.handle = handle
                    return handle
                preflight_mode = "abort"
                unasked = (
                    "Nobody could be asked: preflight_mode='interactive' shows its dialog in a "
                    "Jupyter notebook (in marimo, start from the SpoolPanel of scope.dashboard(), "
                    "which asks in the panel).\n"
                )
            if preflight_mode == "abort":
                raise SpoolPreflightError(
                    f"preflight for {path.name} failed:\n{report.text()}\n{unasked}Fix the problems "
                    "above, or pass preflight_mode='warn' to record anyway",
                    report.checks,
                )
            for msg in report.problems():
                log.warning("spool preflight: %s", msg)
            self.host.emit(
                "spool",
                {"event": "preflight_warning", "series": name, "problems": report.problems()},
            )
        handle = SpoolHandle(where, name, s["method"], None, None)
        handle.store = path if isinstance(path, ObjectStore) else None
        handle.preflight = report
        self._launch(handle, s)
        self.handle = handle
        return handle

    def _camera(self, s: dict) -> CameraSource:
        """The frames of a series with settings ``s`` (checked by ``plan_streams`` first)."""
        return CameraSource(self.host, s["frames_stream"])

    def _launch(self, handle: SpoolHandle, s: dict) -> None:
        plan = plan_streams(self.host, s, self._sinks)
        camera = self._camera(s)
        # trace readers first: every row from before the first frame on is theirs
        traces = TraceRecorder(plan.traces, getattr(self.host, "open_trace_reader", None))
        try:
            reader = camera.open_reader("spool")
        except BaseException:
            traces.close()
            raise
        try:
            ring = reader.ring
            zs = z_positions(s)
            rate = camera.frame_rate_hz()
            layout = Layout.plan(
                tuple(ring.shape),
                str(ring.dtype),
                rate,
                len(zs),
                s["z_dwell"],
                s["max_frames"],
                s["shard_seconds"],
                s["shard_max_mb"],
            )
            compressor = Compressor(s["compression"], np.dtype(ring.dtype).itemsize)
            sink_kw = {"traces": plan.traces} if plan.traces else {}
            store = getattr(handle, "store", None)
            if store is not None:
                from labkit.spool._zarr_store import StoreZarrSink

                sink: Any = StoreZarrSink(store, layout, compressor, s["fsync"], **sink_kw)
            else:
                sink = self._sinks[s["method"]](
                    handle.path, layout, compressor, s["fsync"], **sink_kw
                )
            attrs = self._attrs(handle, s, layout, zs, camera)
            attrs["frames_stream"] = plan.frames_name
            if plan.traces:
                attrs["traces"] = {t.stream: t.to_json() for t in plan.traces}
            z_step = abs(zs[1] - zs[0]) if len(zs) > 1 else 1.0
            if store is None:
                handle.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                sink.begin(
                    ome_attrs(
                        layout,
                        handle.series_name,
                        camera.pixel_size_um(),
                        1.0 / rate if rate else 1.0,
                        z_step,
                    ),
                    attrs,
                )
            except FileExistsError:
                raise SeriesExistsError(
                    f"series {handle.path} already exists; pick another name"
                ) from None
            journal: Any = (
                ObjectJournal(store)
                if store is not None
                else Journal(journal_path(handle.path), fsync=s["fsync"])
            )
            journal.append(
                {
                    "event": "start",
                    "time": time.time(),
                    "series": handle.series_name,
                    "method": s["method"],
                    "layout": layout.to_json(),
                    "attrs": attrs,
                }
            )
        except BaseException:
            reader.close()
            traces.close()
            raise

        def final_attrs(status: str, per_frame: list) -> dict:
            p = pipeline.counters
            stamps = [t for t in per_frame[0]["timestamp_s"] if t is not None]
            last = max(stamps) if stamps else None  # the series' span ends with its last frame
            end = None if last is None else last + (1.0 / rate if rate else 0.0)
            return {
                **attrs,
                **({"traces": traces.finish(last, end)} if traces else {}),
                "status": status,
                "stopped": _dt.datetime.now().astimezone().isoformat(),
                "frames_written": p.frames_written,
                "frames_dropped": p.frames_dropped,
                "frames_discarded": p.frames_discarded,
                "frames_skipped_moving": p.frames_skipped_moving,
                "frames_fast_codec": p.frames_fast_codec,
                # seconds: reader waiting for a buffer, codecs (summed), writer, fdatasync
                "timings_s": {
                    "wait_buffer": round(p.wait_buffer_s, 4),
                    "codec": round(p.codec_s, 4),
                    "write": round(p.write_s, 4),
                    "sync": round(p.sync_s, 4),
                },
                "error": None if pipeline.error is None else str(pipeline.error),
                "source_error": pipeline.source_error,
                "task_errors": pipeline.task_errors,
                # per-frame columns in the attrs up to MAX_FRAMES_IN_ATTRS; beyond, the journal has them
                **(
                    {"frames": per_frame[0]}
                    if len(per_frame[0]["frame"]) <= MAX_FRAMES_IN_ATTRS
                    else {}
                ),
            }

        # z-steps and timed tasks run as steps, on the machinery MDA and scripts run on
        steps = StepRunner()
        move = None
        if zs:

            def move(z: float) -> None:
                run_step(steps, Step(f"move z={z:g} µm", lambda c: self.host.move_stage(z), "move"))

        pipeline = Pipeline(
            reader,
            layout,
            sink,
            compressor,
            journal,
            max_frames=s["max_frames"],
            protocol=_as_steps(s["protocol"], steps),
            z_positions_um=zs,
            move_stage=move,
            on_progress=lambda: self._notify(
                handle, "progress" if pipeline.state == "running" else pipeline.state
            ),
            final_attrs=final_attrs,
            n_buffers=s["queue_shards"],
            n_compress=s["compress_threads"],
            fsync=s["fsync"],
            fsync_interval_s=float(s["fsync_interval_s"]),
        )
        handle._pipeline = pipeline
        handle._reader = reader
        handle._traces = traces

        def done() -> None:
            traces.close()  # already closed by final_attrs, unless that never ran
            handle._release()

        pipeline.on_done = done
        traces.start(  # before the frames: a short series may end (and finish it) at once
            getattr(sink, "trace_writers", {}),
            pipeline.journal_events,
            lambda: pipeline.counters.first_timestamp_s,
            s["fsync_interval_s"],
        )
        pipeline.start()
        self._notify(handle, "started")

    def _attrs(
        self, handle: SpoolHandle, s: dict, layout: Layout, zs: list[float], camera: CameraSource
    ) -> dict:
        from labkit import __version__

        try:
            devices = self.host.device_settings()
        except Exception as exc:
            devices = {"error": f"could not read device settings: {exc}"}
        settings = {k: v for k, v in s.items() if k != "protocol"}
        settings["protocol_tasks"] = [
            f"frame {t.frame}: {getattr(t.fn, '__name__', repr(t.fn))}{t.args!r}"
            for t in s["protocol"].tasks
        ]
        return {
            "labkit_version": __version__,
            "series": handle.series_name,
            "method": s["method"],
            "status": "running",
            "started": _dt.datetime.now().astimezone().isoformat(),
            "frame_rate_hz": camera.frame_rate_hz(),
            "pixel_size_um": camera.pixel_size_um(),
            "layout": layout.to_json(),
            "z_positions_um": zs,
            "settings": settings,
            "device_settings": devices,
            "extra_metadata": s["extra_metadata"],
        }

    def close(self) -> None:
        """Stop a running series (keeping its frames) and drop listeners; called by ``Scope.close``."""
        if self.handle is not None and not self.handle.done:
            self.handle.stop()
        self._listeners.clear()

    def stop(self, timeout: float | None = 60.0):
        """Stop the running series (if any); returns its final progress or None."""
        if self.handle is None:
            return None
        if self.handle.state is SpoolState.WAITING:
            return self.handle.stop()
        return self.handle.stop(timeout)


def run_step(steps: StepRunner, step: Step) -> Any:
    """Run ``step``; a failure raises the step's own error (the pipeline reports it by name)."""
    try:
        return steps.run_one(step)
    except StepError as exc:
        raise (exc.__cause__ or exc) from None


def _as_steps(protocol: AcquisitionProtocol, steps: StepRunner) -> AcquisitionProtocol:
    """The same protocol whose tasks run as steps of ``steps`` (names kept for the journal)."""

    def wrap(task: Task) -> Task:
        label = f"{getattr(task.fn, '__name__', repr(task.fn))}{task.args!r}"

        def run() -> Any:
            return run_step(steps, Step(label, lambda c: task.fn(*task.args)))

        run.__name__ = getattr(task.fn, "__name__", repr(task.fn))
        return Task(task.frame, run)

    return AcquisitionProtocol(
        tasks=[wrap(t) for t in protocol.tasks],
        at_start=[wrap(t) for t in protocol.at_start],
        at_end=[wrap(t) for t in protocol.at_end],
        preflight=list(protocol.preflight),
    )
