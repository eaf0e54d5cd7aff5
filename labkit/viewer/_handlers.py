"""Request handlers of the manager: ``method name -> fn(server, params, call) -> JSON-able result``.

Each runs to completion on a worker thread before the reply is sent; an exception becomes an
ErrorReply that the client re-raises. ``call.client_id`` is the caller's connection identity: the
watch methods act on that client's windows only. The manager never touches files: loading and
saving happen in the client, which sends and receives data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.rpc import CallInfo
from labkit.viewer._errors import UnknownMethodError
from labkit.viewer._hash import as_dataarray

if TYPE_CHECKING:
    from labkit.viewer._server import ManagerServer

__all__ = ["HANDLERS", "UnknownMethodError"]

logger = logging.getLogger(__name__)

Handler = Callable[["ManagerServer", dict, CallInfo], Any]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def _key(params: dict) -> int | str:
    key = params.get("window")
    if not isinstance(key, int | str) or isinstance(key, bool):
        raise TypeError(f"window must be an index (int) or uid (str), got {key!r}")
    return key


def _check(params: dict, method: str, accepted: set[str]) -> None:
    unknown = set(params) - accepted
    if unknown:
        raise TypeError(
            f"{method}() got unknown parameters {sorted(unknown)}; it accepts {sorted(accepted)}"
        )


@handler("ping")
def _ping(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    return {"uid": server.uid, "echo": params.get("echo")}


@handler("info")
def _info(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    return server.info()


@handler("list")
def _list(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    return [w.summary() for w in server.windows.list()]


@handler("show")
def _show(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    _check(params, "show", {"data", "name", "source", "view", "link", "link_group"})
    data = as_dataarray(params.get("data"), params.get("name"))
    window = server.windows.add(
        data, params.get("name"), source=str(params.get("source") or ""), view=params.get("view")
    )
    link = params.get("link")
    if link:
        keys = [
            w.uid
            for w in server.windows.list()
            if w.uid != window.uid and (link is True or w.uid in link or w.index in link)
        ]
        server.windows.link([*keys, window.uid], group=params.get("link_group"))
    return window.summary()


@handler("restore")
def _restore(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """A window saved in a workspace (read by the client): data, view and its watch binding."""
    _check(params, "restore", {"data", "name", "source", "view", "watched", "var_name"})
    data = as_dataarray(params.get("data"), params.get("name"))
    var_name = params.get("var_name")
    window = server.windows.add(
        data,
        params.get("name"),
        source=str(params.get("source") or ""),
        watched=bool(params.get("watched")),
        var_name=str(var_name) if var_name else None,
        client_id=None,
        view=params.get("view"),
    )
    return window.summary()


@handler("export")
def _export(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    """Every window with its data and view, for the client to save as a workspace."""
    return [
        {**w.summary(), "data": w.data, "view": w.view, "var_name": w.var_name}
        for w in server.windows.list()
    ]


@handler("replace")
def _replace(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    return server.windows.replace(_key(params), params.get("data")).summary()


@handler("fetch")
def _fetch(server: ManagerServer, params: dict, call: CallInfo) -> Any:
    return server.windows.get(_key(params)).data


@handler("close")
def _close(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    if params.get("all"):
        n = len(server.windows)
        server.windows.close_all()
        return {"closed": n}
    server.windows.close(_key(params))
    return {"closed": 1}


@handler("set_view")
def _set_view(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    state = params.get("state") or {}
    return server.windows.set_view_state(_key(params), **state).view


@handler("link")
def _link(server: ManagerServer, params: dict, call: CallInfo) -> str:
    return server.windows.link(list(params.get("windows") or []), params.get("group"))


@handler("edit")
def _edit(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """The 'edit from a viewer' entry point over the wire (used by remote viewers and tests)."""
    return server.windows.edit_data(_key(params), params.get("data"), origin="viewer").summary()


@handler("watch_update")
def _watch_update(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """A watched variable of the calling client changed (or was first watched): show it."""
    var_name = str(params["var_name"])
    data = as_dataarray(params.get("data"), var_name)
    window = server.windows.find_watched(call.client_id, var_name)
    if window is None:
        window = server.windows.add(
            data,
            var_name,
            source=str(params.get("source") or ""),
            watched=True,
            var_name=var_name,
            client_id=call.client_id,
        )
    else:
        server.windows.replace(window.uid, data)
    return window.summary()


@handler("unwatch")
def _unwatch(server: ManagerServer, params: dict, call: CallInfo) -> list[str | None]:
    names = params.get("names")
    done: list[str | None] = []
    for w in server.windows.find_watched_by(call.client_id):
        if names is None or w.var_name in names:
            if params.get("remove"):
                server.windows.close(w.uid)
            else:
                server.windows.set_watched(w.uid, False)
            done.append(w.var_name)
    if not server.windows.find_watched_by(call.client_id):
        server.forget_client(call.client_id)
    return done


@handler("claim")
def _claim(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    """Bind watched windows restored from a workspace (no live watcher) to the calling client."""
    _check(params, "claim", {"names", "dry_run"})
    claimed = server.windows.claim_unbound(
        call.client_id,
        params.get("names"),
        is_live=server.rpc.client_connected,
        dry_run=bool(params.get("dry_run")),
    )
    if params.get("dry_run"):
        return [w.summary() for w in claimed]
    return [{**w.summary(), "data": w.data} for w in claimed]


@handler("shutdown")
def _shutdown(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    return {"uid": server.uid}  # the server stops after this reply is sent
