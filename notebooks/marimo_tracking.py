"""labkit in marimo: bead tracking on a simulated magnetic-tweezers scope.

    marimo run notebooks/marimo_tracking.py      # or: marimo edit notebooks/marimo_tracking.py

The beads are found and a short z table is recorded in code, the tracker is started, then the
dashboard shows the bead ROIs over the live view, the tracking tab (lock on/off and its state),
the beads' x/y/z traces and the z table (marimo lays out what exists when the cell runs).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import atexit

    import labkit as lk

    return atexit, lk


@app.cell
def _(atexit, lk):
    scope = lk.Scope(devices="labkit.devices.sim:tweezers_devices", shape=(288, 288), seed=7)
    atexit.register(scope.close)  # release the engine and shared memory when marimo exits
    scope.camera.tether_rms_nm = 0.0
    scope.camera.frame_rate_hz = 30
    scope.start()
    scope.tracking.find_beads(roi_size=50)
    zlut = scope.tracking.acquire_zlut(z_range_um=(-1.0, 1.0), step_um=0.2, frames_per_plane=2)
    return scope, zlut


@app.cell
def _(atexit, scope, zlut):
    dash = scope.dashboard(title="tweezers in marimo", tracking=True, traces=False,
                           live_kw={"max_fps": 20})
    atexit.register(dash.close)
    dash.tracking.show_zlut(zlut)
    dash.tracking.start_tracking()
    dash
    return


if __name__ == "__main__":
    app.run()
