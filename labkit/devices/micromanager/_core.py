"""The Micro-Manager core that every device of one rig shares: loading it, owning it, and telling
labkit devices what Micro-Manager changed on its own.

Many labkit devices (a camera, a stage, a filter wheel, ...) talk to one ``CMMCorePlus``. The core
is released when the last of them closes, and unloaded only if labkit loaded it: a core the user
passed in stays theirs. Micro-Manager changes properties behind a device's back (a preset moves a
filter wheel, a camera adapter adjusts its ROI), so the core's change events are relayed to the
labkit device concerned, whose listeners (the engine, hence every panel) hear of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["CoreHandle", "CoreUser", "load_core", "require_pymmcore_plus"]

#: a labkit device's hook for changes Micro-Manager reports: ``(mm_property, value)``
Relay = Callable[[str, Any], None]


def require_pymmcore_plus() -> Any:
    """The ``pymmcore_plus`` module, or an ImportError that says how to install it."""
    try:
        import pymmcore_plus
    except ImportError as exc:
        raise ImportError(
            "Micro-Manager devices need pymmcore-plus: pip install 'labkit[micromanager]' "
            f"(then 'mmcore install' or your own Micro-Manager for the device adapters) ({exc})"
        ) from exc
    return pymmcore_plus


def _has_python_devices(config: Path) -> bool:
    """True when the config file declares Python devices (``#py pyDevice,...`` lines), which only
    pymmcore-plus's ``UniMMCore`` loads."""
    for line in config.read_text(errors="replace").splitlines():
        if line.strip().startswith("#py "):
            return True
    return False


def load_core(
    config: str | Path,
    mm_path: str | None = None,
    python_devices: bool | None = None,
) -> Any:
    """A new core with ``config`` loaded (``UniMMCore`` when the file has ``#py`` lines or
    ``python_devices=True``, else ``CMMCorePlus``).

    Raises:
        FileNotFoundError: no such config file.  RuntimeError: Micro-Manager refused the file (its
            message names the line); the core is unloaded again.
    """
    pmp = require_pymmcore_plus()
    path = Path(config).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"no Micro-Manager config file at {path}; pass the path of your rig's .cfg file "
            "(Micro-Manager's Hardware Configuration Wizard writes one)"
        )
    if python_devices is None:
        python_devices = _has_python_devices(path)
    if python_devices:
        from pymmcore_plus.experimental.unicore import UniMMCore

        core = UniMMCore(mm_path=mm_path) if mm_path else UniMMCore()
    else:
        core = pmp.CMMCorePlus(mm_path=mm_path) if mm_path else pmp.CMMCorePlus()
    try:
        core.loadSystemConfiguration(str(path.resolve()))
    except Exception as exc:
        _unload(core)
        raise RuntimeError(
            f"Micro-Manager could not load {path}: {exc}. Check the file in Micro-Manager's "
            "Hardware Configuration Wizard, and that its device adapters are installed "
            "(pymmcore_plus.find_micromanager() says where they are looked for)"
        ) from exc
    return core


def _unload(core: Any) -> None:
    """Stop, detach and unload a core labkit loaded.

    The C++ core delivers its callbacks to Python on a thread of its own; a callback still pending
    when the interpreter exits meets Python's finalisation and the process prints "FATAL: exception
    not rethrown". Unloading queues such callbacks, so the core's callback is removed first.
    """
    try:
        if core.isSequenceRunning():
            core.stopSequenceAcquisition()
    except Exception:  # noqa: S110 - best effort while tearing down
        pass
    try:
        import pymmcore

        pymmcore.CMMCore.registerCallback(core, None)
    except Exception:  # noqa: S110 - a core without the C++ callback
        pass
    try:
        core.unloadAllDevices()
    except Exception:
        log.exception("unloading the Micro-Manager devices failed")


class CoreHandle:
    """One core shared by the labkit devices of a rig.

    Each device ``acquire()``s the handle when it is made and ``release()``s it when it closes; the
    last release disconnects the event relay and, for a core labkit ``owned``, stops any sequence
    and unloads every Micro-Manager device.
    """

    def __init__(self, core: Any, owned: bool) -> None:
        self.core = core
        self.owned = owned
        self._lock = threading.Lock()
        self._users = 0
        self._relays: dict[str, list[Relay]] = {}
        self._connected = False
        self.closed = False

    def acquire(self) -> None:
        with self._lock:
            if self.closed:
                raise RuntimeError("this Micro-Manager core was released; build the devices again")
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self.closed:
                return
            self.closed = True
            relays_connected, self._connected = self._connected, False
            self._relays.clear()
        if relays_connected:
            self._disconnect()
        if self.owned:
            _unload(self.core)

    # -- the relay of Micro-Manager's own changes ----------------------------------------------

    def follow(self, mm_label: str, relay: Relay) -> None:
        """Call ``relay(mm_property, value)`` when Micro-Manager reports a change of a property of
        device ``mm_label`` (the device compares it with what it last told its listeners)."""
        with self._lock:
            self._relays.setdefault(mm_label, []).append(relay)
            connect = not self._connected
            self._connected = True
        if connect:
            for signal, slot in self._slots():
                signal.connect(slot)

    def announce(self, mm_label: str, mm_property: str, value: Any) -> None:
        """Relay a change to the devices following ``mm_label`` (also used for changes labkit
        caused indirectly, e.g. a preset, whose events Python devices do not always send)."""
        with self._lock:
            relays = list(self._relays.get(mm_label, ()))
        for relay in relays:
            try:
                relay(mm_property, value)
            except Exception:  # a broken relay must not break Micro-Manager's callback thread
                log.exception("relaying %s::%s=%r failed", mm_label, mm_property, value)

    def announce_preset(self, group: str, preset: str) -> None:
        """Relay every setting of a preset that was just applied (and the group's new value)."""
        for device, prop, value in self.core.getConfigData(group, preset):  # (label, prop, str)
            self.announce(device, prop, value)
        self.announce("Core", f"group:{group}", preset)

    def _slots(self) -> list[tuple[Any, Callable[..., None]]]:
        events = self.core.events
        return [
            (events.propertyChanged, self._on_property),
            (events.configSet, self._on_config),
            (events.XYStagePositionChanged, self._on_xy),
            (events.stagePositionChanged, self._on_z),
        ]

    def _on_property(self, device: str, prop: str, value: Any) -> None:
        self.announce(device, prop, value)

    def _on_config(self, group: str, preset: str) -> None:
        self.announce("Core", f"group:{group}", preset)

    def _on_xy(self, device: str, x: float, y: float) -> None:
        self.announce(device, "XYPosition", (x, y))

    def _on_z(self, device: str, z: float) -> None:
        self.announce(device, "Position", z)

    def _disconnect(self) -> None:
        for signal, slot in self._slots():
            try:
                signal.disconnect(slot)
            except Exception:  # noqa: S110 - already gone with the core
                pass


class CoreUser:
    """Part of every Micro-Manager device: the rig's :class:`CoreHandle`, acquired when the device
    is made and released once when it closes."""

    _handle: CoreHandle

    @property
    def core(self) -> Any:
        """The ``CMMCorePlus`` this device talks through (shared by the rig's devices)."""
        return self._handle.core

    def _release(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and not getattr(self, "_released", False):
            self._released = True
            handle.release()
