"""Which devices an engine owns: the simulated default set, a factory, or ready-made devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labkit.devices import DeviceFactory
from labkit.devices._factory import load_factory

__all__ = ["DEFAULT_FACTORY", "DevicesSpec", "build_devices", "factory_kwargs", "factory_path"]

#: ``devices`` argument of Scope: None (simulated set), "module:function", a callable
#: ``f(seed=..., shape=...) -> {name: Device}`` (a :class:`~labkit.devices.DeviceFactory` carries
#: its own arguments), or a mapping of ready-made devices (thread mode only)
DevicesSpec = None | str | Callable[..., Mapping[str, Any]] | Mapping[str, Any]

DEFAULT_FACTORY = "labkit.devices.sim:default_devices"


def build_devices(
    spec: DevicesSpec, seed: int = 0, shape: tuple[int, int] = (2048, 2048)
) -> dict[str, Any]:
    """Return ``{name: device}`` for a devices spec (see :data:`DevicesSpec`).

    Raises:
        ValueError: a factory path that cannot be imported, or a factory returning no devices.
    """
    if spec is None:
        spec = DEFAULT_FACTORY
    if isinstance(spec, str):
        spec = load_factory(spec)
    if isinstance(spec, Mapping):
        devices = dict(spec)
    else:
        devices = dict(spec(seed=seed, shape=tuple(shape)))
    if not devices:
        raise ValueError("the device factory returned no devices")
    return devices


def factory_path(spec: DevicesSpec) -> str | None:
    """The ``module:function`` a child process can import to build the same devices.

    Raises:
        ValueError: ready-made device objects or a lambda/local function (cannot cross processes;
            labkit never pickles).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec
    if isinstance(spec, DeviceFactory):
        return spec.path
    if callable(spec) and not isinstance(spec, Mapping):
        module, qualname = getattr(spec, "__module__", None), getattr(spec, "__qualname__", "")
        if (
            module
            and qualname
            and "<" not in qualname
            and "." not in qualname
            and module != "__main__"
        ):
            return f"{module}:{qualname}"
    raise ValueError(
        "mode='process' builds the devices inside the engine process, so pass devices as an importable "
        "factory 'package.module:function' (called with seed= and shape=), not device objects; "
        "or use mode='thread'"
    )


def factory_kwargs(spec: DevicesSpec) -> dict[str, Any]:
    """The keyword arguments a :class:`~labkit.devices.DeviceFactory` carries to the engine process
    (``{}`` for any other spec)."""
    return dict(spec.kwargs) if isinstance(spec, DeviceFactory) else {}
