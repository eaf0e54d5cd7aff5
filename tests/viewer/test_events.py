"""Reliable events: queued before the client connects, replayed, coalesced, acked."""

from __future__ import annotations

import threading

import numpy as np

from labkit.viewer._client import EventListener

from .test_watch import wait_for


def test_events_sent_before_the_client_connects_are_delivered_once_newest_edit_wins(manager):
    for value in (1.0, 2.0, 3.0):  # three edits of x while nobody listens: PUB would lose them all
        manager.emit_to_client(
            "c1", "edit", {"var_name": "x", "data": np.full(3, value)}, coalesce=("edit", "x")
        )
    manager.emit_to_client(
        "c1", "edit", {"var_name": "y", "data": np.zeros(2)}, coalesce=("edit", "y")
    )
    manager.emit_to_client("c1", "note", {"n": 1})
    got: list = []
    lock = threading.Lock()

    def handler(topic, payload):
        with lock:
            got.append(
                (
                    topic,
                    payload.get("var_name"),
                    payload.get("data", np.zeros(1)).tolist() if "data" in payload else payload,
                )
            )

    listener = EventListener(manager.entry, "c1", handler, hello_interval_s=0.2)
    try:
        wait_for(lambda: len(got) >= 3)
        wait_for(lambda: not manager._outbox.get("c1"))  # everything acked
        threading.Event().wait(0.5)  # several hello rounds: nothing is delivered twice
        assert got == [
            ("edit", "x", [3.0, 3.0, 3.0]),
            ("edit", "y", [0.0, 0.0]),
            ("note", None, {"n": 1}),
        ]
    finally:
        listener.stop()


def test_a_reconnecting_client_gets_only_what_it_has_not_applied(manager):
    got: list = []
    first = EventListener(
        manager.entry, "c2", lambda t, p: got.append(p["n"]), hello_interval_s=0.2
    )
    manager.emit_to_client("c2", "tick", {"n": 1})
    wait_for(lambda: got == [1])
    first.stop()
    manager.emit_to_client("c2", "tick", {"n": 2})  # while disconnected
    second = EventListener(
        manager.entry, "c2", lambda t, p: got.append(p["n"]), hello_interval_s=0.2
    )
    second.last_seq = first.last_seq
    try:
        wait_for(lambda: got == [1, 2])
        wait_for(lambda: not manager._outbox.get("c2"))
    finally:
        second.stop()
