"""No peer makes the manager touch a path; workspaces never overwrite other files; restore is safe."""

from __future__ import annotations

import numpy as np
import pytest

import labkit.viewer as lv


@pytest.mark.parametrize("method", ["load", "save_workspace", "load_workspace"])
def test_the_manager_has_no_method_that_takes_a_path(manager, tmp_path, method):
    with pytest.raises(lv.UnknownMethodError, match="unknown manager method"):
        lv.managers[0].request(method, path=str(tmp_path / "x"), paths=[str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_save_workspace_replaces_only_its_own_files(manager, tmp_path):
    lv.show_in_manager(np.zeros((2, 2)), name="a")
    key = tmp_path / "id_ed25519"
    key.write_text("precious")
    with pytest.raises(FileExistsError, match="not a labkit workspace"):
        lv.save_workspace(key)
    assert key.read_text() == "precious"
    link = tmp_path / "ws.h5"
    link.symlink_to(key)
    with pytest.raises(FileExistsError):
        lv.save_workspace(link)
    assert key.read_text() == "precious"
    ws = tmp_path / "real.h5"
    assert lv.save_workspace(ws)["windows"] == 1
    assert lv.save_workspace(ws)["windows"] == 1  # its own workspace: replaced


def test_restore_refuses_names_that_shadow_builtins_unless_asked(manager, tmp_path):
    ns = {"list": np.zeros(3), "ok": np.ones(2)}
    lv.watch("list", "ok", namespace=ns, poll_interval_s=None)
    path = tmp_path / "ws.h5"
    lv.save_workspace(path)
    lv.watch(stop_all=True)
    manager.windows.close_all()
    lv.load_workspace(path)
    fresh: dict = {}
    with pytest.raises(ValueError, match=r"\['list'\].*shadow_builtins=True"):
        lv.watch(namespace=fresh, restore=True, poll_interval_s=None)
    assert fresh == {} and all(w.client_id is None for w in manager.windows.list())
    assert sorted(lv.watch(namespace=fresh, restore=True, shadow_builtins=True)) == ["list", "ok"]
    assert np.array_equal(fresh["list"], np.zeros(3))


def test_restore_never_takes_windows_a_live_notebook_watches(manager):
    mine = {"x": np.zeros(3)}
    lv.watch("x", namespace=mine, poll_interval_s=None)
    other: dict = {}
    assert lv.watch(namespace=other, restore=True, poll_interval_s=None) == []
    assert "x" not in other
    mine["x"] = np.ones(3)
    assert lv.maybe_push() == ["x"]  # still bound to its watcher
