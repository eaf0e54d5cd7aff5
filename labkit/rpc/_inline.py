"""Which requests the socket thread may answer itself: quick ones, learned from how long they took.

Handing a request to a worker thread costs two thread wake-ups (there and back), which dominates
a property read or write. A server may name methods that are usually quick (``candidates``); each
request is keyed (method and, by default, the device and property it names) and runs inline once
its last few runs on that key all took less than ``budget_s``. Unknown keys and keys that were ever
slow lately go to a worker, so a slow device never holds the socket thread twice in a row, and a
call that is sometimes slow (a camera ROI change) moves back to the workers after one slow run.
Pure logic: durations are given, not measured here.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Collection, Hashable
from typing import Any

__all__ = ["InlinePolicy", "device_property_key"]


def device_property_key(method: str, params: dict[str, Any]) -> Hashable:
    """``(method, device, name)``: property calls on one device property share their history."""
    return (method, str(params.get("device", "")), str(params.get("name", "")))


class InlinePolicy:
    """Decide inline-or-worker per request key from its recent durations."""

    def __init__(
        self,
        candidates: Collection[str],
        budget_s: float = 0.002,
        history: int = 4,
        key: Callable[[str, dict[str, Any]], Hashable] = device_property_key,
        max_keys: int = 4096,
    ) -> None:
        if budget_s <= 0 or history < 1:
            raise ValueError("budget_s must be > 0 and history >= 1")
        self.candidates = frozenset(candidates)
        self.budget_s, self.history, self._key, self.max_keys = budget_s, history, key, max_keys
        self._runs: dict[Hashable, collections.deque[float]] = {}

    def key(self, method: str, params: dict[str, Any]) -> Hashable | None:
        """The request's key, or None when the method is not a candidate."""
        return self._key(method, params) if method in self.candidates else None

    def inline(self, key: Hashable | None) -> bool:
        """True when the last ``history`` runs on ``key`` were all under budget."""
        if key is None:
            return False
        runs = self._runs.get(key)
        return runs is not None and len(runs) == self.history and max(runs) < self.budget_s

    def record(self, key: Hashable | None, duration_s: float) -> None:
        """Remember how long a run on ``key`` took (thread-safe enough: one deque per key)."""
        if key is None:
            return
        runs = self._runs.get(key)
        if runs is None:
            if len(self._runs) >= self.max_keys:
                self._runs.clear()  # a pathological stream of keys: start learning again
            runs = self._runs[key] = collections.deque(maxlen=self.history)
        runs.append(duration_s)
