"""DevicePanel: a :class:`Form` built from a device's ``describe()``.

One row per property: a control chosen from the property's kind (slider + number box for bounded
floats — logarithmic when the limits span more than 1000× —, number box for ints and unbounded
floats, dropdown for choices, checkbox for bools, text for strings, one small number box per item
for tuples, a read-only label for computed values), its units, and an error slot. A value the
device refuses shows the device's own error message in red beside the control; the device keeps
its previous value and the control shows it again. Changes made elsewhere (code, another panel,
the engine) update the panel through device listeners or the scope's ``property`` events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from labkit.engine import events
from labkit.widgets._device_actions import ActionRows
from labkit.widgets._form import Form

__all__ = ["DevicePanel"]

logger = logging.getLogger(__name__)

_LOG_SLIDER_RATIO = 1000.0  # limits spanning more than this ratio get a logarithmic slider


def row_for(name: str, spec: dict) -> dict:
    """The form row of one property (or action argument) spec (``PropertySpec.to_json()``)."""
    common: dict[str, Any] = {
        "label": name,
        "description": spec.get("description") or name,
        "cls": f"labkit-prop labkit-prop-{name}",
        "units": spec.get("units") or "",
    }
    kind, low, high = spec["kind"], spec.get("low"), spec.get("high")
    if spec.get("readonly"):
        return Form.row("label", name, **common)
    if spec.get("allowed") is not None:
        return Form.row("choice", name, options=[(str(a), a) for a in spec["allowed"]], **common)
    if kind == "float":
        slider = ""
        if low is not None and high is not None and high > low:
            log = low > 0 and high / low > _LOG_SLIDER_RATIO
            slider = "log" if log else "linear"
        return Form.row("number", name, low=low, high=high, slider=slider, **common)
    if kind == "int":
        return Form.row("int", name, low=low, high=high, **common)
    if kind == "bool":
        return Form.row("bool", name, **common)
    if kind == "tuple":
        return Form.row("tuple", name, item=spec.get("item_kind") or "float", **common)
    return Form.row("text", name, **common)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


class DevicePanel(Form):
    """A form for one device (a ``labkit.devices.Device`` or an engine device proxy).

    Args:
        device: anything with ``describe()`` and ``set(name, value)`` (or attribute assignment);
            ``add_listener``/``remove_listener`` if it has them keep the panel in sync.
        events: optional object with ``subscribe(fn)``/``unsubscribe(fn)`` delivering events with
            ``topic == "property"`` and payload ``{device, name, value}`` (a ``Scope``); for an
            engine ``DeviceProxy`` its scope is used by default.
        include: only these properties (in this order); default all.
        exclude: properties to leave out.
        title: heading; defaults to ``"<name> (<type>)"``.
        actions: show the device's actions (``describe()["actions"]``): a field per argument
            (checked like a property), a button, then progress and the result or error in red.
            ``panel.run_action(name, **args)`` does what filling the fields and clicking does.

    Invalid input never raises in the notebook: the error text is shown in red next to the
    control (``panel.errors[name]`` holds it) and the device keeps its value. ``panel.values``
    holds what the panel shows; ``panel.edit(name, value)`` does what an edit in the page does.
    Raises ``ValueError`` for ``include`` names the device does not have.
    """

    def __init__(
        self,
        device: Any,
        *,
        events: Any = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        title: str | None = None,
        actions: bool = True,
    ) -> None:
        self.device = device
        if events is None:  # an engine DeviceProxy knows its scope, which delivers property events
            scope = getattr(device, "_scope", None)
            events = scope if hasattr(scope, "subscribe") else None
        self._events = events
        self._closed = True  # until fully built
        info = device.describe()
        self.device_name: str = info["name"]
        specs: dict[str, dict] = info["properties"]
        device_values: dict[str, Any] = info.get("values", {})
        names = [n for n in (include if include is not None else specs) if n not in set(exclude)]
        unknown = [n for n in names if n not in specs]
        if unknown:
            raise ValueError(
                f"{self.device_name} has no properties {unknown}; choose from {', '.join(specs)}"
            )
        self.specs: dict[str, dict] = {n: {**specs[n], "name": n} for n in names}
        #: the device's actions: argument fields, a button each, progress and result
        self.actions = ActionRows(device, (info.get("actions") or {}) if actions else {})
        heading = (
            title
            if title is not None
            else f"{self.device_name} ({info.get('type', info.get('kind', ''))})"
        )
        super().__init__(
            [row_for(n, self.specs[n]) for n in names] + self.actions.rows(),
            values={
                **{n: _jsonable(device_values.get(n, specs[n].get("default"))) for n in names},
                **self.actions.values(),
            },
            title=heading,
            on_edit=self._apply_edit,
            on_click=self._click,
            css_class=f"labkit-device-panel labkit-device-{self.device_name}",
        )
        self.actions.bind(self)
        self.set_hidden(**self.actions.hidden())
        self._closed = False
        if hasattr(device, "add_listener"):
            device.add_listener(self._on_device_change)
        if events is not None:
            events.subscribe(self._on_event)

    # ------------------------------------------------------------------ edits from the page
    def _click(self, name: str) -> None:
        if self.actions.owns_click(name):
            future = self.actions.click(name)
            if future is not None:  # the action may change properties: show them when done
                future.add_done_callback(lambda _f: self.refresh())

    def run_action(self, name: str, timeout_s: float | None = None, **args: Any) -> Any:
        """Fill in action ``name``'s fields with ``args`` and press its button, as the user
        would; returns the action's result (waiting up to ``timeout_s``).

        Raises:
            LookupError: no such action (names the device's actions).
            ValueError etc.: an argument the field refuses (also shown in red), or what the
                action raised (also shown in red under its button).
            RuntimeError: another action of this panel is still running.
        """
        if name not in self.actions.actions:
            raise LookupError(
                f"{self.device_name} has no action {name!r}; actions: "
                f"{', '.join(self.actions.actions) or 'none'}"
            )
        for arg, value in args.items():
            row = f"{name}.{arg}"
            if row not in self.actions.args:
                raise TypeError(f"{name}() has no argument {arg!r}")
            if not self.edit(row, value):
                raise ValueError(self.errors.get(row, f"{name}(): {arg}={value!r} refused"))
        future = self.actions.click(f"{name}()")
        if future is None:
            raise RuntimeError(f"{self.actions.running}() of {self.device_name} is still running")
        future.add_done_callback(lambda _f: self.refresh())
        return future.result(timeout_s)

    def _apply_edit(self, name: str, value: Any) -> Any:
        if self.actions.owns_edit(name):
            return self.actions.check_edit(name, value)
        if name not in self.specs or self.specs[name].get("readonly"):
            raise ValueError(f"{self.device_name}.{name} cannot be edited from the panel")
        if self.specs[name]["kind"] == "tuple" and isinstance(value, list):
            value = tuple(value)
        try:
            if hasattr(self.device, "set"):
                self.device.set(name, value)
            else:
                setattr(self.device, name, value)
        except Exception:
            try:  # show the device's current value (it may have changed meanwhile)
                self.set_value(name, _jsonable(self._get(name)))
            except Exception:  # device unreachable (engine died): keep the last known value
                logger.debug("could not read %s.%s", self.device_name, name, exc_info=True)
            raise
        self.refresh()
        return self.values.get(name, _jsonable(value))

    def _get(self, name: str) -> Any:
        return self.device.get(name) if hasattr(self.device, "get") else getattr(self.device, name)

    # ------------------------------------------------------------------ changes from elsewhere
    def _on_device_change(self, device_name: str, name: str, value: Any) -> None:
        self._apply_remote(name, value)

    def _on_event(self, event: Any) -> None:
        prop = events.parse(event, events.PropertyEvent)
        if prop is not None and prop.device == self.device_name:
            self._apply_remote(prop.name, prop.value)

    def _apply_remote(self, name: str | None, value: Any) -> None:
        if self._closed:
            return
        if name in self.specs:
            spec = self.specs[name]
            if spec.get("allowed") is not None and value not in spec["allowed"]:
                logger.debug("%s.%s=%r is not a choice of the panel", self.device_name, name, value)
            else:
                self.set_value(name, _jsonable(value))
                self.set_error(name, None)
        self._refresh_readonly()

    def _refresh_readonly(self) -> None:
        fresh = {}
        for name, spec in self.specs.items():
            if spec.get("readonly"):
                try:
                    fresh[name] = _jsonable(self._get(name))
                except Exception:  # a device that is closing: keep the last value
                    logger.debug("could not read %s.%s", self.device_name, name, exc_info=True)
        if fresh:
            self.set_values(**fresh)

    def refresh(self) -> None:
        """Re-read every property from the device and show it."""
        if self._closed:
            return
        fresh = {}
        for name in self.specs:
            try:
                fresh[name] = _jsonable(self._get(name))
            except Exception:
                logger.debug("could not read %s.%s", self.device_name, name, exc_info=True)
        self.set_values(**fresh)

    def close(self) -> None:
        """Stop listening to the device and the scope, and close the widget (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.actions.close()
        if hasattr(self.device, "remove_listener"):
            try:
                self.device.remove_listener(self._on_device_change)
            except Exception:
                logger.debug("remove_listener failed", exc_info=True)
        if self._events is not None:
            try:
                self._events.unsubscribe(self._on_event)
            except Exception:
                logger.debug("unsubscribe failed", exc_info=True)
        super().close()
