"""Micro-Manager devices through pymmcore-plus: ``lk.devices.micromanager("MMConfig.cfg")``.

::

    import labkit as lk

    scope = lk.Scope(devices=lk.devices.micromanager("MMConfig.cfg"), mode="process")
    scope.camera.exposure_ms = 20               # Micro-Manager's camera, checked against its limits
    scope.devices["groups"].Channel = "GFP"     # a configuration group's preset
    scope.devices["Dichroic"].label             # a state device's label

The package is callable: ``labkit.devices.micromanager(config_or_core, ...)`` is
:func:`micromanager`. pymmcore-plus is imported only when devices are built (``pip install
'labkit[micromanager]'``); see docs/micromanager.md for a lab's own Micro-Manager and config.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from labkit.devices.micromanager._camera import MMCamera
from labkit.devices.micromanager._devices import MMDevice, MMShutter, MMStateDevice
from labkit.devices.micromanager._factory import from_config, from_core, micromanager
from labkit.devices.micromanager._groups import MMConfigGroups
from labkit.devices.micromanager._stage import MMStage

__all__ = [
    # factories
    "micromanager",
    "from_config",
    "from_core",
    # devices
    "MMCamera",
    "MMStage",
    "MMStateDevice",
    "MMShutter",
    "MMConfigGroups",
    "MMDevice",
]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`micromanager`.

    ``lk.devices.micromanager("MMConfig.cfg")`` is the public spelling and the package has the same
    name: Python binds an imported subpackage as an attribute of its parent, which would hide a
    function of that name in ``labkit.devices``; so the package itself answers the call.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return micromanager(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
