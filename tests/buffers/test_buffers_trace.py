"""TraceBuffer / TraceReader."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.buffers import RingError, TraceBuffer, TraceReader


def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(start, stop, dtype=np.float64)
    return t * 0.01, np.stack([t, -t], axis=1)


def test_round_trip_and_history():
    with TraceBuffer.create(("current_nA", "voltage_mV"), capacity=100) as trace:
        reader = trace.reader()
        assert reader.read_new()[0].shape == (0,)
        trace.write(*rows(0, 10))
        t, v, lost = reader.read_new()
        np.testing.assert_array_equal(t, np.arange(10) * 0.01)
        np.testing.assert_array_equal(v[:, 1], -np.arange(10))
        assert lost == 0 and v.shape == (10, 2)
        assert trace.write(*rows(10, 15)) == 15 and trace.rows_written == 15
        t, v, lost = reader.read_new()
        assert v[:, 0].tolist() == list(range(10, 15)) and lost == 0
        t, v = reader.latest(4)
        assert v[:, 0].tolist() == [11, 12, 13, 14]
        with TraceReader.attach(trace.name) as other:
            assert other.channels == ("current_nA", "voltage_mV")
            assert other.latest(1000)[1][:, 0].tolist() == list(range(15))


def test_a_reader_behind_gets_the_exact_lost_row_count_and_the_newest_rows():
    with TraceBuffer.create(("a", "b"), capacity=10) as trace:
        reader = trace.reader()
        for start in range(0, 35, 5):  # 35 rows, wrapping 3.5 times
            trace.write(*rows(start, start + 5))
        t, v, lost = reader.read_new()
        assert lost == 25 and reader.rows_lost == 25
        assert v[:, 0].tolist() == list(range(25, 35))
        trace.write(*rows(35, 37))
        assert reader.read_new()[1][:, 0].tolist() == [35, 36]
        # one write larger than the buffer keeps only the newest rows
        trace.write(*rows(37, 60))
        t, v, lost = reader.read_new()
        assert v[:, 0].tolist() == list(range(50, 60)) and lost == 13


def test_rows_claimed_by_a_write_in_progress_are_not_returned():
    with TraceBuffer.create(("a",), capacity=10) as trace:
        reader = trace.reader()
        trace.write(*rows(0, 10)[0:1], rows(0, 10)[1][:, :1])
        # simulate the writer between claiming rows 10..13 and publishing them
        trace._layout.claimed[0] = 13
        t, v, lost = reader.read_new()
        assert v[:, 0].tolist() == list(range(3, 10)) and lost == 3


def test_bad_input_raises_clear_errors():
    with TraceBuffer.create(("a", "b"), capacity=10) as trace:
        with pytest.raises(ValueError, match=r"expects values of shape \(n, 2\).*got \(3, 3\)"):
            trace.write(np.zeros(3), np.zeros((3, 3)))
        assert trace.rows_written == 0
        with (
            TraceBuffer.attach(trace.name) as attached,
            pytest.raises(RingError, match="only its owner"),
        ):
            attached.write([0.0], [[1.0, 2.0]])
        with pytest.raises(ValueError, match="latest"):
            trace.reader().latest(-1)
    with pytest.raises(ValueError, match="distinct channel names"):
        TraceBuffer.create(("a", "a"))
    with pytest.raises(ValueError, match="capacity"):
        TraceBuffer.create(("a",), capacity=0)
    with pytest.raises(RingError, match="no shared-memory segment"):
        TraceBuffer.attach("labkit_0_missing")


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 12),
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(0, 30)),
            st.tuples(st.just("read_new"), st.just(0)),
            st.tuples(st.just("latest"), st.integers(0, 20)),
        ),
        max_size=30,
    ),
)
def test_trace_matches_model(capacity, operations):
    written, cursor, total_lost = 0, 0, 0
    with TraceBuffer.create(("x", "y"), capacity=capacity) as trace:
        reader = trace.reader()
        for op, arg in operations:
            if op == "write":
                trace.write(*rows(written, written + arg))
                written += arg
            elif op == "read_new":
                start = max(cursor, written - capacity)
                lost = start - cursor
                t, v, got_lost = reader.read_new()
                assert v[:, 0].tolist() == list(range(start, written)) and got_lost == lost
                np.testing.assert_array_equal(t, np.arange(start, written) * 0.01)
                cursor, total_lost = written, total_lost + lost
            else:
                t, v = reader.latest(arg)
                assert v[:, 0].tolist() == list(
                    range(max(0, written - min(arg, capacity)), written)
                )
                cursor = max(cursor, written)
            assert reader.cursor == cursor and reader.rows_lost == total_lost


def test_reader_gets_remaining_rows_then_an_error_after_the_owner_closed():
    trace = TraceBuffer.create(("a",), capacity=10)
    reader = TraceReader.attach(trace.name)
    trace.write([1.0, 2.0], [[1.0], [2.0]])
    trace.close()
    assert reader.read_new()[0].tolist() == [1.0, 2.0]
    with pytest.raises(RingError, match="closed by its owner"):
        reader.read_new()
    reader.close()
