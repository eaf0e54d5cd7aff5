"""Random operation sequences against a plain-Python model of the ring's bookkeeping."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.buffers import FrameRing

SHAPE = (3, 5)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(1, 6)),
        st.tuples(st.just("abort"), st.just(0)),
        st.tuples(st.just("next"), st.integers(0, 1)),  # reader 0 or 1
        st.tuples(st.just("next_into"), st.integers(0, 1)),
        st.tuples(st.just("latest"), st.integers(0, 1)),
        st.tuples(st.just("drain"), st.integers(0, 1)),
        st.tuples(st.just("read"), st.integers(0, 40)),
    ),
    max_size=40,
)


class Model:
    def __init__(self, n_slots: int) -> None:
        self.n = n_slots
        self.written = 0
        self.destroyed: set[int] = set()
        self.cursor = [0, 0]
        self.lost = [0, 0]

    def present(self, i: int) -> bool:
        return max(0, self.written - self.n) <= i < self.written and i not in self.destroyed

    def next(self, r: int) -> int | None:
        oldest = max(0, self.written - self.n)
        if self.cursor[r] < oldest:
            self.lost[r] += oldest - self.cursor[r]
            self.cursor[r] = oldest
        while self.cursor[r] < self.written:
            i = self.cursor[r]
            self.cursor[r] += 1
            if self.present(i):
                return i
            self.lost[r] += 1
        return None


def value(i: int) -> np.ndarray:
    return np.full(SHAPE, i % 251, np.uint8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_slots=st.integers(2, 5), operations=ops)
def test_ring_matches_model(n_slots, operations):
    model = Model(n_slots)
    with FrameRing.create(SHAPE, "uint8", n_slots=n_slots) as ring:
        readers = [ring.reader("a"), ring.reader("b")]
        for op, arg in operations:
            if op == "write":
                for _ in range(arg):
                    assert ring.write(value(model.written), z_um=model.written) == model.written
                    model.written += 1
            elif op == "abort":
                try:
                    with ring.claim() as slot:
                        slot.array[:] = 255
                        raise KeyError("abort")
                except KeyError:
                    pass
                model.destroyed.add(model.written - n_slots)
            elif op == "next":
                want = model.next(arg)
                if want is None:
                    try:
                        readers[arg].next(timeout=0)
                    except TimeoutError:
                        pass
                    else:
                        raise AssertionError("next() returned a frame the model does not have")
                else:
                    frame = readers[arg].next(timeout=0)
                    assert frame.index == want and frame.meta["z_um"] == want
                    assert np.array_equal(frame.data, value(want))
            elif op == "next_into":
                want = model.next(arg)
                out, meta = np.zeros(SHAPE, np.uint8), np.zeros((), readers[arg].meta_dtype)
                if want is None:
                    try:
                        readers[arg].next_into(out, meta, timeout=0)
                    except TimeoutError:
                        pass
                    else:
                        raise AssertionError("next_into() read a frame the model does not have")
                else:
                    assert readers[arg].next_into(out, meta, timeout=0) == want
                    assert meta["index"] == want and meta["z_um"] == want
                    assert np.array_equal(out, value(want))
            elif op == "latest":
                frame = readers[arg].latest()
                if model.written == 0:
                    assert frame is None
                else:
                    assert frame.index == model.written - 1
                    assert np.array_equal(frame.data, value(frame.index))
                    model.cursor[arg] = max(model.cursor[arg], model.written)
            elif op == "drain":
                lost_before = model.lost[arg]
                want = []
                while (i := model.next(arg)) is not None:
                    want.append(i)
                frames, lost = readers[arg].drain()
                assert [f.index for f in frames] == want and lost == model.lost[arg] - lost_before
            elif op == "read":
                stop = min(arg, model.written)
                want = [i for i in range(0, stop) if model.present(i)]
                frames, lost = readers[0].read(0, arg)
                assert [f.index for f in frames] == want and lost == stop - len(want)
            for r, reader in enumerate(readers):
                assert (reader.cursor, reader.frames_lost) == (model.cursor[r], model.lost[r])
        stats = ring.stats()
        assert stats["frames_written"] == model.written
        for r, name in enumerate("ab"):
            pending = max(0, model.written - n_slots - model.cursor[r])
            assert stats["readers"][name]["frames_lost"] == model.lost[r] + pending
