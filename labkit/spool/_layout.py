"""Where each kept frame goes: (t[, z]) position, shard key and slot inside the shard."""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

#: per-frame metadata kept beside the pixels (one record per frame, preallocated per block)
FRAME_META = np.dtype(
    [
        ("frame", "<i8"),
        ("index", "<i8"),
        ("timestamp_s", "<f8"),
        ("exposure_ms", "<f8"),
        ("z_um", "<f8"),
        ("x_um", "<f8"),
        ("y_um", "<f8"),
    ]
)

UNBOUNDED_T = 1 << 20  # planned length of a series without max_frames (shape fixed at stop)


def _shape2(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"frames must be 2-D (y, x), got shape {shape}")
    return int(shape[0]), int(shape[1])


@dataclass(frozen=True)
class Layout:
    """Geometry of a series.

    ``n_z == 0`` means a plain time series (t, y, x); otherwise frames arrive as volumes of
    ``n_z`` positions with ``z_dwell`` frames at each, stored as (t, z, y, x) where
    ``t = volume * z_dwell + dwell_index``.
    """

    frame_shape: tuple[int, int]
    dtype: str
    n_z: int = 0
    z_dwell: int = 1
    max_frames: int | None = None
    shard_t: int = 16
    shard_z: int = 1

    @classmethod
    def plan(
        cls,
        frame_shape: tuple[int, int],
        dtype: str,
        frame_rate_hz: float,
        n_z: int = 0,
        z_dwell: int = 1,
        max_frames: int | None = None,
        shard_seconds: float = 1.0,
        shard_max_mb: float = 128.0,
    ) -> Layout:
        """Pick shard sizes so one shard holds <= ``shard_seconds`` of frames and <= ``shard_max_mb``."""
        frame_bytes = int(np.prod(frame_shape)) * np.dtype(dtype).itemsize
        per_shard = max(
            1, min(int(frame_rate_hz * shard_seconds), int(shard_max_mb * 1e6 // frame_bytes))
        )
        if max_frames is not None:
            per_shard = min(per_shard, max_frames)
        if n_z == 0:
            return cls(_shape2(frame_shape), str(np.dtype(dtype)), 0, 1, max_frames, per_shard, 1)
        shard_z = max(1, min(n_z, per_shard // z_dwell))
        return cls(
            _shape2(frame_shape), str(np.dtype(dtype)), n_z, z_dwell, max_frames, z_dwell, shard_z
        )

    # geometry -----------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return 3 if self.n_z == 0 else 4

    @functools.cached_property
    def frame_bytes(self) -> int:
        return int(np.prod(self.frame_shape)) * np.dtype(self.dtype).itemsize

    @property
    def slots_per_shard(self) -> int:
        return self.shard_t * self.shard_z

    @property
    def frames_per_volume(self) -> int:
        return max(1, self.n_z) * self.z_dwell

    def t_len(self, n_frames: int | None) -> int:
        """Length of the t axis holding ``n_frames`` kept frames (None: the planned length)."""
        if n_frames is None:
            n_frames = self.max_frames if self.max_frames is not None else UNBOUNDED_T
        if self.n_z == 0:
            return int(n_frames)
        return math.ceil(n_frames / self.frames_per_volume) * self.z_dwell

    def shape(self, n_frames: int | None = None) -> tuple[int, ...]:
        if self.n_z == 0:
            return (self.t_len(n_frames), *self.frame_shape)
        return (self.t_len(n_frames), self.n_z, *self.frame_shape)

    def shard_shape(self) -> tuple[int, ...]:
        if self.n_z == 0:
            return (self.shard_t, *self.frame_shape)
        return (self.shard_t, self.shard_z, *self.frame_shape)

    def dims(self) -> tuple[str, ...]:
        return ("t", "y", "x") if self.n_z == 0 else ("t", "z", "y", "x")

    def position(self, n: int) -> tuple[int, int]:
        """(t, z) of kept frame ``n`` (z is 0 for a plain time series)."""
        if self.n_z == 0:
            return n, 0
        block, dwell_i = divmod(n, self.z_dwell)
        volume, z = divmod(block, self.n_z)
        return volume * self.z_dwell + dwell_i, z

    def frame_of(self, t: int, z: int) -> int:
        if self.n_z == 0:
            return t
        volume, dwell_i = divmod(t, self.z_dwell)
        return (volume * self.n_z + z) * self.z_dwell + dwell_i

    def shard_of(self, n: int) -> tuple[tuple[int, ...], int]:
        """(shard grid key, slot inside the shard in C order) of kept frame ``n``."""
        t, z = self.position(n)
        if self.n_z == 0:
            return (t // self.shard_t, 0, 0), t % self.shard_t
        return (t // self.shard_t, z // self.shard_z, 0, 0), (
            t % self.shard_t
        ) * self.shard_z + z % self.shard_z

    def to_json(self) -> dict:
        d = asdict(self)
        d["frame_shape"] = list(self.frame_shape)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Layout:
        d = dict(d)
        d["frame_shape"] = tuple(d["frame_shape"])
        return cls(**d)
