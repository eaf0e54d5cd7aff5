"""erlab's documented manager and watch call sequences, run against labkit with only the import
changed (``erlab.interactive.imagetool.manager`` -> ``labkit.viewer``, ``%load_ext
erlab.interactive`` -> ``%load_ext labkit.viewer``).

The snippets are the examples of erlab 3.28's user guide (docs/source/user-guide/interactive/
manager.md: "Multiple manager instances", "Watching notebook variables", "Reconnecting watched
rows", "Outside IPython", "Accessing manager data programmatically", "Automation APIs"), kept
verbatim except for lines that call erlab-only entry points with no labkit counterpart
(``DataArray.qshow``, ``%itool``), which are left out. What each test sets up (data, files,
managers, a registered loader where erlab would use its ARPES loader plugins) is labkit code; the
snippets are not. Magics run in a real IPython kernel; the plain-Python snippets in a module
namespace, as a marimo app or script would.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.testing import wait_until

from .test_kernel import kernel, run  # noqa: F401 - the fixture is used by name


def as_labkit(erlab_code: str) -> str:
    """The erlab snippet with only the import changed."""
    code = textwrap.dedent(erlab_code).strip("\n")
    code = code.replace("%load_ext erlab.interactive", "%load_ext labkit.viewer")
    return code.replace("erlab.interactive.imagetool.manager", "labkit.viewer")


def exec_snippet(erlab_code: str, namespace: dict) -> dict:
    """Run a plain-Python snippet as a script would: its globals are ``namespace``."""
    exec(compile(as_labkit(erlab_code), "<erlab snippet>", "exec"), namespace)  # noqa: S102
    return namespace


def _data(name: str, value: float = 0.0) -> xr.DataArray:
    values = np.full((3, 4, 5), value)
    return xr.DataArray(values, dims=("alpha", "eV", "beta"), name=name)


@pytest.fixture
def two_managers(registry_dir):
    """Managers #0 and #1 (0-based, in start order), as erlab numbers them."""
    first = lv.ManagerServer(registry_dir=registry_dir, page=False).start()
    wait_until(lambda: len(lv.managers) == 1)
    second = lv.ManagerServer(registry_dir=registry_dir, page=False).start()
    wait_until(lambda: len(lv.managers) == 2)
    yield first, second
    lv.shutdown()
    second.stop()
    first.stop()


# ---------------------------------------------------------------- "Automation APIs"
AUTOMATION = """
from erlab.interactive.imagetool.manager import load_in_manager, replace_data, show_in_manager

# Open raw files and let the manager choose the loader interactively
load_in_manager(["scan1.pxt", "scan2.pxt"])

# Open raw files with temporary loader extensions
load_in_manager(
    ["scan1.pxt", "scan2.pxt"],
    "merlin",
    loader_extensions={"coordinate_attrs": ("scan_number",)},
)

# Open two ImageTools and link their cursors
show_in_manager([data_a, data_b], link=True, target=1)

# Replace the dataset at index 3 with a new result
replace_data(3, new_data, target=1)
"""


def test_automation_apis(two_managers, tmp_path, monkeypatch):
    first, second = two_managers
    monkeypatch.chdir(tmp_path)
    seen = []

    def read_pxt(path):  # stands in for an Igor reader
        return _data(os.path.basename(path), float(len(seen)))

    def merlin(path, loader_extensions=None):  # stands in for erlab's ALS BL4.0.3 loader
        seen.append(loader_extensions)
        data = read_pxt(path)
        for coord in (loader_extensions or {}).get("coordinate_attrs", ()):
            data = data.assign_coords({coord: 7})
        return data

    lv.register_loader("pxt-test", read_pxt, extensions=(".pxt",))
    lv.register_loader("merlin", merlin)
    for name in ("scan1.pxt", "scan2.pxt"):
        (tmp_path / name).write_bytes(b"igor")
    lv.set_default_manager(0)
    for i in range(2):  # windows 0 and 1 already open in manager #1
        second.windows.add(_data(f"earlier{i}"))
    namespace = {
        "data_a": _data("a", 1.0),
        "data_b": _data("b", 2.0),
        "new_data": _data("new", 3.0),
    }
    exec_snippet(AUTOMATION, namespace)

    assert [w.name for w in first.windows.list()] == ["scan1.pxt", "scan2.pxt"] * 2
    assert seen == [{"coordinate_attrs": ("scan_number",)}] * 2
    assert int(first.windows.get(2).data["scan_number"]) == 7
    a, b = second.windows.get(2), second.windows.get(3)
    assert a.name == "a" and a.view["link_group"] == b.view["link_group"] is not None
    assert second.windows.get(0).view["link_group"] is None  # only the two shown together
    second.windows.set_view_state(a.uid, cursor={"eV": 1, "beta": 4})  # linked cursors
    assert b.view["cursor"] == {"eV": 1, "beta": 4}
    assert b.name == "b" and float(b.data.mean()) == 3.0 and b.version == 1  # replaced


