"""``labkit bench live``: painted fps and camera→paint latency of the LiveView in headless Chromium.

A simulated 2048² uint16 camera at 100 fps (engine in a child process, so the kernel's CPU is the
widget's) feeds a ~640×640 LiveView in a real Voila page and a real JupyterLab; beside it, in the
same run and page setup, a naive anywidget (:class:`NaiveView`) sends every full raw frame with
the same ack window (2 in flight) and paints it with the same WebGL2 ``R16UI`` texture upload.
Reported: painted fps (goal ≥ 55 Voila / ≥ 45 JupyterLab and ≥ 3× naive), the whole demo dashboard's
painted fps in Voila (its 1024² camera at 100 fps) beside that camera's bare view (goal ≥ 55),
latency p50/p95 (goal
p50 ≤ 40 ms), and kernel CPU per frame sent; then the LiveView alone under ``marimo run`` (goal
≥ 30 fps).

Send cap: the LiveView paces its sends to the paint rate the page reports. Beside it, in the same
run, the same LiveView with ``pace_to_paint=False`` (sends whenever it has credit: the behaviour
before the cap) gives the "before" figures: frames sent per painted frame, painted fps, latency
p50/p95 and kernel CPU seconds per second.

Each page gets a fresh Chromium: Playwright (over CDP) opens it and runs the cells, then
disconnects; the counters are sampled over a bare DevTools connection (:class:`DevTools`), since
an attached Playwright copies every WebSocket frame to its driver and costs the page's machine
about half a core.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from labkit.bench._chromium import Chromium, DevTools
from labkit.bench._report import BenchResult, progress
from labkit.widgets._transport import CreditWindow

__all__ = ["NaiveView", "bench_dashboard", "bench_widget", "mirror_state", "run"]

log = logging.getLogger(__name__)


NAIVE_ESM = r"""
const VERT = `#version 300 es
in vec2 p; out vec2 uv;
void main() { uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5); gl_Position = vec4(p, 0.0, 1.0); }`;
const FRAG = `#version 300 es
precision highp float; precision highp usampler2D;
in vec2 uv; uniform usampler2D img; out vec4 color;
void main() { float v = float(texture(img, uv).r) / 4095.0; color = vec4(v, v, v, 1.0); }`;
function quantile(a, q) { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]; }
function render({ model, el }) {
  const id = model.get("view_id");
  const canvas = document.createElement("canvas");
  const dpr = window.devicePixelRatio || 1;
  canvas.width = 640 * dpr; canvas.height = 640 * dpr;
  canvas.style.width = "640px"; canvas.style.height = "640px";
  el.append(canvas);
  const gl = canvas.getContext("webgl2");
  const sh = (t, s) => { const x = gl.createShader(t); gl.shaderSource(x, s); gl.compileShader(x); return x; };
  const prog = gl.createProgram();
  gl.attachShader(prog, sh(gl.VERTEX_SHADER, VERT)); gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, FRAG));
  gl.linkProgram(prog); gl.useProgram(prog);
  gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  gl.enableVertexAttribArray(0); gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
  const tex = gl.createTexture(); gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  const stats = { view_id: id, renderer: "naive-webgl2", received: 0, painted: 0,
                  latency_ms_p50: NaN, latency_ms_p95: NaN };
  window.labkit = window.labkit || { views: {} };
  window.labkit.views[id] = stats;
  const lat = [];
  let pending = null, raf = 0;
  function paint() {
    raf = 0; const p = pending; pending = null; if (!p) return;
    const b = p.buf;
    const px = b.byteOffset % 2 === 0 ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2)
      : new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16UI, p.msg.w, p.msg.h, 0, gl.RED_INTEGER, gl.UNSIGNED_SHORT, px);
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    stats.painted++;
    lat.push(Date.now() - p.msg.timestamp_s * 1000); if (lat.length > 240) lat.shift();
    stats.latency_ms_p50 = quantile(lat, 0.5); stats.latency_ms_p95 = quantile(lat, 0.95);
  }
  model.on("msg:custom", (msg, buffers) => {
    model.send({ type: "ack", seq: msg.seq });
    stats.received++;
    pending = { msg, buf: buffers[0] };
    if (!raf) raf = requestAnimationFrame(paint);
  });
  model.send({ type: "ready" });
  return () => { delete window.labkit.views[id]; };
}
export default { render };
"""


class NaiveView(anywidget.AnyWidget):
    """Baseline: sends every newest full raw frame (no binning) with the LiveView's ack window."""

    _esm = NAIVE_ESM
    view_id = traitlets.Unicode("naive").tag(sync=True)

    def __init__(self, reader: Any, max_in_flight: int = 2, **kw: Any) -> None:
        super().__init__(**kw)
        self._reader = reader
        self._credit = CreditWindow(max_in_flight, 1.5)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_sent = 0
        self.kernel_ms: list[float] = []
        self.on_msg(self._on_custom)

    def _on_custom(self, _w: Any, content: dict, _buffers: list) -> None:
        if content.get("type") == "ack":
            self._credit.ack(int(content["seq"]))
            self._wake.set()
        elif content.get("type") == "ready" and self._thread is None:
            self._thread = threading.Thread(target=self._pump, name="naive-pump", daemon=True)
            self._thread.start()

    def _pump(self) -> None:
        last = -1
        while not self._stop.is_set():
            if not self._credit.has_credit():
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            if self._reader.lag == 0 and last >= 0:
                self._reader.wait(0.02)
                continue
            cpu0 = time.thread_time()
            frame = self._reader.latest(copy=True)
            if frame is None or frame.index == last:
                continue
            seq = self._credit.acquire()
            h, w = frame.data.shape
            meta = {
                "type": "frame",
                "seq": seq,
                "w": w,
                "h": h,
                "index": frame.index,
                "timestamp_s": frame.timestamp_s,
            }
            self.send(meta, buffers=[memoryview(frame.data)])
            last = frame.index
            self.frames_sent += 1
            self.kernel_ms.append(1e3 * (time.thread_time() - cpu0))

    @property
    def stats(self) -> dict:
        ms = sorted(self.kernel_ms[-200:])
        return {
            "frames_sent": self.frames_sent,
            "kernel_ms_per_frame": ms[len(ms) // 2] if ms else float("nan"),
        }

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._reader.close()
        super().close()


def _bench_scope(size: int = 2048) -> Any:
    """A ``size``² uint16 sim camera at 100 fps, its engine in a child process, started."""
    from labkit.engine import Scope

    scope = Scope(mode="process", shape=(size, size))
    scope.camera.frame_rate_hz = 100
    scope.camera.exposure_ms = 5
    scope.start()
    return scope


def bench_widget(kind: str, width_px: int = 640) -> tuple[Any, Any]:
    """In the kernel: a 2048² uint16 sim camera at 100 fps (engine in a child process) and the
    widget under test (``"live"``: LiveView; ``"uncapped"``: LiveView with ``pace_to_paint=False``;
    ``"naive"``: NaiveView). Returns (widget, scope)."""
    from labkit.widgets import LiveView

    scope = _bench_scope()
    if kind in ("live", "uncapped"):
        view = LiveView(
            scope,
            width_px=width_px,
            encoding=os.environ.get("LABKIT_BENCH_ENCODING", "auto"),
            pace_to_paint=kind == "live",
            paint_headroom=float(os.environ.get("LABKIT_BENCH_PAINT_HEADROOM", "1.0")),
        )
        if "LABKIT_BENCH_PACE_BURST" in os.environ:  # experiments with the token bucket
            view._pacer.burst = float(os.environ["LABKIT_BENCH_PACE_BURST"])
        return view, scope
    return NaiveView(scope.open_reader(name="naive")), scope


def bench_dashboard(bare: bool = False) -> tuple[Any, Any, Any]:
    """In the kernel: the ``labkit demo`` dashboard (live view, device panels, spool panel,
    signal traces) of the demo's 1024² camera at 100 fps; ``bare``: that camera's LiveView alone
    at the page's width, the baseline. Returns (live view, scope, what to show)."""
    from labkit.widgets import LiveView

    scope = _bench_scope(1024)
    if bare:
        view = LiveView(scope)
        return view, scope, view
    dash = scope.dashboard(title="bench")
    return dash.live, scope, dash


def _dashboard_result(dash: dict, bare: dict) -> BenchResult:
    return BenchResult(
        "live voila demo dashboard painted fps", dash["painted_fps"], "fps",
        "that camera's bare LiveView at the page's width, same run", bare["painted_fps"],
        goal=55.0, goal_kind="value",
        note=f"1024² camera at 100 fps; whole dashboard: live view, 3 device panels, spool panel, "
             f"signal trace plot (canvas); encoding {dash['encoding']} (bare "
             f"{bare['encoding']}), latency p50 {dash['latency_ms_p50']} ms",
    )  # fmt: skip


def mirror_state(widget: Any, scope: Any, path: str, owner: Any = None) -> None:
    """In the kernel: write the widget's stats (+ pid) to ``path`` every 0.2 s; a ``path + '.stop'``
    file closes the widget (or its ``owner``, e.g. the dashboard holding it) and the scope (so
    the sim engine process ends with the measurement)."""

    def run() -> None:
        while True:
            if os.path.exists(path + ".stop"):
                (owner or widget).close()
                scope.close()
                Path(path + ".stopped").write_text("1")
                return
            state = {"pid": os.getpid(), "stats": widget.stats, "t": time.time()}
            Path(path + ".tmp").write_text(json.dumps(state, default=str))
            os.replace(path + ".tmp", path)
            time.sleep(0.2)

    threading.Thread(target=run, name="bench-mirror", daemon=True).start()


_VIEWS_JS = "JSON.parse(JSON.stringify(window.labkit ? window.labkit.views : {}))"


def _views(page: Any) -> dict:
    return page.evaluate(f"() => {_VIEWS_JS}")


def _measure(pw: Any, url: str, lab: bool, state_path: Path, quick: bool) -> dict:
    """Open ``url`` in a fresh Chromium, wait for the first paint, detach Playwright, then
    sample the page's counters and the kernel's stats over a bare DevTools connection."""
    import psutil

    from labkit.testing._jupyter import POLL_MS

    chromium = Chromium(state_path.with_name(state_path.name + ".profile"))
    devtools: DevTools | None = None
    try:
        browser = pw.chromium.connect_over_cdp(chromium.endpoint)
        try:
            context = browser.contexts[0]
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url)
            progress(f"page loaded: {url.split('?')[0]}")
            if lab:
                from labkit.testing._jupyter import run_all_cells

                run_all_cells(page, timeout_s=120)
            try:
                page.wait_for_function(
                    "() => window.labkit && "
                    "Object.values(window.labkit.views).some(v => v.painted >= 1)",
                    timeout=120_000,
                    polling=POLL_MS,
                )
            except Exception as exc:  # what the page shows says why (kernel error, no frames)
                from labkit.testing._jupyter import page_report

                views = page.evaluate("() => window.labkit ? window.labkit.views : null")
                exc.add_note(f"no view painted; views: {views}; {page_report(page)}")
                raise
            page_url = page.url
            progress("first frame painted")
        finally:
            browser.close()  # disconnects; the page (not made by this connection) stays open
        devtools = DevTools(chromium.page_ws_url(page_url.split("?")[0]))
        time.sleep(1.0 if quick else 3.0)  # warm up: encoding choice, JIT, caches

        def sample() -> tuple[float, dict, dict, float]:
            state = json.loads(state_path.read_text())
            cpu = psutil.Process(state["pid"]).cpu_times()
            views = devtools.evaluate(_VIEWS_JS)
            return time.monotonic(), views, state, cpu.user + cpu.system

        t0, all0, k0, c0 = sample()
        time.sleep(2.0 if quick else 8.0)
        t1, all1, k1, c1 = sample()
        v0, v1 = next(iter(all0.values())), next(iter(all1.values()))
    finally:
        if devtools is not None:
            devtools.close()
        chromium.close()
    dt = t1 - t0
    sent = k1["stats"]["frames_sent"] - k0["stats"]["frames_sent"]
    painted = v1["painted"] - v0["painted"]
    out = {
        # every view of the page (a dashboard of several cameras), in page order
        "painted_fps_each": [
            (all1[k]["painted"] - all0[k]["painted"]) / dt for k in all1 if k in all0
        ],
        "sent_per_painted": sent / painted if painted else float("nan"),
        "kernel_cpu_s_per_s": (c1 - c0) / dt,
        "send_cap_fps": k1["stats"].get("send_cap_fps"),
        "frame_age_at_send_ms_p50": k1["stats"].get("frame_age_at_send_ms_p50"),
        "paint_wait_target_ms": k1["stats"].get("paint_wait_target_ms"),
        "paint_rate_fps": v1.get("paint_rate_fps"),
        "painted_fps": painted / dt,
        "received_fps": (v1["received"] - v0["received"]) / dt,
        "latency_ms_p50": v1["latency_ms_p50"],
        "latency_ms_p95": v1["latency_ms_p95"],
        "kernel_cpu_ms_per_frame": 1e3 * (c1 - c0) / sent if sent else float("nan"),
        "pump_ms_per_frame": k1["stats"].get("kernel_ms_per_frame", float("nan")),
        "encoding": v1.get("encoding", "raw16"),
        "renderer": v1.get("renderer", "?"),
        "transit_ms_p50": v1.get("transit_ms_p50", float("nan")),
        "paint_ms_p50": v1.get("paint_ms_p50", float("nan")),
    }
    state_path.with_name(state_path.name + ".stop").write_text("1")
    deadline = time.monotonic() + 15
    while (
        not state_path.with_name(state_path.name + ".stopped").exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    return out


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.1f}"


