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
from labkit.viewer._view import default_view_state, update_view

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
    _check(params, "ping", {"echo"})
    return {"uid": server.uid, "echo": params.get("echo")}


@handler("info")
def _info(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    _check(params, "info", set())
    return server.info()


@handler("list")
def _list(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    _check(params, "list", set())
    return [w.summary() for w in server.windows.list()]


def _many(value: Any, n: int, what: str) -> list:
    """``value`` as one entry per window: a list of ``n``, or the same value ``n`` times."""
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"{what}: {len(value)} entries for {n} windows")
        return value
    return [value] * n


@handler("show")
def _show(server: ManagerServer, params: dict, call: CallInfo) -> dict | list[dict]:
    """Open windows on ``data`` (one array, or a list: the result is then a list) and link them
    (``link``: True for the windows of this call, or indices/uids of open windows too)."""
    _check(params, "show", {"data", "name", "source", "view", "link", "link_group", "link_colors"})
    many = isinstance(params.get("data"), list)
    arrays = params["data"] if many else [params.get("data")]
    names = _many(params.get("name"), len(arrays), "name")
    views = _many(params.get("view"), len(arrays), "view")
    datas = [as_dataarray(d, n) for d, n in zip(arrays, names, strict=True)]
    for data, view in zip(datas, views, strict=True):  # refuse before opening anything
        update_view(data, default_view_state(data), view or {})
    link = params.get("link") or False
    partners = [] if link is True or not link else [server.windows.get(k).uid for k in link]
    source = str(params.get("source") or "")
    windows = [
        server.windows.add(data, name, source=source, view=view)
        for data, name, view in zip(datas, names, views, strict=True)
    ]
    if link and len(windows) + len(partners) > 1:
        # with open windows: join the group of the first one in a group, with its colour rule
        joined = next((server.windows.get(p).view for p in partners if _grouped(server, p)), {})
        colors = params.get("link_colors")
        server.windows.link(
            [*partners, *(w.uid for w in windows)],
            group=params.get("link_group") or joined.get("link_group"),
            colors=bool(joined.get("link_colors", True) if colors is None else colors),
        )
    summaries = [w.summary() for w in windows]
    return summaries if many else summaries[0]


def _grouped(server: ManagerServer, uid: str) -> bool:
    return server.windows.get(uid).view.get("link_group") is not None


@handler("restore")
def _restore(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """A window saved in a workspace (read by the client): data, view and its watch binding."""
    accepted = {"data", "name", "source", "view", "watched", "var_name", "source_label"}
    _check(params, "restore", accepted)
    data = as_dataarray(params.get("data"), params.get("name"))
    var_name = params.get("var_name")
    label = params.get("source_label")
    window = server.windows.add(
        data,
        params.get("name"),
        source=str(params.get("source") or ""),
        watched=bool(params.get("watched")),
        var_name=str(var_name) if var_name else None,
        client_id=None,
        view=params.get("view"),
        source_label=str(label) if label else None,
    )
    return window.summary()


@handler("export")
def _export(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    """Every window with its data and view, for the client to save as a workspace."""
    _check(params, "export", set())
    return [
        {**w.summary(), "data": w.data, "view": w.view, "var_name": w.var_name}
        for w in server.windows.list()
    ]


@handler("replace")
def _replace(server: ManagerServer, params: dict, call: CallInfo) -> dict | list[dict]:
    """New data in windows: one (``window``, ``data``) or lists of both, all checked first."""
    _check(params, "replace", {"window", "data"})
    many = isinstance(params.get("window"), list)
    if many:
        keys, arrays = params["window"], params.get("data")
        if not isinstance(arrays, list) or len(arrays) != len(keys):
            raise ValueError("replace with a list of windows needs a list of as many arrays")
    else:
        keys, arrays = [_key(params)], [params.get("data")]
    uids = [server.windows.get(_key({"window": k})).uid for k in keys]  # all exist, or nothing
    datas = [as_dataarray(d) for d in arrays]
    summaries = [
        server.windows.replace(uid, d).summary() for uid, d in zip(uids, datas, strict=True)
    ]
    return summaries if many else summaries[0]


@handler("fetch")
def _fetch(server: ManagerServer, params: dict, call: CallInfo) -> Any:
    _check(params, "fetch", {"window"})
    return server.windows.get(_key(params)).data


@handler("close")
def _close(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    _check(params, "close", {"window", "all"})
    if params.get("all"):
        n = len(server.windows)
        server.windows.close_all()
        return {"closed": n}
    server.windows.close(_key(params))
    return {"closed": 1}


@handler("set_view")
def _set_view(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    _check(params, "set_view", {"window", "state"})
    state = params.get("state") or {}
    return server.windows.set_view_state(_key(params), **state).view


@handler("link")
def _link(server: ManagerServer, params: dict, call: CallInfo) -> str:
    _check(params, "link", {"windows", "group", "colors"})
    windows = list(params.get("windows") or [])
    return server.windows.link(windows, params.get("group"), bool(params.get("colors", True)))


@handler("edit")
def _edit(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """The 'edit from a viewer' entry point over the wire (used by remote viewers and tests)."""
    _check(params, "edit", {"window", "data"})
    return server.windows.edit_data(_key(params), params.get("data"), origin="viewer").summary()


@handler("watch_update")
def _watch_update(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    """A watched variable of the calling client changed (or was first watched): show it."""
    _check(params, "watch_update", {"var_name", "data", "source", "source_label"})
    var_name = str(params["var_name"])
    data = as_dataarray(params.get("data"), var_name)
    window = server.windows.find_watched(call.client_id, var_name)
    if window is None:
        label = params.get("source_label")
        window = server.windows.add(
            data,
            var_name,
            source=str(params.get("source") or ""),
            watched=True,
            var_name=var_name,
            client_id=call.client_id,
            source_label=str(label) if label else None,
        )
    else:
        server.windows.replace(window.uid, data)
    return window.summary()


@handler("unwatch")
def _unwatch(server: ManagerServer, params: dict, call: CallInfo) -> list[str | None]:
    _check(params, "unwatch", {"names", "remove"})
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
    """Bind watched windows that no live client watches (restored from a workspace, or left by a
    notebook that is gone) to the calling client; ``with_data``: send their data too."""
    _check(params, "claim", {"names", "dry_run", "source_label", "with_data"})
    label = params.get("source_label")
    claimed = server.windows.claim_unbound(
        call.client_id,
        params.get("names"),
        is_live=server.rpc.client_connected,
        dry_run=bool(params.get("dry_run")),
        source_label=str(label) if label is not None else None,
    )
    if params.get("dry_run") or not params.get("with_data", True):
        return [w.summary() for w in claimed]
    return [{**w.summary(), "data": w.data} for w in claimed]


@handler("watch_info")
def _watch_info(server: ManagerServer, params: dict, call: CallInfo) -> list[dict]:
    """The windows bound to a variable: which notebook (client id), and whether it is live."""
    _check(params, "watch_info", set())
    return [
        {
            "index": w.index,
            "uid": w.uid,
            "name": w.name,
            "var_name": w.var_name,
            "source": w.source,
            "source_label": w.source_label,
            "client_id": w.client_id,
            "bound": w.client_id is not None,
            "connected": w.client_id is not None and server.rpc.client_connected(w.client_id),
        }
        for w in server.windows.watched_windows()
    ]


@handler("shutdown")
def _shutdown(server: ManagerServer, params: dict, call: CallInfo) -> dict:
    _check(params, "shutdown", set())
    return {"uid": server.uid}  # the server stops after this reply is sent
