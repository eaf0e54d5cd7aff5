"""Micro-Manager devices that are properties only (:class:`MMDevice`), state devices
(:class:`MMStateDevice`: filter wheels, turrets) and shutters (:class:`MMShutter`)."""

from __future__ import annotations

from typing import Any, ClassVar

from labkit.devices._device import Device
from labkit.devices._kinds import Shutter, StateDevice
from labkit.devices.micromanager._core import CoreHandle
from labkit.devices.micromanager._properties import MM_ERRORS, MMBridge

__all__ = ["MMDevice", "MMShutter", "MMStateDevice"]


class MMDevice(MMBridge, Device):
    """Any Micro-Manager device (a lamp, a hub, an autofocus unit, a stage's own settings): one
    labkit property per Micro-Manager property.

    Args:
        name: the labkit name (the Micro-Manager label by default).
        handle: the rig's shared core.
        mm_label: the device's label in Micro-Manager.
    """

    kind: ClassVar[str] = "device"

    def __init__(self, name: str, handle: CoreHandle, mm_label: str) -> None:
        handle.acquire()
        try:
            super().__init__(name)
            self._bind(handle, mm_label)
        except BaseException:
            handle.release()
            raise

    def _apply(self, name: str, value: Any) -> None:
        self._set_mm(name, value)

    def close(self) -> None:
        with self._lock:
            self._release()
        super().close()


class MMStateDevice(MMBridge, StateDevice):
    """A Micro-Manager state device: ``position`` and ``label`` from its State and Label (labels as
    defined in the config file), plus its other properties."""

    def __init__(self, name: str, handle: CoreHandle, mm_label: str) -> None:
        handle.acquire()
        try:
            core = handle.core
            self._core_label = (core, mm_label)
            labels = tuple(str(v) for v in core.getStateLabels(mm_label))
            super().__init__(name, labels=labels)
            self._read_with("position", lambda: int(core.getState(mm_label)))
            self._read_with("label", lambda: str(core.getStateLabel(mm_label)))
            self._bind(handle, mm_label, skip=("State", "Label"))
        except BaseException:
            handle.release()
            raise

    def _labkit_name(self, mm_property: str) -> str | None:
        renamed = {"State": "position", "Label": "label"}.get(mm_property)
        return renamed or super()._labkit_name(mm_property)

    def _apply(self, name: str, value: Any) -> None:
        if name in ("position", "label"):
            position = value if name == "position" else self.labels.index(value)
            self._expect("position", position)
            self._expect("label", self.labels[position])
            super()._apply(name, value)  # StateDevice: _move_to
        else:
            self._set_mm(name, value)

    def _move_to(self, position: int) -> None:
        core, label = self._core_label
        try:
            core.setState(label, position)
            core.waitForDevice(label)
        except MM_ERRORS as exc:
            raise RuntimeError(
                f"Micro-Manager could not move {self.qualified_name} to position {position}: "
                f"{exc}; check the device (is it connected and free?)"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._release()
        super().close()


class MMShutter(MMBridge, Shutter):
    """A Micro-Manager shutter: ``is_open`` through the core's shutter calls, plus its other
    properties (its own ``State`` is left out: ``is_open`` is the same thing)."""

    def __init__(self, name: str, handle: CoreHandle, mm_label: str) -> None:
        handle.acquire()
        try:
            core = handle.core
            self._core_label = (core, mm_label)
            super().__init__(name)
            self._read_with("is_open", lambda: bool(core.getShutterOpen(mm_label)))
            self._bind(handle, mm_label, skip=("State",))
        except BaseException:
            handle.release()
            raise

    def _labkit_name(self, mm_property: str) -> str | None:
        return "is_open" if mm_property == "State" else super()._labkit_name(mm_property)

    def _apply(self, name: str, value: Any) -> None:
        if name == "is_open":
            self._expect(name, value)
            super()._apply(name, value)  # Shutter: _set_open
        else:
            self._set_mm(name, value)

    def _set_open(self, is_open: bool) -> None:
        core, label = self._core_label
        try:
            core.setShutterOpen(label, is_open)
            core.waitForDevice(label)
        except MM_ERRORS as exc:
            raise RuntimeError(
                f"Micro-Manager could not {'open' if is_open else 'close'} {self.qualified_name}: "
                f"{exc}; check the device"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._release()
        super().close()
