"""Remote-engine fixtures: ``labkit engine`` on TCP (loopback or inside a network namespace
joined to this one by a veth pair), and the namespace itself (created and always deleted)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from remote_helpers import NetNs, _ip

from labkit.testing import serve_engine


@pytest.fixture
def runtime(tmp_path):
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def engine_home(tmp_path):
    """The engine's home directory: its spooler writes series under ``labkit-data`` there."""
    path = tmp_path / "engine-home"
    path.mkdir()
    return path


@pytest.fixture
def loopback_engine(runtime, engine_home):
    """A ``labkit engine`` on 127.0.0.1 (256² frames); stopped after the test."""
    served = serve_engine(runtime, "tcp://127.0.0.1:0", env={"HOME": str(engine_home)})
    yield served
    served.stop()


@pytest.fixture
def netns():
    """A fresh network namespace with a veth pair to this one, on a /30 of TEST-NET-2
    (198.51.100.0/24, documentation addresses nothing routes to); always deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    if shutil.which("ip") is None:
        pytest.skip("the 'ip' command (iproute2) is not installed")
    tag = f"{os.getpid() % 100000}"
    # one /30 per test process, so parallel runs do not clash; pytest-xdist's workers of one run
    # each get their own slot for sure, other runs' by their pid
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    block = 4 * ((os.getpid() % (64 // workers)) * workers + worker)
    ns = NetNs(f"lkr{tag}", f"lkh{tag}", f"198.51.100.{block + 1}", f"198.51.100.{block + 2}")
    peer = f"lkp{tag}"
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)  # a leftover of a crash
    subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True)
    try:
        _ip("netns", "add", ns.name)
        _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", ns.name)
        _ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
        _ip("link", "set", ns.host_if, "up")
        _ip("-n", ns.name, "addr", "add", f"{ns.ns_ip}/30", "dev", peer)
        _ip("-n", ns.name, "link", "set", peer, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)
