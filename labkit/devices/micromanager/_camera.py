""":class:`MMCamera`: the core's camera as a labkit camera.

Outside a stream each frame is a Micro-Manager snap. While the engine streams (it calls
:meth:`MMCamera.start_streaming` first), the camera runs a continuous sequence acquisition into
Micro-Manager's circular buffer and ``render_into`` pops frames from it in order, into the ring
slot. A camera that makes frames faster than ``frame_rate_hz`` (Micro-Manager's interval is a wish
many cameras ignore) would fill that buffer and lag further and further behind; beyond a few queued
frames the oldest are skipped, and counted in ``frames_skipped``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from labkit.devices._device import Device
from labkit.devices._property import PropertyError, PropertyLimitError, PropertyValueError, prop
from labkit.devices.micromanager._buffer import SKIPPED, direct_buffer, pop_into, received_time
from labkit.devices.micromanager._core import CoreHandle
from labkit.devices.micromanager._properties import MM_ERRORS, MMBridge

__all__ = ["MMCamera"]

MAX_QUEUED = 4  # frames waiting in Micro-Manager's buffer before the oldest are skipped
_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def _binning_number(raw: Any) -> int:
    """Micro-Manager's binning value (``2``, ``"2"``, ``"2x2"``) as the factor."""
    return int(float(str(raw).lower().split("x")[0]))


