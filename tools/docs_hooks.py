"""mkdocs hooks: the shipped notebooks and marimo apps rendered as pages of the site.

Each ``notebooks/*.ipynb`` becomes ``notebooks/<name>.md`` (markdown cells as they are, code
cells as Python blocks; the notebooks are committed without outputs, so there are none to show)
and the marimo apps are gathered on ``notebooks/marimo_apps.md``. Nothing is written into the
source tree: the pages exist only in the build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def notebook_markdown(path: Path) -> str:
    """The page of one notebook: where it is, how to run it, then its cells in order."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = [
        f'!!! note "Run it"\n    `notebooks/{path.name}` in the repository: open it in '
        "JupyterLab and choose Run → Run All Cells. What it shows keeps running until you close "
        "it or shut the kernel down.\n"
    ]
    for cell in nb["cells"]:
        source = "".join(cell["source"]).rstrip()
        if not source:
            continue
        if cell["cell_type"] == "markdown":
            parts.append(source + "\n")
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```\n")
    return "\n".join(parts)


def marimo_markdown() -> str:
    """One page with every marimo app's source."""
    parts = [
        "# marimo apps\n",
        "Each is a marimo app in `notebooks/`; run it with `marimo run notebooks/<name>.py` "
        "(or open it with `marimo edit`). Every labkit panel is an anywidget, so marimo renders "
        "them natively.\n",
    ]
    for path in sorted(NOTEBOOKS.glob("marimo_*.py")):
        parts.append(
            f"## {path.name}\n\n```python\n{path.read_text(encoding='utf-8').rstrip()}\n```\n"
        )
    return "\n".join(parts)


def on_files(files: Files, config: Any) -> Files:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(
            File.generated(config, f"notebooks/{path.stem}.md", content=notebook_markdown(path))
        )
    files.append(File.generated(config, "notebooks/marimo_apps.md", content=marimo_markdown()))
    return files
