// The LiveView front end: receives binned frames over custom messages (credit-based: acks on
// receipt), paints the newest on requestAnimationFrame, and does contrast / colormap / zoom / pan /
// histogram / ROI / profiles locally. Counters live on window.labkit.views[view_id].
import { COLORMAP_NAMES } from "../render/colormaps";
import { type Contrast, sanitizeContrast } from "../render/contrast";
import { autoLimits, computeHistogram, dataRange } from "../render/histogram";
import { createImageRenderer, softwareWebGL } from "../render/image_renderer";
import {
  canvasToImage,
  fitView,
  imageToTexel,
  panBy,
  type Placement,
  profileAcross,
  roiFromDrag,
  type View,
  viewportReport,
  zoomAt,
} from "../render/viewport";
import { createHistogramView } from "./histogram_view";
import { drawProfile } from "./profiles_view";
import { type FrameMsg, type KernelMsg, rawPixels } from "./protocol";
import { paintOverlay, validMarks } from "./overlay";
import { newStats, RateMeter, statsLine, type ViewStats, Window } from "./stats";
import { PaintRateEstimator, vsyncIn } from "./paint_rate";
import { decodeJpegBitmap, pixelsOf, type Received, release } from "./decode";
import { buildDom } from "./dom";
import { imageBox, PROFILE_STRIP_W, visibleHeight } from "./layout";

import { type Model, sendIfConnected } from "../render/model";
export type { Model };

declare global {
  interface Window {
    labkit?: { views: Record<string, ViewStats> };
  }
}

