"""Building a rig's labkit devices from a Micro-Manager config file or a loaded core.

Which labkit device each Micro-Manager device becomes:

- the core's camera: :class:`MMCamera` (named by its label); other cameras: properties only;
- the core's XY stage and focus drive: one :class:`MMStage` named ``"stage"`` (their own
  properties stay on devices named by their labels);
- state devices: :class:`MMStateDevice`; shutters: :class:`MMShutter`;
- every other device with properties: :class:`MMDevice`;
- the configuration groups: :class:`MMConfigGroups` named ``"groups"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labkit.devices._device import Device
from labkit.devices._factory import DeviceFactory
from labkit.devices.micromanager._camera import MMCamera
from labkit.devices.micromanager._core import CoreHandle, load_core, require_pymmcore_plus
from labkit.devices.micromanager._devices import MMDevice, MMShutter, MMStateDevice
from labkit.devices.micromanager._groups import MMConfigGroups
from labkit.devices.micromanager._stage import MMStage

log = logging.getLogger(__name__)

__all__ = ["from_config", "from_core", "micromanager"]

FROM_CONFIG = "labkit.devices.micromanager:from_config"
STAGE, GROUPS = "stage", "groups"


def micromanager(
    config_or_core: str | os.PathLike | Any,
    *,
    pixel_size_um: float = 1.0,
    limits_um: Mapping[str, Any] | None = None,
    mm_path: str | None = None,
    python_devices: bool | None = None,
) -> Any:
    """A devices factory for ``lk.Scope(devices=...)`` from a Micro-Manager rig.

    Args:
        config_or_core: your Micro-Manager config file (``"MMConfig.cfg"``: works in thread and
            process mode, the engine loads it), or a ``CMMCorePlus`` you loaded (thread mode only;
            it stays yours: closing the scope does not unload it).
        pixel_size_um: the camera's pixel size when Micro-Manager has no pixel size calibration.
        limits_um: ``{"x": (low, high), "y": ..., "z": ...}``: the travel the stage may use.
        mm_path: the Micro-Manager folder with the device adapters (default:
            ``pymmcore_plus.find_micromanager()``, where ``mmcore install`` puts them).
        python_devices: load the config with pymmcore-plus's ``UniMMCore`` (Python device
            adapters, ``#py`` lines); default: when the file has ``#py`` lines.

    Returns:
        A :class:`~labkit.devices.DeviceFactory` (config file) or a callable (core).

    Raises:
        TypeError: neither a path nor a core.  FileNotFoundError: no such config file.
    """
    if isinstance(config_or_core, (str, os.PathLike)):
        path = Path(config_or_core).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"no Micro-Manager config file at {path.resolve()}; pass your rig's .cfg file"
            )
        options = _options(pixel_size_um, limits_um, mm_path, python_devices)
        return DeviceFactory(FROM_CONFIG, config=str(path.resolve()), **options)
    if hasattr(config_or_core, "getLoadedDevices"):
        return _CoreDevices(config_or_core, pixel_size_um, limits_um)
    raise TypeError(
        "micromanager() takes a Micro-Manager config file path or a loaded CMMCorePlus, not "
        f"{type(config_or_core).__name__}"
    )


def _options(
    pixel_size_um: float,
    limits_um: Mapping[str, Any] | None,
    mm_path: str | None,
    python_devices: bool | None,
) -> dict[str, Any]:
    found: dict[str, Any] = {"pixel_size_um": float(pixel_size_um)}
    if limits_um:
        found["limits_um"] = {k: [float(v) for v in pair] for k, pair in limits_um.items()}
    if mm_path:
        found["mm_path"] = str(mm_path)
    if python_devices is not None:
        found["python_devices"] = bool(python_devices)
    return found


class _CoreDevices:
    """The devices factory of a core the user loaded (it cannot cross into an engine process)."""

    def __init__(self, core: Any, pixel_size_um: float, limits_um: Any) -> None:
        self.core, self.pixel_size_um, self.limits_um = core, pixel_size_um, limits_um

    def __call__(self, **_engine_kwargs: Any) -> dict[str, Device]:
        return from_core(self.core, pixel_size_um=self.pixel_size_um, limits_um=self.limits_um)

    def __repr__(self) -> str:
        return f"<labkit Micro-Manager devices of {self.core!r}>"


def from_config(
    config: str,
    *,
    pixel_size_um: float = 1.0,
    limits_um: Mapping[str, Any] | None = None,
    mm_path: str | None = None,
    python_devices: bool | None = None,
) -> dict[str, Device]:
    """Load ``config`` into a new core and return its labkit devices (the engine's factory; see
    :func:`micromanager` for the arguments). Closing the last device unloads the core.

    Raises:
        FileNotFoundError: no such config file.  RuntimeError: Micro-Manager refused the file.
    """
    core = load_core(config, mm_path=mm_path, python_devices=python_devices)
    return _build(CoreHandle(core, owned=True), pixel_size_um, limits_um)


def from_core(
    core: Any, *, pixel_size_um: float = 1.0, limits_um: Mapping[str, Any] | None = None
) -> dict[str, Device]:
    """The labkit devices of a loaded ``CMMCorePlus`` (it stays yours: nothing is unloaded when
    they close)."""
    return _build(CoreHandle(core, owned=False), pixel_size_um, limits_um)


def _build(
    handle: CoreHandle, pixel_size_um: float, limits_um: Mapping[str, Any] | None
) -> dict[str, Device]:
    """Every labkit device of the core; on any failure the ones made so far are closed."""
    pmp = require_pymmcore_plus()
    types = pmp.DeviceType
    core = handle.core
    devices: dict[str, Device] = {}
    stage: MMStage | None = None
    handle.acquire()  # held while building, so a failure half-way unloads an owned core once
    try:
        labels = [str(label) for label in core.getLoadedDevices() if label != "Core"]
        taken = {STAGE, GROUPS} & set(labels)
        if taken:
            raise ValueError(
                f"Micro-Manager devices labelled {sorted(taken)} clash with the labkit devices "
                f"{STAGE!r} and {GROUPS!r}; rename them in the config file"
            )
        if core.getAvailableConfigGroups():
            devices[GROUPS] = MMConfigGroups(GROUPS, handle)
        xy, focus = str(core.getXYStageDevice()), str(core.getFocusDevice())
        if xy or focus:
            stage = MMStage(STAGE, handle, xy, focus, dict(limits_um or {}))
        camera = str(core.getCameraDevice())
        if camera:
            devices[camera] = MMCamera(camera, handle, camera, pixel_size_um, stage=stage)
        if stage is not None:
            devices[STAGE] = stage
        for label in labels:
            if label not in devices:
                device = _device(handle, label, core.getDeviceType(label), types)
                if device is not None:
                    devices[label] = device
    except BaseException:
        for device in [*devices.values(), *([stage] if stage is not None else [])]:
            device.close()  # closing twice is fine
        raise
    finally:
        handle.release()
    return devices


def _device(handle: CoreHandle, label: str, device_type: Any, types: Any) -> Device | None:
    """The labkit device of one Micro-Manager device other than the core's camera (None: it has
    nothing to show)."""
    if device_type == types.StateDevice:
        try:
            return MMStateDevice(label, handle, label)
        except ValueError as exc:  # labels missing or repeated: show its properties only
            log.warning("%s is shown as a plain device: %s", label, exc)
    elif device_type == types.ShutterDevice:
        return MMShutter(label, handle, label)
    if not handle.core.getDevicePropertyNames(label):
        return None
    return MMDevice(label, handle, label)
