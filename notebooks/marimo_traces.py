"""labkit in marimo: the simulated scope's signal channels as a scrolling trace plot.

    marimo run notebooks/marimo_traces.py      # or: marimo edit notebooks/marimo_traces.py

In marimo, TracePlot draws with Canvas2D (an anywidget; marimo cannot show bqplot) and
displays itself, alone or inside mo.vstack.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import atexit

    import marimo as mo

    import labkit as lk

    return atexit, lk, mo


@app.cell
def _(atexit, lk):
    scope = lk.Scope(shape=(64, 64))
    atexit.register(scope.close)  # release the engine and shared memory when marimo exits
    scope.start()
    return (scope,)


@app.cell
def _(atexit, lk, mo, scope):
    traces = lk.TracePlot(scope, window_s=5, title="sim signal")
    atexit.register(traces.close)
    mo.vstack([mo.md(f"renderer: **{traces.renderer}**"), traces])
    return (traces,)


if __name__ == "__main__":
    app.run()
