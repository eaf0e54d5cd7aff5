"""``labkit bench viewer``: a viewer window of a 2048×2048×200 float32 cube, slider → repaint.

The window shows (ky, kx) of an (energy, ky, kx) cube; the benchmark moves the energy slider one
index at a time, in the page, and the window records the time from the slider's ``input`` event
to the requestAnimationFrame paint of the new slice (``input_to_paint_ms``). Measured in headless
Chromium, read over a bare DevTools connection (Playwright only opens the pages):

- in the manager page (``ManagerServer`` in this process, its websocket page);
- beside it, in the same Chromium and alternating with it in blocks of steps (same load), a raw
  websocket page served from this process: it asks for slice ``i``, gets the bytes, uploads them
  into an R32F texture and paints them in the next animation frame. Once with the full
  2048² float32 slice (16 MB: what sending the whole slice costs), once with the same binned
  texels the viewer receives (the transport floor under labkit's own work);
- in JupyterLab: the same window as a ``ViewerWindow`` widget in a notebook (comm transport).

Goal: repaint p50 ≤ 50 ms. Quick mode: a 40-slice cube and fewer steps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from labkit.bench._report import BenchResult

__all__ = ["make_cube", "run"]

log = logging.getLogger(__name__)


def make_cube(n_energy: int = 200, n: int = 2048) -> xr.DataArray:
    """An (energy, ky, kx) float32 cube with coordinates and units: a random 2-D pattern scaled
    per energy (fast to make: 3.4 GB in a few seconds)."""
    base = np.random.default_rng(0).random((n, n), dtype=np.float32)
    values = np.empty((n_energy, n, n), np.float32)
    for k in range(n_energy):
        np.multiply(base, np.float32(1.0 + 0.01 * k), out=values[k])
    kk = np.linspace(-1.0, 1.0, n)
    return xr.DataArray(
        values,
        dims=("energy", "ky", "kx"),
        coords={
            "energy": ("energy", np.linspace(-1.0, 0.1, n_energy), {"units": "eV"}),
            "ky": ("ky", kk, {"units": "1/Å"}),
            "kx": ("kx", kk, {"units": "1/Å"}),
        },
        name="cube",
        attrs={"units": "counts"},
    )


# moves the first slider of viewer `uid` `steps` times, one paint at a time; the latencies
SLIDER_JS = """async (uid, steps) => {
  const s = window.labkit_viewers[uid];
  const input = document.querySelector(`.lk-viewer[data-uid='${uid}'] input.lk-slider`);
  const max = Number(input.max);
  const out = [];
  const recv = [];
  const kernel = [];
  for (let k = 0; k < steps; k++) {
    const i = Number(input.value) + 1 > max ? 0 : Number(input.value) + 1;
    const n0 = s.input_to_paint_ms.length;
    input.value = String(i);
    input.dispatchEvent(new Event("input"));
    const t = performance.now();
    while (s.input_to_paint_ms.length === n0) {
      if (performance.now() - t > 20000) throw new Error(`slice ${i} was not painted in 20 s`);
      await new Promise((r) => requestAnimationFrame(r));
    }
    out.push(s.input_to_paint_ms[s.input_to_paint_ms.length - 1]);
    recv.push(s.input_to_receive_ms[s.input_to_receive_ms.length - 1]);
    kernel.push(s.kernel_ms[s.kernel_ms.length - 1]);
  }
  return { paint: out, receive: recv, kernel, bin: s.bin, texels: s.texels };
}"""

RAW_PAGE = """<!doctype html><html><body style="margin:0">
<canvas id="c" style="width:420px;height:420px"></canvas>
<script>
const canvas = document.getElementById("c");
const dpr = window.devicePixelRatio || 1;
canvas.width = 420 * dpr; canvas.height = 420 * dpr;
const gl = canvas.getContext("webgl2", { alpha: false, antialias: false });
const sh = (t, s) => { const x = gl.createShader(t); gl.shaderSource(x, s); gl.compileShader(x); return x; };
const prog = gl.createProgram();
gl.attachShader(prog, sh(gl.VERTEX_SHADER, `#version 300 es
in vec2 p; out vec2 uv;
void main() { uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5); gl_Position = vec4(p, 0.0, 1.0); }`));
gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, `#version 300 es
precision highp float; in vec2 uv; uniform sampler2D img; out vec4 color;
void main() { float v = texture(img, uv).r / 3.0; color = vec4(v, v, v, 1.0); }`));
gl.linkProgram(prog); gl.useProgram(prog);
gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
gl.enableVertexAttribArray(0); gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
gl.bindTexture(gl.TEXTURE_2D, gl.createTexture());
gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
const ws = new WebSocket(location.href.replace(/^http/, "ws").replace("/raw?", "/raw/ws?"));
ws.binaryType = "arraybuffer";
let waiting = null;
ws.onmessage = (ev) => {
  const head = new Uint32Array(ev.data, 0, 2);
  const px = new Float32Array(ev.data, 8, head[0] * head[1]);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, head[0], head[1], 0, gl.RED, gl.FLOAT, px);
  requestAnimationFrame(() => {
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    const w = waiting; waiting = null; w(performance.now());
  });
};
window.rawBench = {
  ready: new Promise((r) => { ws.onopen = r; }),
  async run(first, steps, binned) {
    const out = [];
    for (let k = 0; k < steps; k++) {
      const t0 = performance.now();
      const painted = new Promise((r) => { waiting = r; });
      ws.send(JSON.stringify({ i: first + k, binned }));
      out.push((await painted) - t0);
    }
    return out;
  },
};
</script></body></html>"""


class _RawServer:
    """The baseline: a tornado page + websocket sending slice ``i`` of the cube as raw float32
    bytes (full resolution, or binned by ``bin`` like the viewer's texels), behind a token."""

    def __init__(self, cube: xr.DataArray) -> None:
        import tornado.httpserver
        import tornado.netutil
        import tornado.web
        import tornado.websocket

        from labkit.widgets._binning import bin_mean

        values = cube.values
        token = secrets.token_urlsafe(16)
        self.bin = 1
        self._sockets: set[Any] = set()
        server = self

        class Page(tornado.web.RequestHandler):
            def get(self) -> None:
                if self.get_query_argument("token", "") != token:
                    raise tornado.web.HTTPError(403)
                self.write(RAW_PAGE)

        class Socket(tornado.websocket.WebSocketHandler):
            def prepare(self) -> None:
                if self.get_query_argument("token", "") != token:
                    raise tornado.web.HTTPError(403)

            def open(self) -> None:
                server._sockets.add(self)

            def on_close(self) -> None:
                server._sockets.discard(self)

            def on_message(self, message: str | bytes) -> None:
                req = json.loads(message)
                plane = values[int(req["i"]) % values.shape[0]]
                if req["binned"]:
                    plane = bin_mean(plane, server.bin)
                head = np.array(plane.shape[::-1], np.uint32).tobytes()
                self.write_message(head + np.ascontiguousarray(plane).tobytes(), binary=True)

        sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
        port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/raw?token={token}"
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            app = tornado.web.Application(
                [(r"/raw", Page), (r"/raw/ws", Socket)], websocket_max_message_size=1 << 20
            )
            self._http = tornado.httpserver.HTTPServer(app)
            self._http.add_sockets(sockets)
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="bench-raw-page", daemon=True)
        self._thread.start()
        started.wait(10)

    def close(self) -> None:
        async def stop() -> None:
            self._http.stop()
            for handler in list(self._sockets):  # websockets are not HTTP connections
                handler.close()
                if handler.ws_connection is not None and handler.ws_connection.stream is not None:
                    handler.ws_connection.stream.close()
            await self._http.close_all_connections()
            self._loop.stop()

        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(stop()))
        self._thread.join(10)
        self._loop.close()


