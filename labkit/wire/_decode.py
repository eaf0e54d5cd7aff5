"""Decoding of ``[header, buf0, ...]`` frames (the format is described in ``_codec``).

Every check happens before any allocation sized by the sender: dtypes are whitelisted, shapes and
strides are checked against the bytes that actually arrived, every buffer frame must be used exactly
once, message tags and versions must be known. Any failure is a :class:`WireDecodeError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from labkit.wire import _codec, _xarray
from labkit.wire._errors import WireDecodeError
from labkit.wire._messages import message_type, message_version


def _as_buffer(frame: Any, index: int) -> memoryview:
    data = getattr(frame, "buffer", frame)  # zmq.Frame -> its memoryview
    try:
        view = memoryview(data)
    except TypeError:
        raise WireDecodeError(
            f"frame {index} is a {type(frame).__name__}, not bytes-like; pass the frames as "
            "received from the socket"
        ) from None
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        try:
            view = view.cast("B")
        except TypeError:
            raise WireDecodeError(f"frame {index} is not a contiguous byte buffer") from None
    return view


Resolve = Callable[[dict], memoryview]


class _Decoder:
    def __init__(self, frames: list[Any], copy_arrays: bool, resolve: Resolve | None) -> None:
        self.frames = frames
        self.copy_arrays = copy_arrays
        self.resolve = resolve
        self.used: set[int] = set()
        self.decoder = msgspec.msgpack.Decoder(ext_hook=self.ext_hook)

    def take(self, indices: Any) -> list[memoryview]:
        if type(indices) is not list:
            raise WireDecodeError("buffer references must be a list of frame indices")
        views = []
        for index in indices:
            if type(index) is dict:
                views.append(self.external(index))
                continue
            if type(index) is not int or not 1 <= index < len(self.frames):
                raise WireDecodeError(
                    f"header references frame {index!r} but the message has "
                    f"{len(self.frames) - 1} buffer frames; the message is truncated or corrupt"
                )
            if index in self.used:
                raise WireDecodeError(f"buffer frame {index} is referenced twice")
            self.used.add(index)
            views.append(_as_buffer(self.frames[index], index))
        return views

    def external(self, ref: dict) -> memoryview:
        """The bytes of a buffer the sender's transport passed outside the frames."""
        if self.resolve is None:
            raise WireDecodeError(
                "the message refers to a buffer outside its frames (shared memory), which this "
                "connection does not accept; send the bytes in the message"
            )
        view = self.resolve(ref)
        if not isinstance(view, memoryview):  # pragma: no cover - a transport bug
            raise WireDecodeError("a resolved external buffer must be a memoryview")
        return view

    def ext_hook(self, code: int, data: memoryview) -> Any:
        if code == _codec._EXT_ARRAY:
            return self.array(self.decoder.decode(data))
        if code == _codec._EXT_TUPLE:
            items = self.decoder.decode(data)
            if type(items) is not list:
                raise WireDecodeError("tuple payload must be a list")
            return tuple(items)
        if code == _codec._EXT_MESSAGE:
            return self.message(self.decoder.decode(data))
        if code == _codec._EXT_XARRAY:
            kind_plain = self.decoder.decode(data)
            if (
                type(kind_plain) is not list
                or len(kind_plain) != 2
                or kind_plain[0] not in ("dataarray", "dataset")
                or type(kind_plain[1]) is not dict
            ):
                raise WireDecodeError("malformed xarray payload")
            return _xarray.xarray_from_plain(kind_plain[0], kind_plain[1])
        if code == _codec._EXT_COMPLEX:
            parts = self.decoder.decode(data)
            if type(parts) is not list or len(parts) != 2:
                raise WireDecodeError("complex payload must be [real, imag]")
            return complex(float(parts[0]), float(parts[1]))
        if code == _codec._EXT_BYTES:
            views = self.take(self.decoder.decode(data))
            return b"".join(views)
        raise WireDecodeError(f"unknown extension type {code} in header")

    def array(self, meta: Any) -> Any:
        if type(meta) is not dict:
            raise WireDecodeError("array description must be a map")
        dtype_str, shape, strides = meta.get("dtype"), meta.get("shape"), meta.get("strides")
        if type(dtype_str) is not str or len(dtype_str) > 32:
            raise WireDecodeError(f"array dtype must be a short string, got {dtype_str!r}")
        try:
            dtype = np.dtype(dtype_str)
        except (TypeError, ValueError):
            raise WireDecodeError(f"unknown array dtype {dtype_str!r}") from None
        if dtype.kind not in _codec._ARRAY_KINDS or dtype.fields is not None:
            raise WireDecodeError(f"array dtype {dtype_str!r} is not allowed on the wire")
        if dtype.itemsize == 0:  # S0/U0 would let a tiny message declare any element count
            raise WireDecodeError(
                f"array dtype {dtype_str!r} has items of size 0; send a sized dtype (e.g. 'S1')"
            )
        if (
            type(shape) is not list
            or len(shape) > _codec.MAX_NDIM
            or any(type(n) is not int or not 0 <= n < 1 << 62 for n in shape)
        ):
            raise WireDecodeError(f"array shape must be a list of non-negative ints, got {shape!r}")
        shape_t = tuple(shape)
        views = self.take(meta.get("__nd__"))
        received = sum(v.nbytes for v in views)
        needed = math.prod(shape_t) * dtype.itemsize
        if received != needed:
            raise WireDecodeError(
                f"array of shape {shape_t} and dtype {dtype_str} needs {needed} bytes but its "
                f"frames hold {received} bytes; the message is truncated or corrupt"
            )
        c_strides = _codec._contiguous_strides(shape_t, dtype.itemsize, "C")
        f_strides = _codec._contiguous_strides(shape_t, dtype.itemsize, "F")
        if strides != c_strides and strides != f_strides:
            raise WireDecodeError(f"array strides {strides!r} are not contiguous for {shape_t}")
        if needed == 0:
            arr = np.empty(shape_t, dtype=dtype)
        else:
            data = views[0] if len(views) == 1 else b"".join(views)
            flat = np.frombuffer(data, dtype=dtype)
            if strides == c_strides:
                arr = flat.reshape(shape_t)
            else:
                arr = flat.reshape(shape_t[::-1]).T
            if self.copy_arrays:
                arr = arr.copy(order="K")
            else:
                arr.flags.writeable = False  # a view of the received frame: same on every path
        if meta.get("scalar") is True:
            if arr.shape != () or arr.dtype.kind not in "mM":
                raise WireDecodeError("only 0-d datetime64/timedelta64 arrays may be scalars")
            return arr[()]
        return arr

    def message(self, tag_fields: Any) -> Any:
        if type(tag_fields) is not list or len(tag_fields) != 2:
            raise WireDecodeError("message payload must be [tag, fields]")
        tag, fields = tag_fields
        cls = message_type(tag)
        if cls is None:
            raise WireDecodeError(
                f"unknown message type {tag!r}; both ends must run compatible labkit versions"
            )
        if type(fields) is not dict:
            raise WireDecodeError(f"{tag} fields must be a map")
        version, expected = fields.get("v"), message_version(cls)
        if version != expected:
            raise WireDecodeError(
                f"{tag} message version {version!r} is not supported (this side speaks "
                f"v{expected}); upgrade labkit so both ends match"
            )
        try:
            return msgspec.convert(fields, cls)
        except msgspec.ValidationError as exc:
            raise WireDecodeError(f"invalid {tag} message: {exc}") from None


