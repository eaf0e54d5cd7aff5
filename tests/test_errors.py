"""Every error labkit raises on purpose is a ``LabkitError`` and keeps its builtin base."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import labkit
from labkit.errors import LabkitError


def _labkit_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(labkit.__path__, "labkit."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and not issubclass(obj, Warning)
                and obj.__module__.startswith("labkit.")
                and not name.startswith("_")
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_every_labkit_error_is_a_labkit_error():
    classes = _labkit_exception_classes()
    assert len(classes) >= 30, sorted(c.__name__ for c in classes)
    outside = sorted(c.__qualname__ for c in classes if not issubclass(c, LabkitError))
    assert outside == []


def test_errors_keep_their_builtin_bases():
    from labkit.devices import PropertyLimitError
    from labkit.engine import EngineDiedError
    from labkit.rpc import RpcTimeoutError
    from labkit.spool import SpoolWriteError
    from labkit.viewer import ManagerNotFoundError

    assert issubclass(PropertyLimitError, ValueError)
    assert issubclass(EngineDiedError, ConnectionError)
    assert issubclass(EngineDiedError, RuntimeError)
    assert issubclass(RpcTimeoutError, TimeoutError)
    assert issubclass(SpoolWriteError, OSError)
    assert issubclass(ManagerNotFoundError, LookupError)
    assert labkit.LabkitError is LabkitError
