"""The ring follows the camera's shape: recreated at start (or at once while streaming), announced."""

from __future__ import annotations

import pytest
from engine_helpers import SHAPE, Recorder, make_scope, wait_until


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_shape_change_recreates_the_ring(mode):
    with make_scope(mode) as scope:
        rec = Recorder()
        scope.subscribe(rec)
        first = scope.ring_name
        scope.camera.binning = 2
        assert scope.ring_name == first  # not before the next start
        scope.start()
        second = scope.ring_name
        assert second != first
        with scope.open_reader() as reader:
            assert reader.next(timeout=5).data.shape == (SHAPE[0] // 2, SHAPE[1] // 2)
        scope.camera.roi = (0, 0, 64, 32)  # while streaming: a new ring at once
        third = scope.ring_name
        assert third not in (first, second)
        with scope.open_reader() as reader:
            assert reader.next(timeout=5).data.shape == (16, 32)
        wait_until(lambda: len(rec.topic("ring")) >= 2, what="ring events")
        announced = [e.payload for e in rec.topic("ring")]
        assert [a["ring_name"] for a in announced] == [second, third]
        assert announced[-1]["shape"] == [16, 32]
        scope.unsubscribe(rec)
