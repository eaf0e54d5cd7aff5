"""docs/protocols.md stays true: its MDA example runs as written, its command list is what
``lk.print_script_commands()`` prints, and its YAML is what ``Script.save`` writes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import labkit as lk
from labkit.protocols import script_commands

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocols.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_mda_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_blocks("python")[0], str(DOC), "exec"), namespace)  # noqa: S102 - our docs
    data = namespace["data"]
    assert data.dims == ("t", "p", "c", "z", "y", "x")
    assert data.shape == (3, 2, 2, 3, 64, 64)
    assert namespace["handle"].path == tmp_path / "mda_example.ome.zarr"
    assert data.attrs["sequence"]["metadata"] == {"sample": "beads"}


def test_the_command_list_and_the_yaml_are_current(tmp_path):
    listed = _blocks("text")[0].strip().splitlines()
    assert listed == list(script_commands().values())
    code = _blocks("python")[1]
    script_code = code.split("script.save")[0]  # the Script as the page makes it
    namespace: dict = {"lk": lk}
    exec(compile(script_code, str(DOC), "exec"), namespace)  # noqa: S102 - our docs
    saved = namespace["script"].save(tmp_path / "focus.yaml")
    assert yaml.safe_load(saved.read_text()) == yaml.safe_load(_blocks("yaml")[0])