def _open(pw: Any, chromium: Any, urls: list[str], ready_js: list[str]) -> list[Any]:
    """Open ``urls`` in tabs with Playwright over CDP, wait for each ``ready_js``, disconnect;
    returns a bare DevTools connection per tab."""
    from labkit.bench._chromium import DevTools
    from labkit.testing._jupyter import POLL_MS

    browser = pw.chromium.connect_over_cdp(chromium.endpoint)
    opened = []
    try:
        context = browser.contexts[0]
        for k, (url, ready) in enumerate(zip(urls, ready_js, strict=True)):
            page = context.pages[0] if k == 0 and context.pages else context.new_page()
            page.goto(url)
            page.wait_for_function(ready, timeout=180_000, polling=POLL_MS)
            opened.append(page.url.split("?")[0])
    finally:
        browser.close()  # disconnects; the pages stay open
    return [DevTools(chromium.page_ws_url(u), timeout_s=300) for u in opened]


def _call_js(fn: str, *args: Any) -> str:
    return f"({fn})({', '.join(json.dumps(a) for a in args)})"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _measure_page(pw: Any, root: Path, cube: xr.DataArray, rounds: int, steps: int) -> dict:
    """The manager page beside the raw websocket page, alternating in blocks of ``steps``."""
    from labkit.bench._chromium import Chromium
    from labkit.viewer import ManagerServer

    server = ManagerServer(register=False).start()
    raw = _RawServer(cube)
    chromium = Chromium(root / "page.profile")
    tabs: list[Any] = []
    try:
        window = server.windows.add(cube, "cube")
        uid = window.uid
        painted = f"() => ((window.labkit_viewers || {{}})[{uid!r}] || {{}}).painted > 0"
        tabs = _open(pw, chromium, [server.url, raw.url], [painted, "() => !!window.rawBench"])
        viewer, raw_tab = tabs
        raw_tab.evaluate("window.rawBench.ready")
        out: dict[str, list[float]] = {
            "viewer": [],
            "receive": [],
            "kernel": [],
            "raw_full": [],
            "raw_binned": [],
        }
        for r in range(rounds + 1):  # round 0 warms up (JIT, caches, first textures)
            viewer.call("Page.bringToFront")
            got = viewer.evaluate(_call_js(SLIDER_JS, uid, steps))
            raw.bin = int(got["bin"])
            raw_tab.call("Page.bringToFront")
            full = raw_tab.evaluate(f"window.rawBench.run({r * steps}, {steps}, false)")
            binned = raw_tab.evaluate(f"window.rawBench.run({r * steps}, {steps}, true)")
            if r:
                out["viewer"] += got["paint"]
                out["receive"] += got["receive"]
                out["kernel"] += got["kernel"]
                out["raw_full"] += full
                out["raw_binned"] += binned
        return {**out, "bin": got["bin"], "texels": got["texels"]}
    finally:
        for tab in tabs:
            tab.close()
        chromium.close()
        raw.close()
        server.stop()