def _cap_results(frontend: str, live: dict, uncapped: dict) -> list[BenchResult]:
    """The send cap against the same LiveView sending whenever it has credit (before the cap)."""
    base = "same LiveView, no send cap (credit only)"
    cap = f"send cap {live.get('send_cap_fps')} fps, page paints at {live.get('paint_rate_fps')}"
    return [
        BenchResult(f"live {frontend} capped: frames sent per painted frame", live["sent_per_painted"],
                    "ratio", base, uncapped["sent_per_painted"], higher_is_better=False, note=cap),
        BenchResult(f"live {frontend} capped: painted fps", live["painted_fps"], "fps", base,
                    uncapped["painted_fps"]),
        BenchResult(f"live {frontend} capped: latency p50", live["latency_ms_p50"], "ms", base,
                    uncapped["latency_ms_p50"], higher_is_better=False,
                    note=f"frame age at send p50 {_ms(live.get('frame_age_at_send_ms_p50'))} ms "
                    f"(uncapped {_ms(uncapped.get('frame_age_at_send_ms_p50'))}), transit p50 "
                    f"{live.get('transit_ms_p50')} ms ({uncapped.get('transit_ms_p50')}), "
                    f"phase lock aims {live.get('paint_wait_target_ms')} ms before the paint"),
        BenchResult(f"live {frontend} capped: latency p95", live["latency_ms_p95"], "ms", base,
                    uncapped["latency_ms_p95"], higher_is_better=False),
        BenchResult(f"live {frontend} capped: kernel CPU", live["kernel_cpu_s_per_s"], "s/s", base,
                    uncapped["kernel_cpu_s_per_s"], higher_is_better=False,
                    note="CPU seconds of the kernel process per second (pump + comm)"),
    ]  # fmt: skip


