"""SimSignal: a sampled multi-channel signal generated from elapsed time (no thread)."""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import numpy as np

from labkit.devices._device import Device
from labkit.devices._property import prop

__all__ = ["SimSignal"]

_EVENT_TAU_S = 0.02  # decay time of an event spike


class SimSignal(Device):
    """Simulated analog inputs, sampled at ``sample_rate_hz``.

    Channels: ``"sine"`` (a sine of ``sine_freq_hz`` plus white noise of ``noise_std``),
    ``"noise"`` (a random walk, std 1 after 1 s) and ``"events"`` (sparse spikes of height 1
    at ``event_rate_hz`` on average, decaying in 20 ms). Sample ``k`` is taken at
    ``start + k / sample_rate_hz``; :meth:`read` returns every sample due since the last read.

    Args:
        name: device name.
        seed: seeds the noise, walk and events.
        max_backlog_s: at most this many seconds of samples are kept between reads; older
            ones are dropped and counted in ``samples_dropped``.
        **values: initial property values.
    """

    kind: ClassVar[str] = "signal"

    sample_rate_hz = prop(
        float,
        units="Hz",
        low=1,
        high=100_000,
        default=1000.0,
        description="samples per second per channel",
    )
    sine_freq_hz = prop(
        float,
        units="Hz",
        low=0,
        high=10_000,
        default=1.0,
        description="frequency of the sine channel",
    )
    noise_std = prop(
        float, low=0, high=100, default=0.05, description="white noise added to the sine"
    )
    event_rate_hz = prop(
        float, units="Hz", low=0, high=1000, default=2.0, description="mean rate of event spikes"
    )

    def __init__(
        self, name: str = "signal", *, seed: int = 0, max_backlog_s: float = 10.0, **values: Any
    ) -> None:
        self.channels: tuple[str, ...] = ("sine", "noise", "events")
        self.seed = int(seed)
        self.max_backlog_s = float(max_backlog_s)
        self.samples_dropped = 0
        self._rng = np.random.default_rng([self.seed, 7])
        self._start_mono = time.monotonic()
        self._start_wall = time.time()
        self._anchor_s = 0.0  # seconds after start of sample 0 at the current rate
        self._next_index = 0
        self._walk = 0.0
        self._event_level = 0.0
        super().__init__(name, **values)

    def _apply(self, name: str, value: Any) -> None:
        if name == "sample_rate_hz" and "sample_rate_hz" in self._values:
            # the next sample keeps its time; later ones follow the new rate
            self._anchor_s += self._next_index / self._values["sample_rate_hz"]
            self._next_index = 0

    def read(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Samples due since the last read (at most ``max_samples``; the rest stay for later).

        Returns:
            ``(timestamps_s, values)``: ``(n,)`` wall-clock seconds (``time.time()`` scale) and
            ``(n, len(channels))`` float64.
        """
        with self._lock:
            rate = self._values["sample_rate_hz"]
            elapsed = time.monotonic() - self._start_mono - self._anchor_s
            count = max(0, math.floor(elapsed * rate) + 1 - self._next_index)
            backlog = math.ceil(self.max_backlog_s * rate)
            if count > backlog:
                self.samples_dropped += count - backlog
                self._next_index += count - backlog
                count = backlog
            if max_samples is not None:
                count = max(0, min(count, int(max_samples)))
            t_rel = self._anchor_s + np.arange(self._next_index, self._next_index + count) / rate
            self._next_index += count
            values = np.empty((count, 3), dtype=np.float64)
            if count:
                self._fill(values, t_rel, rate)
            return self._start_wall + t_rel, values

    def _fill(self, values: np.ndarray, t_rel: np.ndarray, rate: float) -> None:
        v, rng, count = self._values, self._rng, len(t_rel)
        values[:, 0] = np.sin(2.0 * math.pi * v["sine_freq_hz"] * t_rel)
        values[:, 0] += v["noise_std"] * rng.standard_normal(count)
        steps = rng.standard_normal(count) * math.sqrt(1.0 / rate)
        values[:, 1] = self._walk + np.cumsum(steps)
        self._walk = float(values[-1, 1])
        decay = math.exp(-1.0 / (rate * _EVENT_TAU_S))
        values[:, 2] = self._event_level * decay ** np.arange(1, count + 1)
        n_events = int(rng.poisson(v["event_rate_hz"] * count / rate))
        if n_events:
            kernel = decay ** np.arange(min(count, math.ceil(10 * _EVENT_TAU_S * rate) + 1))
            for start in np.sort(rng.integers(0, count, n_events)):
                length = min(len(kernel), count - start)
                values[start : start + length, 2] += kernel[:length]
        self._event_level = float(values[-1, 2])
