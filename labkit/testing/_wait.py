"""Waiting for a condition with a deadline (never a fixed pause)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout_s: float = 15.0, what: str = "", interval_s: float = 0.005
) -> T:
    """Poll ``predicate`` until it returns something true, and return that.

    Raises:
        AssertionError: still false after ``timeout_s`` (a deadline for a broken system, not a
            pause a working one needs); the message names ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        time.sleep(interval_s)
