"""The safe codec: payload trees <-> ``[header, buf0, buf1, ...]`` frames. No pickle, no code paths.

Frame 0 is a msgpack header ``["labkit", WIRE_VERSION, n_buffers, body]``. ``body`` is the payload
tree with msgpack types plus extension types (msgpack "ext") for what msgpack lacks, so user dict
keys can never collide with markers:

=====  ===========  ======================================================================
code   type         ext data (msgpack)
=====  ===========  ======================================================================
1      ndarray      ``{"__nd__": [frame indices], "dtype": str, "shape": [...], "strides": [...]}``
2      tuple        list of items
3      Message      ``[tag, {field: value}]`` (tag and version checked on decode)
4      xarray       ``["dataarray" | "dataset", plain]`` (see ``_xarray``)
5      complex      ``[real, imag]``
6      big bytes    ``[frame indices]`` (bytes over ``OOB_BYTES_MIN`` travel out of band)
=====  ===========  ======================================================================

Arrays: any dtype of kind bool/int/uint/float/complex/datetime64/timedelta64/``S``/``U`` (object and
structured dtypes are refused). C-contiguous arrays are sent zero-copy (a memoryview of the array's
memory, so do not modify the array until the send completed); F-contiguous arrays are sent zero-copy
with F strides; any other layout is copied once into C order. ``dtype`` is ``dtype.str`` (keeps byte
order), ``strides`` are in bytes and always the C or F strides of ``shape``. An array larger than
``MAX_FRAME_BYTES`` (1 GiB) is split across several frames and joined on decode.

External buffers: ``encode(obj, offload=fn)`` offers every out-of-band buffer to ``fn(memoryview)``;
when it returns a map (a reference the transport can resolve, e.g. the name of a shared-memory
segment it copied the bytes into), that map stands in the buffer's list of frame indices instead of
a frame. ``decode(frames, resolve=fn)`` turns such a map back into the bytes (``fn(map) ->
memoryview``); without ``resolve`` a message holding one is refused. The sizes are checked the same
way as for frames.

Decoding: arrays are zero-copy views of the received frame (``np.frombuffer``) when they arrived in
one frame, so they are **read-only**; pass ``copy_arrays=True`` to get writable copies. Numpy
scalars decode as Python scalars (``np.float32(1.5)`` -> ``1.5``) except datetime64/timedelta64
scalars, which stay numpy scalars. Anything malformed raises :class:`WireDecodeError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from labkit.wire import _xarray
from labkit.wire._errors import WireEncodeError
from labkit.wire._messages import Message, message_type

MAX_FRAME_BYTES = 1 << 30
"""Largest frame in bytes; bigger arrays are split over several frames (override in tests)."""

OOB_BYTES_MIN = 64 * 1024
"""bytes objects at least this large travel as their own frame instead of inside the header."""

MAGIC = "labkit"
WIRE_VERSION = 1
MAX_NDIM = 64

_EXT_ARRAY, _EXT_TUPLE, _EXT_MESSAGE, _EXT_XARRAY, _EXT_COMPLEX, _EXT_BYTES = 1, 2, 3, 4, 5, 6
_ARRAY_KINDS = "biufcmMSU"
_PLAIN = (str, int, float, bool, type(None))

_pack = msgspec.msgpack.Encoder().encode


class _Unsupported(Exception):
    """Internal: an unsupported value; ``path`` is filled in while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _contiguous_strides(shape: tuple[int, ...], itemsize: int, order: str) -> list[int]:
    strides = [0] * len(shape)
    step = itemsize
    axes = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    for axis in axes:
        strides[axis] = step
        step *= max(shape[axis], 1)
    return strides


Offload = Callable[[memoryview], "dict[str, Any] | None"]