def _results(frontend: str, live: dict, naive: dict, fps_goal: float) -> list[BenchResult]:
    base = "naive anywidget, full raw frames, same ack window"
    enc = f"LiveView encoding {live['encoding']}, renderer {live.get('renderer', '?')}"
    return [
        BenchResult(f"live {frontend} painted fps", live["painted_fps"], "fps", base, naive["painted_fps"],
                    goal=3.0, goal_kind="ratio", note=enc),
        BenchResult(f"live {frontend} painted fps (absolute)", live["painted_fps"], "fps", base, naive["painted_fps"],
                    goal=fps_goal, goal_kind="value", note="rAF caps at 60 in headless Chromium"),
        BenchResult(f"live {frontend} received fps", live["received_fps"], "fps", base, naive["received_fps"]),
        BenchResult(f"live {frontend} camera->paint latency p50", live["latency_ms_p50"], "ms", base,
                    naive["latency_ms_p50"], higher_is_better=False, goal=40.0, goal_kind="value",
            note=f"kernel->browser transit p50 {live['transit_ms_p50']} ms, paint {live['paint_ms_p50']} ms"),
        BenchResult(f"live {frontend} camera->paint latency p95", live["latency_ms_p95"], "ms", base,
                    naive["latency_ms_p95"], higher_is_better=False),
        BenchResult(f"live {frontend} kernel CPU per frame sent", live["kernel_cpu_ms_per_frame"], "ms", base,
                    naive["kernel_cpu_ms_per_frame"], higher_is_better=False,
                    note=f"pump thread {live['pump_ms_per_frame']:.2f} ms/frame (bin + encode)"),
    ]  # fmt: skip


