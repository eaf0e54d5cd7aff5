"""DevicePanel: an ipywidgets form built from a device's ``describe()``.

One row per property: a control chosen from the property's kind (slider + number box for bounded
floats, number box for ints, dropdown for choices, checkbox for bools, text for strings and
tuples, a read-only label for computed values), its units, and an error slot. A value the device
refuses shows the device's own error message in red beside the control; the device keeps its
previous value and the control is put back to it. Changes made elsewhere (code, another panel,
the engine) update the panel through device listeners or the scope's ``property`` events.
"""

from __future__ import annotations

import html
import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets
import traitlets

__all__ = ["DevicePanel"]

logger = logging.getLogger(__name__)

ERROR_STYLE = "color: #c62828; font-size: 0.9em;"
_LOG_SLIDER_RATIO = 1000.0  # limits spanning more than this ratio get a logarithmic slider


def _fmt_range(spec: dict) -> str:
    low = "-inf" if spec.get("low") is None else f"{spec['low']:g}"
    high = "inf" if spec.get("high") is None else f"{spec['high']:g}"
    units = f" {spec['units']}" if spec.get("units") else ""
    return f"[{low}, {high}]{units}"


def _parse_tuple(text: str, spec: dict) -> tuple:
    """``"0, 0, 256, 256"`` → ``(0, 0, 256, 256)`` with the spec's item kind.

    Raises:
        ValueError: a part is not a number (the device validates length and limits).
    """
    cast: Callable[[str], Any] = int if spec.get("item_kind") == "int" else float
    parts = [p for p in text.replace("(", " ").replace(")", " ").replace(",", " ").split() if p]
    try:
        return tuple(cast(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"{spec['name']}={text!r} is not a list of {spec.get('item_kind') or 'numbers'}; "
            f"type numbers separated by commas, e.g. {', '.join(map(str, spec.get('default') or (1, 2)))}"
        ) from None


def _show(value: Any, spec: dict) -> str:
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return f"{text} {spec['units']}" if spec.get("units") else text


class _Row:
    """The widgets of one property and how to read/write their value."""

    def __init__(self, spec: dict, value: Any, on_edit: Callable[[str, Any], None]) -> None:
        self.spec = spec
        self.name = spec["name"]
        self._on_edit = on_edit
        # set while show() writes a device value into the controls; thread-local because the
        # observers fire in the writing thread, and a user edit arriving meanwhile on the
        # kernel's thread must still go through
        self._local = threading.local()
        self.last_value = value
        self.error = widgets.HTML(value="", layout=widgets.Layout(margin="0 0 0 8px"))
        self.error.add_class("labkit-error")
        self.controls: list[widgets.Widget] = self._build(spec, value)
        label = widgets.HTML(
            value=f"<b>{html.escape(self.name)}</b>",
            layout=widgets.Layout(width="130px"),
            tooltip=spec.get("description") or self.name,
        )
        units = widgets.HTML(
            value=html.escape(spec.get("units") or ""), layout=widgets.Layout(width="60px")
        )
        self.box = widgets.HBox([label, *self.controls, units, self.error])
        self.box.add_class("labkit-prop")
        self.box.add_class(f"labkit-prop-{self.name}")
        for control in self.controls:
            if not spec.get("readonly"):
                control.observe(self._changed, names="value")

    # ------------------------------------------------------------------ building
    def _build(self, spec: dict, value: Any) -> list[widgets.Widget]:
        kind, desc = spec["kind"], spec.get("description") or ""
        if spec.get("readonly"):
            label = widgets.Label(value=_show(value, {**spec, "units": ""}), tooltip=desc)
            label.add_class("labkit-readonly")
            return [label]
        text_layout = widgets.Layout(width="110px")
        if kind in ("float", "int") and spec.get("allowed") is None:
            box_cls = widgets.FloatText if kind == "float" else widgets.IntText
            box = box_cls(
                value=value, continuous_update=False, layout=text_layout, tooltip=_fmt_range(spec)
            )
            box.add_class("labkit-number")
            controls: list[widgets.Widget] = [box]
            low, high = spec.get("low"), spec.get("high")
            if kind == "float" and low is not None and high is not None and high > low:
                controls.insert(0, self._slider(float(low), float(high), value))
            return controls
        if kind == "enum" or spec.get("allowed") is not None:
            options = [(str(a), a) for a in spec["allowed"]]
            return [
                widgets.Dropdown(options=options, value=value, layout=widgets.Layout(width="110px"))
            ]
        if kind == "bool":
            return [
                widgets.Checkbox(
                    value=bool(value), indent=False, layout=widgets.Layout(width="110px")
                )
            ]
        text = _show(value, {**spec, "units": ""}) if kind == "tuple" else str(value)
        box = widgets.Text(
            value=text, continuous_update=False, layout=widgets.Layout(width="160px")
        )
        box.add_class("labkit-text")
        return [box]

    def _slider(self, low: float, high: float, value: float) -> widgets.Widget:
        common = dict(readout=False, continuous_update=False, layout=widgets.Layout(width="180px"))
        if low > 0 and high / low > _LOG_SLIDER_RATIO:
            slider = widgets.FloatLogSlider(
                min=math.log10(low), max=math.log10(high), value=value, step=0.01, **common
            )
        else:
            slider = widgets.FloatSlider(
                min=low, max=high, value=value, step=(high - low) / 1000, **common
            )
        slider.add_class("labkit-slider")
        return slider

    # ------------------------------------------------------------------ values
    def _changed(self, change: dict) -> None:
        if getattr(self._local, "muted", False):
            return
        value = change["new"]
        if self.spec["kind"] == "tuple":
            try:
                value = _parse_tuple(value, self.spec)
            except ValueError as exc:
                self.show_error(str(exc))
                return
        self._on_edit(self.name, value)

    def show(self, value: Any) -> None:
        """Put ``value`` (the device's) into every control without sending it back."""
        self.last_value = value
        self._local.muted = True
        try:
            for control in self.controls:
                try:
                    self._put(control, value)
                except (TypeError, ValueError, traitlets.TraitError):
                    logger.debug(
                        "cannot show %s=%r in %s", self.name, value, type(control).__name__
                    )
        finally:
            self._local.muted = False

    def _put(self, control: widgets.Widget, value: Any) -> None:
        if isinstance(control, (widgets.Label, widgets.Text)):
            control.value = _show(value, {**self.spec, "units": ""})
        elif isinstance(control, widgets.FloatLogSlider):
            control.value = min(max(float(value), 10**control.min), 10**control.max)
        elif isinstance(control, widgets.FloatSlider):
            control.value = min(max(float(value), control.min), control.max)
        else:
            control.value = value

    def show_error(self, message: str) -> None:
        self.error.value = (
            f'<span style="{ERROR_STYLE}">{html.escape(message)}</span>' if message else ""
        )


class DevicePanel(widgets.VBox):
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

    Invalid input never raises in the notebook: the error text is shown in red next to the
    control (``panel.errors[name]`` holds it) and the device keeps its value.
    """

    def __init__(
        self,
        device: Any,
        *,
        events: Any = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        title: str | None = None,
    ) -> None:
        self.device = device
        if events is None:  # an engine DeviceProxy knows its scope, which delivers property events
            scope = getattr(device, "_scope", None)
            events = scope if hasattr(scope, "subscribe") else None
        self._events = events
        self._closed = True  # until fully built, so Widget.__del__ of a failed build does nothing
        info = device.describe()
        self.device_name: str = info["name"]
        specs: dict[str, dict] = info["properties"]
        values: dict[str, Any] = info.get("values", {})
        names = [n for n in (include if include is not None else specs) if n not in set(exclude)]
        unknown = [n for n in names if n not in specs]
        if unknown:
            raise ValueError(
                f"{self.device_name} has no properties {unknown}; choose from {', '.join(specs)}"
            )
        self.rows: dict[str, _Row] = {
            n: _Row({**specs[n], "name": n}, values.get(n, specs[n].get("default")), self._edit)
            for n in names
        }
        self.errors: dict[str, str] = {}
        heading = (
            title
            if title is not None
            else f"{self.device_name} ({info.get('type', info.get('kind', ''))})"
        )
        header = widgets.HTML(value=f"<b>{html.escape(heading)}</b>")
        super().__init__([header, *(row.box for row in self.rows.values())])
        self.add_class("labkit-device-panel")
        self.add_class(f"labkit-device-{self.device_name}")
        self._closed = False
        if hasattr(device, "add_listener"):
            device.add_listener(self._on_device_change)
        if events is not None:
            events.subscribe(self._on_event)

    # ------------------------------------------------------------------ edits from the page
    def _edit(self, name: str, value: Any) -> None:
        row = self.rows[name]
        try:
            if hasattr(self.device, "set"):
                self.device.set(name, value)
            else:
                setattr(self.device, name, value)
        except Exception as exc:  # the device's message says what is allowed
            logger.info("%s.%s=%r refused: %s", self.device_name, name, value, exc)
            self.errors[name] = str(exc)
            row.show_error(str(exc))
            try:
                current = self._get(name)
            except Exception:  # device unreachable (engine died): show the last known value
                current = row.last_value
            row.show(current)
            return
        self.errors.pop(name, None)
        row.show_error("")
        self.refresh()

    def _get(self, name: str) -> Any:
        return self.device.get(name) if hasattr(self.device, "get") else getattr(self.device, name)

    # ------------------------------------------------------------------ changes from elsewhere
    def _on_device_change(self, device_name: str, name: str, value: Any) -> None:
        self._apply_remote(name, value)

    def _on_event(self, event: Any) -> None:
        if getattr(event, "topic", None) != "property":
            return
        payload = event.payload or {}
        if payload.get("device") == self.device_name:
            self._apply_remote(payload.get("name"), payload.get("value"))

    def _apply_remote(self, name: str | None, value: Any) -> None:
        if self._closed:
            return
        row = self.rows.get(name) if name else None
        if row is not None:
            row.show(value)
            if name in self.errors:
                self.errors.pop(name)
                row.show_error("")
        self._refresh_readonly()

    def _refresh_readonly(self) -> None:
        for name, row in self.rows.items():
            if row.spec.get("readonly"):
                try:
                    row.show(self._get(name))
                except Exception:  # a device that is closing: keep the last value
                    logger.debug("could not read %s.%s", self.device_name, name, exc_info=True)

    def refresh(self) -> None:
        """Re-read every property from the device and show it."""
        if self._closed:
            return
        for name, row in self.rows.items():
            try:
                row.show(self._get(name))
            except Exception:
                logger.debug("could not read %s.%s", self.device_name, name, exc_info=True)

    def close(self) -> None:
        """Stop listening to the device and the scope, and close the widgets (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
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
        for row in self.rows.values():
            for child in (*row.controls, row.error, *row.box.children, row.box):
                child.close()
        for child in self.children:
            child.close()
        super().close()