LAB_CELL = """from labkit.bench._viewer import make_cube
from labkit.viewer import ViewerWindow
w = ViewerWindow(make_cube({n_energy}, {n}))
w"""


def _measure_lab(pw: Any, root: Path, n_energy: int, n: int, rounds: int, steps: int) -> dict:
    """The same window as a notebook widget in JupyterLab (the kernel makes the cube)."""
    from labkit.bench._chromium import Chromium
    from labkit.testing._jupyter import POLL_MS, run_all_cells, write_notebook
    from labkit.testing._servers import LabServer

    lab = LabServer(root / "lab")
    lab.root.mkdir(parents=True, exist_ok=True)
    write_notebook(lab.root / "viewer.ipynb", [LAB_CELL.format(n_energy=n_energy, n=n)])
    lab.start(timeout_s=120)
    chromium = Chromium(root / "lab.profile")
    tabs: list[Any] = []
    try:
        browser = pw.chromium.connect_over_cdp(chromium.endpoint)
        try:
            page = browser.contexts[0].pages[0]
            page.goto(lab.notebook_url("viewer.ipynb"))
            run_all_cells(page, timeout_s=300)
            page.wait_for_function(
                "() => Object.values(window.labkit_viewers || {}).some((s) => s.painted > 0)",
                timeout=180_000,
                polling=POLL_MS,
            )
            url = page.url.split("?")[0]
        finally:
            browser.close()
        from labkit.bench._chromium import DevTools

        tab = DevTools(chromium.page_ws_url(url), timeout_s=300)
        tabs.append(tab)
        uid = tab.evaluate("Object.keys(window.labkit_viewers)[0]")
        out: dict[str, list[float]] = {"viewer": [], "receive": [], "kernel": []}
        for r in range(rounds + 1):
            got = tab.evaluate(_call_js(SLIDER_JS, uid, steps))
            if r:
                out["viewer"] += got["paint"]
                out["receive"] += got["receive"]
                out["kernel"] += got["kernel"]
        return out
    finally:
        for tab in tabs:
            tab.close()
        chromium.close()
        lab.shutdown_kernels()
        lab.stop()


