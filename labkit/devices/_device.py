"""The :class:`Device` base class: named, typed properties, listeners, describe(), close()."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from labkit.devices._action import ActionSpec, UnknownActionError, spec_of_callable
from labkit.devices._property import (
    PropertyReadOnlyError,
    PropertySpec,
    UnknownPropertyError,
    _to_jsonable,
    prop,
)

__all__ = ["Device", "Listener"]

logger = logging.getLogger(__name__)

#: ``fn(device_name, prop_name, value)``, called after every successful set.
Listener = Callable[[str, str, Any], None]


class Device:
    """Base class of every device (camera, stage, signal, ...).

    Subclasses declare properties with :func:`~labkit.devices.prop` as class attributes. A
    device is thread-safe for one thread setting while others read: ``get``/``set`` and the
    subclass hook ``_apply`` run under one re-entrant lock (``self._lock``), which subclasses
    also hold while producing data (e.g. rendering a frame).

    Args:
        name: the device's name in a scope (``"camera"``).
        **values: initial property values, validated like :meth:`set` (listeners not called).

    Raises:
        UnknownPropertyError, PropertyError: for a bad initial value.
    """

    #: what the device is, for ``describe()`` ("camera", "stage", "signal", ...)
    kind: ClassVar[str] = "device"
    _props: ClassVar[dict[str, prop]] = {}
    _actions: ClassVar[dict[str, ActionSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, prop] = {}
        actions: dict[str, ActionSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, prop):
                    found[attr] = value
                elif attr in found:  # overridden by a plain attribute
                    del found[attr]
                description = getattr(value, "__labkit_action__", None)
                if description is not None:
                    actions[attr] = spec_of_callable(value, attr, description)
                elif attr in actions:  # overridden by a method that is not an action
                    del actions[attr]
        cls._props = found
        cls._actions = actions

    def __init__(self, name: str, **values: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a device name must be a non-empty string, got {name!r}")
        self.name = name
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._closed = False
        self._specs: dict[str, PropertySpec] = {n: p.spec for n, p in self._props.items() if p.spec}
        self._getters: dict[str, Callable[[], Any]] = {}  # per-instance reads (see _add_property)
        self._values: dict[str, Any] = {
            n: s.default for n, s in self._specs.items() if self._props[n].fget is None
        }
        for key, value in values.items():
            spec = self._spec(key)
            validated = spec.validate(value, owner=self.qualified_name)
            with self._lock:
                self._apply(key, validated)
                self._values[key] = validated

    # ------------------------------------------------------------------ introspection
    @property
    def qualified_name(self) -> str:
        """``"SimCamera 'camera'"``: how error messages name this device."""
        return f"{type(self).__name__} {self.name!r}"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def property_specs(self) -> dict[str, PropertySpec]:
        """``{name: PropertySpec}`` of every property, in declaration order."""
        return dict(self._specs)

    def _spec(self, name: str) -> PropertySpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownPropertyError(
                f"{self.qualified_name} has no property {name!r}; choose one of {', '.join(self._specs)}",
                device=self.qualified_name,
                prop_name=name,
            ) from None

    def _set_spec(self, name: str, **changes: Any) -> None:
        """Change a property's spec for this instance only (e.g. limits that depend on a sensor)."""
        self._specs[name] = self._spec(name).replace(**changes)

    def _add_property(self, spec: PropertySpec, getter: Callable[[], Any] | None = None) -> None:
        """Declare a property on this instance only, for bridges whose properties are known only at
        run time (a Micro-Manager device lists its own). ``set`` validates against ``spec`` and
        calls ``_apply`` as for declared properties; ``get`` calls ``getter()`` when given (the
        hardware is the truth), else returns the stored value (``spec.default`` at first).

        Raises:
            ValueError: the name is taken by another property.
        """
        if spec.name in self._specs:
            raise ValueError(f"{self.qualified_name} already has a property {spec.name!r}")
        self._specs[spec.name] = spec
        if getter is not None:
            self._getters[spec.name] = getter
        else:
            self._values[spec.name] = spec.default

    def _read_with(self, name: str, getter: Callable[[], Any]) -> None:
        """Read property ``name`` (declared or added) with ``getter()`` from now on: its value lives
        in the hardware, which may change it on its own (a preset that sets the exposure)."""
        self._spec(name)
        self._getters[name] = getter

    # ------------------------------------------------------------------ get / set
    def get(self, name: str) -> Any:
        """Current value of property ``name``.

        Raises:
            UnknownPropertyError: no such property.
        """
        self._spec(name)
        with self._lock:
            read = self._getters.get(name)
            if read is not None:
                return read()
            declared = self._props.get(name)
            if declared is not None and declared.fget is not None:
                return declared.fget(self)
            return self._values[name]

    def set(self, name: str, value: Any) -> Any:
        """Validate and store ``value``, then call the listeners; returns the stored value.

        An invalid value leaves the stored value unchanged.

        Raises:
            UnknownPropertyError: no such property.
            PropertyReadOnlyError: the property is read-only.
            PropertyValueError, PropertyLimitError: wrong type / choice, or out of limits.
        """
        spec = self._spec(name)
        if spec.readonly:
            raise PropertyReadOnlyError(
                f"{name} of {self.qualified_name} is read-only; read it with {self.name}.{name} "
                f"(it follows the device's other settings)",
                device=self.qualified_name,
                prop_name=name,
                value=value,
            )
        validated = spec.validate(value, owner=self.qualified_name)
        with self._lock:
            self._apply(name, validated)
            self._values[name] = validated
        self._notify(name, validated)
        return validated

    def _apply(self, name: str, value: Any) -> None:
        """Hook run under the lock before a validated value is stored.

        Override to react to a change (start a move, rebuild caches) or to check constraints
        between properties; raise a :class:`PropertyError` to refuse the value (nothing is stored).
        """

    def _store(self, name: str, value: Any) -> None:
        """Update a (read-only) stored value from inside the device and notify listeners."""
        with self._lock:
            self._values[name] = value
        self._notify(name, value)

    # ------------------------------------------------------------------ listeners
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(device_name, prop_name, value)`` after every successful set."""
        with self._lock:
            if fn not in self._listeners:
                self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn``; does nothing if it was not added."""
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _notify(self, name: str, value: Any) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(self.name, name, value)
            except Exception:  # a broken listener must not break the device
                logger.exception(
                    "listener %r of %s failed for %s=%r", fn, self.qualified_name, name, value
                )

    # ------------------------------------------------------------------ actions
    def action_specs(self) -> dict[str, ActionSpec]:
        """``{name: ActionSpec}`` of every method marked with :func:`~labkit.devices.action`."""
        return dict(self._actions)

    def call_action(
        self, name: str, args: dict[str, Any] | None = None, progress: Any = None
    ) -> Any:
        """Check ``args`` against the action's spec and run it; returns what it returns.

        ``progress(fraction, message="")`` is handed to actions that take a ``progress`` argument.

        Raises:
            UnknownActionError: no such action (the message lists the device's actions).
            ActionArgumentError: an unknown or missing argument.
            PropertyValueError, PropertyLimitError: a bad argument value.
        """
        spec = self._actions.get(name)
        if spec is None:
            known = ", ".join(self._actions) or "none"
            raise UnknownActionError(
                f"{self.qualified_name} has no action {name!r}; its actions: {known}"
            )
        kwargs = spec.check(dict(args or {}), owner=self.qualified_name)
        if spec.progress:
            kwargs["progress"] = progress if progress is not None else _no_progress
        return getattr(self, name)(**kwargs)

    # ------------------------------------------------------------------ description
    def values(self) -> dict[str, Any]:
        """``{name: value}`` of every property (JSON-able: tuples become lists)."""
        with self._lock:
            return {n: _to_jsonable(self.get(n)) for n in self._specs}

    def describe(self) -> dict[str, Any]:
        """JSON-able description: ``{"name", "kind", "type", "properties", "actions", "values"}``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "type": type(self).__name__,
            "properties": {n: s.to_json() for n, s in self._specs.items()},
            "actions": {n: a.to_json() for n, a in self._actions.items()},
            "values": self.values(),
        }

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the device (idempotent). Subclasses extend it and call ``super().close()``."""
        with self._lock:
            self._closed = True
            self._listeners.clear()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{self.qualified_name}>"


def _no_progress(fraction: float, message: str = "") -> None:
    """The progress callback of an action nobody follows."""
