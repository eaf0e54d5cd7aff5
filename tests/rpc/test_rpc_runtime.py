"""The private runtime directory, connection files and server keys files."""

from __future__ import annotations

import os

import pytest

from labkit.rpc import (
    ConnectionFileError,
    ConnectionInfo,
    RuntimeDirError,
    ServerKeys,
    read_connection_file,
    runtime_dir,
    write_connection_file,
)
from labkit.rpc._runtime import ipc_path


def test_runtime_dir_is_created_private_and_a_loose_one_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "rt"
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(target))
    old_umask = os.umask(0o022)
    try:
        assert runtime_dir() == target
    finally:
        os.umask(old_umask)
    assert target.stat().st_mode & 0o777 == 0o700
    target.chmod(0o755)
    with pytest.raises(RuntimeDirError, match=f"chmod 700 {target}"):
        runtime_dir()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a directory to another user")
def test_runtime_dir_of_another_user_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "theirs"
    target.mkdir(mode=0o700)
    os.chown(target, 65534, 65534)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(target))
    with pytest.raises(RuntimeDirError, match="belongs to uid 65534"):
        runtime_dir()


def test_connection_file_is_0600_and_round_trips(tmp_path):
    keys = ServerKeys.generate()
    info = ConnectionInfo(
        kind="engine",
        address="tcp://rig:45600",
        server_key=keys.server_public,
        client_public=keys.client_public,
        client_secret=keys.client_secret,
    )
    path = write_connection_file(tmp_path / "c.json", info)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_connection_file(path) == info


@pytest.mark.parametrize(
    ("content", "mode", "match"),
    [
        (b'{"kind": "engine", "address": "ipc:///x"}', 0o644, "mode 0644"),
        (b"", 0o600, "is empty"),
        (b"   \n", 0o600, "is empty"),
        (b"not json", 0o600, "not a labkit connection file"),
        (b'{"kind": "engine", "address": "ipc:///x", "evil": 1}', 0o600, "evil"),
        (b'{"kind": "e", "address": "tcp://h:1", "server_key": "short"}', 0o600, "40-character"),
    ],
)
def test_bad_connection_files_are_refused_with_what_to_do(tmp_path, content, mode, match):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    path.chmod(mode)
    with pytest.raises(ConnectionFileError, match=match):
        read_connection_file(path)


def test_missing_connection_file_says_where_to_find_one(tmp_path):
    with pytest.raises(ConnectionFileError, match="prints the path"):
        read_connection_file(tmp_path / "nope.json")


def test_symlinked_connection_file_is_not_followed(tmp_path):
    real = write_connection_file(
        tmp_path / "real.json", ConnectionInfo(kind="e", address="ipc:///x")
    )
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(ConnectionFileError, match="cannot open"):
        read_connection_file(link)


def test_server_keys_file_is_created_once_and_reused(tmp_path):
    path = tmp_path / "keys.json"
    first = ServerKeys.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert ServerKeys.load_or_create(path) == first
    assert len(first.server_public) == 40 and first.server_public != first.client_public
    path.chmod(0o640)
    with pytest.raises(ConnectionFileError, match="chmod 600"):
        ServerKeys.load_or_create(path)


def test_ipc_path_falls_back_to_a_private_temp_dir_when_too_long(tmp_path):
    short, private = ipc_path(tmp_path, "engine-1")
    assert short == f"ipc://{tmp_path}/engine-1.sock" and private is None
    deep = tmp_path / ("d" * 120)
    address, private = ipc_path(deep, "engine-1")
    try:
        assert private is not None and private.stat().st_mode & 0o777 == 0o700
        assert address == f"ipc://{private}/engine-1.sock"
    finally:
        private.rmdir()
