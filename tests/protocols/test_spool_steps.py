"""The spooler's z-steps and timed tasks run as steps of the protocols' StepRunner."""

from __future__ import annotations

import labkit.spool._controller as controller
from labkit.engine import Scope
from labkit.protocols import StepRunner


def test_spool_z_steps_and_tasks_go_through_the_step_runner(tmp_path, monkeypatch):
    ran: list[str] = []

    class Recording(StepRunner):
        def run_one(self, step):
            ran.append(step.label)
            return super().run_one(step)

    monkeypatch.setattr(controller, "StepRunner", Recording)
    marks: list[int] = []

    def mark(n: int) -> None:
        marks.append(n)

    with Scope(shape=(32, 32)) as scope:
        scope.camera.frame_rate_hz = 100
        scope.start()
        scope.spool.dir_pattern = str(tmp_path)
        handle = scope.spool.start(
            max_frames=4, z_stepped=True, z_start_um=0, z_stop_um=1, z_step_um=1, z_dwell=2,
            protocol=[(0, mark, 0), (2, mark, 2)], preflight_mode="skip",
        )  # fmt: skip
        handle.wait(60)
    assert marks == [0, 2]
    # the first move comes before the first frame; the task at frame 2 and the move after
    # frame 2 both run as steps, in the spool reader's order
    assert ran[:2] == ["move z=0 µm", "mark(0,)"]
    assert sorted(ran[2:]) == ["mark(2,)", "move z=1 µm"]
