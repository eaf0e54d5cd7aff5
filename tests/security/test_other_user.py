"""Another local user (uid 65534) cannot reach any socket, file, segment or page of a session.

The same probe run as the owner gets in wherever the owner should: so every refusal below is the
permission or key at work, not a broken probe.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import zmq

import labkit.viewer as lv
from labkit.engine._devices import build_devices
from labkit.engine._server import EngineServer

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("other_user_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter lives under /root (mode 0700)


def _probe(spec: dict, as_other_user: bool) -> dict:
    cmd = [SYSTEM_PYTHON, str(PROBE), json.dumps(spec)]
    if as_other_user:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def open_runtime(monkeypatch):
    """A 0700 runtime dir inside a directory everyone may enter: only its own mode is the gate."""
    parent = Path(tempfile.mkdtemp(prefix="labkit-sec-"))
    parent.chmod(0o755)
    runtime = parent / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(runtime))
    yield runtime
    shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.skipif(
    os.getuid() != 0, reason="switching to another uid needs root (CI runs as root)"
)
def test_another_user_reaches_nothing(open_runtime):
    devices = build_devices(None, shape=(16, 16))
    ipc_engine = EngineServer(devices, None, connection_file=True, ring_slots=2)
    tcp_engine = EngineServer(
        build_devices(None, shape=(16, 16)), "tcp://127.0.0.1:0", ring_slots=2
    )
    threads = [
        threading.Thread(target=server.serve, name=f"engine-{n}")
        for n, server in enumerate((ipc_engine, tcp_engine))
    ]
    for thread in threads:
        thread.start()
    manager = lv.ManagerServer(registry_dir=open_runtime).start()
    ctx = zmq.Context()
    control = ctx.socket(zmq.ROUTER)  # no security mechanism: what the probe can get into
    control.setsockopt(zmq.LINGER, 0)
    control_port = control.bind_to_random_port("tcp://127.0.0.1")
    try:
        lv.show_in_manager(np.zeros(3), name="private")
        lv.show_in_manager(np.zeros(1 << 18), name="lent")  # 2 MB: through shared memory
        lent = [
            n
            for n in os.listdir("/dev/shm")
            if re.match(rf"labkit-{os.getpid()}-[0-9a-f]{{32}}$", n)
        ]
        ring = ipc_engine.engine.ring
        assert ring is not None and len(lent) == 1
        page_base = manager.url.split("?")[0]
        spec = {
            "unix": [ipc_engine.address[len("ipc://") :], manager.address[len("ipc://") :]],
            "files": [
                str(ipc_engine.rpc.connection_file),
                str(tcp_engine.rpc.connection_file),
                manager.connection_file,
                str(open_runtime / "managers.json"),  # holds the page URL with its token
                f"/dev/shm/{ring.name}",
                f"/dev/shm/{lent[0]}",  # a buffer a client lent the manager
            ],
            "tcp_zmq": [
                ["127.0.0.1", int(tcp_engine.address.rsplit(":", 1)[1])],
                ["127.0.0.1", control_port],
            ],
            "http": [page_base, f"{page_base}api/windows"],
        }
        owner = _probe(spec, as_other_user=False)
        other = _probe(spec, as_other_user=True)
        assert owner["uid"] == 0 and other["uid"] == 65534
        control_key = f"tcp:127.0.0.1:{control_port}"
        assert owner[control_key] == other[control_key] == "ok"  # the probe can get in
        for key, result in other.items():
            if key in ("uid", control_key):
                continue
            if key.startswith(("unix:", "file:")):
                assert owner[key] == "ok", (key, owner[key])  # the owner may
                assert result == "PermissionError", (key, result)  # the other user may not
            elif key.startswith("tcp:"):
                # no keys: libzmq closes at the greeting (mechanism mismatch, counted as refused)
                assert result.startswith(("closed", "refused")), (key, result)
            else:
                assert result == owner[key] == "403", (key, result)  # no token: no page
        assert [w.name for w in manager.windows.list()] == ["private", "lent"]
    finally:
        control.close(0)
        ctx.term()
        lv.shutdown()
        manager.stop()
        for server in (ipc_engine, tcp_engine):
            server.request_stop()
        for thread in threads:
            thread.join(10)
