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
