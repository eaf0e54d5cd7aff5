"""Viewer fixtures: isolated registry dirs, in-process and real-process managers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labkit.viewer as lv
from labkit.viewer._registry import Registry


def start_manager_process(
    registry_dir: Path, *extra: str, timeout_s: float = 20.0
) -> tuple[subprocess.Popen, lv.ManagerEntry]:
    """``labkit manager`` as a real child process; returns (process, registry entry)."""
    before = {e.uid for e in Registry(registry_dir).entries()}
    env = {**os.environ, "LABKIT_RUNTIME_DIR": str(registry_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "manager", "--no-browser",
         "--registry-dir", str(registry_dir), "--log-level", "WARNING", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = [
            e for e in Registry(registry_dir).entries() if e.uid not in before and e.pid == proc.pid
        ]
        if new:
            return proc, new[0]
        if proc.poll() is not None:
            output = proc.stdout.read()
            proc.stdout.close()
            raise RuntimeError(f"manager exited early: {output}")
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("manager did not register in time")


def stop_manager_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture
def registry_dir(tmp_path, monkeypatch) -> Path:
    """The private runtime dir (registry, sockets, connection files) of this test."""
    d = tmp_path / "registry"
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(d))
    monkeypatch.setenv("LABKIT_LOG_DIR", str(tmp_path / "logs"))  # managers started here log there
    monkeypatch.delenv("LABKIT_MANAGER", raising=False)
    return d


@pytest.fixture(autouse=True)
def _viewer_clean():
    """Every test ends with no watchers, no cached client sockets and no default manager."""
    yield
    lv.shutdown()
    lv.clear_default_manager()


@pytest.fixture
def manager(registry_dir):
    """An in-process manager (background thread), registered in the isolated registry."""
    server = lv.ManagerServer(registry_dir=registry_dir, page=False).start()
    yield server
    lv.shutdown()
    server.stop()


@pytest.fixture
def page_manager(registry_dir):
    """An in-process manager with its web page, on free ports, in the isolated registry."""
    server = lv.ManagerServer(registry_dir=registry_dir).start()
    yield server
    lv.shutdown()
    server.stop()


@pytest.fixture
def manager_process(registry_dir):
    """A real ``labkit manager`` child process; yields its registry entry."""
    proc, entry = start_manager_process(registry_dir)
    yield entry
    lv.shutdown()
    stop_manager_process(proc)
