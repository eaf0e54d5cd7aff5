"""The messages between the kernel and the browser, checked against the TypeScript side.

The TypeScript interfaces (js/src/*/protocol.ts, js/src/form/schema.ts) are read here and every
message the kernel really sends must carry exactly their fields, of their types; every message
type the front end sends must be one the kernel handles. The colormap list is the same on both
sides (js/test/colormaps.test.ts checks it from the other side).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labkit.buffers import TraceBuffer
from labkit.testing import wait_until
from labkit.widgets import LiveView, TracePlot
from labkit.widgets._form import Form
from labkit.widgets._liveview_sources import COLORMAPS

JS = Path(__file__).resolve().parents[2] / "js" / "src"


def ts_interface(path: Path, name: str) -> dict[str, tuple[str, bool]]:
    """``export interface name { field?: type; ... }`` -> {field: (type, optional)}."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"export interface {name} \{{\n(.*?)\n\}}", text, re.S)
    assert match, f"{path.name} has no interface {name}"
    fields = {}
    for line in match.group(1).splitlines():
        line = line.split("//")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"(\w+)(\??):\s*(.+?);", line)
        assert m, f"cannot read {line!r} of {name}"
        fields[m.group(1)] = (m.group(3), m.group(2) == "?")
    return fields


def _matches(value: Any, ts_type: str) -> bool:
    for alt in (a.strip() for a in ts_type.split("|")):
        if alt == "unknown":
            return True
        if alt == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if alt == "string" and isinstance(value, str):
            return True
        if alt == "boolean" and isinstance(value, bool):
            return True
        if alt == "null" and value is None:
            return True
        if alt.startswith('"') and value == alt.strip('"'):
            return True
    return False


def assert_matches(msg: dict, fields: dict[str, tuple[str, bool]]) -> None:
    required = {k for k, (_, optional) in fields.items() if not optional}
    assert required <= msg.keys() <= fields.keys(), (
        f"missing {sorted(required - msg.keys())}, not in the TypeScript type "
        f"{sorted(msg.keys() - fields.keys())}"
    )
    wrong = {k: v for k, v in msg.items() if not _matches(v, fields[k][0])}
    assert not wrong, {k: (v, fields[k][0]) for k, v in wrong.items()}


def _sent_types(path: Path) -> set[str]:
    """Message types a front-end module sends to the kernel."""
    return set(re.findall(r'send\(\{ type: "(\w+)"', path.read_text(encoding="utf-8"))) | set(
        re.findall(r'\? \{ type: "(\w+)"', path.read_text(encoding="utf-8"))
    )


class Recorder:
    def __init__(self) -> None:
        self.msgs: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, content, buffers=None) -> None:
        with self.lock:
            self.msgs.append(content)

    def of(self, kind: str) -> list[dict]:
        with self.lock:
            return [m for m in self.msgs if m.get("type") == kind]


def test_colormaps_are_the_same_list_on_both_sides():
    text = (JS / "render" / "colormaps.ts").read_text(encoding="utf-8")
    match = re.search(r"export const COLORMAP_NAMES: readonly string\[\] = \[(.*?)\];", text, re.S)
    assert match
    assert tuple(re.findall(r'"(\w+)"', match.group(1))) == COLORMAPS


@pytest.mark.parametrize("encoding", ["raw16", "raw8", "jpeg"])
def test_live_view_frames_carry_exactly_the_fields_of_framemsg(encoding):
    fields = ts_interface(JS / "liveview" / "protocol.ts", "FrameMsg")
    frame = np.random.default_rng(0).integers(0, 4096, (96, 128), dtype=np.uint16)
    with LiveView(frame, encoding=encoding, max_fps=50) as view:
        rec = Recorder()
        view.send = rec
        view._on_custom_msg(view, {"type": "ready", "view": "v1"}, [])
        wait_until(lambda: rec.of("frame"), what="a frame")
        msg = rec.of("frame")[0]
    assert msg["encoding"] == encoding
    assert_matches(msg, fields)


def test_trace_messages_carry_exactly_the_fields_of_tracesmsg():
    fields = ts_interface(JS / "trace" / "protocol.ts", "TracesMsg")
    buf = TraceBuffer.create(("a", "b"), capacity=1000)
    try:
        plot = TracePlot(buf.reader(), renderer="canvas", autostart=False)
        rec = Recorder()
        plot.canvas.send = rec
        plot.canvas._on_custom_msg(plot.canvas, {"type": "ready", "view": "v1"}, [])
        plot.canvas._on_custom_msg(plot.canvas, {"type": "resize", "plot_w": 200}, [])
        t = 1000.0 + np.arange(50) / 100
        buf.write(t, np.column_stack([np.sin(t), np.cos(t)]))
        plot.update()
        plot.close()
    finally:
        buf.close()
    (msg,) = rec.of("traces")
    assert_matches(msg, fields)


def test_form_replies_carry_exactly_the_fields_of_appliedmsg():
    fields = ts_interface(JS / "form" / "schema.ts", "AppliedMsg")

    def on_edit(name, value):
        if value > 10:
            raise ValueError("above 10")
        return value

    form = Form([Form.row("number", "x", low=0, high=20)], values={"x": 1.0}, on_edit=on_edit)
    rec = Recorder()
    form.send = rec
    form._on_custom_msg(form, {"type": "edit", "name": "x", "value": 5.0}, [])
    form._on_custom_msg(form, {"type": "edit", "name": "x", "value": 15.0}, [])
    form.close()
    ok, refused = rec.of("applied")
    assert ok["error"] == "" and "above 10" in refused["error"]
    for msg in (ok, refused):
        assert_matches(msg, fields)


def test_every_message_the_front_end_sends_is_one_the_kernel_handles(caplog):
    caplog.set_level(logging.DEBUG, logger="labkit.widgets")
    live_types = _sent_types(JS / "liveview" / "widget.ts")
    trace_types = _sent_types(JS / "trace" / "widget.ts")
    assert {
        "ready", "ack", "viewport", "visible", "stats", "closed", "snapshot", "paint_rate", "pick",
    } >= live_types and {"ready", "ack", "closed"} <= live_types  # fmt: skip
    assert {"ready", "ack", "resize", "closed"} == trace_types
    with LiveView(np.zeros((8, 8), np.uint16)) as view:
        view.send = Recorder()
        for kind in sorted(live_types):
            message = {"type": kind, "view": "v1", "seq": 0, "x": 1.0, "y": 2.0}
            view._on_custom_msg(view, message, [])
        assert set(view.messages_received) == live_types
    buf = TraceBuffer.create(("a",), capacity=10)
    try:
        plot = TracePlot(buf.reader(), renderer="canvas", autostart=False)
        plot.canvas.send = Recorder()
        for kind in sorted(trace_types):
            plot.canvas._on_custom_msg(plot.canvas, {"type": kind, "view": "v1", "seq": 0}, [])
        plot.close()
    finally:
        buf.close()
    assert "unknown message type" not in caplog.text
    form_events = set(re.findall(r'type: "(\w+)"', (JS / "form" / "schema.ts").read_text()))
    assert form_events == {"edit", "click", "applied"}  # FormEvent (edit, click) + AppliedMsg
