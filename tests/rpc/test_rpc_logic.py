"""The RPC layer's pure pieces: event backlog, liveness, rate-limited log, workers (no sockets)."""

from __future__ import annotations

import logging
import threading

import pytest

from labkit.rpc import EventBacklog, Liveness, RateLimitedLog
from labkit.rpc._workers import Workers


def _push(backlog: EventBacklog, nbytes: int = 10, coalesce=None):
    return backlog.push(lambda seq, lost: [seq, lost], nbytes, coalesce)


def test_backlog_numbers_events_and_forgets_what_is_acked():
    b = EventBacklog(max_events=10, max_bytes=1000)
    entries = [_push(b) for _ in range(4)]
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.frames for e in entries] == [[1, 0], [2, 0], [3, 0], [4, 0]]
    assert [e.seq for e in b.unsent()] == [1, 2, 3, 4]
    for e in entries:
        e.sent = True
    assert b.ack(2) == 2 and len(b) == 2 and b.nbytes == 20
    b.rewind(3)  # reconnected having applied 3: only 4 is resent
    assert [e.seq for e in b.unsent()] == [4]


def test_backlog_bound_drops_the_oldest_and_counts_only_unsent_as_lost():
    b = EventBacklog(max_events=3, max_bytes=10_000)
    first = _push(b)
    first.sent = True  # handed to the socket: not lost if dropped from the replay window
    for _ in range(3):
        _push(b)
    assert len(b) == 3 and b.lost == 0  # the sent one made room
    last = _push(b)
    assert b.lost == 1  # seq 2 was never sent
    assert last.frames == [5, 1]  # every later event carries the running total
    b2 = EventBacklog(max_events=100, max_bytes=25)
    for _ in range(3):
        _push(b2, nbytes=10)
    assert len(b2) == 2 and b2.nbytes == 20 and b2.lost == 1


def test_backlog_coalesces_superseded_events_without_calling_them_lost():
    b = EventBacklog()
    _push(b, coalesce=("edit", "x"))
    _push(b, coalesce=("edit", "y"))
    newest = _push(b, coalesce=("edit", "x"))
    assert [e.seq for e in b.unsent()] == [2, 3] and newest.seq == 3
    assert b.superseded == 1 and b.lost == 0
    with pytest.raises(ValueError, match="at least 1"):
        EventBacklog(max_events=0)


def test_liveness_pings_when_quiet_and_declares_death_only_after_silence():
    live = Liveness(ping_s=1.0, liveness_s=5.0)
    assert live.check(100.0) == "ok" and live.next_check(100.0) is None  # nothing heard yet
    live.received(100.0)
    assert live.check(100.5) == "ok"
    assert live.next_check(100.5) == pytest.approx(0.5)
    assert live.check(101.0) == "ping"
    assert live.check(101.2) == "ok"  # one ping per period
    assert live.next_check(101.2) == pytest.approx(0.8)
    assert live.check(102.0) == "ping"
    live.received(102.1)  # the pong: alive again
    assert live.check(106.0) == "ping"
    assert live.check(107.1) == "dead"
    with pytest.raises(ValueError, match="ping_s < liveness_s"):
        Liveness(ping_s=5, liveness_s=1)


def test_rate_limited_log_summarises_what_it_suppressed(caplog):
    now = [0.0]
    log = logging.getLogger("labkit.test.ratelimit")
    limited = RateLimitedLog(log, period_s=60, burst=2, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert [limited("refused %d", i) for i in range(5)] == [True, True, False, False, False]
        assert limited.suppressed == 3
        now[0] = 61.0
        assert limited("refused %d", 5)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "refused 0",
        "refused 1",
        "3 more such messages were suppressed in the last 61 s",
        "refused 5",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_workers_run_tasks_concurrently_up_to_their_size_and_join_on_close():
    pool = Workers(2, "labkit-test-pool")
    gate = threading.Event()
    started: list[str] = []
    both = threading.Barrier(3, timeout=10)

    def task() -> None:
        started.append(threading.current_thread().name)
        both.wait()  # two tasks must run at once to pass this barrier
        gate.wait(10)

    pool.submit(task)
    pool.submit(task)
    both.wait()
    assert len(set(started)) == 2
    done = threading.Event()
    pool.submit(done.set)  # queued behind the busy ones: runs once one is free
    gate.set()
    assert done.wait(10)
    pool.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("labkit-test-pool")]
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(done.set)


def test_inline_policy_learns_quick_keys_and_demotes_a_slow_one_at_once():
    from labkit.rpc import InlinePolicy

    policy = InlinePolicy(["get_property"], budget_s=0.002, history=3)
    assert policy.key("move_stage", {"device": "stage"}) is None  # not a candidate: worker
    key = policy.key("get_property", {"device": "camera", "name": "exposure_ms"})
    other = policy.key("get_property", {"device": "camera", "name": "roi"})
    assert key != other
    assert not policy.inline(key)  # never seen: worker first
    for _ in range(2):
        policy.record(key, 0.0001)
    assert not policy.inline(key)  # not enough history yet
    policy.record(key, 0.0001)
    assert policy.inline(key) and not policy.inline(other)
    policy.record(key, 0.150)  # one slow run (a device hiccup): back to the workers
    assert not policy.inline(key)
    for _ in range(3):
        policy.record(key, 0.0001)
    assert policy.inline(key)
    with pytest.raises(ValueError, match="budget_s"):
        InlinePolicy(["x"], budget_s=0)
