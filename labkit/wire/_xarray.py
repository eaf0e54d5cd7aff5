"""xarray codec: DataArray / Dataset <-> plain trees of numpy arrays, names and JSON-able attrs.

A DataArray travels as ``{"name", "dims", "values", "attrs", "coords": [[name, var], ...]}`` and a
Dataset as ``{"data_vars": [[name, var], ...], "coords": [[name, var], ...], "attrs"}`` where each
``var`` is ``{"dims", "values", "attrs"}``; the array codec then sends ``values`` out of band.

Attribute policy (documented choice: reject, never stringify): attrs must be JSON-able after
converting numpy scalars (``np.float32(1)`` -> ``1.0``) and small numpy arrays (at most
:data:`MAX_ATTR_ARRAY_SIZE` elements, bool/int/float/str) to Python values and lists; tuples become
lists. Anything else raises :class:`~labkit.wire.WireEncodeError` naming the attribute path.

Not carried: ``encoding``, custom (non-pandas) indexes. MultiIndex coordinates are refused (call
``reset_index`` first). Object arrays holding only ``str`` are sent as fixed-width unicode (``<U``);
other object arrays are refused.
"""

from __future__ import annotations

import enum
import importlib
from typing import Any

import numpy as np

from labkit.wire._errors import WireDecodeError, WireEncodeError

MAX_ATTR_ARRAY_SIZE = 10_000
"""Largest numpy array (in elements) accepted as an attribute value; convert bigger ones to coords."""

_ATTR_ARRAY_KINDS = "biufU"
_JSON_HINT = (
    "attrs must be JSON-able (str, int, float, bool, None, lists and dicts with str keys); "
    "convert it to a str, number or list before sending"
)


def is_xarray(obj: Any) -> bool:
    """True for an ``xr.DataArray`` or ``xr.Dataset`` (without importing xarray)."""
    xr = _loaded_xarray()
    return xr is not None and isinstance(obj, (xr.DataArray, xr.Dataset))


def _loaded_xarray() -> Any:
    import sys

    return sys.modules.get("xarray")


def json_attr(value: Any, path: str) -> Any:
    """``value`` as a JSON-able Python value, converting numpy scalars and small arrays.

    Raises:
        WireEncodeError: naming ``path`` if the value is not JSON-able.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        if isinstance(value, np.str_):
            return str(value)
        raise WireEncodeError(f"attribute {path} is a numpy {value.dtype} scalar; {_JSON_HINT}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ATTR_ARRAY_KINDS:
            raise WireEncodeError(f"attribute {path} is a numpy {value.dtype} array; {_JSON_HINT}")
        if value.size > MAX_ATTR_ARRAY_SIZE:
            raise WireEncodeError(
                f"attribute {path} is a numpy array of {value.size} elements (limit "
                f"{MAX_ATTR_ARRAY_SIZE}); store it as a coordinate or data variable instead, or "
                "convert it with .tolist() or str(...) if it must stay an attribute"
            )
        return value.tolist()
    if isinstance(value, enum.Enum):
        return json_attr(value.value, path)
    if isinstance(value, str):  # str / int / float subclasses travel as the plain base type
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [json_attr(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireEncodeError(
                    f"attribute {path} has a non-str key {key!r}; use str keys in attribute dicts"
                )
            out[str(key)] = json_attr(item, f"{path}[{key!r}]")
        return out
    raise WireEncodeError(f"attribute {path} has type {type(value).__name__}; {_JSON_HINT}")


def json_attrs(attrs: dict, path: str) -> dict:
    """All of ``attrs`` converted with :func:`json_attr`; keys must be str."""
    out = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise WireEncodeError(f"attribute key {key!r} in {path} is not a str; use str keys")
        out[str(key)] = json_attr(value, f"{path}[{key!r}]")
    return out


def _values(data: Any, path: str) -> np.ndarray:
    values = np.asarray(data)
    if values.dtype.kind == "O":
        if all(isinstance(v, str) for v in values.flat):
            return values.astype(str) if values.size else values.astype("<U1")
        raise WireEncodeError(
            f"{path} holds Python objects (dtype object); convert it to a numeric, datetime64 "
            "or fixed-width string dtype with .astype(...) before sending"
        )
    return values


def _variable(var: Any, path: str) -> dict:
    return {
        "dims": list(var.dims),
        "values": _values(var.values, f"{path}.values"),
        "attrs": json_attrs(var.attrs, f"{path}.attrs"),
    }


def _check_indexes(obj: Any, what: str) -> None:
    for name, index in obj.xindexes.items():
        if type(index).__name__ == "PandasMultiIndex":
            raise WireEncodeError(
                f"{what} coordinate {name!r} is a pandas MultiIndex, which cannot be sent; "
                f"call .reset_index({name!r}) first"
            )


def _coords(obj: Any, what: str) -> list:
    _check_indexes(obj, what)
    return [
        [name, _variable(coord.variable, f"{what}.coords[{name!r}]")]
        for name, coord in obj.coords.items()
    ]


def xarray_to_plain(obj: Any) -> tuple[str, dict]:
    """``("dataarray" | "dataset", plain dict)`` for an xarray object (arrays left as ndarrays).

    Raises:
        WireEncodeError: a non-JSON-able attribute, object array or MultiIndex (message says where).
    """
    xr = _loaded_xarray()
    if isinstance(obj, xr.DataArray):
        what = "DataArray" if obj.name is None else f"DataArray {obj.name!r}"
        return "dataarray", {
            "name": obj.name,
            "dims": list(obj.dims),
            "values": _values(obj.variable.values, f"{what}.values"),
            "attrs": json_attrs(obj.attrs, f"{what}.attrs"),
            "coords": _coords(obj, what),
        }
    return "dataset", {
        "data_vars": [
            [name, _variable(var.variable, f"Dataset.data_vars[{name!r}]")]
            for name, var in obj.data_vars.items()
        ],
        "coords": _coords(obj, "Dataset"),
        "attrs": json_attrs(obj.attrs, "Dataset.attrs"),
    }


def _var_from_plain(xr: Any, plain: dict) -> Any:
    values = plain["values"]
    if not isinstance(values, np.ndarray):
        raise WireDecodeError(f"variable values must be an array, got {type(values).__name__}")
    attrs = plain["attrs"]
    if not isinstance(attrs, dict):
        raise WireDecodeError("variable attrs must be a map")
    return xr.Variable(tuple(plain["dims"]), values, attrs)


def xarray_from_plain(kind: str, plain: dict) -> Any:
    """Rebuild the DataArray or Dataset described by :func:`xarray_to_plain`.

    Raises:
        WireDecodeError: the description is malformed (missing keys, wrong types, bad dims).
    """
    xr = importlib.import_module("xarray")
    try:
        coords = {name: _var_from_plain(xr, var) for name, var in plain["coords"]}
        attrs = plain["attrs"]
        if not isinstance(attrs, dict):
            raise WireDecodeError("attrs must be a map")
        if kind == "dataarray":
            values = plain["values"]
            if not isinstance(values, np.ndarray):
                raise WireDecodeError("DataArray values must be an array")
            return xr.DataArray(
                values, dims=tuple(plain["dims"]), coords=coords, name=plain["name"], attrs=attrs
            )
        data_vars = {name: _var_from_plain(xr, var) for name, var in plain["data_vars"]}
        return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)
    except WireDecodeError:
        raise
    except Exception as exc:
        raise WireDecodeError(f"malformed xarray {kind} in message: {exc}") from None
