""":class:`DeviceFactory`: an importable device factory plus its keyword arguments.

A scope in process mode builds its devices inside the engine process, and labkit never pickles, so
a factory must cross as text: ``"package.module:function"`` and JSON-able keyword arguments. The
same object builds the devices in this process (thread mode), in an engine process, and from a
settings file (``devices: {factory: ..., kwargs: {...}}``)::

    factory = DeviceFactory("labkit.devices.micromanager:from_config", config="MMConfig.cfg")
    lk.Scope(devices=factory, mode="process")
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DeviceFactory", "load_callable", "load_factory"]


def load_callable(path: str, what: str = "function") -> Callable[..., Any]:
    """The callable a ``"package.module:function"`` path names (``what`` names it in errors:
    "function", "device factory", ...).

    Raises:
        ValueError: the path is malformed, does not import, or names something not callable.
    """
    module_name, _, attr = str(path).partition(":")
    if not module_name or not attr:
        raise ValueError(f"{what} {path!r} must look like 'package.module:function'")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {what} {path!r}: {exc}") from None
    if not callable(found):
        raise ValueError(f"{what} {path!r} is not callable")
    return found


def load_factory(path: str) -> Callable[..., Mapping[str, Any]]:
    """The device factory a ``"package.module:function"`` path names.

    Raises:
        ValueError: the path is malformed, does not import, or names something not callable.
    """
    return load_callable(path, "device factory")


class DeviceFactory:
    """``path`` (``"package.module:function"``) called with ``kwargs``, in any process.

    Calling it (``factory(seed=..., shape=...)``, as an engine calls a devices factory) imports the
    function and calls it with ``kwargs``; ``seed`` and ``shape`` are passed on only to a function
    that takes them and was not given them in ``kwargs``.

    Raises:
        ValueError: a malformed path.  TypeError: ``kwargs`` that are not JSON-able (they travel to
            the engine process as JSON).
    """

    def __init__(self, path: str, /, **kwargs: Any) -> None:
        module_name, _, attr = str(path).partition(":")
        if not module_name or not attr:
            raise ValueError(f"device factory {path!r} must look like 'package.module:function'")
        try:
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"the arguments of device factory {path!r} must be JSON-able (str, numbers, bools, "
                f"None, lists, dicts), they cross into the engine process as text: {exc}"
            ) from None
        self.path = str(path)
        self.kwargs = dict(kwargs)

    def __call__(self, **engine_kwargs: Any) -> Mapping[str, Any]:
        factory = load_factory(self.path)
        kwargs = dict(self.kwargs)
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # a builtin without a signature: give it only ours
            params = {}  # type: ignore[assignment]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for key, value in engine_kwargs.items():
            if key not in kwargs and (takes_any or key in params):
                kwargs[key] = value
        return factory(**kwargs)

    def to_json(self) -> dict[str, Any]:
        """``{"factory": path, "kwargs": {...}}``, the form a settings file holds."""
        return {"factory": self.path, "kwargs": dict(self.kwargs)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceFactory) and (other.path, other.kwargs) == (
            self.path,
            self.kwargs,
        )

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"DeviceFactory({self.path!r}{args})"
