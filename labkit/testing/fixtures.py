"""pytest plugin: a headless Chromium and one Voila and one JupyterLab server per test session.

Load it with ``pytest_plugins = ["labkit.testing.fixtures"]``. Fixtures:

- ``chromium`` (session): a Playwright Browser on Debian's ``/usr/bin/chromium`` (never downloads one).
- ``page`` (function): a fresh context + page, closed after the test; ``page.console_errors`` lists
  console errors and uncaught exceptions for assertions.
- ``voila_server`` (session): ``.url``, ``.root`` (Path), ``.render_url(nb_name)``.
- ``lab_server`` (session): ``.url``, ``.root``, ``.notebook_url(nb_name)`` (JupyterLab) and
  ``.notebook7_url(nb_name)`` (Notebook 7). Kernels a test started on either server are shut down
  after that test, so a session never piles up kernels.

Helpers (importable from this module): ``write_notebook``, ``run_all_cells``, ``wait_for_widget``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from labkit.testing._browser import launch_chromium
from labkit.testing._jupyter import (
    attach_console_errors,
    poll_on_timer,
    run_all_cells,
    wait_for_kernel_idle,
    wait_for_widget,
    write_notebook,
)
from labkit.testing._servers import LabServer, VoilaServer, free_port

__all__ = [
    "LabServer",
    "VoilaServer",
    "free_port",
    "launch_chromium",
    "run_all_cells",
    "wait_for_kernel_idle",
    "wait_for_widget",
    "write_notebook",
]


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def chromium(_playwright: Any) -> Iterator[Any]:
    """A headless Chromium Browser shared by the session."""
    browser = launch_chromium(_playwright)
    try:
        yield browser
    finally:
        browser.close()


def _shutdown_kernels_used_by(request: pytest.FixtureRequest) -> None:
    for name in ("lab_server", "voila_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).shutdown_kernels()


#: how long ``page.goto`` waits for a page's load event (seconds)
NAVIGATION_TIMEOUT_S = 120


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; ``page.console_errors`` collects console errors.

    On teardown the page is left (Voila shuts its kernel down on unload), the context closed and
    the kernels the test started on ``lab_server``/``voila_server`` shut down, all before the
    leak check runs, so the kernels' scopes release their shared memory in time.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    # Voila runs the notebook before its page's load event: on a busy machine a notebook that
    # starts a scope and tracking took longer than Playwright's 30 s default (stressed run s13)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_S * 1000)
    new_page = context.new_page()
    attach_console_errors(new_page)
    poll_on_timer(new_page)
    try:
        yield new_page
    finally:
        # leaving the page fires beforeunload, which makes Voila shut its kernel down gracefully
        for open_page in context.pages:
            try:
                open_page.goto("about:blank", timeout=5000)
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
        context.close()
        _shutdown_kernels_used_by(request)


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoilaServer]:
    """One Voila server for the session, serving a temp directory (``.root``)."""
    server = VoilaServer(tmp_path_factory.mktemp("voila"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One JupyterLab (+ Notebook 7) server for the session, serving a temp directory (``.root``)."""
    server = LabServer(tmp_path_factory.mktemp("lab"))
    server.start(timeout_s=120.0)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _shutdown_test_kernels(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used a server (without ``page``), shut down the kernels it started there."""
    yield
    _shutdown_kernels_used_by(request)