def decode(frames: list[Any], *, copy_arrays: bool = False, resolve: Resolve | None = None) -> Any:
    """Decode frames made by :func:`encode` (bytes, memoryviews or ``zmq.Frame`` objects).

    Arrays are read-only views of the frames (zero-copy) unless ``copy_arrays=True``.
    ``resolve(ref) -> memoryview`` turns a buffer the sender offloaded (``encode(offload=)``) into
    its bytes; it raises :class:`WireDecodeError` for a reference it refuses. Without it such a
    message is refused.

    Raises:
        WireDecodeError: garbage, truncated or extra frames, unknown message type or version, a
            shape that does not match the bytes received, a forbidden dtype (object, structured).
            Never executes anything from the message.
    """
    try:
        frames = list(frames)
    except TypeError:
        raise WireDecodeError("decode expects a list of frames") from None
    if not frames:
        raise WireDecodeError("empty message: expected a header frame")
    state = _Decoder(frames, copy_arrays, resolve)
    try:
        envelope = state.decoder.decode(_as_buffer(frames[0], 0))
    except WireDecodeError:
        raise
    except msgspec.DecodeError as exc:
        raise WireDecodeError(f"not a labkit wire message (invalid header: {exc})") from None
    except Exception as exc:  # anything raised while rebuilding objects from hostile input
        raise WireDecodeError(f"malformed message: {type(exc).__name__}: {exc}") from None
    if type(envelope) is not list or len(envelope) != 4 or envelope[0] != _codec.MAGIC:
        raise WireDecodeError("not a labkit wire message (missing 'labkit' envelope)")
    _, version, n_buffers, body = envelope
    if version != _codec.WIRE_VERSION:
        raise WireDecodeError(
            f"wire format version {version!r} is not supported (this side speaks "
            f"v{_codec.WIRE_VERSION}); upgrade labkit so both ends match"
        )
    if n_buffers != len(frames) - 1:
        raise WireDecodeError(
            f"header declares {n_buffers!r} buffer frames but {len(frames) - 1} arrived"
        )
    if len(state.used) != n_buffers:
        raise WireDecodeError(
            f"{n_buffers - len(state.used)} buffer frames are not referenced by the header"
        )
    return body
