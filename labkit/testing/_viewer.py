"""Probes for viewer windows in a browser page (the manager page, JupyterLab, Voila).

Every viewer window publishes its counters on ``window.labkit_viewers[uid]`` (see
js/src/viewer/widget.ts: slices and profiles received, paints, contrast, bin, ROI, latencies).
"""

from __future__ import annotations

from typing import Any

from labkit.testing._jupyter import POLL_MS

__all__ = ["viewer_card", "viewer_stats", "wait_painted"]


def viewer_stats(page: Any, uid: str) -> dict:
    """The counters of viewer window ``uid`` in ``page`` ({} when it is not shown)."""
    return page.evaluate("(uid) => (window.labkit_viewers || {})[uid] || null", uid) or {}


def wait_painted(
    page: Any, uid: str, more_than: int = 0, timeout_s: float = 20.0, **expect: Any
) -> dict:
    """Wait until window ``uid`` painted more than ``more_than`` times with a slice whose stats
    match ``expect`` (e.g. ``version=1``, ``slices={"t": 2}``); returns its stats.

    Raises:
        TimeoutError (Playwright's): it did not within ``timeout_s``.
    """
    page.wait_for_function(
        """([uid, n, expect]) => {
          const s = (window.labkit_viewers || {})[uid];
          return !!s && s.painted > n && Object.entries(expect).every(
            ([k, v]) => JSON.stringify(s[k]) === JSON.stringify(v));
        }""",
        arg=[uid, more_than, expect],
        timeout=timeout_s * 1000,
        polling=POLL_MS,
    )
    return viewer_stats(page, uid)


def viewer_card(page: Any, uid: str) -> Any:
    """The ``.lk-viewer`` element of window ``uid``."""
    return page.locator(f".lk-viewer[data-uid='{uid}']")
