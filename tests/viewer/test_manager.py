"""Real manager processes on free ports with an isolated registry: requests, errors, targets."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.wire import WireSecurityError

from .conftest import start_manager_process, stop_manager_process


def _image(seed=0, shape=(32, 48)):
    rng = np.random.default_rng(seed)
    return xr.DataArray(rng.random(shape), dims=("y", "x"), coords={"x": np.arange(shape[1]) * 0.5},
                        name="img", attrs={"units": "counts"})  # fmt: skip


@pytest.mark.slow
def test_show_fetch_replace_list_close_through_a_real_process(manager_process):
    data = _image()
    summary = lv.show_in_manager(data, name="first")
    assert summary["index"] == 0 and summary["shape"] == [32, 48] and summary["dtype"] == "float64"
    back = lv.fetch(0)
    xr.testing.assert_identical(back, data)
    back[0, 0] = 7.0  # fetch returns a writable copy
    lv.replace_data(summary["uid"], _image(1))
    xr.testing.assert_identical(lv.fetch(summary["uid"]), _image(1))
    assert [w["name"] for w in lv.managers[0].windows()] == ["first"]
    with pytest.raises(lv.WindowNotFoundError, match="no window 5"):
        lv.fetch(5)
    with pytest.raises(TypeError, match="not an array"):
        lv.show_in_manager({"not": "array"})
    with pytest.raises(TypeError, match="window must be"):  # raised in the manager, after the work
        lv.managers[0].request("fetch", window=[1])
    with pytest.raises(ValueError, match="unknown method 'format_disk'"):
        lv.managers[0].request("format_disk")
    assert lv.managers[0].request("close", window=0) == {"closed": 1}
    assert lv.managers[0].windows() == []
    assert lv.is_running()


def test_ports_fall_back_when_taken_and_non_loopback_needs_a_key(registry_dir):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        server = lv.ManagerServer(
            request_port=port, event_port=0, registry_dir=registry_dir, page=False
        )
        try:
            assert server.request_port != port and server.request_port > 0
        finally:
            server.stop()
    finally:
        taken.close()
    with pytest.raises(WireSecurityError, match="without a key"):
        lv.ManagerServer(
            ip="0.0.0.0", request_port=0, event_port=0, registry_dir=registry_dir, page=False
        )


def test_key_protected_manager_answers_signed_requests_only(registry_dir):
    server = lv.ManagerServer(
        request_port=0, event_port=0, key=b"s3cret", registry_dir=registry_dir, page=False
    ).start()
    try:
        entry = lv.managers[0].entry
        good = lv.ManagerHandle(entry)
        from labkit.viewer._client import ManagerClient

        signed = ManagerClient(entry, key=b"s3cret", timeout_s=5)
        wrong = ManagerClient(entry, key=b"other", timeout_s=0.5)
        unsigned = ManagerClient(entry, key=None, timeout_s=0.5)
        try:
            assert signed.request("ping", echo=3)["echo"] == 3
            for client in (wrong, unsigned):
                with pytest.raises(lv.ManagerUnavailableError):
                    client.request("ping")
            assert signed.request("ping")["uid"] == good.uid
        finally:
            for c in (signed, wrong, unsigned):
                c.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_dead_manager_gives_a_clear_error_within_the_timeout(registry_dir):
    proc, entry = start_manager_process(registry_dir)
    try:
        handle = lv.ManagerHandle(entry, 0)
        assert handle.request("ping")["uid"] == entry.uid
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        t0 = time.monotonic()
        with pytest.raises(
            lv.ManagerUnavailableError, match="did not answer 'ping' within 1 s; it may have died"
        ):
            handle.request("ping", timeout_s=1.0)
        assert time.monotonic() - t0 < 5
        assert not lv.is_running(entry.uid)  # the dead pid is cleaned from the registry
        with pytest.raises(lv.ManagerNotFoundError, match="no viewer manager is running"):
            lv.show_in_manager(np.zeros(3))
    finally:
        stop_manager_process(proc)


@pytest.mark.slow
def test_two_managers_targets_default_and_ambiguity(registry_dir, monkeypatch):
    procs = [start_manager_process(registry_dir) for _ in range(2)]
    try:
        uids = [e.uid for _, e in procs]
        assert [h.uid for h in lv.managers] == uids
        with pytest.raises(lv.ManagerAmbiguousError, match="2 viewer managers are running"):
            lv.show_in_manager(np.zeros(3))
        with pytest.raises(lv.ManagerNotFoundError, match="no manager with index 2"):
            lv.show_in_manager(np.zeros(3), target=2)
        lv.show_in_manager(np.zeros(3), target=1, name="on1")
        with lv.use_manager(0):
            lv.show_in_manager(np.ones(3), name="on0")
        assert [w["name"] for w in lv.managers[0].windows()] == ["on0"]
        assert [w["name"] for w in lv.managers[1].windows()] == ["on1"]
        info = json.loads(lv.manager_selection_info())
        assert (
            [m["uid"] for m in info["managers"]] == uids
            and info["selected"] is None
            and "2 viewer" in info["error"]
        )
        lv.set_default_manager(1)
        assert lv.get_default_manager().uid == uids[1]
        assert float(lv.fetch(0).sum()) == 0.0  # window 0 of manager 1
        lv.clear_default_manager()
        monkeypatch.setenv("LABKIT_MANAGER", uids[0])
        assert float(lv.fetch(0).sum()) == 3.0
        assert json.loads(lv.manager_selection_info())["selected"] == uids[0]
    finally:
        for proc, _ in procs:
            stop_manager_process(proc)
    assert lv.managers() == []  # both removed their registry entries on SIGTERM


@pytest.mark.slow
def test_cli_prints_the_url_serves_the_page_and_cleans_up_on_sigterm(registry_dir):
    import urllib.request

    proc, entry = start_manager_process(registry_dir)
    try:
        assert entry.url.startswith("http://127.0.0.1:") and entry.pid == proc.pid
        lv.show_in_manager(_image(), name="paged")
        page = urllib.request.urlopen(entry.url, timeout=5).read().decode()
        assert entry.uid in page  # the page (or its placeholder) of this manager
        listing = json.loads(urllib.request.urlopen(entry.url + "api/windows", timeout=5).read())
        assert [(w["name"], w["shape"]) for w in listing] == [("paged", [32, 48])]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        out = proc.stdout.read()
        assert f"labkit manager {entry.uid}" in out and entry.url in out
        assert lv.managers() == []
    finally:
        stop_manager_process(proc)


def test_manager_in_a_background_thread_has_the_same_api(manager):
    lv.show_in_manager(_image(), name="in-kernel")
    assert lv.is_running() and lv.managers[0].uid == manager.uid
    assert manager.windows.get(0).name == "in-kernel"
    assert os.getpid() == lv.managers[0].pid


@pytest.mark.slow
def test_non_loopback_cli_generates_a_key_and_clients_use_the_connection_file(registry_dir):
    proc, entry = start_manager_process(registry_dir, "--ip", "0.0.0.0", "--no-page")
    try:
        assert entry.key_file and os.stat(entry.key_file).st_mode & 0o077 == 0  # mode 0600
        info = json.loads(Path(entry.key_file).read_text())
        assert info["request_port"] == entry.request_port and len(info["key"]) == 64
        lv.show_in_manager(np.zeros((2, 2)), name="signed")  # the key is read from the file
        assert [w["name"] for w in lv.managers[0].windows()] == ["signed"]
        from labkit.viewer._client import ManagerClient

        unsigned = ManagerClient(entry, key=None, timeout_s=0.5)
        try:
            with pytest.raises(lv.ManagerUnavailableError):
                unsigned.request("list")  # unsigned requests are dropped unanswered
        finally:
            unsigned.close()
    finally:
        stop_manager_process(proc)
    assert not os.path.exists(entry.key_file)  # removed on exit
