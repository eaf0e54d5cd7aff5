"""The client API against a real manager: many windows per call, erlab's keywords mapped onto
the view state, strict keywords, replace with index lists, loaders returning several arrays,
source labels, watch_info from the manager, namespace-scoped watch calls and the log file."""

from __future__ import annotations

import os
import stat

import h5py
import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.testing import wait_until
from labkit.viewer import WindowNotFoundError

from .conftest import start_manager_process, stop_manager_process


def _ds() -> xr.Dataset:
    return xr.Dataset(
        {
            "a": (("y", "x"), np.arange(12.0).reshape(3, 4)),
            "b": (("y", "x"), -np.arange(12.0).reshape(3, 4)),
            "scalar": ((), 1.0),  # 0-d: no window
        },
        coords={"x": np.linspace(0, 1, 4)},
    )


# ---- what show_in_manager takes
def test_one_array_gives_a_summary_and_a_list_dataset_or_tree_give_lists(manager):
    one = lv.show_in_manager(np.zeros((2, 3)), name="one")
    assert isinstance(one, dict) and one["name"] == "one"
    two = lv.show_in_manager([np.zeros((2, 2)), xr.DataArray(np.ones(5), dims="t", name="t5")])
    assert [s["shape"] for s in two] == [[2, 2], [5]] and two[1]["name"] == "t5"
    per_var = lv.show_in_manager(_ds())
    assert [s["name"] for s in per_var] == ["a", "b"]
    xr.testing.assert_equal(lv.fetch(per_var[1]["uid"]), _ds()["b"])
    tree = xr.DataTree.from_dict({"/": _ds()[["a"]], "/run2": _ds()[["b"]]})
    assert [s["name"] for s in lv.show_in_manager(tree)] == ["a", "run2/b"]
    assert len(manager.windows) == 7


def test_bad_inputs_open_nothing(manager):
    with pytest.raises(TypeError, match=r"data\[1\] is a str"):
        lv.show_in_manager([np.zeros(3), "text"])
    with pytest.raises(ValueError, match="nothing to show"):
        lv.show_in_manager(xr.Dataset({"s": ((), 1.0)}))
    with pytest.raises(ValueError, match="pass a list of names"):
        lv.show_in_manager([np.zeros(3), np.ones(3)], name="both")
    with pytest.raises(ValueError, match="image_dims"):  # the second view does not fit: none open
        lv.show_in_manager([np.zeros((2, 2)), np.zeros(3)], view={"image_dims": ["dim_0", "dim_1"]})
    assert len(manager.windows) == 0


def test_erlab_keywords_become_the_view_state(manager):
    data = xr.DataArray(np.linspace(-1, 2, 24).reshape(2, 3, 4), dims=("t", "y", "x"))
    s = lv.show_in_manager(data, cmap="viridis", vmin=-0.5, vmax=1.5, gamma=0.5, transpose=True)
    view = manager.windows.get(s["uid"]).view
    assert (view["colormap"], view["contrast_lo"], view["contrast_hi"], view["gamma"]) == (
        "viridis", -0.5, 1.5, 0.5,
    )  # fmt: skip
    assert view["image_dims"] == ["x", "y"]  # transposed
    s = lv.show_in_manager(data, zero_centered=True, high_contrast=False, file_path="/d/scan1.nc")
    window = manager.windows.get(s["uid"])
    assert window.view["zero_centered"] is True and window.source == "/d/scan1.nc"


