"""The live benchmark's pieces: the naive baseline widget and the result table (the browser run
itself is `labkit bench live`, not a test: no timing assertions here)."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.bench._live import NaiveView, _results
from labkit.buffers import FrameRing
from labkit.testing import wait_until
from labkit.widgets._transport import CreditWindow


def test_naive_view_sends_full_raw_frames_with_two_in_flight():
    with FrameRing.create((64, 96), np.uint16, n_slots=4) as ring:
        view = NaiveView(ring.reader("naive"))
        view._credit = CreditWindow(2, 60.0)  # no credit timeout, however slow the machine is
        rounds = [0]  # the pump asks for credit once per round: each round is a chance to send
        has_credit = view._credit.has_credit

        def counted_has_credit(*args):
            rounds[0] += 1
            return has_credit(*args)

        view._credit.has_credit = counted_has_credit
        sent = []
        view.send = lambda content, buffers=None: sent.append((content, buffers))
        try:
            view._on_custom(view, {"type": "ready"}, [])
            for i in range(2):
                ring.write(np.full((64, 96), i, np.uint16))
                wait_until(lambda i=i: len(sent) == i + 1, what=f"frame {i} sent")
            ring.write(np.full((64, 96), 2, np.uint16))  # waits: no acks yet, the window is full
            start = rounds[0]
            wait_until(lambda: rounds[0] >= start + 3, what="three pump rounds")
            assert len(sent) == 2
            content, buffers = sent[0]
            assert (content["w"], content["h"]) == (96, 64)
            assert len(bytes(buffers[0])) == 64 * 96 * 2  # the whole frame, unbinned
            view._on_custom(view, {"type": "ack", "seq": content["seq"]}, [])
            wait_until(lambda: len(sent) == 3, what="the waiting frame sent after an ack")
            assert np.frombuffer(bytes(sent[2][1][0]), np.uint16)[0] == 2
        finally:
            view.close()


def test_results_put_each_figure_beside_the_naive_baseline():
    live = {"painted_fps": 58.0, "received_fps": 70.0, "latency_ms_p50": 30.0, "latency_ms_p95": 50.0,
            "kernel_cpu_ms_per_frame": 4.0, "pump_ms_per_frame": 2.0, "encoding": "raw16",
            "transit_ms_p50": 10.0, "paint_ms_p50": 0.3}  # fmt: skip
    naive = {
        **live,
        "painted_fps": 10.0,
        "received_fps": 10.0,
        "latency_ms_p50": 300.0,
        "kernel_cpu_ms_per_frame": 20.0,
    }
    by_name = {r.name: r for r in _results("voila", live, naive, 55.0)}
    fps = by_name["live voila painted fps"]
    assert fps.ratio == 5.8 and fps.goal_met
    assert by_name["live voila painted fps (absolute)"].goal_met
    lat = by_name["live voila camera->paint latency p50"]
    assert lat.ratio == 10.0 and lat.goal_met  # lower is better: 30 ms <= 40 ms
    assert by_name["live voila kernel CPU per frame sent"].ratio == 5.0


def test_cap_results_compare_with_the_same_view_without_the_cap():
    from labkit.bench._live import _cap_results

    capped = {"sent_per_painted": 1.05, "painted_fps": 57.0, "latency_ms_p50": 22.0,
              "latency_ms_p95": 40.0, "kernel_cpu_s_per_s": 0.2, "send_cap_fps": 59.9,
              "paint_rate_fps": 59.9}  # fmt: skip
    uncapped = {**capped, "sent_per_painted": 1.45, "painted_fps": 56.0, "kernel_cpu_s_per_s": 0.3}
    by_name = {r.name: r for r in _cap_results("voila", capped, uncapped)}
    ratio = by_name["live voila capped: frames sent per painted frame"]
    assert ratio.value == 1.05 and ratio.baseline_value == 1.45 and ratio.ratio > 1.3
    assert "59.9" in ratio.note
    assert by_name["live voila capped: kernel CPU"].ratio == pytest.approx(1.5)  # lower: better
    assert by_name["live voila capped: painted fps"].ratio == pytest.approx(57 / 56)


def test_the_dashboard_figure_is_beside_its_cameras_bare_view():
    from labkit.bench._live import _dashboard_result

    bare = {"painted_fps": 56.0, "encoding": "raw16", "latency_ms_p50": 30.0}
    dash = {"painted_fps": 50.4, "encoding": "raw8", "latency_ms_p50": 35.0}
    result = _dashboard_result(dash, bare)
    assert result.name == "live voila demo dashboard painted fps"
    assert result.ratio == pytest.approx(0.9) and result.goal_met is False  # 50.4 < 55
    assert "raw8 (bare raw16)" in result.note
    assert _dashboard_result({**dash, "painted_fps": 57.0}, bare).goal_met
