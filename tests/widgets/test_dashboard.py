"""Dashboard in the kernel against a real Scope: buttons, state, health, panels, failure, close."""

from __future__ import annotations

import os
import signal
import threading

import pytest

import labkit as lk
from labkit.testing import wait_until
from labkit.widgets import Dashboard


@pytest.fixture
def scope():
    with lk.Scope(shape=(128, 128)) as s:
        yield s


def test_dashboard_runs_the_scope(scope):
    with scope.dashboard() as dash:
        assert isinstance(dash, Dashboard)
        c = dash.controls
        assert c.values["state"]["cls"] == "labkit-state-ready"
        assert c.disabled["stop"] and not c.disabled["start"]
        assert set(dash.panels) == {"camera", "stage", "signal"}
        assert type(dash.live).__name__ == "LiveView"
        assert type(dash.spool_panel).__name__ == "SpoolPanel"
        c.click("start")
        assert scope.state.value == "running"
        assert wait_until(lambda: c.values["state"]["text"] == "running")
        assert c.disabled["start"] and not c.disabled["stop"]
        assert wait_until(lambda: "fps" in c.values.get("health", "")), (
            "no health event reached the dashboard"
        )
        assert dash.traces.renderer == "canvas"  # drawn in the page (no page here: read only)
        assert wait_until(lambda: dash.traces.samples > 0)
        c.click("stop")
        assert scope.state.value == "stopped"
        assert wait_until(lambda: c.values["state"]["cls"] == "labkit-state-stopped")
        c.click("stop")  # disabled: nothing happens, no error
        assert "state" not in c.errors


def test_panels_edit_the_engine_and_follow_it(scope):
    with scope.dashboard(traces=False) as dash:
        assert dash.traces is None
        camera = dash.panels["camera"]
        assert camera.edit("exposure_ms", 25.0)
        assert scope.camera.exposure_ms == 25.0
        assert not camera.edit("exposure_ms", 5000.0)
        assert scope.camera.exposure_ms == 25.0
        assert "above the limit" in camera.errors["exposure_ms"]
        scope.stage.z_um = 12.5  # changed elsewhere: the property event updates the panel
        assert wait_until(lambda: dash.panels["stage"].values["z_um"] == 12.5)


def test_action_errors_are_shown_not_raised(scope):
    with scope.dashboard(traces=False) as dash:
        dash._run_action("stop")  # not running: the engine refuses
        assert dash.last_error and "stop" in dash.last_error
        assert dash.controls.errors["state"] == dash.last_error  # red beside the badge


def test_missing_children_become_placeholders(scope, monkeypatch):
    import labkit.widgets._liveview as liveview

    def broken(*args, **kwargs):
        raise FileNotFoundError("liveview bundle not built; run npm run build in js/")

    monkeypatch.setattr(liveview, "LiveView", broken)
    with Dashboard(scope, traces=False) as dash:
        assert dash.live is None
        html = dash.children[1].children[0].value
        assert "live view" in html and "npm run build" in html
        assert dash.spool_panel is not None  # the rest still works


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
        c = dash.controls
        assert wait_until(lambda: c.values["state"]["cls"] == "labkit-state-failed", timeout_s=20.0)
        assert c.values["state"]["color"] == "#c62828"
        assert "EngineDiedError" in (dash.last_error or "")
        assert wait_until(lambda: "EngineDiedError" in c.errors.get("state", ""))
        # Start brings up a fresh engine; panels show its settings, the badge turns green
        assert not dash.panels["camera"].edit("exposure_ms", 20.0)  # refused: engine is dead
        assert "exposure_ms" in dash.panels["camera"].errors
        c.click("start")
        assert wait_until(lambda: c.values["state"]["text"] == "running", timeout_s=30.0)
        assert dash.last_error is None and "state" not in c.errors
        assert dash.panels["camera"].values["exposure_ms"] == scope.camera.exposure_ms


def test_marimo_display_lays_out_the_same_children(scope):
    with Dashboard(scope) as dash:
        html = dash._display_().text  # what marimo shows for the dashboard
        assert html.startswith('<div class="labkit-dashboard">')
        # controls, live view, 3 device panels (in marimo tabs) and the spool panel: anywidgets
        for w in (dash.controls, dash.live, dash.spool_panel, dash.settings,
                  *dash.panels.values()):  # fmt: skip
            assert f"model-id='&quot;{w.model_id}&quot;'" in html
        assert "labkit-dashboard-traces" in html
        for name in ("camera", "stage", "signal"):
            assert name in html  # tab titles


def test_frames_a_ring_reader_lost_stay_red_after_the_reader_is_gone(scope):
    """Display skips are not loss; a reader of the ring that falls behind loses frames, and the
    header says so in its red error slot, still after that reader closed."""
    scope.camera.frame_rate_hz = 400  # wraps the 64-slot ring in a fraction of a second
    with scope.dashboard(traces=False) as dash:
        c = dash.controls
        reader = scope.open_reader(name="slow-reader")  # never reads: everything it wanted is lost
        try:
            scope.start()
            assert wait_until(lambda: "slow-reader" in (c.errors.get("health") or ""))
            assert c.errors["health"].startswith("frames lost: slow-reader ")
            lost = dash.frames_lost["slow-reader"]
            assert lost > 0
        finally:
            reader.close()
        seen = int(dash.health["frames_acquired"])
        # a later health event (the counter moved) no longer lists the reader ...
        assert wait_until(
            lambda: (
                int(dash.health["frames_acquired"]) > seen
                and "slow-reader" not in (dash.health.get("readers") or {})
            )
        )
        # ... and the loss is still shown in red
        assert "slow-reader" in c.errors["health"]
        assert dash.frames_lost["slow-reader"] >= lost
        assert "lost" not in c.values["health"]  # the grey line has rates and counts only
