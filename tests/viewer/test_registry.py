"""Registry of live managers: stale cleanup, ordering, corrupt files."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from labkit.viewer import ManagerEntry, Registry


def _entry(uid, pid, started, heartbeat=None):
    return ManagerEntry(uid=uid, pid=pid, address="ipc:///nowhere.sock", started_s=started,
                        heartbeat_s=time.time() if heartbeat is None else heartbeat)  # fmt: skip


def test_stale_entries_are_removed_and_order_is_start_time(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    reg = Registry(tmp_path)
    reg.add(_entry("late", os.getpid(), 20.0))
    reg.add(_entry("early", os.getpid(), 10.0))
    reg.add(_entry("dead", dead.pid, 5.0))
    reg.add(_entry("silent", os.getpid(), 1.0, heartbeat=time.time() - 3600))
    assert [e.uid for e in reg.entries()] == ["early", "late"]
    assert "dead" not in reg.path.read_text() and "silent" not in reg.path.read_text()
    reg.remove("early")
    assert [e.uid for e in Registry(tmp_path).entries()] == ["late"]


def test_corrupt_registry_file_is_ignored_not_fatal(tmp_path):
    reg = Registry(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    reg.path.write_text("{not json")
    assert reg.entries() == []
    reg.add(_entry("a", os.getpid(), 1.0))
    assert [e.uid for e in reg.entries()] == ["a"]
