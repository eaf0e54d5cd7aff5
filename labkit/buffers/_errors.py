"""Errors raised by the buffers layer."""

from __future__ import annotations

from labkit.errors import LabkitError

__all__ = ["RingError"]


class RingError(LabkitError, RuntimeError):
    """A shared-memory ring or trace buffer cannot do what was asked.

    Raised when a segment does not exist or is not a labkit buffer, when the owner closed it
    or died, when all reader slots are taken, when /dev/shm is too small, or when a non-owner
    tries to write. The message says what to do next.
    """
