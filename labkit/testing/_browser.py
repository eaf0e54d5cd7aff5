"""Launch Debian's Chromium through Playwright with the flags that work headless on these machines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labkit.testing._jupyter import attach_console_errors, poll_on_timer

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


@contextmanager
def app_page(browser: Any, url: str, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A page in a fresh browser context, opened at ``url``, with ``page.console_errors``.

    For app servers a module shares (``marimo run``): on exit the page leaves for about:blank,
    so the app session ends, and the context closes even if leaving fails.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    attach_console_errors(page)
    poll_on_timer(page)
    try:
        page.goto(url)
        yield page
    finally:
        try:
            page.goto("about:blank", timeout=5000)
        finally:
            context.close()
