"""The engine state machine: allowed transitions and what invalid ones say."""

from __future__ import annotations

import pytest

from labkit.engine import EngineState, EngineStateError, ScopeHealth
from labkit.engine._state import ALLOWED_TRANSITIONS, check_transition

S = EngineState


def test_states_are_strings():
    assert S.RUNNING == "running"
    assert f"{S.FAILED}" == "failed"
    assert {s.value for s in S} == {"created", "ready", "running", "stopped", "closed", "failed"}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CREATED, S.READY),
        (S.READY, S.RUNNING),
        (S.RUNNING, S.STOPPED),
        (S.STOPPED, S.RUNNING),
        (S.RUNNING, S.FAILED),
        (S.FAILED, S.READY),
        (S.STOPPED, S.CLOSED),
        (S.READY, S.CLOSED),
    ],
)
def test_allowed_transitions_pass(current, target):
    check_transition(current, target)


def test_invalid_transition_names_state_and_options():
    with pytest.raises(EngineStateError) as info:
        check_transition(S.RUNNING, S.RUNNING)
    msg = str(info.value)
    assert "cannot start() while the engine is 'running'" in msg
    assert "'stopped' (via stop())" in msg and "'closed' (via close())" in msg
    assert info.value.state is S.RUNNING


def test_stop_when_ready_is_refused():
    with pytest.raises(EngineStateError, match="cannot stop\\(\\) while the engine is 'ready'"):
        check_transition(S.READY, S.STOPPED)


def test_nothing_after_closed():
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset()
    with pytest.raises(EngineStateError, match="create a new Scope"):
        check_transition(S.CLOSED, S.RUNNING)


def test_every_state_has_a_way_out_except_closed():
    for state, targets in ALLOWED_TRANSITIONS.items():
        assert bool(targets) is (state is not S.CLOSED)
        if state is not S.CLOSED:
            assert S.CLOSED in targets


def test_health_json_round_trip():
    h = ScopeHealth(
        S.RUNNING, 12, 30.5, 0.25, {"live": {"lag": 3, "frames_lost": 1}}, 2.0, 1, "labkit-1-x"
    )
    assert ScopeHealth.from_json(h.to_json()) == h
