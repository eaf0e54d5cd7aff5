"""Credit window and automatic encoding choice of the live view."""

from __future__ import annotations

import pytest

from labkit.widgets._transport import CreditWindow, EncodingPolicy


def test_at_most_two_frames_in_flight_and_ack_returns_credit():
    cw = CreditWindow(max_in_flight=2, timeout_s=10)
    a, b = cw.acquire(now=0.0), cw.acquire(now=0.0)
    assert (a, b) == (0, 1)
    assert cw.acquire(now=0.1) is None
    assert cw.ack(a, now=0.05) == pytest.approx(0.05)
    assert cw.acquire(now=0.2) == 2
    assert cw.in_flight == 2


def test_unknown_or_duplicate_ack_is_ignored():
    cw = CreditWindow(2, 10)
    seq = cw.acquire(now=0)
    assert cw.ack(seq, now=1) == 1
    assert cw.ack(seq, now=2) is None  # a second browser view acks the same frame
    assert cw.ack(999, now=2) is None
    assert cw.acked == 1


def test_credit_timeout_reclaims_so_a_busy_kernel_recovers():
    cw = CreditWindow(2, timeout_s=1.5)
    cw.acquire(now=0)
    cw.acquire(now=0.1)
    assert not cw.has_credit(now=1.0)
    assert cw.next_deadline() == pytest.approx(1.5)
    assert cw.has_credit(now=1.55)  # only the first one timed out
    assert cw.timeouts == 1
    assert cw.acquire(now=1.55) == 2
    assert cw.ack(0, now=1.56) is None  # a late ack of a reclaimed frame gives no second credit
    assert cw.in_flight == 2


def test_a_cumulative_ack_returns_every_earlier_credit_once():
    cw = CreditWindow(4, 10)
    seqs = [cw.acquire(now=0.0) for _ in range(4)]
    assert seqs == [0, 1, 2, 3] and cw.acquire(now=0.0) is None
    assert cw.ack_through(2, now=0.25) == pytest.approx(0.25)  # 0, 1 and 2 come back
    assert cw.in_flight == 1 and cw.acked == 3
    assert cw.ack_through(2, now=0.3) is None  # a repeated ack gives nothing twice
    assert cw.ack_through(1, now=0.3) is None and cw.in_flight == 1
    assert [cw.acquire(now=0.3) for _ in range(4)] == [4, 5, 6, None]


def test_reset_forgets_in_flight_frames():
    cw = CreditWindow(2, 10)
    cw.acquire(now=0)
    cw.acquire(now=0)
    cw.reset()
    assert cw.has_credit(now=0)


def test_fixed_encoding_never_changes():
    p = EncodingPolicy("raw16", window=3)
    for _ in range(10):
        assert p.record(1.0, 10) == "raw16"


def test_auto_steps_down_on_slow_acks_and_back_up_on_fast():
    p = EncodingPolicy("auto", window=5, slow_s=0.06, fast_s=0.025)
    assert p.current == "raw16"
    for _ in range(5):
        p.record(0.2, 800_000)
    assert p.current == "raw8"
    for _ in range(5):
        p.record(0.12, 400_000)  # helped (-40%) but still slow
    assert p.current == "jpeg"
    for _ in range(5):
        p.record(0.07, 50_000)
    assert p.current == "jpeg"  # nothing smaller
    for _ in range(5):
        p.record(0.004, 50_000)
    assert p.current == "raw8"
    for _ in range(5):
        p.record(0.005, 400_000)
    assert p.current == "raw16"
    assert p.switches == 4


def test_auto_needs_a_full_window_before_switching():
    p = EncodingPolicy("auto", window=5)
    for _ in range(4):
        p.record(1.0, 1)
    assert p.current == "raw16"


def test_auto_under_marimo_starts_small_and_8bit_sources_skip_raw16():
    assert EncodingPolicy("auto", prefer_small=True).current == "jpeg"
    p = EncodingPolicy("auto", source_bits=8, window=2)
    assert p.current == "raw8"
    assert EncodingPolicy("raw16", source_bits=8).current == "raw8"


def test_bad_encoding_is_rejected():
    with pytest.raises(ValueError, match="'auto', 'raw16', 'raw8' or 'jpeg'"):
        EncodingPolicy("png")


def test_auto_undoes_a_step_down_that_did_not_help():
    p = EncodingPolicy("auto", window=5, slow_s=0.06)
    for _ in range(5):
        p.record(0.1, 800_000)
    assert p.current == "raw8"
    for _ in range(5):
        p.record(0.095, 400_000)  # latency-bound, not byte-bound
    assert p.current == "raw16"
    for _ in range(5 * 9):
        p.record(0.1, 800_000)
    assert p.current == "raw16"  # cooling down: no new attempt yet
    for _ in range(5):
        p.record(0.1, 800_000)
    assert p.current == "raw8"  # tries again after 10 windows
