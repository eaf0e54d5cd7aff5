"""Frames out of Micro-Manager's circular buffer into a labkit ring slot.

With C++ device adapters, pymmcore copies each frame out of the C++ circular buffer into a new
numpy array (``popNextImage`` has no ``out=``), so one more copy into the ring slot cannot be
avoided. With pymmcore-plus's ``UniMMCore`` and a Python camera, frames live in a numpy
``SequenceBuffer`` that can pop straight into a given array: then the frame is copied once, from
Micro-Manager's buffer into the ring slot. That buffer is not public API (pymmcore-plus 0.18:
``UniMMCore._seq_buffer``, ``SequenceBuffer.pop_next(out=)``); :func:`direct_buffer` checks it is
there and everything falls back to the public calls when it is not.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["SKIPPED", "direct_buffer", "pop_into", "received_time"]

#: what :func:`pop_into` returns when the oldest frame did not fit ``out`` (it is dropped)
SKIPPED: dict[str, Any] = {}


def direct_buffer(core: Any, camera_label: str) -> Any:
    """UniMMCore's sequence buffer when ``camera_label`` is a Python camera and the buffer pops into
    a given array, else None (use the public calls)."""
    is_py = getattr(core, "isPyDevice", None)
    if is_py is None or not is_py(camera_label):
        return None
    buffer = getattr(core, "_seq_buffer", None)
    slots, lock = getattr(buffer, "_slots", None), getattr(buffer, "_lock", None)
    if buffer is None or slots is None or lock is None or not hasattr(buffer, "pop_next"):
        return None
    return buffer


def pop_into(core: Any, buffer: Any, out: np.ndarray) -> dict[str, Any] | None:
    """Pop the oldest frame into ``out``; returns its Micro-Manager metadata, ``SKIPPED`` when the
    frame had another shape or dtype (a setting changed mid-stream; it is dropped), None when the
    buffer was empty."""
    if buffer is not None:
        with buffer._lock:  # the oldest frame's format, before popping it into out
            head = buffer._slots[0].array if buffer._slots else None
        if head is None:
            return None
        if head.shape != out.shape or head.dtype != out.dtype:
            buffer.pop_next()
            return SKIPPED
        try:
            popped = buffer.pop_next(out=out)
        except ValueError:  # the head was overwritten meanwhile by a frame of another format
            return SKIPPED
        return None if popped is None else dict(popped[1])
    if core.getRemainingImageCount() == 0:
        return None
    image, metadata = core.popNextImageAndMD(fix=False)
    if image.shape != out.shape or image.dtype != out.dtype:
        return SKIPPED
    np.copyto(out, image)
    return dict(metadata)


def received_time(metadata: dict[str, Any]) -> float:
    """``time.time()`` at which Micro-Manager received the frame (``TimeReceivedByCore``, local
    time), or now when the metadata does not say."""
    text = metadata.get("TimeReceivedByCore")
    if text:
        try:
            return datetime.fromisoformat(str(text)).timestamp()
        except ValueError:
            pass
    return time.time()
