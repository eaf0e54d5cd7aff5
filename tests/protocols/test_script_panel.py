"""ScriptPanel without a browser: load / run / pause / abort, and a failing step in red."""

from __future__ import annotations

import pytest

from labkit.protocols import Script
from labkit.testing import wait_until
from labkit.widgets import ScriptPanel

FAILING = Script(
    [("wait", {"seconds": 0.01}),
     ("set_property", {"device": "camera", "name": "exposure_ms", "value": 1e9})],
    name="failing",
)  # fmt: skip


def test_a_failing_step_shows_in_red(scope, tmp_path):
    path = FAILING.save(tmp_path / "failing.yaml")
    with ScriptPanel(scope) as panel:
        assert panel.disabled["run"]  # nothing loaded yet
        panel.edit("file", str(path))
        panel.click("load")
        assert panel.values["script"] == "failing: 2 steps" and not panel.disabled["run"]
        panel.click("run")
        wait_until(lambda: panel.error, what="the error in the panel")
        assert "step 2 failed" in panel.error and "above the limit" in panel.error
        assert panel.values["progress"]["style"] == "danger"
        assert panel.values["step"].startswith("2: set_property(device='camera'")
        assert not panel.disabled["run"] and panel.disabled["abort"]


def test_load_errors_name_the_problem(scope, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: []\nsteeps: 1\n")
    with ScriptPanel(scope) as panel:
        panel.click("load")
        assert "type the path" in panel.error
        panel.edit("file", str(bad))
        panel.click("load")
        assert "unknown script key(s) 'steeps'" in panel.error and panel.script is None


def test_pause_resume_and_abort_from_the_panel(scope):
    script = Script([("wait", {"seconds": 0.02})] * 5 + [("wait", {"seconds": 600})])
    with ScriptPanel(scope, script) as panel:
        panel.click("run")
        wait_until(lambda: panel.handle.progress["steps_done"] >= 1, what="a step")
        panel.click("pause")
        wait_until(lambda: not panel.disabled["resume"], what="the paused state in the panel")
        assert panel.disabled["pause"] and "paused" in panel.values["progress"]["text"]
        panel.click("resume")
        wait_until(lambda: panel.handle.progress["steps_done"] == 5, what="the long wait")
        panel.click("abort")
        wait_until(lambda: panel.status[0] == "warning", what="the aborted state")
        assert panel.handle.state == "cancelled"
        assert "aborted" in panel.status[1]


@pytest.fixture(scope="module", params=["thread"])
def shared_scope(request):
    from protocol_devices import make_scope

    scope = make_scope(request.param)
    yield scope
    scope.close()
