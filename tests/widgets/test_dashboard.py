"""Dashboard in the kernel against a real Scope: buttons, state, health, panels, failure, close."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import labkit as lk
from labkit.widgets import Dashboard


def _wait(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def scope():
    with lk.Scope(shape=(128, 128)) as s:
        yield s


def test_dashboard_runs_the_scope(scope):
    with scope.dashboard() as dash:
        assert isinstance(dash, Dashboard)
        assert "labkit-state-ready" in dash.state_label.value
        assert dash.stop_button.disabled and not dash.start_button.disabled
        assert set(dash.panels) == {"camera", "stage", "signal"}
        assert type(dash.live).__name__ == "LiveView"
        assert type(dash.spool_panel).__name__ == "SpoolPanel"
        dash.start_button.click()
        assert scope.state.value == "running"
        assert _wait(lambda: "labkit-state-running" in dash.state_label.value)
        assert dash.start_button.disabled and not dash.stop_button.disabled
        assert _wait(lambda: "fps" in dash.health_label.value), (
            "no health event reached the dashboard"
        )
        assert _wait(lambda: dash.traces is not None and dash.traces.redraws > 0)
        dash.stop_button.click()
        assert scope.state.value == "stopped"
        assert _wait(lambda: "labkit-state-stopped" in dash.state_label.value)


def test_panels_edit_the_engine_and_follow_it(scope):
    with scope.dashboard(traces=False) as dash:
        assert dash.traces is None
        box = dash.panels["camera"].rows["exposure_ms"].controls[1]
        box.value = 25.0
        assert scope.camera.exposure_ms == 25.0
        box.value = 5000.0
        assert scope.camera.exposure_ms == 25.0
        assert "above the limit" in dash.panels["camera"].rows["exposure_ms"].error.value
        scope.stage.z_um = 12.5  # changed elsewhere: the property event updates the panel
        z_box = dash.panels["stage"].rows["z_um"].controls[1]
        assert _wait(lambda: z_box.value == 12.5)


def test_action_errors_are_shown_not_raised(scope):
    with scope.dashboard(traces=False) as dash:
        dash._run_action("stop")  # not running: the engine refuses
        assert dash.last_error and "stop" in dash.last_error
        assert "labkit-error" in dash.state_label.value


def test_missing_children_become_placeholders(scope, monkeypatch):
    import labkit.widgets._liveview as liveview

    def broken(*args, **kwargs):
        raise FileNotFoundError("liveview bundle not built; run npm run build in js/")

    monkeypatch.setattr(liveview, "LiveView", broken)
    with Dashboard(scope, traces=False) as dash:
        assert dash.live is None
        html = dash.children[1].children[0].value
        assert "live view" in html and "npm run build" in html


def test_close_releases_threads_and_subscriptions(scope):
    before = {t.name for t in threading.enumerate()}
    dash = Dashboard(scope)
    scope.start()
    dash.live.start()
    dash.close()
    dash.close()  # idempotent
    after = {t.name for t in threading.enumerate()}
    assert not {n for n in after - before if n.startswith("labkit-") and "events" not in n}
    assert dash._on_event not in scope.events._subscribers


@pytest.mark.slow
def test_failed_engine_shows_red_state_with_error():
    with lk.Scope(mode="process", shape=(64, 64)) as scope, Dashboard(scope, traces=False) as dash:
        os.kill(scope.status().engine_pid, signal.SIGKILL)
        assert _wait(lambda: "labkit-state-failed" in dash.state_label.value, 20.0)
        assert "#c62828" in dash.state_label.value
        assert "EngineDiedError" in (dash.last_error or "")
        # Start brings up a fresh engine; panels show its settings, the badge turns green
        dash.panels["camera"].rows["exposure_ms"].controls[
            1
        ].value = 20.0  # refused: engine is dead
        assert "exposure_ms" in dash.panels["camera"].errors
        dash.start_button.click()
        assert _wait(lambda: "labkit-state-running" in dash.state_label.value, 30.0)
        assert dash.last_error is None
        assert (
            dash.panels["camera"].rows["exposure_ms"].controls[1].value == scope.camera.exposure_ms
        )
