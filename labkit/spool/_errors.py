"""Exceptions raised by the spooler."""

from __future__ import annotations

from labkit.errors import LabkitError


class SpoolError(LabkitError, RuntimeError):
    """Base class of spool errors (bad settings, write failures, wrong state)."""


class SpoolPreflightError(SpoolError):
    """The preflight checks found a problem; ``.checks`` holds ``(ok, message)`` pairs."""

    def __init__(self, message: str, checks: list[tuple[bool, str]] | None = None) -> None:
        super().__init__(message)
        self.checks = list(checks or [])


class SeriesExistsError(SpoolError, FileExistsError):
    """The series path already exists; labkit never overwrites a series."""


class SpoolWriteError(SpoolError, OSError):
    """Writing the series failed (disk full, permission denied, file size limit).

    The frames written before the error stay readable with ``labkit.open_series``.
    """

    def __str__(self) -> str:
        return str(self.args[1]) if len(self.args) >= 2 else super().__str__()


class SpoolStreamError(SpoolError, LookupError):
    """A stream named in ``frames_stream``/``trace_streams`` cannot go into the series (unknown,
    the wrong kind, or a method that stores frames only); the message says what to do."""
