"""labkit in marimo: the live view of a simulated scope as a marimo UI element.

marimo run notebooks/marimo_live.py      # or: marimo edit notebooks/marimo_live.py
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
    scope = lk.Scope(shape=(256, 256))  # labkit closes it when marimo exits
    scope.start()
    return (scope,)


@app.cell
def _(lk, mo, scope):
    live = lk.LiveView(scope, max_fps=30)
    view = mo.ui.anywidget(live)
    view
    return live, view


@app.cell
def _(mo, scope):
    mo.md(f"camera exposure: **{scope.camera.exposure_ms} ms**, state: **{scope.state.value}**")
    return


if __name__ == "__main__":
    app.run()