# ---------------------------------------------------------------- "Accessing manager data"
FETCH = """
from erlab.interactive.imagetool.manager import fetch

data = fetch(0)  # returns an xarray.DataArray copy
"""


def test_fetch_returns_a_copy(manager):
    shown = _data("shown", 5.0)
    lv.show_in_manager(shown)
    namespace = exec_snippet(FETCH, {})
    xr.testing.assert_identical(namespace["data"], shown)
    namespace["data"][:] = 0  # "you can safely modify it without touching the live window"
    assert float(manager.windows.get(0).data.mean()) == 5.0


# ---------------------------------------------------------------- "Outside IPython"
OUTSIDE_IPYTHON = """
from erlab.interactive.imagetool.manager import watch

# Start watching a DataArray
watch("my_data")

# Stop watching one variable
watch("my_data", stop=True)

# Stop watching everything
watch(stop_all=True)

# Reconnect saved watched rows in the open manager workspace
watch(restore=True)
"""

POLLING = """
from erlab.interactive.imagetool.manager import watch

watch("my_data", poll_interval_s=0.5)
"""

MAYBE_PUSH = """
from erlab.interactive.imagetool.manager import maybe_push, shutdown

maybe_push()
"""


def test_watch_outside_ipython(manager):
    namespace = {"my_data": _data("my_data", 1.0)}
    exec_snippet(OUTSIDE_IPYTHON, namespace)
    (window,) = manager.windows.list()
    assert window.var_name == "my_data" and not window.watched  # stopped, window kept
    assert lv.watched_variables() == []

    exec_snippet(POLLING, namespace)
    assert lv.watched_variables(namespace=namespace) == ["my_data"]
    namespace["my_data"] = namespace["my_data"] + 1  # pushed by the next poll, or right now:
    exec_snippet(MAYBE_PUSH, namespace)
    watched = next(w for w in manager.windows.list() if w.watched)
    assert float(watched.data.mean()) == 2.0
    exec(as_labkit("shutdown()"), namespace)  # noqa: S102 - "stop threads cleanly"
    assert lv.watched_variables() == []


# ---------------------------------------------------------------- magics in a real kernel
def cells(erlab_block: str) -> list[str]:
    """One cell per line of a magic block (comments kept, as a user would paste them)."""
    return [line for line in as_labkit(erlab_block).splitlines() if line.strip()]


LOAD_AND_WATCH = """
%load_ext erlab.interactive
%watch my_data
"""

CONTROLLING_WATCHES = """
%watch data1 data2 data3   # add multiple variables
%watch                     # list watched names
%watch --restore           # reconnect saved watched rows by variable name
%watch -d data1 data2      # stop watching specific variables
%watch -x data1            # stop watching and close the window
%watch -z                  # stop watching everything
%watch -xz                 # stop watching and close every watched window
"""


def _watched(server) -> dict[str, bool]:
    return {w.var_name: w.watched for w in server.windows.list() if w.var_name}