class _Encoder:
    def __init__(self, max_frame_bytes: int, offload: Offload | None = None) -> None:
        if max_frame_bytes < 1:
            raise ValueError(f"max_frame_bytes must be >= 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.offload = offload
        self.buffers: list[bytes | memoryview] = []

    def add_buffer(self, data: memoryview) -> list[int | dict[str, Any]]:
        if self.offload is not None:
            ref = self.offload(data)
            if ref is not None:
                return [ref]
        size = data.nbytes
        limit = self.max_frame_bytes
        first = len(self.buffers) + 1  # frame 0 is the header
        if size <= limit:
            self.buffers.append(data)
        else:
            self.buffers.extend(data[start : start + limit] for start in range(0, size, limit))
        return list(range(first, len(self.buffers) + 1))

    def walk(self, obj: Any) -> Any:
        t = type(obj)
        if t in _PLAIN:
            return obj
        if t is dict:
            out = {}
            for key, value in obj.items():
                if type(key) is not str and type(key) is not int:
                    key = self.key(key)
                try:
                    out[key] = self.walk(value)
                except _Unsupported as exc:
                    exc.path.append(f"[{key!r}]")
                    raise
            return out
        if t is list or t is tuple:
            items = []
            for i, value in enumerate(obj):
                try:
                    items.append(self.walk(value))
                except _Unsupported as exc:
                    exc.path.append(f"[{i}]")
                    raise
            return items if t is list else msgspec.msgpack.Ext(_EXT_TUPLE, _pack(items))
        if t is bytes or t is bytearray or t is memoryview:
            data = memoryview(obj).cast("B") if t is memoryview else obj
            if len(data) >= OOB_BYTES_MIN:
                return msgspec.msgpack.Ext(_EXT_BYTES, _pack(self.add_buffer(memoryview(data))))
            return bytes(data)
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, np.generic):
            return self.scalar(obj)
        if isinstance(obj, Message):
            return self.message(obj)
        if isinstance(obj, enum.Enum):
            return self.walk(obj.value)
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, complex):
            return msgspec.msgpack.Ext(_EXT_COMPLEX, _pack([obj.real, obj.imag]))
        if _xarray.is_xarray(obj):
            kind, plain = _xarray.xarray_to_plain(obj)
            return msgspec.msgpack.Ext(_EXT_XARRAY, _pack([kind, self.walk(plain)]))
        raise _Unsupported(
            f"cannot send a {t.__module__}.{t.__qualname__}: labkit.wire sends None, bool, int, "
            "float, complex, str, bytes, list, tuple, dict, numpy arrays and scalars, xarray "
            "DataArray/Dataset and labkit.wire.Message structs; convert it (e.g. to a dict or str)"
        )

    def key(self, key: Any) -> str | int:
        if isinstance(key, enum.Enum):
            key = key.value
        if isinstance(key, (str, np.str_)):
            return str.__str__(key)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return int(key)
        raise _Unsupported(f"dict key {key!r} ({type(key).__name__}) is not a str or int")

    def scalar(self, obj: np.generic) -> Any:
        if isinstance(obj, (np.datetime64, np.timedelta64)):  # timedelta64 is an np.integer
            return self.array(np.asarray(obj), scalar=True)
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating):
            return float(obj)
        if isinstance(obj, np.complexfloating):
            return self.walk(complex(obj))
        if isinstance(obj, (np.str_, np.bytes_)):
            return self.walk(obj.item())
        raise _Unsupported(f"numpy scalars of dtype {obj.dtype} cannot be sent")

    def array(self, arr: np.ndarray, scalar: bool = False) -> msgspec.msgpack.Ext:
        dtype = arr.dtype
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            raise _Unsupported(
                f"numpy arrays of dtype {dtype} cannot be sent (object and structured dtypes are "
                "refused); convert with .astype(...) to a numeric, datetime64 or fixed-width "
                "string dtype, or send each field separately"
            )
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)  # drop subclasses (np.matrix, masked arrays lose their mask)
        order = "C"
        if not arr.flags.c_contiguous:
            if arr.flags.f_contiguous:
                order = "F"
            else:
                arr = np.ascontiguousarray(arr)
        meta: dict[str, Any] = {
            "__nd__": [],
            "dtype": dtype.str,
            "shape": list(arr.shape),
            "strides": _contiguous_strides(arr.shape, dtype.itemsize, order),
        }
        if scalar:
            meta["scalar"] = True
        if arr.nbytes:
            flat = (arr.T if order == "F" else arr).reshape(-1).view(np.uint8)
            meta["__nd__"] = self.add_buffer(memoryview(flat))  # type: ignore[arg-type]
        return msgspec.msgpack.Ext(_EXT_ARRAY, _pack(meta))

    def message(self, obj: Message) -> msgspec.msgpack.Ext:
        tag = obj.__struct_config__.tag
        if message_type(tag) is not type(obj):
            raise _Unsupported(
                f"message class {type(obj).__qualname__} is not registered; decorate it with "
                "labkit.wire.register_message"
            )
        fields = {}
        for name in obj.__struct_fields__:
            try:
                fields[name] = self.walk(getattr(obj, name))
            except _Unsupported as exc:
                exc.path.append(f".{name}")
                raise
        return msgspec.msgpack.Ext(_EXT_MESSAGE, _pack([tag, fields]))


def encode(
    obj: Any, *, max_frame_bytes: int | None = None, offload: Offload | None = None
) -> list[bytes | memoryview]:
    """Encode a payload tree or message into ``[header, buf0, buf1, ...]`` frames (no pickle).

    Args:
        obj: None/bool/int/float/complex/str/bytes, lists, tuples, dicts (str or int keys), numpy
            arrays and scalars, ``xr.DataArray``/``xr.Dataset`` and registered Message structs.
        max_frame_bytes: split arrays bigger than this over several frames (default
            :data:`MAX_FRAME_BYTES`, 1 GiB).
        offload: offered every out-of-band buffer; a map it returns is sent instead of the bytes
            (see the module docstring). Exceptions it raises propagate.

    Returns:
        The frames; array frames are memoryviews sharing memory with the arrays (C/F-contiguous).

    Raises:
        WireEncodeError: an unsupported type, dtype, dict key or xarray attribute; the message names
            where it is in ``obj`` and how to convert it.
    """
    encoder = _Encoder(MAX_FRAME_BYTES if max_frame_bytes is None else max_frame_bytes, offload)
    try:
        body = encoder.walk(obj)
        header = _pack([MAGIC, WIRE_VERSION, len(encoder.buffers), body])
    except _Unsupported as exc:
        where = "".join(reversed(exc.path)) or "the top level"
        raise WireEncodeError(f"at {where}: {exc.message}") from None
    except (OverflowError, TypeError, ValueError) as exc:
        if isinstance(exc, WireEncodeError):
            raise
        raise WireEncodeError(f"cannot encode message: {exc}") from None
    return [header, *encoder.buffers]