def _split(measured: dict) -> str:
    """Where the time went (p50s): kernel work, the rest until the slice arrived, then paint."""
    kernel = statistics.median(measured["kernel"])
    receive = statistics.median(measured["receive"])
    paint = statistics.median(measured["viewer"])
    return (
        f"p50 kernel {kernel:.1f} ms, input → slice received {receive:.1f} ms "
        f"(transport and page {receive - kernel:.1f}), received → painted {paint - receive:.1f}"
    )


def run(quick: bool = False) -> list[BenchResult]:
    """Measure the slider → repaint latency (about 2 min; quick about 1 min)."""
    from playwright.sync_api import sync_playwright

    n_energy, n = (40, 2048) if quick else (200, 2048)
    rounds, steps = (2, 8) if quick else (4, 15)
    shape = f"{n}×{n}×{n_energy} float32"
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="labkit-bench-viewer-") as tmp, sync_playwright() as pw:
        root = Path(tmp)
        t0 = time.perf_counter()
        cube = make_cube(n_energy, n)
        log.info("cube %s made in %.1f s", shape, time.perf_counter() - t0)
        page = _measure_page(pw, root, cube, rounds, steps)
        del cube
        lab = _measure_lab(pw, root, n_energy, n, rounds, steps)
    full_p50 = statistics.median(page["raw_full"])
    binned_p50 = statistics.median(page["raw_binned"])
    tw, th = page["texels"]
    base_full = "raw websocket: the full 2048² float32 slice (16 MB) → R32F texture → paint"
    base_binned = f"raw websocket: the same {tw}×{th} float32 texels → R32F texture → paint"
    note = f"{shape}; the viewer gets {tw}×{th} texels (bin {page['bin']}) for a 420 px canvas"
    results += [
        BenchResult("viewer page slider → repaint p50", statistics.median(page["viewer"]), "ms",
                    base_full, full_p50, higher_is_better=False, goal=50.0, goal_kind="value",
                    note=f"{note}; {_split(page)}"),
        BenchResult("viewer page slider → repaint p95", _p(page["viewer"], 0.95), "ms",
                    base_full, _p(page["raw_full"], 0.95), higher_is_better=False),
        BenchResult("viewer page slider → repaint p50 vs the same bytes raw",
                    statistics.median(page["viewer"]), "ms", base_binned, binned_p50,
                    higher_is_better=False, note="labkit's own work over the transport floor"),
        BenchResult("viewer page bytes per slice", tw * th * 4 / 1e6, "MB", "full slice",
                    n * n * 4 / 1e6, higher_is_better=False),
        BenchResult("viewer jupyterlab slider → repaint p50", statistics.median(lab["viewer"]), "ms",
                    base_full, full_p50, higher_is_better=False, goal=50.0, goal_kind="value",
                    note=f"ViewerWindow over the Jupyter comm; {_split(lab)}"),
        BenchResult("viewer jupyterlab slider → repaint p95", _p(lab["viewer"], 0.95), "ms",
                    base_full, _p(page["raw_full"], 0.95), higher_is_better=False),
    ]  # fmt: skip
    return results