export function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const modelId: string = model.get("view_id") || Math.random().toString(36).slice(2);
  // the same widget displayed twice gets two entries: <view_id>, <view_id>-2, ...
  let viewId = modelId;
  for (let n = 2; window.labkit?.views[viewId]; n++) viewId = `${modelId}-${n}`;
  const stats = newStats(viewId);
  window.labkit = window.labkit ?? { views: {} };
  window.labkit.views[viewId] = stats;

  // ---- DOM ----
  const {
    root, style, bar, cmapSel, autoBtn, gamma, roiBtn, pickBtn, clearBtn, fitBtn, snapBtn, grid, stage,
    canvas, overlay, vprof, hprof, info, readout, statsEl, status,
  } = buildDom();

  let contrast: Contrast = { lo: 0, hi: 1, gamma: 1 };
  let contrastSet = false;
  let commitTimer = 0;
  const hv = createHistogramView(
    (lo, hi) => applyContrast({ ...contrast, lo, hi }, false),
    (lo, hi) => applyContrast({ ...contrast, lo, hi }, true),
  );
  root.append(style, bar, grid, hv.canvas, info, status);
  host.append(root);
  // fill the cell we are given: ipywidgets boxes and output areas shrink-wrap their children,
  // which would size the image from its own previous size. A class, not an inline style: the
  // ipywidgets layout of the view removes inline styles it does not set.
  host.classList.add("lk-live-host");
  host.style.width = "100%";

  // Canvas2D when WebGL2 is CPU-emulated (headless / GPU-less: cheaper there, see RendererOptions).
  // Set before the widget renders: window.labkitForceCanvas2D = true forces the fallback,
  // window.labkitForceWebGL = true keeps WebGL2 even when it is emulated.
  const renderer = createImageRenderer(canvas, {
    forceCanvas2D: Boolean((window as any).labkitForceCanvas2D),
    canvas2DOnSoftwareGL: !(window as any).labkitForceWebGL,
  });
  stats.renderer = renderer.kind;
  stats.software_gl = softwareWebGL() ?? "";

  // ---- state ----
  let fullW = 0;
  let fullH = 0;
  let view: View | null = null; // null: fit
  let current: Received | null = null;
  // frames received and not painted yet, oldest first: two may arrive within one display frame
  // (arrival jitter of the page and the server), and the second then paints in the next display
  // frame instead of replacing the first, which would leave that next display frame without one
  const pending: Received[] = [];
  const MAX_PENDING = 2;
  let lastSeqShown = -1;
  let rafId = 0;
  let needDraw = false;
  let needOverlay = false;
  let histAt = 0;
  let crosshair: [number, number] | null = null;
  let roiTool = false;
  let drag: { kind: "pan" | "roi"; x0: number; y0: number; ix: number; iy: number; moved: boolean } | null = null;
  let roiDraft: [number, number, number, number] | null = null;
  const latency = new Window(240);
  const transit = new Window(240);
  const paintMs = new Window(120);
  const decodeMs = new Window(120);
  const recvRate = new RateMeter(performance.now());
  const paintRate = new RateMeter(performance.now());
  // how often this page really paints (rAF rate while frames flow): the kernel paces sends to it
  const paintClock = new PaintRateEstimator();
  let lastFrameAt = -Infinity;
  let lastRafAt = NaN; // timestamp of the last rAF callback of the running loop
  let destroyed = false;

  function send(content: Record<string, unknown>) {
    const t = String(content.type);
    if (sendIfConnected(model, content)) stats.messages_to_kernel[t] = (stats.messages_to_kernel[t] ?? 0) + 1;
  }

  // ---- sizing ----
  // the image takes the width the page gives the widget (capped at width_px when set), no more
  // height than the window shows; the profile strips take room only while there is a profile
  let laidOut = "";
  function layout() {
    const avail = host.clientWidth > 0 ? host.clientWidth : 640;
    const box = imageBox(avail, visibleHeight(host), fullW, fullH, model.get("width_px") || 0, crosshair !== null);
    const { w, h } = box;
    const dpr = window.devicePixelRatio || 1;
    const key = `${w}x${h}@${dpr}:${box.profiles}`;
    if (key === laidOut) {
      scheduleViewport(); // deduplicated: sends only when the view changed
      return; // ResizeObserver also fires for changes that do not move us
    }
    laidOut = key;
    stats.image_css = [w, h];
    stage.style.width = `${w}px`;
    stage.style.height = `${h}px`;
    grid.classList.toggle("lk-noprof", !box.profiles);
    grid.style.gridTemplateColumns = box.profiles ? `${w}px 64px` : `${w}px`;
    // explicit rows: the profile canvases size their pixels from their box, so an "auto" row would
    // keep the height of an earlier, larger layout forever
    grid.style.gridTemplateRows = box.profiles ? `${h}px 56px` : `${h}px`;
    hv.canvas.style.width = `${w + (box.profiles ? PROFILE_STRIP_W : 0)}px`;
    for (const c of [canvas, overlay]) {
      const dw = Math.round(w * dpr);
      const dh = Math.round(h * dpr);
      if (c.width !== dw || c.height !== dh) {
        c.width = dw;
        c.height = dh;
      }
    }
    scheduleViewport();
    requestDraw(true);
    hv.draw();
  }
  const effView = (): View => view ?? fitView(fullW || 1, fullH || 1, canvas.width, canvas.height);

  // ---- viewport reports (the kernel bins to what is shown) ----
  let vpTimer = 0;
  let lastVp = "";
  function scheduleViewport() {
    if (vpTimer) return;
    vpTimer = window.setTimeout(() => {
      vpTimer = 0;
      if (!fullW || destroyed) return;
      const msg = viewportReport(effView(), canvas.width, canvas.height, fullW, fullH);
      const key = JSON.stringify(msg);
      if (key !== lastVp) {
        lastVp = key;
        send(msg);
      }
    }, 40);
  }

  // ---- contrast ----
  function applyContrast(c: Contrast, commit: boolean) {
    contrast = sanitizeContrast(c.lo, c.hi, c.gamma);
    contrastSet = true;
    renderer.setContrast(contrast.lo, contrast.hi, contrast.gamma);
    hv.setContrast(contrast);
    gamma.value = String(Math.log10(contrast.gamma));
    requestDraw(false);
    hv.draw();
    // the kernel never re-renders for a contrast change; it only learns the final value, once
    if (commit) {
      window.clearTimeout(commitTimer);
      commitTimer = window.setTimeout(() => {
        model.set("contrast", [contrast.lo, contrast.hi, contrast.gamma]);
        model.save_changes();
      }, 250);
    }
  }
  function contrastFromModel() {
    const c = model.get("contrast");
    if (Array.isArray(c) && c.length >= 2) {
      const next = sanitizeContrast(+c[0], +c[1], c.length > 2 ? +c[2] : 1);
      if (next.lo !== contrast.lo || next.hi !== contrast.hi || next.gamma !== contrast.gamma) applyContrast(next, false);
    }
  }
  function autoContrast(commit: boolean) {
    if (!current) return;
    const [lo, hi] = autoLimits(pixelsOf(current));
    applyContrast({ ...contrast, lo: lo * current.vs.scale + current.vs.offset, hi: hi * current.vs.scale + current.vs.offset }, commit);
  }

  // ---- frames ----
  function onFrame(msg: FrameMsg, buffers: DataView[]) {
    const now = performance.now();
    // ack on receipt; with the time until this frame can be painted (the next rAF, or a later
    // one when frames wait ahead of it), so the kernel can time its paced sends to land shortly
    // before a display frame, not on its edge and not a display frame early
    // (a frame queued behind another paints a display frame later per frame ahead of it)
    const vsyncInMs = vsyncIn(paintClock.intervalMs, lastRafAt, now) + pending.length * paintClock.intervalMs;
    send(Number.isNaN(vsyncInMs) ? { type: "ack", seq: msg.seq } : { type: "ack", seq: msg.seq, vsync_in_ms: vsyncInMs });
    lastFrameAt = now;
    if (!rafId) rafId = requestAnimationFrame(paint); // (re)start the rAF loop that measures
    stats.received++;
    stats.send_cap_fps = msg.send_cap_fps ?? NaN;
    recvRate.tick();
    stats.bytes_received += buffers[0]?.byteLength ?? 0;
    transit.push(Date.now() - msg.sent_s * 1000);
    // frames the display skipped on purpose (the kernel sent a newer one): not lost, the ring has them
    if (stats.last_index >= 0 && msg.index > stats.last_index + 1) stats.skipped += msg.index - stats.last_index - 1;
    stats.last_index = Math.max(stats.last_index, msg.index);
    stats.encoding = msg.encoding;
    stats.bin = msg.bin;
    const vs = { scale: msg.scale, offset: msg.offset };
    if (msg.encoding === "jpeg") {
      decodeJpegBitmap(buffers[0]).then(
        (bitmap) => {
          decodeMs.push(performance.now() - now);
          accept({ msg, data: null, bitmap, vs, receivedAt: now });
        },
        (err) => showStatus("error", `JPEG decode failed: ${err}`),
      );
    } else {
      accept({ msg, data: rawPixels(buffers[0], msg.encoding, msg.w * msg.h), bitmap: null, vs, receivedAt: now });
    }
  }
  function accept(r: Received) {
    const newest = pending[pending.length - 1];
    if (destroyed || r.msg.seq < lastSeqShown || (newest && r.msg.seq < newest.msg.seq)) {
      release(r);
      return;
    }
    if (pending.length >= MAX_PENDING) {
      release(pending.shift() ?? null);
      stats.replaced++;
      stats.skipped++;
    }
    pending.push(r);
    requestDraw(false);
  }

  function requestDraw(overlayToo: boolean) {
    needDraw = true;
    if (overlayToo) needOverlay = true;
    if (!rafId && !destroyed) rafId = requestAnimationFrame(paint);
  }

  function paint(t: number) {
    rafId = 0;
    if (destroyed) return;
    // while frames flow, keep one rAF callback per display frame: their spacing is the paint rate
    if (performance.now() - lastFrameAt < 1000) {
      paintClock.tick(t);
      lastRafAt = t;
      rafId = requestAnimationFrame(paint);
      if (paintClock.shouldReport()) {
        stats.paint_rate_fps = +paintClock.fps.toFixed(2);
        send({ type: "paint_rate", view: viewId, fps: stats.paint_rate_fps });
      }
    } else {
      paintClock.pause(); // the loop stops: the next callback starts a new run
      lastRafAt = NaN;
    }
    const r = pending.shift();
    if (r) {
      const m = r.msg;
      if (m.full_w !== fullW || m.full_h !== fullH) {
        fullW = m.full_w;
        fullH = m.full_h;
        view = null;
        layout();
        // the overlay (ROI, marks) was placed for the old frame size, and layout() redraws it
        // only when the canvas changes size: marks set before the first frame would stay off
        needOverlay = true;
      }
      const placement: Placement = { x: m.x, y: m.y, w: m.rw, h: m.rh, tw: m.w, th: m.h };
      const tPaint = performance.now();
      if (!(r.bitmap && renderer.setBitmap(r.bitmap, placement, r.vs))) {
        renderer.setImage(pixelsOf(r), m.w, m.h, placement, r.vs);
      }
      if (current !== r) release(current);
      current = r;
      lastSeqShown = m.seq;
      stats.texture = [m.w, m.h];
      if (!contrastSet) {
        const c = model.get("contrast");
        if (Array.isArray(c) && c.length >= 2) contrastFromModel();
        else autoContrast(true);
      }
      renderer.setView(effView());
      renderer.draw();
      paintMs.push(performance.now() - tPaint);
      stats.painted++;
      paintRate.tick();
      latency.push(Date.now() - m.timestamp_s * 1000);
      needOverlay = needOverlay || crosshair !== null;
      const t = performance.now();
      if (t - histAt > 250) {
        histAt = t;
        updateHistogram();
        updateProfiles();
      }
    } else if (needDraw) {
      renderer.setView(effView());
      renderer.draw();
    }
    needDraw = false;
    // a frame still waiting paints in the next display frame
    if (pending.length && !rafId && !destroyed) rafId = requestAnimationFrame(paint);
    if (needOverlay) {
      needOverlay = false;
      drawOverlay();
    }
  }

  function updateHistogram() {
    if (!current) return;
    const d = pixelsOf(current);
    const stride = d.length > 1 << 18 ? 4 : 1;
    const r = dataRange(d, stride);
    const h = computeHistogram(d, 128, r, stride);
    const { scale, offset } = current.vs;
    hv.setHistogram({ counts: h.counts, min: h.min * scale + offset, max: h.max * scale + offset, total: h.total });
    hv.draw();
  }

  function updateProfiles() {
    if (!current || !crosshair) return; // no profile: the strips are hidden
    const m = current.msg;
    const p: Placement = { x: m.x, y: m.y, w: m.rw, h: m.rh, tw: m.w, th: m.h };
    // sampled as the canvas shows the image, so the plots line up with it when zoomed
    const v = effView();
    const [cx, cy] = crosshair;
    const n = (c: HTMLCanvasElement, vert: boolean) => Math.max(16, Math.round((vert ? c.clientHeight : c.clientWidth) || 256));
    const horizontal = profileAcross(v, canvas.width, canvas.height, p, pixelsOf(current), cx, cy, false, n(hprof, false));
    const vertical = profileAcross(v, canvas.width, canvas.height, p, pixelsOf(current), cx, cy, true, n(vprof, true));
    const { scale, offset } = current.vs;
    for (const a of [horizontal, vertical]) for (let i = 0; i < a.length; i++) a[i] = a[i] * scale + offset;
    drawProfile(hprof, horizontal, false);
    drawProfile(vprof, vertical, true);
  }

  function drawOverlay() {
    const roi = roiDraft ?? (model.get("roi") as number[] | null);
    const marks = validMarks(model.get("marks"));
    stats.marks_drawn = marks.length;
    paintOverlay(overlay, effView(), roi && roi.length === 4 ? roi : null, roiDraft !== null, crosshair, marks);
  }

  // ---- pointer interaction ----
  function devicePoint(ev: MouseEvent): [number, number] {
    const r = overlay.getBoundingClientRect();
    return [((ev.clientX - r.left) / Math.max(1, r.width)) * overlay.width, ((ev.clientY - r.top) / Math.max(1, r.height)) * overlay.height];
  }
  function setView(v: View | null) {
    view = v;
    scheduleViewport();
    requestDraw(true);
  }
  overlay.addEventListener(
    "wheel",
    (ev) => {
      if (!fullW) return;
      ev.preventDefault();
      const [px, py] = devicePoint(ev);
      const v = effView();
      const fit = fitView(fullW, fullH, overlay.width, overlay.height).zoom;
      setView(zoomAt(v, overlay.width, overlay.height, px, py, Math.exp(-ev.deltaY * 0.0015), fit / 4));
    },
    { passive: false },
  );
  overlay.addEventListener("pointerdown", (ev) => {
    if (!fullW || ev.button !== 0) return;
    const [px, py] = devicePoint(ev);
    const [ix, iy] = canvasToImage(effView(), overlay.width, overlay.height, px, py);
    drag = { kind: roiTool || ev.shiftKey ? "roi" : "pan", x0: px, y0: py, ix, iy, moved: false };
    overlay.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  overlay.addEventListener("pointermove", (ev) => {
    const [px, py] = devicePoint(ev);
    updateReadout(px, py);
    if (!drag) return;
    if (Math.abs(px - drag.x0) + Math.abs(py - drag.y0) > 3) drag.moved = true;
    if (!drag.moved) return;
    if (drag.kind === "pan") {
      const v = effView();
      setView(panBy(v, px - drag.x0, py - drag.y0));
      drag.x0 = px;
      drag.y0 = py;
    } else {
      const [ix, iy] = canvasToImage(effView(), overlay.width, overlay.height, px, py);
      roiDraft = roiFromDrag(drag.ix, drag.iy, ix, iy, fullW, fullH);
      requestDraw(true);
    }
  });
  const endDrag = (ev: PointerEvent) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (!d.moved && model.get("pick") === "on") {
      send({ type: "pick", x: d.ix - 0.5, y: d.iy - 0.5 }); // pixel centres at integers
      return;
    }
    if (!d.moved) {
      // a click: move the profile crosshair there (the strips appear with the first profile)
      crosshair = [d.ix, d.iy];
      layout();
      updateProfiles();
      requestDraw(true);
      return;
    }
    if (d.kind === "roi") {
      const [px, py] = devicePoint(ev);
      const [ix, iy] = canvasToImage(effView(), overlay.width, overlay.height, px, py);
      const roi = roiFromDrag(d.ix, d.iy, ix, iy, fullW, fullH);
      roiDraft = null;
      if (roi) {
        model.set("roi", roi);
        model.save_changes();
      }
      if (roiTool) setRoiTool(false);
      requestDraw(true);
    }
  };
  overlay.addEventListener("pointerup", endDrag);
  overlay.addEventListener("pointercancel", endDrag);
  overlay.addEventListener("pointerleave", () => {
    readout.textContent = "\u00a0";
  });
  overlay.addEventListener("dblclick", () => setView(null));

  function updateReadout(px: number, py: number) {
    if (!current || !fullW) return;
    const [ix, iy] = canvasToImage(effView(), overlay.width, overlay.height, px, py);
    const x = Math.floor(ix);
    const y = Math.floor(iy);
    if (x < 0 || y < 0 || x >= fullW || y >= fullH) {
      readout.textContent = "\u00a0";
      return;
    }
    const m = current.msg;
    const t = imageToTexel({ x: m.x, y: m.y, w: m.rw, h: m.rh, tw: m.w, th: m.h }, x + 0.5, y + 0.5);
    let text = `x ${x}  y ${y}`;
    if (t) {
      const raw = pixelsOf(current)[t[1] * m.w + t[0]];
      const value = raw * current.vs.scale + current.vs.offset;
      const exact = m.bin === 1 && current.vs.scale === 1 && current.vs.offset === 0;
      text += `  value ${exact ? value : value.toFixed(1)}${m.bin > 1 ? ` (mean of ${m.bin}×${m.bin})` : ""}`;
    }
    readout.textContent = text;
  }

  // ---- toolbar ----
  function setRoiTool(on: boolean) {
    roiTool = on;
    roiBtn.classList.toggle("lk-on", on);
  }
  cmapSel.value = model.get("colormap") || "gray";
  renderer.setColormap(cmapSel.value);
  cmapSel.addEventListener("change", () => {
    renderer.setColormap(cmapSel.value);
    requestDraw(false);
    model.set("colormap", cmapSel.value);
    model.save_changes();
  });
  autoBtn.addEventListener("click", () => autoContrast(true));
  gamma.value = "0";
  gamma.addEventListener("input", () => applyContrast({ ...contrast, gamma: Math.pow(10, +gamma.value) }, false));
  gamma.addEventListener("change", () => applyContrast({ ...contrast, gamma: Math.pow(10, +gamma.value) }, true));
  gamma.addEventListener("dblclick", () => applyContrast({ ...contrast, gamma: 1 }, true));
  roiBtn.addEventListener("click", () => setRoiTool(!roiTool));
  pickBtn.addEventListener("click", () => {
    model.set("pick", model.get("pick") === "on" ? "off" : "on");
    model.save_changes();
    onPick();
  });
  clearBtn.addEventListener("click", () => {
    crosshair = null; // no profile: the strips go and the image takes their room
    model.set("roi", null);
    model.save_changes();
    layout();
    requestDraw(true);
  });
  fitBtn.addEventListener("click", () => setView(null));
  snapBtn.addEventListener("click", () => send({ type: "snapshot" }));

  // ---- model events ----
  const onMsg = (msg: KernelMsg, buffers: DataView[]) => {
    if (msg.type === "frame") onFrame(msg, buffers);
    else if (msg.type === "status") showStatus(msg.level, msg.message);
  };
  const onContrast = () => contrastFromModel();
  const onCmap = () => {
    const name = model.get("colormap");
    if (COLORMAP_NAMES.includes(name)) {
      cmapSel.value = name;
      renderer.setColormap(name);
      requestDraw(false);
    }
  };
  const onRoi = () => requestDraw(true);
  const onPick = () => {
    const mode = model.get("pick");
    pickBtn.style.display = mode ? "" : "none";
    pickBtn.classList.toggle("lk-on", mode === "on");
  };
  onPick();
  const onStatus = () => {
    const st = model.get("status");
    if (Array.isArray(st) && st.length === 2) showStatus(String(st[0]), String(st[1]));
  };
  const onWidth = () => layout();
  model.on("msg:custom", onMsg);
  model.on("change:contrast", onContrast);
  model.on("change:colormap", onCmap);
  model.on("change:roi", onRoi);
  model.on("change:marks", onRoi);
  model.on("change:pick", onPick);
  model.on("change:status", onStatus);
  model.on("change:width_px", onWidth);

  function showStatus(level: string, message: string) {
    status.textContent = message;
    status.className = `lk-status${level === "error" ? " lk-error" : level === "warning" ? " lk-warning" : ""}`;
  }

  // ---- visibility: the kernel stops sending while hidden ----
  let inViewport = true;
  function reportVisible() {
    const visible = inViewport && document.visibilityState !== "hidden";
    if (visible !== stats.visible) {
      stats.visible = visible;
      send({ type: "visible", visible, view: viewId });
    }
  }
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) inViewport = e.isIntersecting;
    reportVisible();
  });
  io.observe(root);
  document.addEventListener("visibilitychange", reportVisible);
  const ro = new ResizeObserver(() => layout());
  ro.observe(host);
  window.addEventListener("resize", layout); // a taller window lets the image grow

  // ---- stats: on the page every 0.5 s, to the kernel every 1 s ----
  let lastReport = 0;
  const statsTimer = window.setInterval(() => {
    const now = performance.now();
    if (recvRate.update(now) || paintRate.update(now)) {
      paintRate.update(now, 0);
    }
    stats.fps_received = +recvRate.rate.toFixed(1);
    stats.fps_painted = +paintRate.rate.toFixed(1);
    stats.latency_ms_p50 = +latency.quantile(50).toFixed(1);
    stats.latency_ms_p95 = +latency.quantile(95).toFixed(1);
    stats.transit_ms_p50 = +transit.quantile(50).toFixed(1);
    stats.paint_ms_p50 = +paintMs.quantile(50).toFixed(2);
    stats.decode_ms_p50 = +decodeMs.quantile(50).toFixed(2);
    stats.zoom = +effView().zoom.toFixed(4);
    statsEl.textContent = statsLine(stats);
    if (now - lastReport >= 1000) {
      lastReport = now;
      const { messages_to_kernel: _m, ...report } = stats;
      send({ type: "stats", ...report });
    }
  }, 500);

  layout();
  onStatus();
  send({ type: "ready", view: viewId });

  return () => {
    destroyed = true;
    try {
      send({ type: "closed", view: viewId }); // the kernel stops sending when no view is left
    } catch {
      // the comm may already be gone (page unloading)
    }
    window.clearInterval(statsTimer);
    window.clearTimeout(commitTimer);
    window.clearTimeout(vpTimer);
    if (rafId) cancelAnimationFrame(rafId);
    io.disconnect();
    ro.disconnect();
    window.removeEventListener("resize", layout);
    document.removeEventListener("visibilitychange", reportVisible);
    model.off("msg:custom", onMsg);
    model.off("change:contrast", onContrast);
    model.off("change:colormap", onCmap);
    model.off("change:roi", onRoi);
    model.off("change:marks", onRoi);
    model.off("change:pick", onPick);
    model.off("change:status", onStatus);
    model.off("change:width_px", onWidth);
    for (const r of pending.splice(0)) release(r);
    release(current);
    renderer.destroy();
    hv.destroy();
    if (window.labkit?.views[viewId] === stats) delete window.labkit.views[viewId];
  };
}
