"""A small SpoolHost for tests: owns a real FrameRing and a thread writing sim frames."""

from __future__ import annotations

import threading
import time

import numpy as np

from labkit.buffers import FrameRing


class SimHost:
    """Frames are Poisson noise with the frame index in pixel [0, 0] (mod 65536)."""

    def __init__(
        self,
        shape=(128, 128),
        rate_hz: float = 200.0,
        n_slots: int = 32,
        max_frames: int | None = None,
        start: bool = True,
    ) -> None:
        self.ring = FrameRing.create(shape, np.uint16, n_slots=n_slots)
        self.ring_name = self.ring.name
        self.rate_hz = rate_hz
        self.z_um = 0.0
        self.exposure_ms = 5.0
        self.events: list[tuple[str, dict]] = []
        self.moves: list[float] = []
        self.props: list[tuple] = []
        self.max_frames = max_frames
        rng = np.random.default_rng(0)
        self._base = [rng.poisson(100, shape).astype(np.uint16) for _ in range(4)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="test-producer", daemon=True)
        if start:
            self._thread.start()

    def _produce(self) -> None:
        period = 1.0 / self.rate_hz
        t_next = time.perf_counter()
        i = 0
        while not self._stop.is_set() and (self.max_frames is None or i < self.max_frames):
            with self.ring.claim() as slot:
                np.copyto(slot.array, self._base[i % 4])
                slot.array[0, 0] = i % 65536
                slot.meta.update(
                    timestamp_s=time.time(), z_um=self.z_um, exposure_ms=self.exposure_ms
                )
            i += 1
            t_next += period
            delay = t_next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                t_next = time.perf_counter()

    # SpoolHost ------------------------------------------------------------------------------
    def open_reader(self, name: str):
        return self.ring.reader(name)

    def frame_rate_hz(self) -> float:
        return self.rate_hz

    def device_settings(self) -> dict:
        return {
            "camera": {"exposure_ms": self.exposure_ms, "frame_rate_hz": self.rate_hz},
            "stage": {"z_um": self.z_um},
        }

    def move_stage(self, z_um: float, wait: bool = True) -> None:
        self.moves.append(z_um)
        self.z_um = z_um

    def set_property(self, device: str, name: str, value) -> None:
        self.props.append((device, name, value))
        if (device, name) == ("camera", "exposure_ms"):
            self.exposure_ms = value

    def emit(self, topic: str, payload: dict) -> None:
        self.events.append((topic, payload))

    def pixel_size_um(self) -> float:
        return 0.5

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.ring.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def slow_zarr_sink(delay_s: float):
    """A zarr method whose every shard write takes ``delay_s`` longer: a disk too slow for the
    camera (this machine's disk is too fast to make the spool drop frames on demand)."""
    from labkit.spool._zarr import ZarrSink

    class SlowZarrSink(ZarrSink):
        ext = ".slow.zarr"

        def write_block(self, block):
            time.sleep(delay_s)
            return super().write_block(block)

    return SlowZarrSink


class StreamHost(SimHost):
    """A SimHost with named streams, as a Scope has: its ring as ``camera`` and a trace buffer
    ``daq`` (channels ``row``, ``double``: the row's number and twice it) that the test writes
    with :meth:`write_rows`, or a feeder thread at ``feed_hz`` rows a second."""

    def __init__(self, capacity: int = 64, feed_hz: float = 0.0, **kw) -> None:
        from labkit.buffers import TraceBuffer

        super().__init__(**kw)
        self.trace = TraceBuffer.create(("row", "double"), capacity=capacity)
        self.rows_fed = 0
        self._feed_stop = threading.Event()
        self._feeder = None
        if feed_hz:
            self._feeder = threading.Thread(
                target=self._feed, args=(feed_hz,), name="test-trace-feeder", daemon=True
            )
            self._feeder.start()

    def write_rows(self, n: int, t_s=None) -> None:
        """``n`` rows stamped ``t_s`` (one time or n of them; default: now)."""
        rows = np.arange(self.rows_fed, self.rows_fed + n, dtype=float)
        t = np.broadcast_to(np.asarray(time.time() if t_s is None else t_s, float), (n,))
        self.trace.write(t, np.stack([rows, 2 * rows], axis=1))
        self.rows_fed += n

    def _feed(self, rate_hz: float) -> None:
        while not self._feed_stop.wait(0.005):
            self.write_rows(max(1, int(rate_hz * 0.005)))

    def streams(self) -> dict:
        from labkit.engine import StreamInfo

        ring = self.ring
        return {
            "camera": StreamInfo(name="camera", kind="frames", owner="camera", buffer=ring.name,
                                 shape=tuple(ring.shape), dtype=ring.dtype.str,
                                 rate_hz=self.rate_hz),
            "daq": StreamInfo(name="daq", kind="trace", owner="daq", buffer=self.trace.name,
                              channels=self.trace.channels, units="V", rate_hz=1000.0),
        }  # fmt: skip

    def open_reader(self, name: str, stream: str | None = None):
        assert stream in (None, "camera")
        return self.ring.reader(name)

    def open_trace_reader(self, stream: str):
        from labkit.buffers import TraceReader

        assert stream == "daq"
        return TraceReader.attach(self.trace.name)

    def frame_rate_hz(self, stream: str | None = None) -> float:
        return self.rate_hz

    def pixel_size_um(self, stream: str | None = None) -> float:
        return 0.5

    def close(self) -> None:
        self._feed_stop.set()
        if self._feeder is not None:
            self._feeder.join()
        super().close()
        self.trace.close()