@pytest.mark.slow
def test_watch_magics_in_a_kernel(manager, kernel):  # noqa: F811 - the kernel fixture
    run(kernel, "import numpy as np, xarray as xr")
    run(kernel, "my_data = xr.DataArray(np.zeros((4, 5)), dims=('kx', 'ky'))")
    for cell in cells(LOAD_AND_WATCH):
        run(kernel, cell)
    assert _watched(manager) == {"my_data": True}
    run(kernel, "my_data[1, 2] = 3.0")  # the post_run_cell hook pushes it
    window = next(w for w in manager.windows.list() if w.var_name == "my_data")
    assert float(window.data[1, 2]) == 3.0

    run(kernel, "data1, data2, data3 = (xr.DataArray(np.full((2, 3), float(i))) for i in range(3))")
    add, listing, restore, stop, remove, stop_all, remove_all = cells(CONTROLLING_WATCHES)
    run(kernel, add)
    assert _watched(manager) == dict.fromkeys(["my_data", "data1", "data2", "data3"], True)
    assert run(kernel, listing) == "['data1', 'data2', 'data3', 'my_data']"
    run(kernel, restore)  # nothing restored from a workspace: nothing changes
    run(kernel, stop)
    assert _watched(manager) == {"my_data": True, "data1": False, "data2": False, "data3": True}
    run(kernel, remove)  # data1 is no longer watched: nothing to close
    assert len(manager.windows) == 4
    run(kernel, stop_all)
    assert not any(_watched(manager).values()) and len(manager.windows) == 4
    run(kernel, "%watch data3 my_data")  # unwatched windows stay plain: two new ones
    assert len(manager.windows) == 6
    run(kernel, remove_all)
    assert len(manager.windows) == 4 and not any(_watched(manager).values())


MULTIPLE_MANAGERS = """
import erlab.interactive.imagetool.manager as itm

itm.managers
itm.managers[1].use()
itm.managers[1].show(data)
%watch -m 1 data
"""

MANAGER_MAGICS = """
%manager list
%manager use 1
%manager current
%manager clear
"""


@pytest.mark.slow
def test_multiple_manager_instances_in_a_kernel(two_managers, kernel):  # noqa: F811
    first, second = two_managers
    run(kernel, "import numpy as np, xarray as xr\n%load_ext labkit.viewer")
    run(kernel, "data = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=('y', 'x'), name='data')")
    listing, use, show, watch = cells(MULTIPLE_MANAGERS)[1:]
    run(kernel, cells(MULTIPLE_MANAGERS)[0])
    assert "ManagerHandle 1" in run(kernel, listing)
    run(kernel, use)
    run(kernel, show)
    run(kernel, watch)
    assert len(first.windows) == 0
    assert [(w.name, w.watched) for w in second.windows.list()] == [("data", False), ("data", True)]
    run(kernel, "itm.clear_default_manager()")
    list_, use_, current, clear = cells(MANAGER_MAGICS)
    assert run(kernel, list_).count("ManagerHandle") == 2
    run(kernel, use_)
    assert f"uid={second.uid}" in run(kernel, current)
    run(kernel, clear)
    assert run(kernel, current) is None
    run(kernel, "%watch -z")


RECONNECT = """
%watch my_data
"""


def _start_kernel(registry_dir):
    import jupyter_client

    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "LABKIT_RUNTIME_DIR": str(registry_dir)})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


@pytest.mark.slow
def test_reconnecting_a_watched_row_after_a_kernel_restart(manager, registry_dir):
    """ "Run the notebook cells that create the DataArray, then %watch my_data again: the
    manager reuses the existing watched row instead of creating a duplicate." """
    setup = "import numpy as np, xarray as xr\n%load_ext labkit.viewer\n"
    for value in (1.0, 2.0):  # the first kernel, then the one after the restart
        km, kc = _start_kernel(registry_dir)
        try:
            run(kc, setup + f"my_data = xr.DataArray(np.full(3, {value}), dims='t')")
            run(kc, as_labkit(RECONNECT))
            (window,) = manager.windows.list()  # one row, bound to this kernel
            assert window.watched and float(window.data[0]) == value
            client = window.client_id
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)  # killed: it never unwatches
        wait_until(lambda client=client: not manager.rpc.client_connected(client))


def test_sharing_a_notebook_and_workspace(manager, tmp_path):
    """ "Save the workspace, open it in a manager, run the cells that create the watched
    variables, then %watch --restore" (the restore call is the Python API's)."""
    shared = {"my_data": _data("my_data", 4.0)}
    lv.watch("my_data", namespace=shared, poll_interval_s=None)
    lv.save_workspace(tmp_path / "shared.h5")
    lv.shutdown()
    manager.windows.close_all()
    lv.load_workspace(tmp_path / "shared.h5")  # "open the workspace in the manager"
    other = {"my_data": _data("my_data", 9.0)}  # "run the notebook cells that create it"
    exec_snippet(
        "from erlab.interactive.imagetool.manager import watch\nwatch(restore=True)", other
    )
    (window,) = manager.windows.list()
    assert window.watched and float(window.data.mean()) == 9.0  # the notebook's value pushed
