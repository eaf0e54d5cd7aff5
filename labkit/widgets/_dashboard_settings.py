"""The dashboard's settings row: export the scope's settings to a YAML file, import one.

One :class:`Form` row: a file name, an Export and an Import button, and a status line that says
where the file went or, in red, what a file got wrong (the settings error names the key and what
is accepted there). Files live in one folder (``settings_dir``, default the kernel's working
folder): the page names a file, never a path, so a dashboard page cannot make the kernel read or
write anywhere else.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from labkit.widgets._form import Form

__all__ = ["DEFAULT_SETTINGS_FILE", "SettingsRow", "settings_file"]

logger = logging.getLogger(__name__)

DEFAULT_SETTINGS_FILE = "labkit-settings.yaml"
_SUFFIXES = (".yaml", ".yml")


def settings_file(folder: str | os.PathLike, name: str) -> Path:
    """``folder / name`` for a plain YAML file name.

    Raises:
        ValueError: ``name`` is a path, hidden, or not ``.yaml``/``.yml`` (the message says which
            names are taken).
    """
    name = str(name).strip()
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise ValueError(
            f"{name!r} is not a file name: give a name like {DEFAULT_SETTINGS_FILE!r} (files "
            f"live in {Path(folder).expanduser()})"
        )
    if not name.endswith(_SUFFIXES):
        raise ValueError(f"{name!r}: settings files end in .yaml or .yml")
    return Path(folder).expanduser() / name


class SettingsRow(Form):
    """Export / import the settings of ``scope`` (``scope.settings``) as YAML in ``folder``.

    ``row.edit("file", "rig.yaml")``, ``row.click("export")`` and ``row.click("import")`` do what
    the page does; the outcome is in ``row.status`` (level ``"error"`` for a refused file).
    """

    def __init__(self, scope: Any, folder: str | os.PathLike | None = None) -> None:
        self.scope = scope
        self.folder = Path(folder if folder is not None else os.getcwd()).expanduser()
        r = Form.row
        buttons = [
            {"name": "export", "label": "Export", "cls": "labkit-settings-export",
             "description": "write the scope's settings to this file"},
            {"name": "import", "label": "Import", "cls": "labkit-settings-import",
             "description": "apply the settings in this file"},
        ]  # fmt: skip
        super().__init__(
            [
                r(
                    "text",
                    "file",
                    label="settings",
                    cls="labkit-settings-file",
                    description=f"a YAML file in {self.folder}",
                ),  # fmt: skip
                r("buttons", "settings_actions", label="", buttons=buttons),
            ],
            values={"file": DEFAULT_SETTINGS_FILE},
            on_edit=self._check_name,
            on_click=self._on_click,
            css_class="labkit-inline labkit-settings-row",
        )

    def _check_name(self, name: str, value: Any) -> str:
        settings_file(self.folder, value)  # raises naming what is accepted
        return str(value).strip()

    def _on_click(self, action: str) -> None:
        try:
            path = settings_file(self.folder, self.values.get("file", ""))
            if action == "export":
                self.scope.settings.save(path)
                self.set_status(f"settings written to {path}")
            else:
                self.scope.settings.load(path)
                self.set_status(f"settings applied from {path}")
        except Exception as exc:  # a bad file or name: its message says what to change
            logger.info("settings %s failed: %s", action, exc)
            self.set_status(f"{action}: {exc}", "error")
