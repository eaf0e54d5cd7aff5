"""ZLUT: the z lookup table of radial profiles, its builder and its versioned file format.

A table holds, for each bead (or one shared row for all), the normalised radial profile at each
z plane of a focus scan, plus quality figures. Built with :class:`ZLUTBuilder` (``add(frame,
z_um)`` per frame of the scan, then ``build()``) or :meth:`ZLUT.from_stack`.

File format (``ZLUT.save`` / ``ZLUT.load``): a netCDF-4 / HDF5 file (h5netcdf) holding an xarray
Dataset — readable by any netCDF or HDF5 tool:

- dims ``bead`` (names), ``z`` (µm, increasing), ``radius`` (px, bins of ``1 / oversample``);
- ``profile (bead, z, radius)`` float32: profiles with weighted mean 0 and weighted RMS 1;
- ``weight (radius)``: the bin weights (annulus areas) matching uses;
- ``frames (bead, z)``: frames averaged into each profile;
- ``z_noise_nm (bead, z)``: predicted single-frame z noise of that bead at that plane, from the
  frame-to-frame scatter of its profiles and the table's slope there (NaN with one frame);
- ``roi_y``, ``roi_x (bead)``: where each bead's ROI was when the table was recorded;
- attrs ``format = "labkit.zlut"``, ``format_version`` (this module writes and reads 1),
  ``roi_size_px``, ``oversample``, ``shared`` (1: one row used for every bead), ``labkit_version``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from labkit.errors import LabkitError
from labkit.processing._stats import Roi
from labkit.processing.tracking._tracker import BeadTracker, Quality, profile_geometry

__all__ = ["FORMAT", "FORMAT_VERSION", "ZLUT", "ZLUTBuilder", "ZLUTFormatError"]

FORMAT = "labkit.zlut"
FORMAT_VERSION = 1
_SHARED = "shared"


class ZLUTFormatError(LabkitError, ValueError):
    """A file is not a labkit z table, or one this labkit cannot read (the message says why)."""


def _normalised(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Profiles along the last axis with weighted mean 0 and weighted RMS 1."""
    w = weights / weights.sum()
    centred = profiles - (profiles * w).sum(axis=-1, keepdims=True)
    rms = np.sqrt((centred**2 * w).sum(axis=-1, keepdims=True))
    return (centred / np.where(rms > 0, rms, 1.0)).astype(np.float32)


