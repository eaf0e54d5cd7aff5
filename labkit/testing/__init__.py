"""Helpers for testing labkit and notebooks built on it (shipped, never imported by runtime code).

- :class:`LeakCheck`: fail code that leaves threads, child processes, sockets or segments behind.
- :func:`screenshot_rgb`, :func:`png_rgb`, :func:`block_gray`: what a browser painted, as arrays;
  :func:`viewer_stats`, :func:`wait_painted`, :func:`viewer_card`: viewer windows in a page;
  :func:`wait_until`: poll a condition with a deadline.
- Jupyter servers and browser helpers for widget tests: :class:`VoilaServer`, :class:`LabServer`,
  :func:`write_notebook`, :func:`run_all_cells`, :func:`wait_for_widget`; the pytest fixtures
  (``chromium``, ``page``, ``voila_server``, ``lab_server``) live in ``labkit.testing.fixtures``
  (load it with ``pytest_plugins = ["labkit.testing.fixtures"]``).
- :func:`serve_engine`: ``labkit engine`` as a child process (:class:`ServedEngine`), for remote
  engine tests (docs/remote.md).
- Driver conformance: :func:`check_camera`, :func:`check_stage`, :func:`check_state_device`,
  :func:`check_shutter`, :func:`check_signal`, :func:`check_device` hold a driver to the contract
  the engine relies on (a :class:`ConformanceReport`, or a :class:`ConformanceError` naming the check).
- A simulated Micro-Manager rig (Python device adapters for pymmcore-plus's ``UniMMCore``):
  :func:`write_micromanager_config` (imported on first use: it needs pymmcore-plus).
- Notebooks run as a person runs them: :func:`run_in_lab` (Run All in JupyterLab; then
  :meth:`LabRun.check_clean`), :func:`wait_painting`, :func:`log_problems` (:func:`marimo_log_problems` for
  ``marimo run`` logs), :func:`output_errors`.
"""

import importlib
from typing import Any

from labkit.testing._conformance import (
    ConformanceError,
    ConformanceReport,
    check_camera,
    check_device,
    check_shutter,
    check_signal,
    check_stage,
    check_state_device,
)
from labkit.testing._jupyter import (
    run_all_cells,
    wait_for_kernel_idle,
    wait_for_widget,
    write_notebook,
)
from labkit.testing._leaks import LeakCheck, ResourceLeakError, ResourceSnapshot
from labkit.testing._notebooks import (
    LabRun,
    log_problems,
    marimo_log_problems,
    output_errors,
    run_in_lab,
    wait_painting,
)
from labkit.testing._pixels import block_gray, png_rgb, screenshot_rgb
from labkit.testing._served import ServedEngine, serve_engine
from labkit.testing._servers import LabServer, VoilaServer, free_port
from labkit.testing._viewer import viewer_card, viewer_stats, wait_painted
from labkit.testing._wait import wait_until

__all__ = [
    # driver conformance
    "check_camera",
    "check_stage",
    "check_state_device",
    "check_shutter",
    "check_signal",
    "check_device",
    "ConformanceReport",
    "ConformanceError",
    # a simulated Micro-Manager rig
    "write_micromanager_config",
    # resources
    "LeakCheck",
    # remote engines
    "serve_engine",
    "ServedEngine",
    "ResourceLeakError",
    "ResourceSnapshot",
    # waiting
    "wait_until",
    # jupyter servers and browser helpers
    "LabServer",
    "VoilaServer",
    "free_port",
    "run_all_cells",
    "wait_for_kernel_idle",
    "wait_for_widget",
    "write_notebook",
    # notebooks run as a person runs them
    "LabRun",
    "log_problems",
    "marimo_log_problems",
    "output_errors",
    "run_in_lab",
    "wait_painting",
    # what a browser painted
    "block_gray",
    "png_rgb",
    "screenshot_rgb",
    # viewer windows in a page
    "viewer_card",
    "viewer_stats",
    "wait_painted",
]


def __getattr__(name: str) -> Any:
    # the simulated Micro-Manager rig imports pymmcore-plus: only when it is asked for
    if name == "write_micromanager_config":
        return importlib.import_module("labkit.testing._micromanager").write_micromanager_config
    raise AttributeError(f"module 'labkit.testing' has no attribute {name!r}")
