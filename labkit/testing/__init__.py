"""Helpers for testing labkit and notebooks built on it (shipped, never imported by runtime code).

- :class:`LeakCheck`: fail code that leaves threads, child processes, sockets or segments behind.
- Jupyter servers and browser helpers for widget tests: :class:`VoilaServer`, :class:`LabServer`,
  :func:`write_notebook`, :func:`run_all_cells`, :func:`wait_for_widget`; the pytest fixtures
  (``chromium``, ``page``, ``voila_server``, ``lab_server``) live in ``labkit.testing.fixtures``
  (load it with ``pytest_plugins = ["labkit.testing.fixtures"]``).
- Notebooks run as a person runs them: :func:`run_in_lab` (Run All in JupyterLab; then
  :meth:`LabRun.check_clean`), :func:`wait_painting`, :func:`log_problems` (:func:`marimo_log_problems` for
  ``marimo run`` logs), :func:`output_errors`.
"""

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
from labkit.testing._servers import LabServer, VoilaServer, free_port
from labkit.testing._wait import wait_until

__all__ = [
    # resources
    "LeakCheck",
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
]
