"""labkit in marimo: the full dashboard of a simulated scope (live view, device panels, spool, traces).

    marimo run notebooks/marimo_dashboard.py      # or: marimo edit notebooks/marimo_dashboard.py

The panels are anywidgets, so marimo renders them natively; the dashboard lays them out with
marimo's own vstack/hstack. The last cell reads the camera back from the engine every second.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import labkit as lk

    return lk, mo


@app.cell
def _(lk):
    scope = lk.Scope(shape=(256, 256))  # labkit closes it when marimo exits
    scope.start()
    return (scope,)


@app.cell
def _(scope):
    dash = scope.dashboard(title="labkit in marimo", live_kw={"max_fps": 30})
    dash
    return


@app.cell
def _(mo):
    tick = mo.ui.refresh(options=["1s"], default_interval="1s", label="read back every")
    tick
    return (tick,)


@app.cell
def _(mo, scope, tick):
    tick
    camera = scope.camera
    mo.md(
        f"engine read-back: camera exposure_ms = **{camera.exposure_ms:g}**, "
        f"gain = **{camera.gain:g}**, binning = **{camera.binning}**, "
        f"state = **{scope.state.value}**"
    )
    return


if __name__ == "__main__":
    app.run()
