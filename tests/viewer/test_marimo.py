"""marimo: a headless marimo app (its own runtime, no IPython) watches a variable by polling."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import marimo  # noqa: F401
import pytest

APP = textwrap.dedent(
    """
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import time

        import numpy as np

        import labkit.viewer as lv

        x = np.zeros((8, 8))
        watched = lv.watch("x", target=TARGET, poll_interval_s=0.05)
        return lv, time, watched, x


    @app.cell
    def _(lv, time, watched, x):
        assert watched == ["x"]
        x[2, 2] = 7.0  # in place, in a later cell: the polling thread notices
        deadline = time.monotonic() + 10
        while lv.watch_info()["watchers"][0]["variables"]["x"]["pushes"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        print("MODE", lv.watch_info()["watchers"][0]["mode"], "SOURCE", lv.watch_info()["watchers"][0]["source"])
        lv.shutdown()
        return


    if __name__ == "__main__":
        app.run()
    """
)


@pytest.mark.slow
def test_marimo_app_watch_pushes_by_polling(manager, tmp_path):
    target = manager.connection_file
    app = tmp_path / "watch_app.py"
    app.write_text(APP.replace("TARGET", repr(target)))
    done = subprocess.run(
        [sys.executable, str(app)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MODE polling" in done.stdout
    window = next(w for w in manager.windows.list() if w.var_name == "x")
    assert float(window.data[2, 2]) == 7.0 and window.version == 1
    assert not window.watched  # lv.shutdown() in the app unwatched it