class ZLUT:
    """A z lookup table: normalised radial profiles per bead (or shared) per z plane.

    Args:
        z_um: (planes,) strictly increasing z of the planes (µm; the stage's z when recorded).
        profiles: (beads, planes, bins) radial profiles (normalised here).
        beads: bead (ROI) names, one per row of ``profiles``; ``("shared",)`` for a shared row.
        roi_size: ROI side (px) the profiles were measured in.
        oversample: profile bins per pixel.
        frames: (beads, planes) frames averaged into each profile (optional).
        z_noise_nm: (beads, planes) z noise of each plane, a quality figure (optional).
        rois: (beads, 2) ROI origins (y, x) when recorded (optional).
        normalised: the profiles already have weighted mean 0 and RMS 1 (kept bit for bit).

    Raises:
        ValueError: shapes that do not agree, z not increasing, or fewer than 3 planes.
    """

    def __init__(
        self,
        z_um: Sequence[float] | np.ndarray,
        profiles: np.ndarray,
        beads: Sequence[str],
        *,
        roi_size: int,
        oversample: int = 4,
        frames: np.ndarray | None = None,
        z_noise_nm: np.ndarray | None = None,
        rois: np.ndarray | None = None,
        normalised: bool = False,
    ) -> None:
        z = np.asarray(z_um, dtype=np.float64)
        profiles = np.asarray(profiles)
        radius, weights = profile_geometry(int(roi_size), int(oversample))
        beads = tuple(str(b) for b in beads)
        expected = (len(beads), z.size, radius.size)
        if profiles.shape != expected:
            raise ValueError(
                f"profiles have shape {profiles.shape}; (beads, planes, bins) = {expected} for "
                f"{len(beads)} beads, {z.size} planes and {roi_size} px ROIs at {oversample}× bins"
            )
        if z.size < 3 or np.any(np.diff(z) <= 0):
            raise ValueError("a z table needs at least 3 planes with strictly increasing z_um")
        if len(set(beads)) != len(beads):
            raise ValueError(f"bead names must be unique, got {beads}")
        self.z_um = z
        self.beads = beads
        self.roi_size, self.oversample = int(roi_size), int(oversample)
        self.radius_px, self.weights = radius, weights
        if not normalised:
            profiles = _normalised(profiles, weights.astype(np.float64))
        self.profiles = np.ascontiguousarray(profiles, dtype=np.float32)
        shape = (len(beads), z.size)
        self.frames = np.ones(shape, np.int64) if frames is None else np.asarray(frames, np.int64)
        self.z_noise_nm = (
            np.full(shape, np.nan) if z_noise_nm is None else np.asarray(z_noise_nm, np.float64)
        )
        self.rois = np.full((len(beads), 2), -1, np.int64) if rois is None else np.asarray(rois)

    @property
    def shared(self) -> bool:
        """True when one row serves every bead."""
        return self.beads == (_SHARED,)

    @property
    def step_um(self) -> float:
        """Median spacing of the planes (µm)."""
        return float(np.median(np.diff(self.z_um)))

    def __repr__(self) -> str:
        return (
            f"ZLUT({len(self.beads)} {'shared row' if self.shared else 'beads'}, "
            f"{self.z_um.size} planes {self.z_um[0]:g}…{self.z_um[-1]:g} µm, "
            f"{self.roi_size} px ROIs, median z noise {np.nanmedian(self.z_noise_nm) if np.isfinite(self.z_noise_nm).any() else float('nan'):.1f} nm)"
        )

    # ------------------------------------------------------------------ use by the tracker
    def check_geometry(self, roi_size: int, oversample: int) -> None:
        """Raises ``ValueError`` if the table was made with another ROI size or binning."""
        if (roi_size, oversample) != (self.roi_size, self.oversample):
            raise ValueError(
                f"the z table was recorded with {self.roi_size} px ROIs at {self.oversample} bins/px;"
                f" these ROIs are {roi_size} px at {oversample}: use ROIs of {self.roi_size} px"
                f" and BeadTracker(oversample={self.oversample}), or record a new table"
            )

    def rows_for(self, names: Sequence[str]) -> np.ndarray:
        """Row of ``profiles`` for each bead name.

        Raises:
            ValueError: some names have no row (record them, or use :meth:`shared_table`).
        """
        if self.shared:
            return np.zeros(len(names), np.int64)
        index = {b: i for i, b in enumerate(self.beads)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(
                f"the z table has no profiles for {missing} (it has {list(self.beads)}): record a"
                f" table with these beads, or use zlut.shared_table() for beads that look alike"
            )
        return np.array([index[n] for n in names], np.int64)

    def shared_table(self) -> ZLUT:
        """One row for every bead: the mean of this table's rows (beads of one kind look alike)."""
        return ZLUT(
            self.z_um,
            self.profiles.mean(axis=0, keepdims=True),
            (_SHARED,),
            roi_size=self.roi_size,
            oversample=self.oversample,
            frames=self.frames.sum(axis=0, keepdims=True),
            z_noise_nm=np.nanmedian(self.z_noise_nm, axis=0, keepdims=True)
            if np.isfinite(self.z_noise_nm).any()
            else None,
        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_stack(
        cls,
        frames: Any,
        z_um: Sequence[float] | np.ndarray,
        rois: Sequence[Roi | dict | Sequence],
        **tracker_options: Any,
    ) -> ZLUT:
        """Build a table from a focus scan: ``frames`` (n, y, x) array or DataArray, ``z_um`` the
        stage z of each frame (frames at one z are averaged). See :class:`ZLUTBuilder`."""
        z = np.asarray(z_um, dtype=np.float64)
        if len(frames) != z.size:
            raise ValueError(f"{len(frames)} frames but {z.size} z values: give one z per frame")
        first = np.asarray(frames[0])
        with ZLUTBuilder(rois, first.shape, dtype=first.dtype, **tracker_options) as builder:
            for i in range(z.size):
                builder.add(np.asarray(frames[i]), float(z[i]))
            return builder.build()

    # ------------------------------------------------------------------ file format
    def to_dataset(self) -> xr.Dataset:
        """The table as an xarray Dataset (the layout of the file format, see the module doc)."""
        from labkit import __version__

        dims3, dims2 = ("bead", "z", "radius"), ("bead", "z")
        return xr.Dataset(
            {
                "profile": (dims3, self.profiles),
                "weight": ("radius", self.weights),
                "frames": (dims2, self.frames),
                "z_noise_nm": (dims2, self.z_noise_nm, {"units": "nm"}),
                "roi_y": ("bead", self.rois[:, 0]),
                "roi_x": ("bead", self.rois[:, 1]),
            },
            coords={
                "bead": ("bead", np.array(self.beads, dtype=object)),
                "z": ("z", self.z_um, {"units": "µm"}),
                "radius": ("radius", self.radius_px, {"units": "px"}),
            },
            attrs={
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "roi_size_px": self.roi_size,
                "oversample": self.oversample,
                "shared": int(self.shared),
                "labkit_version": __version__,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            },
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the table to ``path`` (netCDF-4/HDF5, see the module doc); overwrites."""
        self.to_dataset().to_netcdf(path, engine="h5netcdf")

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> ZLUT:
        """The table in a Dataset laid out as :meth:`to_dataset` writes it.

        Raises:
            ZLUTFormatError: not a labkit z table, or a newer format version than this labkit's.
        """
        if ds.attrs.get("format") != FORMAT:
            raise ZLUTFormatError(
                f"not a labkit z table (format attribute {ds.attrs.get('format')!r}, expected "
                f"{FORMAT!r}); record one with ZLUTBuilder or ZLUT.from_stack and save it"
            )
        version = int(ds.attrs.get("format_version", -1))
        if version > FORMAT_VERSION:
            raise ZLUTFormatError(
                f"this z table has format version {version}, written by a newer labkit; this labkit"
                f" reads version {FORMAT_VERSION}: upgrade labkit (pip install -U labkit)"
            )
        if version < 1:
            raise ZLUTFormatError(f"z table format version {version} is not valid (expected 1)")
        return cls(
            ds["z"].values,
            ds["profile"].values,
            [str(b) for b in ds["bead"].values],
            roi_size=int(ds.attrs["roi_size_px"]),
            oversample=int(ds.attrs["oversample"]),
            frames=ds["frames"].values,
            z_noise_nm=ds["z_noise_nm"].values,
            rois=np.stack([ds["roi_y"].values, ds["roi_x"].values], axis=1),
            normalised=True,
        )

    def to_plain(self) -> dict[str, Any]:
        """The table as JSON-able plain data (a node parameter, a settings value): the arrays as
        base64 of their little-endian bytes, exactly what :meth:`from_plain` reads back."""

        def packed(a: np.ndarray, dtype: str) -> dict[str, Any]:
            a = np.ascontiguousarray(a, dtype=dtype)
            return {
                "dtype": dtype,
                "shape": list(a.shape),
                "b64": base64.b64encode(a.tobytes()).decode(),
            }

        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "beads": list(self.beads),
            "roi_size": self.roi_size, "oversample": self.oversample,
            "z_um": packed(self.z_um, "<f8"), "profiles": packed(self.profiles, "<f4"),
            "frames": packed(self.frames, "<i8"), "z_noise_nm": packed(self.z_noise_nm, "<f8"),
            "rois": packed(self.rois, "<i8"),
        }  # fmt: skip

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> ZLUT:
        """The table from :meth:`to_plain`'s data.

        Raises:
            ZLUTFormatError: not the plain form of a labkit z table (or a newer one).
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ZLUTFormatError(
                "not a z table's plain data (expected ZLUT.to_plain()'s dict with format "
                f"{FORMAT!r}); pass a ZLUT, or ZLUT.load(path).to_plain()"
            )
        if int(data.get("format_version", -1)) > FORMAT_VERSION:
            raise ZLUTFormatError("this z table was written by a newer labkit: upgrade labkit")
        try:
            arrays = {
                name: np.frombuffer(
                    base64.b64decode(data[name]["b64"]), dtype=data[name]["dtype"]
                ).reshape(data[name]["shape"])
                for name in ("z_um", "profiles", "frames", "z_noise_nm", "rois")
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ZLUTFormatError(f"a z table's plain data is damaged: {exc}") from None
        return cls(
            arrays["z_um"], arrays["profiles"], data["beads"], roi_size=int(data["roi_size"]),
            oversample=int(data["oversample"]), frames=arrays["frames"],
            z_noise_nm=arrays["z_noise_nm"], rois=arrays["rois"], normalised=True,
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike) -> ZLUT:
        """Read a table written by :meth:`save`.

        Raises:
            FileNotFoundError: no file at ``path``.
            ZLUTFormatError: not a labkit z table, or one written by a newer labkit.
        """
        if not os.path.exists(path):
            raise FileNotFoundError(f"no z table at {path}")
        try:
            ds = xr.load_dataset(path, engine="h5netcdf")
        except (OSError, ValueError) as exc:
            raise ZLUTFormatError(
                f"{path} is not a labkit z table (not netCDF-4/HDF5: {exc})"
            ) from None
        return cls.from_dataset(ds)


class ZLUTBuilder:
    """Accumulates a focus scan into a :class:`ZLUT`, one frame at a time.

    ``add(frame, z_um)`` tracks the beads (x, y only) and adds each good bead's profile to the
    plane ``z_um`` (frames at the same z are averaged; a bead that is missing or off-centre in a
    frame is left out of that frame). ``build()`` returns the table. Owns a :class:`BeadTracker`
    (threads): close it, or use it as a context manager.

    Args:
        rois: the beads' ROIs, as for :meth:`BeadTracker.prepare`.
        frame_shape: the frames' shape, as for :meth:`BeadTracker.prepare`.
        dtype: the frames' dtype, as for :meth:`BeadTracker.prepare`.
        **tracker_options: for :class:`BeadTracker` (``oversample``, ``iterations``, ``threads``).
    """

    def __init__(
        self,
        rois: Sequence[Roi | dict | Sequence],
        frame_shape: tuple[int, ...],
        dtype: np.dtype | str = "uint16",
        **tracker_options: Any,
    ) -> None:
        self.tracker = BeadTracker(**tracker_options)
        self.tracker.prepare(rois, frame_shape, None, dtype=dtype)
        self._planes: dict[float, list[np.ndarray]] = {}  # z -> [sum, sum of squares, count]

    def add(self, frame: np.ndarray, z_um: float) -> np.ndarray:
        """Add one frame taken at ``z_um``; returns the beads' quality bits in this frame."""
        result = self.tracker.track(frame)
        quality = result.values[:, 3]
        good = (quality.astype(np.int64) & (Quality.MISSING | Quality.OFF_CENTRE)) == 0
        key = round(float(z_um), 9)
        n, n_bins = result.profiles.shape
        acc = self._planes.setdefault(
            key, [np.zeros((n, n_bins)), np.zeros((n, n_bins)), np.zeros(n)]
        )
        p = result.profiles.astype(np.float64)
        acc[0][good] += p[good]
        acc[1][good] += p[good] ** 2
        acc[2][good] += 1
        return quality.copy()

    def build(self) -> ZLUT:
        """The table of the frames added so far.

        Raises:
            ValueError: fewer than 3 planes, or a bead with no good frame at some plane (it names
                them: re-centre those ROIs and scan again, or leave the bead out).
        """
        z = np.array(sorted(self._planes))
        if z.size < 3:
            raise ValueError(f"a z table needs frames at 3 or more z positions, got {z.size}")
        sums = np.stack([self._planes[v][0] for v in z], axis=1)  # (beads, planes, bins)
        squares = np.stack([self._planes[v][1] for v in z], axis=1)
        counts = np.stack([self._planes[v][2] for v in z], axis=1)  # (beads, planes)
        names = [r.name for r in self.tracker.rois]
        empty = [(names[b], float(z[p])) for b, p in zip(*np.nonzero(counts == 0), strict=True)]
        if empty:
            raise ValueError(
                f"no good frame (bead missing or off-centre) for (bead, z µm) {empty[:5]}"
                f"{' …' if len(empty) > 5 else ''}: re-centre those ROIs and scan again, or leave"
                f" those beads out"
            )
        mean = sums / counts[..., None]
        var = (
            np.maximum(squares / counts[..., None] - mean**2, 0.0)
            * (counts / np.maximum(counts - 1, 1))[..., None]
        )
        w = self.tracker._weights.astype(np.float64)
        table = _normalised(mean, w)
        noise_nm = _z_noise_nm(table, var, counts, z, w)
        rois = np.array([(r.y, r.x) for r in self.tracker.rois], np.int64)
        return ZLUT(
            z, table, names, roi_size=self.tracker.roi_size, oversample=self.tracker.oversample,
            frames=counts.astype(np.int64), z_noise_nm=noise_nm, rois=rois,
        )  # fmt: skip

    def close(self) -> None:
        """Stop the tracker's threads."""
        self.tracker.close()

    def __enter__(self) -> ZLUTBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _z_noise_nm(
    table: np.ndarray, var: np.ndarray, counts: np.ndarray, z: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """Single-frame z noise (nm) per bead and plane: the per-bin profile variance projected on the
    table's slope, as the weighted least-squares z estimate sees it (bins taken as independent)."""
    slope = np.gradient(table, z, axis=1)  # per µm
    ws = w * slope
    denom = (ws * slope).sum(axis=-1)
    var_z = (ws**2 * var).sum(axis=-1) / np.where(denom > 0, denom, np.nan) ** 2
    return np.where(counts > 1, np.sqrt(var_z) * 1e3, np.nan)
