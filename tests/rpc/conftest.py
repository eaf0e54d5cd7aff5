"""RPC fixtures: a private runtime dir per test and servers with a scriptable dispatch."""

from __future__ import annotations

import threading

import pytest

from labkit.rpc import CallInfo, RpcServer


@pytest.fixture(autouse=True)
def runtime(tmp_path, monkeypatch):
    """A private runtime directory (mode 0700) for the test's sockets and connection files."""
    d = tmp_path / "rt"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(d))
    return d


class UnregisteredError(Exception):
    """Not registered with labkit.wire.register_error: arrives as RemoteError."""


class Dispatch:
    """A dispatch function whose methods the tests script: echo, fail, block until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.blocked = threading.Event()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, params: dict, call: CallInfo):
        self.calls.append((method, call.client_id))
        if method == "echo":
            return params
        if method == "whoami":
            return call.client_id
        if method == "fail":
            raise ValueError("asked to fail")
        if method == "fail_unregistered":
            raise UnregisteredError("a type the client does not know")
        if method == "block":
            self.blocked.set()
            assert self.release.wait(30), "the test never released the blocked call"
            return "released"
        if method == "status":
            return "fine"
        raise LookupError(f"unknown method {method!r}")


@pytest.fixture
def dispatch() -> Dispatch:
    return Dispatch()


@pytest.fixture
def make_server(dispatch):
    """``make_server(address=None, **kw)``: a started RpcServer, stopped after the test."""
    servers: list[RpcServer] = []

    def make(address: str | None = None, **kw) -> RpcServer:
        kw.setdefault("kind", "test")
        kw.setdefault("dispatch", dispatch)
        kw.setdefault("inline", ("status",))
        server = RpcServer(address, **kw).start()
        servers.append(server)
        return server

    yield make
    dispatch.release.set()
    for server in servers:
        server.stop()