def run(quick: bool = False) -> list[BenchResult]:
    """Measure LiveView vs the naive widget and vs itself without the send cap, in Voila and
    JupyterLab, then in marimo (about 3 min; quick ~2 min)."""
    from playwright.sync_api import sync_playwright

    from labkit.testing._jupyter import write_notebook
    from labkit.testing._servers import LabServer, VoilaServer

    # LABKIT_BENCH_LIVE_FRONTENDS=voila,jupyterlab,marimo (the default) picks the front ends
    wanted = os.environ.get("LABKIT_BENCH_LIVE_FRONTENDS", "voila,jupyterlab,marimo").split(",")
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="labkit-bench-live-") as tmp, sync_playwright() as pw:
        root = Path(tmp)
        for frontend, server_cls, goal in (
            ("voila", VoilaServer, 55.0),
            ("jupyterlab", LabServer, 45.0),
        ):
            if frontend not in wanted:
                continue
            server = server_cls(root / frontend)
            server.root.mkdir(parents=True, exist_ok=True)
            server.start(timeout_s=120)
            try:
                measured = {}
                kinds: tuple[str, ...] = ("live", "uncapped", "naive")
                if frontend == "voila":
                    kinds += ("dashboard", "dashboard_bare")
                for kind in kinds:
                    state = server.root / f"{kind}.state.json"
                    make = (
                        f"w, scope, shown = bench_dashboard({kind == 'dashboard_bare'})\n"
                        f"mirror_state(w, scope, {str(state)!r}, owner=shown)\n"
                        if kind.startswith("dashboard")
                        else f"w, scope = bench_widget({kind!r})\nshown = w\n"
                        f"mirror_state(w, scope, {str(state)!r})\n"
                    )
                    write_notebook(
                        server.root / f"{kind}.ipynb",
                        [
                            "from labkit.bench._live import bench_dashboard, bench_widget, mirror_state\n"
                            + make
                            + "shown"
                        ],
                    )
                    lab = frontend == "jupyterlab"
                    url = (
                        server.notebook_url(f"{kind}.ipynb")  # type: ignore[union-attr]
                        if lab
                        else server.render_url(f"{kind}.ipynb")  # type: ignore[union-attr]
                    )
                    try:
                        measured[kind] = _measure(pw, url, lab, state, quick)
                    finally:
                        server.shutdown_kernels()
                results += _results(frontend, measured["live"], measured["naive"], goal)
                if "dashboard" in measured:
                    results.append(
                        _dashboard_result(measured["dashboard"], measured["dashboard_bare"])
                    )
                results += _cap_results(frontend, measured["live"], measured["uncapped"])
            finally:
                server.stop()
        if "marimo" in wanted:
            results += _marimo(pw, root / "marimo", quick)
    return results


