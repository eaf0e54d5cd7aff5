"""A watching process that stops reading (SIGSTOP) never stalls the manager, and recovers.

Latency while a peer is stalled is measured by ``labkit bench rpc`` (beside an unloaded baseline);
here the check is behavioural: every request of another client is answered while the stopped
process has a full backlog, the overflow is counted and reported to it, and once resumed it gets
the newest events and pushes again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import labkit.viewer as lv
from labkit.testing import wait_until

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("stalled_watcher.py")


def test_a_stopped_watcher_does_not_stall_the_manager_and_catches_up(runtime):
    manager = lv.ManagerServer(registry_dir=runtime, page=False).start()
    child = subprocess.Popen(
        [sys.executable, str(CHILD), manager.connection_file],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        hello = json.loads(child.stdout.readline())
        client_id = hello["client_id"]
        window = wait_until(lambda: manager.windows.find_watched(client_id, "x"), what="window x")
        child.send_signal(signal.SIGSTOP)
        payload = np.zeros(64 * 1024, np.uint8)
        answered = 0
        for n in range(3000):  # far more than its backlog holds (1024 events)
            manager.emit_to_client(client_id, "note", {"n": n, "blob": payload})
            if n % 100 == 0:  # another client is served throughout
                assert lv.managers[0].request("ping", echo=n, timeout_s=30)["echo"] == n
                answered += 1
        assert answered == 30
        state = wait_until(lambda: manager.rpc._clients.find(client_id.encode()), what="state")
        wait_until(lambda: state.backlog.lost > 0, what="events dropped for the stopped client")
        lost_so_far = state.backlog.lost
        assert lv.managers[0].request("list", timeout_s=30)[0]["uid"] == window.uid
        # an edit made while it is stopped is the newest value of x: it must still arrive
        manager.windows.edit_data(window.uid, np.full(8, 7.0), origin="viewer")
        child.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 60
        while True:  # the resumed process reads its backlog, then applies the edit
            child.stdin.write("status\n")
            child.stdin.flush()
            status = json.loads(child.stdout.readline())
            if status["x"] == [7.0] * 8 or time.monotonic() > deadline:
                break
        assert status["x"] == [7.0] * 8
        assert status["events_lost"] >= lost_so_far > 0  # it knows exactly what it missed
        child.stdin.write("push\n")  # and it pushes again
        child.stdin.flush()
        assert json.loads(child.stdout.readline())["x"] == [8.0] * 8
        wait_until(lambda: float(manager.windows.get(window.uid).data[0]) == 8.0, what="push")
        wait_until(lambda: len(state.backlog) == 0, timeout_s=30, what="the backlog acked")
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.stdin.close()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        child.stdout.close()
        lv.shutdown()
        manager.stop()
