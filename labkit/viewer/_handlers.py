"""Request handlers of the manager: ``method name -> fn(server, params) -> JSON-able result``.

Each runs to completion before the reply is sent; an exception becomes an ErrorReply that the
client re-raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.viewer._hash import as_dataarray

if TYPE_CHECKING:
    from labkit.viewer._server import ManagerServer

__all__ = ["HANDLERS"]

logger = logging.getLogger(__name__)

Handler = Callable[["ManagerServer", dict], Any]
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


@handler("ping")
def _ping(server: ManagerServer, params: dict) -> dict:
    return {"uid": server.uid, "echo": params.get("echo")}


@handler("info")
def _info(server: ManagerServer, params: dict) -> dict:
    return server.info()


@handler("list")
def _list(server: ManagerServer, params: dict) -> list[dict]:
    return [w.summary() for w in server.windows.list()]


@handler("show")
def _show(server: ManagerServer, params: dict) -> dict:
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


@handler("replace")
def _replace(server: ManagerServer, params: dict) -> dict:
    return server.windows.replace(_key(params), params.get("data")).summary()


@handler("fetch")
def _fetch(server: ManagerServer, params: dict) -> Any:
    return server.windows.get(_key(params)).data


@handler("close")
def _close(server: ManagerServer, params: dict) -> dict:
    if params.get("all"):
        n = len(server.windows)
        server.windows.close_all()
        return {"closed": n}
    server.windows.close(_key(params))
    return {"closed": 1}


@handler("set_view")
def _set_view(server: ManagerServer, params: dict) -> dict:
    state = params.get("state") or {}
    return server.windows.set_view_state(_key(params), **state).view


@handler("link")
def _link(server: ManagerServer, params: dict) -> str:
    return server.windows.link(list(params.get("windows") or []), params.get("group"))


@handler("edit")
def _edit(server: ManagerServer, params: dict) -> dict:
    """The 'edit from a viewer' entry point over the wire (used by remote viewers and tests)."""
    return server.windows.edit_data(_key(params), params.get("data"), origin="viewer").summary()


@handler("watch_update")
def _watch_update(server: ManagerServer, params: dict) -> dict:
    """A watched variable changed (or was first watched): show it in its window."""
    client_id, var_name = str(params["client_id"]), str(params["var_name"])
    data = as_dataarray(params.get("data"), var_name)
    window = server.windows.find_watched(client_id, var_name)
    if window is None:
        window = server.windows.add(
            data,
            var_name,
            source=str(params.get("source") or ""),
            watched=True,
            var_name=var_name,
            client_id=client_id,
        )
    else:
        server.windows.replace(window.uid, data)
    return window.summary()


@handler("unwatch")
def _unwatch(server: ManagerServer, params: dict) -> list[str | None]:
    client_id = str(params["client_id"])
    names = params.get("names")
    done: list[str | None] = []
    for w in server.windows.list():
        if w.watched and w.client_id == client_id and (names is None or w.var_name in names):
            if params.get("remove"):
                server.windows.close(w.uid)
            else:
                server.windows.set_watched(w.uid, False)
            done.append(w.var_name)
    if not server.windows.find_watched_by(client_id):
        server.forget_client(client_id)
    return done


@handler("claim")
def _claim(server: ManagerServer, params: dict) -> list[dict]:
    """Bind watched windows restored from a workspace to a client, by variable name."""
    client_id = str(params["client_id"])
    names = params.get("names")
    claimed = []
    for w in server.windows.list():
        if w.var_name and w.watched and (names is None or w.var_name in names):
            if (
                w.client_id != client_id
                and server.windows.find_watched(client_id, w.var_name) is None
            ):
                w.client_id = client_id
                claimed.append({**w.summary(), "data": w.data})
    return claimed


@handler("load")
def _load(server: ManagerServer, params: dict) -> list[dict]:
    from labkit.viewer._loaders import load_paths

    out = []
    for name, data in load_paths(list(params.get("paths") or []), params.get("loader_name")):
        out.append(server.windows.add(data, name, source=str(params.get("source") or "")).summary())
    return out


@handler("save_workspace")
def _save_workspace(server: ManagerServer, params: dict) -> dict:
    from labkit.viewer._workspace import save_workspace

    return save_workspace(server.windows, str(params["path"]))


@handler("load_workspace")
def _load_workspace(server: ManagerServer, params: dict) -> list[dict]:
    from labkit.viewer._workspace import load_workspace

    return [w.summary() for w in load_workspace(server.windows, str(params["path"]))]


@handler("shutdown")
def _shutdown(server: ManagerServer, params: dict) -> dict:
    server._stop.set()  # the loop exits after this reply is sent
    return {"uid": server.uid}
