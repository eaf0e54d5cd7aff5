"""Where the built front-end bundles are: ``labkit/static/<name>.js``, one per entry in
``js/src/entries`` (built by ``pip install -e .`` through hatch-jupyter-builder)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "bundle_path"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def bundle_path(name: str) -> Path:
    """Path of the built front-end bundle ``labkit/static/<name>.js``.

    Raises ``FileNotFoundError`` saying how to build it when it is missing.
    """
    path = STATIC_DIR / f"{name}.js"
    if not path.is_file():
        raise FileNotFoundError(
            f"labkit's front end is not built ({path} is missing). Run `pip install -e .` in the "
            "labkit checkout (needs node + npm), or `npm --prefix js install && npm --prefix js run build`"
        )
    return path
