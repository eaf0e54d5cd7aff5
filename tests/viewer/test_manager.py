"""Real manager processes on free ports with an isolated registry: requests, errors, targets."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.rpc import (
    ConnectionInfo,
    RpcAuthError,
    RuntimeDirError,
    ServerKeys,
    read_connection_file,
    write_connection_file,
)

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
    with pytest.raises(lv.UnknownMethodError, match="unknown manager method .format_disk."):
        lv.managers[0].request("format_disk")
    assert lv.managers[0].request("close", window=0) == {"closed": 1}
    assert lv.managers[0].windows() == []
    assert lv.is_running()


def test_manager_listens_on_a_private_ipc_socket_by_default(short_dir, monkeypatch):
    registry_dir = short_dir / "registry"
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(registry_dir))
    server = lv.ManagerServer(registry_dir=registry_dir, page=False).start()
    try:
        path = server.address[len("ipc://") :]
        assert server.address.startswith("ipc://") and path.startswith(str(registry_dir))
        assert registry_dir.stat().st_mode & 0o777 == 0o700  # file permissions are the gate
        entry = lv.managers[0].entry
        assert entry.address == server.address and entry.connection_file == server.connection_file
        assert lv.show_in_manager(np.zeros(3), name="ipc")["name"] == "ipc"
    finally:
        server.stop()
    assert not os.path.exists(path) and not os.path.exists(entry.connection_file)


def test_manager_refuses_a_runtime_dir_others_can_enter(registry_dir):
    registry_dir.mkdir(mode=0o755, exist_ok=True)
    registry_dir.chmod(0o755)
    with pytest.raises(RuntimeDirError, match="chmod 700"):
        lv.ManagerServer(registry_dir=registry_dir, page=False)


def test_tcp_manager_admits_only_clients_with_its_connection_file(registry_dir, tmp_path):
    server = lv.ManagerServer("tcp://127.0.0.1:0", registry_dir=registry_dir, page=False).start()
    try:
        entry = lv.managers[0].entry
        assert entry.address.startswith("tcp://127.0.0.1:")
        assert os.stat(entry.connection_file).st_mode & 0o777 == 0o600
        lv.show_in_manager(np.zeros((2, 2)), name="curve")  # keys read from the file
        good = read_connection_file(entry.connection_file)
        stranger = ServerKeys.generate()
        forged = write_connection_file(
            tmp_path / "forged.json",
            ConnectionInfo(kind="manager", address=entry.address, server_key=good.server_key,
                           client_public=stranger.client_public,
                           client_secret=stranger.client_secret),
        )  # fmt: skip
        with pytest.raises(RpcAuthError, match="refused this client's keys"):
            lv.show_in_manager(np.ones(2), target=str(forged))
        assert [w["name"] for w in lv.managers[0].windows()] == ["curve"]
        # a copy of the real file works from anywhere, registry or not
        copy = write_connection_file(tmp_path / "copy.json", good)
        assert lv.show_in_manager(np.ones(2), target=str(copy), name="via file")["index"] == 1
        with pytest.raises(lv.ManagerNotFoundError, match="connection file instead"):
            lv.show_in_manager(np.ones(2), target=entry.address)
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
        with pytest.raises(lv.ManagerUnavailableError, match="broke|no answer"):
            handle.request("ping", timeout_s=30.0)  # noticed by the client, not by the timeout
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
        base, query = entry.url.split("?")
        listing = json.loads(urllib.request.urlopen(f"{base}api/windows?{query}", timeout=5).read())
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
def test_tcp_cli_writes_a_private_connection_file_that_clients_use(registry_dir):
    proc, entry = start_manager_process(registry_dir, "--address", "tcp://127.0.0.1:0", "--no-page")
    try:
        assert entry.connection_file and os.stat(entry.connection_file).st_mode & 0o777 == 0o600
        info = read_connection_file(entry.connection_file)
        assert info.address == entry.address and len(info.client_secret) == 40
        lv.show_in_manager(np.zeros((2, 2)), name="curve")  # the keys are read from the file
        assert [w["name"] for w in lv.managers[0].windows()] == ["curve"]
    finally:
        stop_manager_process(proc)
    assert not os.path.exists(entry.connection_file)  # removed on exit


@pytest.mark.slow
def test_cli_page_token_file_keeps_the_url_across_restarts(registry_dir, tmp_path):
    token_file = tmp_path / "page-token"
    proc, first = start_manager_process(registry_dir, "--page-token-file", str(token_file))
    stop_manager_process(proc)
    assert token_file.stat().st_mode & 0o777 == 0o600
    proc, second = start_manager_process(registry_dir, "--page-token-file", str(token_file))
    try:
        assert (
            first.url.split("?")[1] == second.url.split("?")[1] == f"token={token_file.read_text()}"
        )
    finally:
        stop_manager_process(proc)
    token_file.chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        start_manager_process(registry_dir, "--page-token-file", str(token_file))
