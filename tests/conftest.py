"""Shared fixtures. Every test runs under a leak check (threads, child processes, sockets, shm)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# every event labkit emits must match the Struct of its topic (labkit.engine.events): raise on a
# mismatch or an unregistered topic instead of logging; engine child processes inherit this
os.environ["LABKIT_STRICT_EVENTS"] = "1"

from labkit.testing import LeakCheck

pytest_plugins = ["labkit.testing.fixtures"]


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fail a test that leaves threads, child processes, sockets or labkit shm segments behind.

    Session- and module-scoped fixtures are set up before this function-scoped fixture, so
    the servers they own are part of the 'before' snapshot and never count as leaks.
    Mark a test ``@pytest.mark.allow_leaks`` only when it hands a resource to a wider fixture.
    """
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    check = LeakCheck(grace_s=5.0)
    with check:
        yield


@pytest.fixture
def short_dir():
    """A fresh 0700 directory with a short path (``/tmp/lk-XXXXXXXX``): unix socket paths must
    fit 107 bytes, which pytest's per-test directories under pytest-xdist's workers can pass
    (labkit then puts the socket in a private fallback directory, which tests of the default
    location must not see)."""
    d = Path(tempfile.mkdtemp(prefix="lk-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


_BROWSER_FIXTURES = frozenset({"page", "chromium", "lab_server", "voila_server"})


def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's ``--dist loadgroup``: every browser test on one worker, one at a
    time, and each other test file whole on any worker. (One Chromium per core on a machine
    that was busy anyway starved the pages' animation frames: the demo test could not scroll a
    canvas into view in 30 s, a marimo page did not paint in 90 s.)"""
    for item in items:
        browser = item.get_closest_marker("browser") or _BROWSER_FIXTURES & set(item.fixturenames)
        group = "browser" if browser else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
