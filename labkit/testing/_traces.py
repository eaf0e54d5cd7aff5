"""Page-side probes for TracePlot browser tests (Voila, JupyterLab, marimo)."""

from __future__ import annotations

import time
from typing import Any

from labkit.testing._jupyter import POLL_MS

__all__ = ["TRACE_PIXELS_JS", "TRACE_STATS_JS", "trace_feed_cells", "wait_trace_lines"]

# pixels of each line colour and a hash of the canvas. Antialiased lines blend with the white
# background or a grey grid line, so a pixel counts for the colour whose direction away from
# white it follows (cosine > 0.97), if it is saturated enough not to be grey.
TRACE_PIXELS_JS = """(c, colors) => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const dirs = Object.entries(colors).map(([k, rgb]) => {
    const u = rgb.map((x) => 255 - x);
    const n = Math.hypot(...u);
    return [k, u.map((x) => x / n)];
  });
  const counts = {};
  for (const [k] of dirs) counts[k] = 0;
  let hash = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    hash = (hash * 31 + r + 7 * g + 13 * b) | 0;
    if (Math.max(r, g, b) - Math.min(r, g, b) < 25) continue;
    const v = [255 - r, 255 - g, 255 - b];
    const n = Math.hypot(...v);
    if (n < 30) continue;
    let best = null, bestCos = 0.97;
    for (const [k, u] of dirs) {
      const cos = (v[0] * u[0] + v[1] * u[1] + v[2] * u[2]) / n;
      if (cos > bestCos) { best = k; bestCos = cos; }
    }
    if (best) counts[best]++;
  }
  return { counts, hash };
}"""
TRACE_STATS_JS = "() => Object.values(window.labkitTraces || {}).find(s => !s.closed) || null"


def wait_trace_lines(
    page: Any, container: str, n_channels: int, timeout_s: float = 30.0, min_pixels: int = 50
) -> dict[str, int]:
    """Wait until the trace canvas inside ``container`` (a CSS selector) shows a line of each of
    its first ``n_channels`` colours (the TracePlot palette, in channel order); returns the pixel
    counts. Raises Playwright's TimeoutError naming nothing drawn."""
    from labkit.widgets._traceplot import COLORS

    colors = {
        f"ch{i}": tuple(int(c[k : k + 2], 16) for k in (1, 3, 5))
        for i, c in enumerate(COLORS[:n_channels])
    }
    canvas = page.locator(f"{container} canvas.lk-trace-canvas").first
    # the DOM call, not Playwright's scroll_into_view_if_needed: that waits for the box to stay
    # put for two animation frames, which a page whose live view keeps changing its layout may
    # not give it in time on a busy machine (the demo test timed out there under stress-ng)
    # (one deadline for both steps: on a starved machine the page may take a while to answer)
    deadline = time.monotonic() + timeout_s
    canvas.evaluate("c => c.scrollIntoView({block: 'nearest'})", timeout=timeout_s * 1000)
    page.wait_for_function(
        f"""([sel, colors, least]) => {{
          const c = document.querySelector(sel + ' canvas.lk-trace-canvas');
          if (!c || !c.width) return false;
          const counts = ({TRACE_PIXELS_JS})(c, colors).counts;
          return Object.values(counts).every(n => n >= least);
        }}""",
        arg=[container, colors, min_pixels],
        timeout=max(1.0, deadline - time.monotonic()) * 1000,
        polling=POLL_MS,
    )
    return dict(canvas.evaluate(TRACE_PIXELS_JS, colors, timeout=timeout_s * 1000)["counts"])


def trace_feed_cells(plot_expr: str) -> list[str]:
    """Notebook cells: a two-channel TraceBuffer (sine, cosine) fed at 50 Hz by a thread, and
    ``plot_expr`` (a TracePlot of ``buf.reader()``) as the output; everything closed at exit."""
    return [
        "import atexit, threading, time\n"
        "import numpy as np\n"
        "from labkit.buffers import TraceBuffer\n"
        "from labkit.widgets import TracePlot\n"
        "buf = TraceBuffer.create(('sine', 'cosine'), capacity=20_000)\n"
        "stop = threading.Event()\n"
        "def feed():\n"
        "    while not stop.wait(0.02):\n"
        "        t = time.time() - np.arange(4)[::-1] * 0.005\n"
        "        buf.write(t, np.column_stack([np.sin(3 * t), np.cos(3 * t)]))\n"
        "feeder = threading.Thread(target=feed, daemon=True)\n"
        "feeder.start()\n"
        f"plot = {plot_expr}\n"
        "def cleanup():\n"
        "    plot.close(); stop.set(); feeder.join(); buf.close()\n"
        "atexit.register(cleanup)\n"
        "plot",
    ]
