"""TEMPORARY stand-in for ``labkit.wire`` (same names as docs/internals.md § wire) until it lands.

Safe: msgpack header + raw out-of-band array buffers, never pickle. Removed once labkit.wire exists.
"""

from __future__ import annotations

import traceback as _tb
from typing import Any

import msgspec
import numpy as np
import xarray as xr


class WireError(Exception):
    pass


class WireDecodeError(WireError, ValueError):
    pass


class WireEncodeError(WireError, TypeError):
    pass


class RemoteError(Exception):
    def __init__(self, remote_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{remote_type}: {message}")
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback


class Request(msgspec.Struct, tag=True):
    id: int
    method: str
    params: dict = {}
    v: int = 1


class Reply(msgspec.Struct, tag=True):
    id: int
    result: Any = None
    v: int = 1


class ErrorReply(msgspec.Struct, tag=True):
    id: int
    type: str
    message: str
    traceback: str = ""
    v: int = 1

    def raise_(self):
        raise RemoteError(self.type, self.message, self.traceback)

    @classmethod
    def from_exception(cls, id: int, exc: BaseException) -> ErrorReply:
        return cls(id, type(exc).__name__, str(exc), "".join(_tb.format_exception(exc)))


class Event(msgspec.Struct, tag=True):
    topic: str
    payload: Any = None
    seq: int = 0
    v: int = 1


_Msg = Request | Reply | ErrorReply | Event


def _to_tree(obj: Any, bufs: list) -> Any:
    if isinstance(obj, xr.DataArray):
        return {
            "__da__": 1,
            "name": obj.name,
            "dims": list(obj.dims),
            "values": _to_tree(np.asarray(obj.values), bufs),
            "coords": {
                str(k): {"dims": list(c.dims), "values": _to_tree(np.asarray(c.values), bufs)}
                for k, c in obj.coords.items()
            },
            "attrs": _to_tree(dict(obj.attrs), bufs),
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise WireEncodeError("object arrays cannot be sent")
        a = np.ascontiguousarray(obj)
        bufs.append(memoryview(a).cast("B") if a.size else b"")
        return {"__nd__": len(bufs) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _to_tree(v, bufs) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_tree(v, bufs) for v in obj]
    if obj is None or isinstance(obj, str | int | float | bool | bytes):
        return obj
    raise WireEncodeError(f"cannot encode {type(obj).__name__}")


def _from_tree(obj: Any, bufs: list) -> Any:
    if isinstance(obj, dict):
        if "__nd__" in obj:
            try:
                buf = bufs[obj["__nd__"]]
                dtype = np.dtype(obj["dtype"])
                if dtype.hasobject:
                    raise WireDecodeError("object dtype")
                return np.frombuffer(buf, dtype=dtype).reshape(obj["shape"])
            except (IndexError, TypeError, ValueError, KeyError) as exc:
                raise WireDecodeError(f"bad array reference: {exc}") from exc
        if "__da__" in obj:
            try:
                coords = {
                    k: (c["dims"], _from_tree(c["values"], bufs)) for k, c in obj["coords"].items()
                }
                return xr.DataArray(
                    _from_tree(obj["values"], bufs),
                    dims=obj["dims"],
                    coords=coords,
                    name=obj["name"],
                    attrs=_from_tree(obj["attrs"], bufs),
                )
            except WireDecodeError:
                raise
            except Exception as exc:
                raise WireDecodeError(f"bad DataArray: {exc}") from exc
        return {k: _from_tree(v, bufs) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_tree(v, bufs) for v in obj]
    return obj


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(_Msg)


def encode(obj: Any) -> list:
    bufs: list = []
    if isinstance(obj, Request):
        obj = Request(obj.id, obj.method, _to_tree(obj.params, bufs))
    elif isinstance(obj, Reply):
        obj = Reply(obj.id, _to_tree(obj.result, bufs))
    elif isinstance(obj, Event):
        obj = Event(obj.topic, _to_tree(obj.payload, bufs), obj.seq)
    return [_enc.encode(obj), *bufs]


def decode(frames: list) -> Any:
    if not frames:
        raise WireDecodeError("no frames")
    bufs = [f.buffer if hasattr(f, "buffer") else f for f in frames]
    try:
        msg = _dec.decode(bufs[0])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WireDecodeError(f"garbage header: {exc}") from exc
    rest = bufs[1:]
    if isinstance(msg, Request):
        msg.params = _from_tree(msg.params, rest)
    elif isinstance(msg, Reply):
        msg.result = _from_tree(msg.result, rest)
    elif isinstance(msg, Event):
        msg.payload = _from_tree(msg.payload, rest)
    return msg


def new_key() -> bytes:
    import secrets

    return secrets.token_hex(32).encode()
