"""Device kinds beyond cameras, stages and signals: :class:`StateDevice` and :class:`Shutter`.

A generic :class:`~labkit.devices.Device` (properties and actions only) needs no kind of its own.

::

    class FilterWheel(StateDevice):
        def _move_to(self, position: int) -> None:   # talk to the hardware; raise to refuse
            self._sdk.set_position(position)

    wheel = FilterWheel("filters", labels=("DAPI", "GFP", "RFP", "Cy5"))
    wheel.label = "GFP"      # or wheel.position = 1; both stay in step
"""

from __future__ import annotations

from typing import Any, ClassVar

from labkit.devices._device import Device
from labkit.devices._property import prop

__all__ = ["Shutter", "StateDevice"]


class StateDevice(Device):
    """Numbered positions with labels (filter wheel, objective turret, light path).

    ``position`` (0-based) and ``label`` are both settable and always agree. Subclasses implement
    :meth:`_move_to`; ``labels`` come from the constructor or the class attribute
    ``default_labels``.

    Raises:
        ValueError: no labels, or labels that repeat.
    """

    kind: ClassVar[str] = "state"
    default_labels: ClassVar[tuple[str, ...]] = ()

    position = prop(int, low=0, default=0, description="current position (0-based)")
    label = prop(str, default="", description="label of the current position")

    def __init__(self, name: str, labels: tuple[str, ...] | None = None, **values: Any) -> None:
        labels = tuple(str(v) for v in (labels if labels is not None else self.default_labels))
        if not labels:
            raise ValueError(f"{type(self).__name__} {name!r} needs labels, one per position")
        if len(set(labels)) != len(labels):
            raise ValueError(f"the labels of {name!r} repeat: {labels}; give each position its own")
        self.labels = labels
        super().__init__(name)
        self._set_spec("position", high=float(len(labels) - 1))
        self._set_spec("label", kind="enum", item_kind="str", allowed=labels, default=labels[0])
        self._values["label"] = labels[0]
        for key, value in values.items():
            self.set(key, value)

    def _apply(self, name: str, value: Any) -> None:
        if name == "position":
            self._move_to(value)
        elif name == "label":
            self._move_to(self.labels.index(value))

    def set(self, name: str, value: Any) -> Any:
        stored = super().set(name, value)
        if name == "position":
            self._store("label", self.labels[stored])
        elif name == "label":
            self._store("position", self.labels.index(stored))
        return stored

    def _move_to(self, position: int) -> None:
        """Move the hardware to ``position`` (runs under the device lock; raise to refuse)."""


class Shutter(Device):
    """A shutter (or any on/off light switch): ``is_open``."""

    kind: ClassVar[str] = "shutter"

    is_open = prop(bool, default=False, description="light path open")

    def _apply(self, name: str, value: Any) -> None:
        if name == "is_open":
            self._set_open(bool(value))

    def _set_open(self, is_open: bool) -> None:
        """Open or close the hardware (runs under the device lock; raise to refuse)."""
