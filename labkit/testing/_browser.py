"""Launch Debian's Chromium through Playwright with the flags that work headless on these machines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM_PATH = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any, **kw: Any) -> Any:
    """``playwright.chromium.launch`` on Debian's Chromium (never a downloaded browser).

    Raises ``FileNotFoundError`` saying how to install Chromium when it is missing.
    """
    if not Path(CHROMIUM_PATH).exists():
        raise FileNotFoundError(
            f"no Chromium at {CHROMIUM_PATH}: install Debian's Chromium (apt-get install -y "
            "chromium) or set LABKIT_CHROMIUM to a Chromium binary"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, **kw)
