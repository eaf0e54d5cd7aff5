"""Target resolution: a uid made only of digits is a uid, not an index."""

from __future__ import annotations

import pytest

from labkit.viewer import _target
from labkit.viewer._errors import ManagerNotFoundError


class _Handle:
    def __init__(self, index: int, uid: str) -> None:
        self.index, self.uid, self.pid = index, uid, 0


def test_all_digit_uid_is_matched_as_a_uid(monkeypatch):
    live = [_Handle(0, "abc123def456"), _Handle(1, "739259403911")]
    monkeypatch.setattr(_target, "managers", lambda: live)
    assert _target._lookup("739259403911") is live[1]
    assert _target._lookup("1") is live[1]  # a short digit string is still an index
    with pytest.raises(ManagerNotFoundError, match="index 5"):
        _target._lookup("5")