class MMCamera(MMBridge, Device):
    """The Micro-Manager camera ``mm_label`` (made the core's camera), streamed by the engine.

    Args:
        name: the labkit name (the Micro-Manager label by default).
        handle: the rig's shared core.
        mm_label: the camera's label in Micro-Manager.
        pixel_size_um: used when Micro-Manager has no pixel size calibration for the current setup.
        stage: a stage whose targets go into each frame's metadata (``x_um``, ``y_um``, ``z_um``).

    Raises:
        ValueError: a colour or multi-channel camera (labkit streams one grey channel).
    """

    kind: ClassVar[str] = "camera"

    exposure_ms = prop(float, units="ms", low=0, default=10.0, description="integration time")
    frame_rate_hz = prop(
        float, units="Hz", low=0.01, high=1000, default=30.0,
        description="frames per second while streaming (Micro-Manager's interval); frames the "
        "camera makes beyond it are skipped (frames_skipped)",
    )  # fmt: skip
    binning = prop(int, allowed=(1,), default=1, description="sums b×b sensor pixels into one")
    roi = prop(  # after binning: setting the binning resets the roi (so settings files set it last)
        tuple[int, int, int, int], units="px", low=0,
        description="region of interest (x, y, width, height) in binned pixels, as Micro-Manager "
        "counts them",
    )  # fmt: skip

    @prop(int, readonly=True, units="bit")
    def bit_depth(self) -> int:
        """bits per pixel the camera digitises"""
        return int(self.core.getImageBitDepth())

    @prop(tuple[int, int], readonly=True, units="px")
    def shape(self) -> tuple[int, int]:
        """(height, width) of a frame"""
        return (int(self.core.getImageHeight()), int(self.core.getImageWidth()))

    @prop(str, readonly=True)
    def dtype(self) -> str:
        """numpy dtype of a frame"""
        size = int(self.core.getBytesPerPixel())
        return np.dtype(_DTYPES.get(size, np.uint16)).name

    @prop(float, readonly=True, units="µm")
    def pixel_size_um(self) -> float:
        """sample-plane size of one pixel (Micro-Manager's calibration, with binning)"""
        size = float(self.core.getPixelSizeUm())
        return size if size > 0 else self._fallback_pixel_um * self.get("binning")

    @prop(int, readonly=True)
    def frames_skipped(self) -> int:
        """frames the camera made that did not go into the ring (beyond frame_rate_hz, or of a
        size from before a setting changed)"""
        return self._skipped

    def __init__(
        self,
        name: str,
        handle: CoreHandle,
        mm_label: str,
        pixel_size_um: float = 1.0,
        stage: Any = None,
    ) -> None:
        handle.acquire()
        try:
            core = handle.core
            if core.getCameraDevice() != mm_label:
                core.setCameraDevice(mm_label)
            if int(core.getNumberOfComponents()) != 1 or int(core.getNumberOfCameraChannels()) != 1:
                raise ValueError(
                    f"camera {mm_label!r} gives colour or multi-channel images; labkit streams one "
                    "grey channel: choose a grey pixel type in its config, or another camera"
                )
            self._fallback_pixel_um = float(pixel_size_um)
            self.stage = stage
            self._skipped = 0
            self._streaming = False
            self._buffer: Any = None
            self._binning_raw: dict[int, str] = {}
            super().__init__(name)
            self._bind(handle, mm_label, skip=("Exposure", "Binning"))
            self._read_settings()
        except BaseException:
            handle.release()
            raise

    def _read_settings(self) -> None:
        """Per-instance limits and choices from Micro-Manager, and readers of its values."""
        core, label = self.core, self.mm_label
        self._read_with("exposure_ms", lambda: float(core.getExposure()))
        if core.hasPropertyLimits(label, "Exposure"):
            low, high = (float(f(label, "Exposure")) for f in
                         (core.getPropertyLowerLimit, core.getPropertyUpperLimit))  # fmt: skip
            if low < high:
                self._set_spec("exposure_ms", low=low, high=high)
        if core.hasProperty(label, "Binning"):
            raw = tuple(str(v) for v in core.getAllowedPropertyValues(label, "Binning"))
            if raw:
                self._binning_raw = {_binning_number(v): v for v in raw}
                choices = tuple(sorted(self._binning_raw))
                self._set_spec("binning", allowed=choices, default=choices[0])
            else:
                self._set_spec("binning", kind="int", item_kind=None, allowed=None, low=1.0)
            self._read_with("binning", lambda: _binning_number(core.getProperty(label, "Binning")))
        self._read_with("roi", lambda: tuple(int(v) for v in core.getROI(label)))
        self._full_frame()

    def _full_frame(self) -> tuple[int, int]:
        """(width, height) of the whole sensor at the current binning; the roi's limit."""
        core, label = self.core, self.mm_label
        roi = tuple(int(v) for v in core.getROI(label))
        core.clearROI()
        full = (int(core.getImageWidth()), int(core.getImageHeight()))
        if roi != (0, 0, *full):
            core.setROI(label, *roi)
        self._full = full
        self._set_spec("roi", high=float(max(full)), default=(0, 0, *full))
        return full

    # -- settings ----------------------------------------------------------------------------------

    def _apply(self, name: str, value: Any) -> None:
        core, label = self.core, self.mm_label
        if name == "roi":
            self._check_roi(value)
        with self._stream_paused():
            try:
                if name == "exposure_ms":
                    core.setExposure(label, value)
                elif name == "roi":
                    core.setROI(label, *value)
                elif name == "binning":
                    if core.hasProperty(label, "Binning"):
                        raw = self._binning_raw.get(value, str(value))  # e.g. "2x2"
                        core.setProperty(label, "Binning", value if raw == str(value) else raw)
                        core.clearROI()  # the old roi counted pixels of the old binning
                        self._full_frame()
                elif name in self._mm_props:
                    self._set_mm(name, value)
            except PropertyError:
                raise
            except MM_ERRORS as exc:
                raise PropertyValueError(
                    f"{name}={value!r} of {self.qualified_name} was refused by Micro-Manager: "
                    f"{exc}; choose another value", device=self.qualified_name, prop_name=name,
                    value=value,
                ) from None  # fmt: skip

    def _check_roi(self, roi: tuple[int, int, int, int]) -> None:
        x, y, w, h = roi
        width, height = self._full
        if w < 1 or h < 1 or x + w > width or y + h > height:
            raise PropertyLimitError(
                f"roi={tuple(roi)} of {self.qualified_name} does not fit the {width}×{height} "
                f"frame; choose x + w ≤ {width}, y + h ≤ {height} and w, h ≥ 1, e.g. "
                f"roi=(0, 0, {width}, {height})",
                device=self.qualified_name, prop_name="roi", value=roi,
            )  # fmt: skip

    # -- streaming -----------------------------------------------------------------------------

    def start_streaming(self) -> None:
        """Start Micro-Manager's continuous sequence acquisition (the engine calls this before it
        calls ``render_into`` for a stream; frames then come from the circular buffer)."""
        with self._lock:
            if not self._streaming:
                self._start_sequence()
                self._streaming = True

    def stop_streaming(self) -> None:
        """Stop the sequence acquisition (idempotent); frames are snapped again afterwards."""
        with self._lock:
            if self._streaming:
                self._streaming = False
                self._stop_sequence()

    def _start_sequence(self) -> None:
        core = self.core
        if core.getCameraDevice() != self.mm_label:
            core.setCameraDevice(self.mm_label)
        core.startContinuousSequenceAcquisition(1000.0 / float(self.get("frame_rate_hz")))
        self._buffer = direct_buffer(core, self.mm_label)

    def _stop_sequence(self) -> None:
        core = self.core
        if core.isSequenceRunning():
            core.stopSequenceAcquisition(self.mm_label)
        core.clearCircularBuffer()
        self._buffer = None

    @contextmanager
    def _stream_paused(self) -> Iterator[None]:
        """Stop a running stream around a change (cameras refuse most changes mid-sequence) and
        start it again with the new settings, whose frames alone are then in the buffer."""
        if not self._streaming:
            yield
            return
        self._stop_sequence()
        try:
            yield
        finally:
            self._start_sequence()

    # -- frames --------------------------------------------------------------------------------

    def snap(self) -> tuple[np.ndarray, dict[str, float]]:
        """One frame in a new array and its metadata (while streaming: the next frame the camera
        makes, left in the stream too)."""
        with self._lock:
            if self._streaming:
                return self._next_streamed()
            out = np.empty(self.shape, self.dtype)
            return out, self._snap_into(out)

    def render_into(self, out: np.ndarray) -> dict[str, float]:
        """Fill ``out`` (a ring slot of ``shape``/``dtype``) with the next frame; returns its
        metadata (``timestamp_s`` when the exposure started, ``exposure_ms``, stage targets).

        Raises:
            ValueError: ``out`` does not fit a frame (outside a stream).
            TimeoutError: no frame came from Micro-Manager in time.
            RuntimeError: the camera stopped its sequence acquisition on its own.
        """
        with self._lock:
            if not self._streaming:
                return self._snap_into(out)
            return self._pop_next(out)

    def _snap_into(self, out: np.ndarray) -> dict[str, float]:
        core = self.core
        started = time.time()
        try:
            core.snapImage()
            image = core.getImage(fix=False)
        except MM_ERRORS as exc:
            raise RuntimeError(
                f"Micro-Manager could not snap {self.qualified_name}: {exc}; check the camera"
            ) from None
        if image.shape != out.shape or image.dtype != out.dtype:
            raise ValueError(
                f"{self.qualified_name}: out has shape {out.shape} {out.dtype}, frames are "
                f"{image.shape} {image.dtype}; allocate np.empty(camera.shape, camera.dtype) after "
                "changing roi, binning or the pixel type"
            )
        np.copyto(out, image)
        return self._meta(started)

    def _pop_next(self, out: np.ndarray) -> dict[str, float]:
        core = self.core
        deadline = time.monotonic() + self._patience_s()
        while True:
            queued = int(core.getRemainingImageCount())
            if queued > MAX_QUEUED:  # a camera faster than frame_rate_hz: keep the newest
                self._skip(queued - 1)
            found = pop_into(core, self._buffer, out) if queued else None
            if found is SKIPPED:
                self._skipped += 1
                continue
            if found is not None:
                exposure_ms = float(self.get("exposure_ms"))
                return self._meta(received_time(found) - exposure_ms / 1000.0)
            self._wait_for_frame(deadline)

    def _next_streamed(self) -> tuple[np.ndarray, dict[str, float]]:
        """The next frame of a running stream, read without taking it from the stream."""
        core = self.core
        deadline = time.monotonic() + self._patience_s()
        queued = int(core.getRemainingImageCount())
        while int(core.getRemainingImageCount()) <= queued:
            self._wait_for_frame(deadline)
        image, metadata = core.getLastImageAndMD(fix=False)
        exposure_ms = float(self.get("exposure_ms"))
        return np.array(image), self._meta(received_time(dict(metadata)) - exposure_ms / 1000.0)

    def _skip(self, n: int) -> None:
        for _ in range(n):
            if int(self.core.getRemainingImageCount()) <= 1:
                break
            self.core.popNextImage(fix=False)
            self._skipped += 1

    def _patience_s(self) -> float:
        period = 1.0 / float(self.get("frame_rate_hz"))
        return max(2.0, 3.0 * (float(self.get("exposure_ms")) / 1000.0 + period))

    def _wait_for_frame(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            if not self.core.isSequenceRunning():
                raise RuntimeError(
                    f"{self.qualified_name} stopped its sequence acquisition on its own (see the "
                    "Micro-Manager log, e.g. a circular buffer overflow); start the scope again"
                )
            raise TimeoutError(
                f"no frame from {self.qualified_name} in {self._patience_s():.3g} s of streaming; "
                "check its trigger settings and cable"
            )
        time.sleep(min(0.002, 0.1 / float(self.get("frame_rate_hz"))))

    def _meta(self, timestamp_s: float) -> dict[str, float]:
        meta = {"timestamp_s": timestamp_s, "exposure_ms": float(self.get("exposure_ms"))}
        if self.stage is not None:
            meta.update(zip(("x_um", "y_um", "z_um"), self.stage.targets(), strict=True))
        return meta

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                try:
                    self.stop_streaming()
                finally:
                    self._release()
        super().close()
