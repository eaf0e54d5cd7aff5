"""The engine's table of runs, on a host of its own: what a served engine refuses from its
clients, unknown ids and actions, and close() ending a run that is still waiting."""

from __future__ import annotations

import pytest
import useq

from labkit.devices.sim import default_devices
from labkit.protocols import ProtocolTable, Script, UnknownProtocolError
from labkit.testing import wait_until


class Host:
    """A served engine's view: devices, events, no client code."""

    allow_client_code = False

    def __init__(self) -> None:
        self.devices = default_devices(shape=(16, 16))
        self.events: list[dict] = []

    def emit(self, topic, payload):
        self.events.append(payload)

    def device_settings(self):
        return {}

    def load_function(self, path):
        raise PermissionError(f"this engine does not run code its clients name ({path!r})")

    burst = spool = add_node = run_command = None


def test_a_served_engine_refuses_paths_and_code_from_clients(tmp_path):
    table = ProtocolTable(Host())
    try:
        with pytest.raises(PermissionError, match="does not write paths"):
            table.start_mda(useq.MDASequence(), str(tmp_path / "x.ome.zarr"))
        with pytest.raises(PermissionError, match="does not run code"):
            table.start_mda(useq.MDASequence(), "", autofocus="os:system")
        assert not (tmp_path / "x.ome.zarr").exists() and table.status() == {}
        with pytest.raises(UnknownProtocolError, match="no protocol run 'mda9'; runs: none"):
            table.control("mda9", "pause")
    finally:
        table.close()


def test_close_cancels_a_waiting_run_and_joins_it():
    host = Host()
    table = ProtocolTable(host)
    status = table.start_script(Script([("wait", {"seconds": 600})]))
    with pytest.raises(ValueError, match="choose one of pause, resume, cancel"):
        table.control(status["id"], "stop")
    wait_until(lambda: table.status(status["id"])["state"] == "running", what="the run")
    table.close()
    assert table.status(status["id"])["state"] == "cancelled"
    assert host.events[-1]["state"] == "cancelled"