MARIMO_APP = """import marimo

app = marimo.App()


@app.cell
def _():
    from labkit.bench._live import bench_widget, mirror_state

    w, scope = bench_widget("live")
    mirror_state(w, scope, {state!r})
    w
    return


if __name__ == "__main__":
    app.run()
"""


def _marimo(pw: Any, root: Path, quick: bool) -> list[BenchResult]:
    """LiveView under ``marimo run`` (buffers travel as base64 there, so auto starts with JPEG)."""
    from labkit.testing._servers import marimo_run

    root.mkdir(parents=True, exist_ok=True)
    state = root / "live.state.json"
    app = root / "live_app.py"
    app.write_text(MARIMO_APP.format(state=str(state)))
    try:
        with marimo_run(app, root / "marimo.log") as url:
            live = _measure(pw, url, False, state, quick)
    except Exception as exc:  # noqa: BLE001 - report the other figures even if marimo fails here
        log.warning("marimo live benchmark failed: %s", exc)
        return []
    note = f"LiveView encoding {live['encoding']}; marimo sends buffers as base64"
    return [
        BenchResult("live marimo painted fps", live["painted_fps"], "fps", goal=30.0, goal_kind="value", note=note),
        BenchResult("live marimo camera->paint latency p50", live["latency_ms_p50"], "ms", higher_is_better=False),
        BenchResult("live marimo kernel CPU per frame sent", live["kernel_cpu_ms_per_frame"], "ms",
                    higher_is_better=False, note="marimo runs the kernel in its server process"),
    ]  # fmt: skip
