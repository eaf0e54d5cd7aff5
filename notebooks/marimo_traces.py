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
    import marimo as mo

    import labkit as lk

    return lk, mo


@app.cell
def _(lk):
    scope = lk.Scope(shape=(64, 64))  # labkit closes it when marimo exits
    scope.start()
    return (scope,)


@app.cell
def _(lk, mo, scope):
    traces = lk.TracePlot(scope, window_s=5, title="sim signal")
    mo.vstack([mo.md(f"renderer: **{traces.renderer}**"), traces])
    return (traces,)


if __name__ == "__main__":
    app.run()