def test_rad2deg_converts_erlabs_angle_coordinates(manager):
    data = xr.DataArray(
        np.zeros((3, 2)),
        dims=("alpha", "eV"),
        coords={"alpha": [0, np.pi / 2, np.pi], "eV": [1, 2]},
    )
    s = lv.show_in_manager(data, rad2deg=True)
    np.testing.assert_allclose(lv.fetch(s["uid"])["alpha"].values, [0, 90, 180])
    np.testing.assert_allclose(lv.fetch(s["uid"])["eV"].values, [1, 2])  # not an angle
    with pytest.raises(ValueError, match=r"rad2deg names coordinates \['beta'\]"):
        lv.show_in_manager(data, rad2deg=["beta"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cmapp": "gray"}, TypeError, r"'cmapp'.*It accepts: data, target, name, view, link"),
        (
            {"state": {}},
            TypeError,
            r"'state'; state: labkit windows take their view state as view=",
        ),
        ({"load_func": print}, TypeError, "never runs code a client sends"),
        ({"cmap": "RdBu_r"}, ValueError, "unknown colormap 'RdBu_r'; labkit windows have gray"),
        ({"high_contrast": True}, ValueError, "pass gamma= instead"),
        ({"cmap": "magma", "view": {"colormap": "gray"}}, ValueError, "both set"),
        ({"gamma": -1.0}, ValueError, "gamma must be a finite number > 0"),
    ],
)
def test_unknown_and_unsupported_keywords_raise_and_open_nothing(manager, kwargs, error, match):
    with pytest.raises(error, match=match):
        lv.show_in_manager(np.zeros((2, 2)), **kwargs)
    assert len(manager.windows) == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: lv.fetch(0, targt=None), r"fetch\(\) got .*'targt'.*It accepts: index, target"),
        (lambda: lv.watch("x", namespce={}), r"'namespce'.*namespace"),
        (lambda: lv.maybe_push(ns={}), r"maybe_push.*It accepts: shell, namespace"),
        (lambda: lv.shutdown(remove_windows=True), r"It accepts: shell, namespace, remove"),
        (lambda: lv.is_running(timeout=1), r"It accepts: target, timeout_s"),
        (lambda: lv.replace_data(0, np.zeros(2), targt=0), r"It accepts: index, data, target"),
        (lambda: lv.set_default_manager(index=0), r"It accepts: target"),
        (lambda: lv.register_loader("x", print, ext=".x"), r"It accepts: name, fn, extensions"),
        (lambda: lv.ViewerWindow(np.zeros((2, 2)), heigth_px=9), r"height_px, layout"),
        (lambda: lv.ManagerPanel(lv.WindowRegistry(), heigth_px=9), r"'heigth_px'"),
    ],
)
def test_every_public_call_names_the_keywords_it_accepts(manager, call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_the_manager_refuses_unknown_request_parameters(manager):
    handle = lv.managers[0]
    for method, params in [("fetch", {"window": 0, "copy": True}), ("list", {"all": True}),
                           ("watch_update", {"var_name": "x", "data": np.zeros(2), "client_id": "z"})]:  # fmt: skip
        with pytest.raises(TypeError, match=rf"{method}\(\) got unknown parameters"):
            handle.request(method, **params)


# ---- linking
def test_link_true_links_exactly_the_windows_shown_together(manager):
    other = lv.show_in_manager(np.zeros((4, 4)), name="other")
    a, b = lv.show_in_manager([np.zeros((4, 4)), np.ones((4, 4))], link=True)
    group = manager.windows.get(a["uid"]).view["link_group"]
    assert group is not None and manager.windows.get(b["uid"]).view["link_group"] == group
    assert manager.windows.get(other["uid"]).view["link_group"] is None
    manager.windows.set_view_state(a["uid"], cursor={"dim_0": 1}, contrast_hi=5.0)
    assert manager.windows.get(b["uid"]).view["cursor"]["dim_0"] == 1
    assert manager.windows.get(b["uid"]).view["contrast_hi"] == 5.0
    assert manager.windows.get(other["uid"]).view["cursor"]["dim_0"] == 2
    single = lv.show_in_manager(np.zeros((4, 4)), link=True)  # nothing to link with
    assert manager.windows.get(single["uid"]).view["link_group"] is None


def test_link_colors_false_shares_position_not_colours(manager):
    a, b = lv.show_in_manager(
        [np.zeros((4, 4)), np.ones((4, 4))], link=True, link_colors=False, link_group="pair"
    )
    assert manager.windows.get(b["uid"]).view["link_group"] == "pair"
    manager.windows.set_view_state(a["uid"], cursor={"dim_1": 3}, colormap="magma", gamma=2.0)
    view_b = manager.windows.get(b["uid"]).view
    assert view_b["cursor"]["dim_1"] == 3 and view_b["colormap"] == "gray" and view_b["gamma"] == 1
    c = lv.show_in_manager(np.zeros((4, 4)), link=[a["index"]])  # a list: with open windows
    assert manager.windows.get(c["uid"]).view["link_group"] == "pair"
    with pytest.raises(WindowNotFoundError):
        lv.show_in_manager(np.zeros((4, 4)), link=[99])


# ---- replace_data
def test_replace_data_with_index_lists_checks_every_window_first(manager):
    a, b = lv.show_in_manager([np.zeros(3), np.zeros(3)])
    out = lv.replace_data([a["index"], b["uid"]], [np.ones(3), np.full(3, 2.0)])
    assert [s["version"] for s in out] == [1, 1]
    assert float(lv.fetch(b["index"])[0]) == 2.0
    assert lv.replace_data(a["uid"], np.full(3, 5.0))["version"] == 2
    with pytest.raises(WindowNotFoundError):
        lv.replace_data([a["index"], 42], [np.zeros(3), np.zeros(3)])
    assert manager.windows.get(a["uid"]).version == 2  # nothing replaced
    with pytest.raises(ValueError, match=r"got 2 window\(s\) for 1 array"):
        lv.replace_data([a["index"], b["index"]], np.zeros(3))
    ds = xr.Dataset({"p": ("t", np.arange(3.0)), "q": ("t", -np.arange(3.0))})
    lv.replace_data([a["index"], b["index"]], ds)  # a Dataset: its variables in order
    assert float(lv.fetch(b["index"])[2]) == -2.0


# ---- load_in_manager
def test_loaders_may_return_datasets_and_lists(manager, tmp_path):
    _ds().to_netcdf(tmp_path / "two.nc", engine="scipy")
    summaries = lv.load_in_manager(tmp_path / "two.nc")
    assert [s["name"] for s in summaries] == ["a", "b"]
    assert summaries[0]["source"] == str(tmp_path / "two.nc")

    def pair(path, scale=1.0):
        return [np.zeros(2) * scale, np.ones(2) * scale]

    lv.register_loader("pair-test", pair)
    assert len(lv.load_in_manager([tmp_path / "two.nc"], "pair-test", scale=2.0)) == 2


def test_loader_keywords_are_checked_before_any_file_is_read(manager, tmp_path):
    calls = []

    def one(path, dataset=None):
        calls.append(path)
        return np.zeros(2)

    lv.register_loader("one-test", one)
    (tmp_path / "f").write_text("x")
    with pytest.raises(
        TypeError, match=r"loader 'one-test' does not take 'loader_extensions'; it takes dataset"
    ):
        lv.load_in_manager([tmp_path / "f"], "one-test", loader_extensions={})
    with pytest.raises(FileNotFoundError):  # the second path is missing: the first is not read
        lv.load_in_manager([tmp_path / "f", tmp_path / "missing"], "one-test")
    assert calls == [] and len(manager.windows) == 0
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("d", data=np.zeros(3))
    with pytest.raises(TypeError, match="loader 'hdf5' does not take 'frobnicate'"):
        lv.load_in_manager(tmp_path / "c.h5", frobnicate=True)


# ---- watching: labels, reconnecting, watch_info, namespaces
def test_watch_takes_over_the_window_a_gone_notebook_left(manager):
    first = {"x": np.zeros(4)}
    lv.watch("x", namespace=first, poll_interval_s=None)
    uid = next(w.uid for w in manager.windows.list() if w.var_name == "x")
    lv.watch("x", namespace=first, stop=True)  # unwatched: stays a plain window
    lv.watch("x", namespace=first, poll_interval_s=None)
    assert len(manager.windows) == 2  # a new watched window, the unwatched one untouched
    (key,) = list(lv._watch_api._watchers)  # the notebook goes away without unwatching
    gone = lv._watch_api._watchers.pop(key)
    gone.client._rpc.close(goodbye=False)
    gone.client.close()
    wait_until(lambda: not manager.rpc.client_connected(gone.client_id))
    second = {"x": np.ones(4)}
    lv.watch("x", namespace=second, poll_interval_s=None)  # a restarted kernel
    watched = [w for w in manager.windows.list() if w.watched]
    assert len(watched) == 1 and watched[0].uid != uid and float(watched[0].data[0]) == 1.0
    assert len(manager.windows) == 2  # reused, not a third window


def test_source_labels_tell_apart_windows_of_one_name(manager, tmp_path):
    a = lv.show_in_manager(np.zeros(2), name="x")
    b = lv.show_in_manager(np.ones(2), name="x")
    for s, label in ((a, "nb-a.ipynb"), (b, "nb-b.ipynb")):
        window = manager.windows.get(s["uid"])
        window.watched, window.var_name, window.source_label = True, "x", label
    info = lv.watch_info()
    assert [(w["var_name"], w["source_label"], w["bound"]) for w in info["watched"]] == [
        ("x", "nb-a.ipynb", False), ("x", "nb-b.ipynb", False),
    ]  # fmt: skip
    ns = {"x": np.full(2, 7.0)}
    with pytest.raises(ValueError, match="several windows watch a variable 'x'"):
        lv.watch("x", namespace=ns, poll_interval_s=None)
    assert lv.watched_variables(namespace=ns) == []
    lv.watch("x", namespace=ns, source_label="nb-b.ipynb", poll_interval_s=None)
    assert float(lv.fetch(b["uid"])[0]) == 7.0 and float(lv.fetch(a["uid"])[0]) == 0.0
    info = lv.watch_info()
    by_label = {w["source_label"]: w for w in info["watched"]}
    assert by_label["nb-b.ipynb"]["here"] and by_label["nb-b.ipynb"]["connected"]
    assert (
        not by_label["nb-a.ipynb"]["bound"] and info["watchers"][0]["variables"]["x"]["pushes"] == 1
    )


def test_restore_by_name_and_label_from_a_workspace(manager, tmp_path):
    ns = {"p": np.arange(3.0), "q": np.arange(4.0)}
    lv.watch("p", "q", namespace=ns, source_label="lab.ipynb", poll_interval_s=None)
    lv.save_workspace(tmp_path / "ws.h5")
    lv.shutdown()
    lv.load_workspace(tmp_path / "ws.h5")
    assert {w["source_label"] for w in lv.watch_info()["watched"]} == {"lab.ipynb"}
    fresh: dict = {}
    assert lv.watch("p", namespace=fresh, restore=True, source_label="lab.ipynb") == ["p"]
    np.testing.assert_array_equal(fresh["p"], np.arange(3.0))
    assert "q" not in fresh


@pytest.mark.parametrize("interval", [0, -1.0])
def test_a_poll_interval_that_is_not_positive_is_refused(manager, interval):
    with pytest.raises(ValueError, match="poll_interval_s must be > 0"):
        lv.watch("x", namespace={"x": np.zeros(2)}, poll_interval_s=interval)
    assert len(manager.windows) == 0


def test_namespace_scoped_maybe_push_watched_variables_and_shutdown(manager):
    ns1, ns2 = {"a": np.zeros(2)}, {"b": np.zeros(2)}
    lv.watch("a", namespace=ns1, poll_interval_s=None)
    lv.watch("b", namespace=ns2, poll_interval_s=None)
    assert lv.watched_variables(namespace=ns1) == ["a"] and lv.watched_variables() == ["a", "b"]
    ns1["a"] = np.ones(2)
    ns2["b"] = np.ones(2)
    assert lv.maybe_push(namespace=ns2) == ["b"]
    assert lv.maybe_push() == ["a"]
    lv.shutdown(namespace=ns1, remove=True)
    assert lv.watched_variables() == ["b"]
    assert [w.var_name for w in manager.windows.list()] == ["b"]


def test_manager_handles_have_erlabs_methods(manager):
    handle = lv.managers[0]
    s = handle.show(np.zeros((2, 2)), cmap="hot")
    assert handle.fetch(s["index"]).shape == (2, 2)
    handle.replace(s["index"], np.ones((2, 2)))
    assert float(handle.fetch(s["uid"]).sum()) == 4
    assert handle.use().uid == manager.uid and lv.get_default_manager().uid == manager.uid
    assert handle.watch_info()["manager"] == manager.uid


def test_the_manager_process_writes_its_log_file(registry_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_LOG_DIR", str(tmp_path / "logs"))
    proc, entry = start_manager_process(registry_dir, "--no-page", "--log-level", "INFO")
    try:
        path = lv.get_log_file_path()
        assert path == tmp_path / "logs" / "manager.log"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        line = f"pid {entry.pid} labkit.viewer._server INFO manager {entry.uid}"
        # the manager registers itself before it logs its start: wait for the line
        wait_until(lambda: line in path.read_text(), what="the manager's start line in its log")
    finally:
        stop_manager_process(proc)
