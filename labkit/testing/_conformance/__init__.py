"""The driver conformance kit (see :mod:`labkit.testing`): ``check_camera(MyCamera)`` and friends.

``_kit`` runs the checks and reports; ``_common`` and ``_properties`` hold the checks of every
device, ``_camera`` and ``_kinds`` those of one kind, ``_engine`` the run inside a real engine.
"""

from labkit.testing._conformance._kit import (
    ConformanceError,
    ConformanceReport,
    check_camera,
    check_device,
    check_shutter,
    check_signal,
    check_stage,
    check_state_device,
)

__all__ = [
    "check_camera",
    "check_stage",
    "check_state_device",
    "check_shutter",
    "check_signal",
    "check_device",
    "ConformanceReport",
    "ConformanceError",
]
