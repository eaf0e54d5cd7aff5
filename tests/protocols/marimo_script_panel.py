"""A ScriptPanel in marimo with a script whose last step fails (for the browser test)."""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import atexit

    import labkit as lk
    from labkit.protocols import Script
    from labkit.widgets import ScriptPanel

    scope = lk.Scope(devices="labkit.devices.sim:rig_devices", shape=(64, 64))
    atexit.register(scope.close)  # release the engine when marimo exits
    script = Script(
        [
            ("wait", {"seconds": 0.05}),
            ("set_property", {"device": "shutter", "name": "is_open", "value": True}),
            ("set_property", {"device": "camera", "name": "exposure_ms", "value": 1e9}),
        ],
        name="failing",
    )
    panel = ScriptPanel(scope, script)
    atexit.register(panel.close)
    panel  # noqa: B018 - the cell shows it
    return


if __name__ == "__main__":
    app.run()
