"""``labkit engine --config rig.yaml``: a served engine built from a settings file (here a
Micro-Manager rig of Python adapters), and the errors of a bad file or bad factory arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml

import labkit as lk
from labkit.testing import write_micromanager_config

pytestmark = pytest.mark.slow

ROIS = [{"name": "spot", "x": 0, "y": 0, "w": 8, "h": 8}]


def _engine(tmp_path, *args: str) -> subprocess.Popen:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "engine", *args, "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LABKIT_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip


def _write(path, data) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def test_engine_serves_a_micromanager_rig_from_a_config(tmp_path):
    mm_config = write_micromanager_config(tmp_path / "MMConfig.cfg")
    config = _write(tmp_path / "rig.yaml", {
        "labkit": 1,
        "devices": {"factory": "micromanager", "kwargs": {"config": str(mm_config)}},
        "properties": {"groups": {"Channel": "GFP"}, "Camera": {"exposure_ms": 3.0},
                       "Lamp": {"Power": 12.5}},
        "nodes": {"spots": {"node": "roi_stats", "input": "Camera", "params": {"rois": ROIS}}},
    })  # fmt: skip
    proc = _engine(tmp_path, "--config", config)
    try:
        line = proc.stdout.readline()
        assert "serving on " in line, line + proc.stderr.read()
        connection_file = line.split("connection file ")[1].split(";")[0]
        with lk.connect(connection_file) as scope:
            assert scope.camera.exposure_ms == 3.0
            assert scope.devices["Wheel"].label == "GFP"  # the preset was applied
            assert scope.devices["Lamp"].Power == 12.5
            assert scope.nodes.describe()["spots"]["kind"] == "roi_stats"
            saved = scope.settings.to_dict()
        assert "devices" not in saved  # a remote scope cannot say how its engine was built
        assert saved["properties"]["Lamp"]["Power"] == 12.5
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
    assert "FATAL" not in stderr  # Micro-Manager's callback thread is detached before unloading


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        ({"labkit": 1, "propertys": {}}, (), "propertys"),
        (
            {"labkit": 1, "properties": {"camera": {"binning": 3}}},
            ("--shape", "32,40"),
            "properties.camera.binning",
        ),  # fmt: skip
        (
            {"labkit": 1, "nodes": {"spots": {"node": "no_such_node"}}},
            ("--shape", "32,40"),
            "nodes.spots",
        ),  # fmt: skip
        ({"labkit": 1}, ("--devices-kwargs", '{"seed": 1}'), "--devices-kwargs needs --devices"),
        (
            {"labkit": 1},
            ("--devices", "labkit.devices.sim:default_devices", "--devices-kwargs", "[1]"),
            "must be a JSON object",
        ),  # fmt: skip
    ],
    ids=["bad-section", "bad-value", "bad-node", "kwargs-alone", "kwargs-not-object"],
)
def test_engine_refuses_a_bad_config_naming_the_key(tmp_path, data, args, message):
    config = _write(tmp_path / "rig.yaml", data)
    proc = _engine(tmp_path, "--config", config, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert message in err
    assert "serving on" not in out
