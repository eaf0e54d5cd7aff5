"""Device proxies: ``scope.camera.exposure_ms = 10`` goes through the engine's typed RPC."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from labkit.devices import ActionSpec, PropertySpec, UnknownActionError, UnknownPropertyError
from labkit.engine import events
from labkit.wire import Event

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from labkit.engine._scope import Scope

__all__ = ["DeviceProxy"]

# read-only attributes (not properties) readable through ``get_attribute``
_ATTRIBUTES = {"camera": ("shape", "dtype", "pixel_size_um"), "signal": ("channels",)}
_METHODS = {
    "camera": ("snap",),
    "stage": ("move", "position", "wait", "is_moving"),
}
_OWN = ("describe", "property_specs", "values", "name", "kind")


def spec_from_json(data: dict[str, Any]) -> PropertySpec:
    """Rebuild a :class:`PropertySpec` from ``spec.to_json()`` (lists back to tuples)."""
    fields = dict(data)
    if fields.get("allowed") is not None:
        fields["allowed"] = tuple(tuple(a) if isinstance(a, list) else a for a in fields["allowed"])
    if isinstance(fields.get("default"), list):
        fields["default"] = tuple(fields["default"])
    known = PropertySpec.__dataclass_fields__
    return PropertySpec(**{k: v for k, v in fields.items() if k in known})


class DeviceProxy:
    """Stand-in for a device that lives in the engine (same process or another).

    Reading or setting a property (``proxy.exposure_ms``, ``proxy.exposure_ms = 10``) is one RPC; errors
    arrive as the device raised them (``PropertyLimitError`` naming the limit). ``dir(proxy)`` lists the
    properties and actions, so tab completion works. Cameras add ``snap()``, stages ``move()``,
    ``position()``, ``wait()``, ``is_moving()``; a driver's actions are methods too
    (``magnet.home(speed_mm_s=2, progress=print)``: arguments checked in the engine, ``progress``
    called with ``(fraction, message)`` as the action reports it).
    """

    def __init__(self, scope: Scope, name: str, description: dict[str, Any]) -> None:
        object.__setattr__(self, "_scope", scope)
        object.__setattr__(self, "name", name)
        self._refresh(description)

    def _refresh(self, description: dict[str, Any]) -> None:
        object.__setattr__(self, "kind", str(description.get("kind", "device")))
        specs = {k: spec_from_json(v) for k, v in description["properties"].items()}
        object.__setattr__(self, "_specs", specs)
        actions = {k: ActionSpec.from_json(v) for k, v in description.get("actions", {}).items()}
        object.__setattr__(self, "_actions", actions)

    def action_specs(self) -> dict[str, ActionSpec]:
        """``{name: ActionSpec}`` of the device's actions (arguments with units and limits)."""
        return dict(self._actions)

    def call_action(
        self, name: str, args: dict[str, Any] | None = None, progress: Any = None
    ) -> Any:
        """Run action ``name`` with ``args`` in the engine (as ``Device.call_action`` does
        locally): ``proxy.call_action("home", {"speed_mm_s": 2})`` is ``proxy.home(speed_mm_s=2)``.

        Raises:
            UnknownActionError: no such action (the message lists the device's actions).
            ActionArgumentError, PropertyValueError, PropertyLimitError: bad arguments.
        """
        if name not in self._actions:
            raise UnknownActionError(
                f"{self.kind} {self.name!r} has no action {name!r}; actions: "
                f"{', '.join(self._actions) or 'none'}"
            )
        return self._run_action(name, dict(args or {}), progress)

    # -- properties ------------------------------------------------------------------------------

    def property_specs(self) -> dict[str, PropertySpec]:
        """``{name: PropertySpec}`` of every property (units, limits, choices, read-only flag)."""
        return dict(self._specs)

    def describe(self) -> dict[str, Any]:
        """The device's description from the engine: ``{"name", "kind", "properties", "values"}``."""
        return self._scope._call("describe", device=self.name)

    def values(self) -> dict[str, Any]:
        """Current values of every property (one RPC)."""
        return self.describe()["values"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._specs:
            value = self._scope._call("get_property", device=self.name, name=name)
            if self._specs[name].kind == "tuple" and isinstance(value, list):
                value = tuple(value)
            return value
        if name in _ATTRIBUTES.get(self.kind, ()):
            value = self._scope._call("get_attribute", device=self.name, name=name)
            return tuple(value) if isinstance(value, list) else value
        if name in _METHODS.get(self.kind, ()):
            return getattr(self, f"_{name}")
        if name in self._actions:
            return self._action(name)
        raise AttributeError(self._unknown(name))

    def _action(self, name: str) -> Any:
        spec = self._actions[name]

        def run(progress: Any = None, **kwargs: Any) -> Any:
            return self._run_action(name, kwargs, progress)

        run.__name__ = name
        run.__doc__ = f"{spec.description}\n\nArguments: {spec.signature()}"
        return run

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._specs:
            self._scope._call("set_property", device=self.name, name=name, value=value)
            return
        raise UnknownPropertyError(
            self._unknown(name), device=self.name, prop_name=name, value=value
        )

    def _unknown(self, name: str) -> str:
        actions = f"; actions: {', '.join(self._actions)}" if self._actions else ""
        return (
            f"{self.kind} {self.name!r} has no property {name!r}; choose one of "
            f"{', '.join(self._specs)}{actions}"
        )

    def __dir__(self) -> list[str]:
        return sorted(
            {*self._specs, *_ATTRIBUTES.get(self.kind, ()), *_METHODS.get(self.kind, ()), *_OWN,
             *self._actions, "action_specs", "call_action"}
        )  # fmt: skip

    def _run_action(self, action: str, args: dict, progress: Any) -> Any:
        """Run ``action`` in the engine, calling ``progress(fraction, message)`` meanwhile."""
        scope = self._scope
        if progress is None:
            return scope._call("call_action", device=self.name, action=action, args=args)
        if not callable(progress):
            raise TypeError(f"progress must be callable(fraction, message), got {progress!r}")
        call_id = uuid.uuid4().hex

        def follow(event: Event) -> None:
            p = events.parse(event, events.ProgressEvent)
            if p is not None and p.call_id == call_id:
                progress(p.fraction, p.message)

        bus = scope.events
        bus.subscribe(follow)
        try:
            result = scope._call(
                "call_action", device=self.name, action=action, args=args, call_id=call_id
            )
            bus.flush()  # its progress events came before the reply: deliver them all
            return result
        finally:
            bus.unsubscribe(follow)

    def __repr__(self) -> str:
        return f"<DeviceProxy {self.kind} {self.name!r} ({self._scope.mode} engine)>"

    # -- camera ----------------------------------------------------------------------------------

    def _snap(self) -> xr.DataArray:
        """One frame as ``xr.DataArray`` (y, x) with coords in µm and metadata attrs."""
        return self._scope._call("snap", device=self.name)

    # -- stage -----------------------------------------------------------------------------------

    def _move(
        self,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        wait: bool = False,
        timeout_s: float = 30.0,
    ) -> tuple[float, float, float]:
        """Start a move to absolute targets in µm (``wait=True``: until it arrives); returns the position.

        Raises:
            PropertyLimitError: a target outside the stage's travel.
        """
        pos = self._scope._call(
            "move_stage", device=self.name, x_um=x, y_um=y, z_um=z, wait=wait, timeout_s=timeout_s
        )
        return tuple(pos)

    def _position(self) -> tuple[float, float, float]:
        """Actual (x, y, z) in µm right now (the stage moves at a finite speed)."""
        return tuple(self._scope._call("stage_position", device=self.name))

    def _wait(self, timeout_s: float = 30.0) -> tuple[float, float, float]:
        """Block until the stage stops; returns the position (µm)."""
        return tuple(self._scope._call("stage_wait", device=self.name, timeout_s=timeout_s))

    def _is_moving(self) -> bool:
        return bool(self._scope._call("stage_is_moving", device=self.name))
