// The viewer window front end (anywidget ESM; also rendered by the manager page through its
// websocket model). Shows a 2-D image of N-d data with the shared WebGL2 renderer: axes in
// coordinate units, a colorbar, sliders for the other dims, several cursors with profiles,
// ROI and line profiles, a value readout, linked windows, keyboard shortcuts and PNG export.
// The view state lives in the model's `view` (the kernel keeps it); slices and profiles come
// from the kernel (cut and binned to this viewport there). Counters for tests and benchmarks
// live on window.labkit_viewers[uid].
import { createHistogramView } from "../liveview/histogram_view";
import { type Contrast, sanitizeContrast } from "../render/contrast";
import { finiteRange, valueHistogram } from "../render/histogram";
import { createImageRenderer } from "../render/image_renderer";
import type { Model } from "../render/model";
import { canvasToImage, fitView, imageToCanvas, type View, viewportReport } from "../render/viewport";
import type { ViewerContext } from "./context";
import { syncControls, wireControls } from "./controls";
import { coordAt, fmt, label } from "./coords";
import { moveCursor } from "./cursors";
import { CURSOR_COLORS, decodeProfiles, decodeSlice, type ProfilesMsg, type SliceMsg, texelIndex, type ViewState, type WindowInfo } from "./data";
import { composeFigure, downloadPng } from "./export";
import { geometry, type Preview, wireInput } from "./input";
import { buildDom, sizeFigure } from "./layout";
import { drawOverlay } from "./overlay";
import { drawAlignedProfiles, drawSeries } from "./profile";

export type { Model };

export interface ViewerStats {
  uid: string;
  slices_received: number;
  profiles_received: number;
  painted: number;
  version: number;
  renderer: string;
  status: string;
  contrast: [number, number, number];
  norm: string;
  zoom: number; // CSS px per data pixel
  bin: number; // the last slice: data pixels per texel (each way)
  texels: [number, number];
  slices: Record<string, number>;
  image_dims: string[];
  roi: [number, number, number, number] | null;
  decode_ms: number;
  paint_ms: number;
  input_to_paint_ms: number[]; // slider / key -> the slice painted (last 200)
  input_to_receive_ms: number[]; // slider / key -> the slice arrived (same inputs)
  kernel_ms: number[]; // of those: the kernel's part (view change in -> slice out)
  exports: number;
  export_bytes: number;
}

declare global {
  interface Window {
    labkit_viewers?: Record<string, ViewerStats>;
  }
}

const sameSlices = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);

export function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const uid: string = model.get("uid");
  const stats: ViewerStats = {
    uid, slices_received: 0, profiles_received: 0, painted: 0, version: -1, renderer: "", status: "",
    contrast: [0, 1, 1], norm: "linear", zoom: 1, bin: 1, texels: [0, 0], slices: {}, image_dims: [],
    roi: null, decode_ms: 0, paint_ms: 0, input_to_paint_ms: [], input_to_receive_ms: [], kernel_ms: [], exports: 0,
    export_bytes: 0,
  }; // prettier-ignore
  window.labkit_viewers = window.labkit_viewers ?? {};
  window.labkit_viewers[uid] = stats;

  const dom = buildDom();
  dom.root.dataset.uid = uid;
  const hv = createHistogramView(
    (lo, hi) => {
      localContrast = sanitizeContrast(lo, hi, ctx.view().gamma ?? 1, ctx.view().norm === "log");
      requestDraw();
    },
    (lo, hi) => {
      localContrast = null;
      ctx.setView({ contrast_lo: lo, contrast_hi: hi });
    },
  );
  dom.fig.after(hv.canvas);
  host.append(dom.root);
  const renderer = createImageRenderer(dom.canvas);
  stats.renderer = renderer.kind;

  let rafId = 0;
  let destroyed = false;
  let layoutKey = "";
  let localContrast: Contrast | null = null; // while a histogram handle is dragged
  let pendingInput: { slices: Record<string, number>; t: number } | null = null;
  let lastRemote = "";
  let localChange = false;
  let imageVersion = 0; // bumped with every texture upload
  let drawnImage = ""; // what the WebGL canvas shows (see paint)
  const preview: Preview = { roi: null, line: null };

  const ctx: ViewerContext = {
    model,
    dom,
    renderer,
    info: () => (model.get("info") ?? {}) as WindowInfo,
    view: () => (model.get("view") ?? {}) as ViewState,
    dims: () => {
      const d = ctx.view().image_dims ?? [];
      return d.length >= 2 ? [d[0], d[1]] : ["", d[0] ?? ""];
    },
    planeSize: () => {
      const [ydim, xdim] = ctx.dims();
      const axes = ctx.info().axes ?? {};
      return [axes[xdim]?.size ?? 1, ydim ? (axes[ydim]?.size ?? 1) : 1];
    },
    slice: null,
    profiles: new Map(),
    profilesMsg: null,
    zoomed: null,
    tool: "none",
    setView(changes) {
      localChange = true; // model.set fires change:view at once: not a remote change
      try {
        model.set("view", { ...ctx.view(), ...changes });
      } finally {
        localChange = false;
      }
      model.save_changes();
      // a new slice index shows when its slice arrives: nothing to repaint before that
      onView(Object.keys(changes).some((k) => k !== "slices"));
    },
    setCursor(pos, index) {
      ctx.setView(moveCursor(ctx.view(), index ?? ctx.view().active_cursor ?? 0, pos));
    },
    markInput(slices) {
      pendingInput = { slices, t: performance.now() };
    },
    requestDraw,
    showStatus(level, message) {
      dom.status.textContent = message;
      dom.status.className = `lk-status${level === "error" ? " lk-error" : ""}`;
      stats.status = `${level}: ${message}`;
    },
    fit: (): View => {
      const [w, h] = ctx.planeSize();
      return ctx.zoomed ?? fitView(w, h, dom.canvas.width, dom.canvas.height);
    },
    scheduleViewport,
    exportPng,
  };

  // ---- layout and viewport ----
  function layout(): void {
    const [w0, h0] = ctx.planeSize();
    const maxH: number = model.get("height_px") || 420;
    const avail = host.clientWidth > 0 ? Math.max(160, host.clientWidth - 190) : 560;
    let w = Math.min(avail, 560);
    let h = Math.max(32, Math.round((w * h0) / w0)); // 1-D data: a strip, its profile below
    if (h > maxH) {
      h = maxH;
      w = Math.max(80, Math.round((h * w0) / h0));
    }
    const key = `${w0}x${h0}:${w}x${h}`;
    if (key === layoutKey) return;
    layoutKey = key;
    sizeFigure(dom, w, h);
    hv.canvas.style.width = `${52 + w + 64 + 64 + 6}px`;
    ctx.zoomed = null;
    scheduleViewport();
  }
  function viewport() {
    const [w, h] = ctx.planeSize();
    return viewportReport(ctx.fit(), dom.canvas.width, dom.canvas.height, w, h);
  }
  let vpTimer = 0;
  let lastVp = "";
  function scheduleViewport(): void {
    if (vpTimer || destroyed) return;
    vpTimer = window.setTimeout(() => {
      vpTimer = 0;
      const msg = viewport();
      const key = JSON.stringify(msg);
      if (key !== lastVp && !destroyed) {
        lastVp = key;
        model.send(msg);
      }
    }, 40);
  }

  // ---- contrast ----
  function contrast(): Contrast {
    if (localContrast) return localContrast;
    const v = ctx.view();
    const log = v.norm === "log";
    let lo = v.contrast_lo;
    let hi = v.contrast_hi;
    if (ctx.slice) {
      // automatic: the kernel's limits of the whole image (null: nothing finite to show)
      const limits = log ? ctx.slice.msg.auto_log : ctx.slice.msg.auto;
      lo = lo ?? limits?.[0] ?? null;
      hi = hi ?? limits?.[1] ?? null;
    }
    return sanitizeContrast(lo ?? 0, hi ?? 1, v.gamma ?? 1, log);
  }

  function onView(draw = true): void {
    layout();
    syncControls(ctx);
    const c = contrast();
    if (document.activeElement !== dom.loIn) dom.loIn.value = fmt(c.lo);
    if (document.activeElement !== dom.hiIn) dom.hiIn.value = fmt(c.hi);
    if (draw) requestDraw();
  }

  // ---- painting ----
  function requestDraw(): void {
    if (!rafId && !destroyed) rafId = requestAnimationFrame(paint);
  }
  function paint(): void {
    rafId = 0;
    if (destroyed) return;
    const t0 = performance.now();
    const v = ctx.view();
    const c = contrast();
    stats.contrast = [c.lo, c.hi, c.gamma];
    stats.norm = c.log ? "log" : "linear";
    hv.setContrast(c);
    hv.draw();
    // the WebGL image only when what it shows changed (a canvas not drawn keeps its pixels;
    // a software-GL draw costs several ms of CPU): cursors and profiles move on the overlay
    const imageKey = JSON.stringify([imageVersion, c, v.colormap, ctx.zoomed, dom.canvas.width, dom.canvas.height]);
    if (imageKey !== drawnImage) {
      drawnImage = imageKey;
      renderer.setContrast(c.lo, c.hi, c.gamma, !!c.log);
      try {
        renderer.setColormap(v.colormap ?? "gray");
      } catch (err) {
        ctx.showStatus("error", String(err instanceof Error ? err.message : err));
      }
      renderer.setView(ctx.zoomed);
      renderer.draw();
    }
    const g = geometry(ctx);
    drawOverlay(dom.overlay.getContext("2d")!, v, g, preview);
    drawFrame(g.view, c);
    if (ctx.slice) {
      stats.painted++;
      if (pendingInput && sameSlices(pendingInput.slices, ctx.slice.msg.slices)) {
        stats.input_to_paint_ms.push(performance.now() - pendingInput.t);
        if (stats.input_to_paint_ms.length > 200) stats.input_to_paint_ms.shift();
        pendingInput = null;
      }
    }
    stats.zoom = g.view.zoom / g.dpr;
    const r = v.roi;
    const [ydim, xdim] = ctx.dims();
    stats.roi = r && ydim && r[xdim] && r[ydim] ? [r[xdim][0], r[ydim][0], r[xdim][1] - r[xdim][0], r[ydim][1] - r[ydim][0]] : null;
    stats.paint_ms = performance.now() - t0;
  }

  /** Axes, colorbar, profiles beside the image, cursor readouts and the ROI / line panel. */
  function drawFrame(fit: View, c: Contrast): void {
    const inf = ctx.info();
    const v = ctx.view();
    const [ydim, xdim] = ctx.dims();
    const cw = dom.canvas.width;
    const ch = dom.canvas.height;
    const dpr = window.devicePixelRatio || 1;
    const wCss = cw / dpr;
    const hCss = ch / dpr;
    const [px0] = canvasToImage(fit, cw, ch, 0, 0);
    const [px1, py1] = canvasToImage(fit, cw, ch, cw, ch);
    const [, py0] = canvasToImage(fit, cw, ch, 0, 0);
    dom.xaxis.update(xdim, inf.axes?.[xdim], px0, px1, wCss);
    if (ydim) dom.yaxis.update(ydim, inf.axes?.[ydim], py0, py1, hCss);
    else dom.yaxis.update("", undefined, 0, 0, hCss);
    dom.colorbar.update(v.colormap ?? "gray", c, hCss, inf.units ?? "");
    const curves = (axis: "h" | "v") =>
      (v.cursors ?? []).flatMap((_, i) => {
        const values = ctx.profiles.get(`c${i}.${axis}`);
        const color = CURSOR_COLORS[i % CURSOR_COLORS.length];
        return values ? [{ values, color, width: i === v.active_cursor ? 1.5 : 1 }] : [];
      });
    drawAlignedProfiles(dom.hprof, curves("h"), (p) => imageToCanvas(fit, cw, ch, p, 0)[0], (x) => canvasToImage(fit, cw, ch, x, 0)[0], false);
    drawAlignedProfiles(dom.vprof, ydim ? curves("v") : [], (p) => imageToCanvas(fit, cw, ch, 0, p)[1], (y) => canvasToImage(fit, cw, ch, 0, y)[1], true);
    // cursor readouts: coordinates and the exact value at each cursor (from the kernel)
    const rows = (v.cursors ?? []).map((cur, i) => {
      const row = document.createElement("div");
      row.className = `lk-cursor-row${i === v.active_cursor ? " lk-active" : ""}`;
      row.dataset.index = String(i);
      const sw = document.createElement("span");
      sw.className = "lk-swatch";
      sw.style.background = CURSOR_COLORS[i % CURSOR_COLORS.length];
      const parts = [xdim, ydim].filter((d) => d).map((d) => label(d, coordAt(inf.axes?.[d], cur[d] ?? 0), inf.axes?.[d]?.units ?? ""));
      const value = ctx.profilesMsg?.values?.[i];
      parts.push(label(inf.name || "value", value, inf.units ?? ""));
      row.append(sw, `C${i + 1}: ${parts.join(", ")}`);
      return row;
    });
    dom.cursors.replaceChildren(...rows);
    drawPanel();
  }

  function drawPanel(): void {
    const msg = ctx.profilesMsg;
    const v = ctx.view();
    const lines: string[] = [];
    const roiSeries = msg?.roi?.dim ? ctx.profiles.get("roi") : undefined;
    const lineSeries = msg?.line ? ctx.profiles.get("line") : undefined;
    if (msg?.roi) {
      const r = msg.roi;
      lines.push(`ROI: mean ${fmt(r.mean)}, sum ${fmt(r.sum)}, min ${fmt(r.min)}, max ${fmt(r.max)}, n ${r.count}`);
      lines.push(r.dim ? `ROI mean along ${r.dim} (blue)` : (r.skipped ?? ""));
    }
    if (msg?.line) lines.push(`line: length ${fmt(msg.line.length)} ${msg.line.units}, width ${msg.line.width} px (pink)`);
    dom.panel.hidden = lines.length === 0;
    dom.panelText.textContent = lines.join("\n");
    dom.panelPlot.hidden = !roiSeries;
    dom.linePlot.hidden = !lineSeries;
    if (roiSeries && msg?.roi?.dim) drawSeries(dom.panelPlot, roiSeries, "#4fc3f7", v.slices?.[msg.roi.dim] ?? null);
    if (lineSeries) drawSeries(dom.linePlot, lineSeries, "#f06292", null);
  }

  function showReadout(x: number, y: number): void {
    const s = ctx.slice;
    const [w, h] = ctx.planeSize();
    const i = Math.floor(x);
    const j = Math.floor(y);
    if (!s || i < 0 || j < 0 || i >= w || j >= h) {
      dom.readout.textContent = "\u00a0";
      return;
    }
    const inf = ctx.info();
    const [ydim, xdim] = ctx.dims();
    const parts = [label(xdim, coordAt(inf.axes?.[xdim], i), inf.axes?.[xdim]?.units ?? "")];
    if (ydim) parts.push(label(ydim, coordAt(inf.axes?.[ydim], j), inf.axes?.[ydim]?.units ?? ""));
    const k = texelIndex(s, i, j);
    const b = s.msg.bin;
    const value = label(inf.name || "value", k < 0 ? null : s.values[k] * s.vs.scale + s.vs.offset, inf.units ?? "");
    parts.push(b > 1 ? `${value} (mean of ${b}×${b})` : value);
    dom.readout.textContent = `${parts.join(", ")}  [${j}, ${i}]`;
  }

  // ---- kernel messages ----
  function onCustom(content: any, buffers: DataView[]): void {
    if (!content || typeof content !== "object") return;
    if (content.type === "slice") {
      const msg = content as SliceMsg;
      model.send({ type: "ack", of: "slice", seq: msg.seq });
      if (!buffers?.length) return ctx.showStatus("error", "slice message without data");
      const t0 = performance.now();
      stats.slices_received++;
      stats.version = msg.version;
      if (JSON.stringify(msg.image_dims) !== JSON.stringify(ctx.view().image_dims)) return; // stale
      if (pendingInput && sameSlices(pendingInput.slices, msg.slices)) {
        stats.input_to_receive_ms.push(t0 - pendingInput.t);
        stats.kernel_ms.push(msg.kernel_ms ?? NaN);
        if (stats.input_to_receive_ms.length > 200) stats.input_to_receive_ms.shift();
        if (stats.kernel_ms.length > 200) stats.kernel_ms.shift();
      }
      ctx.slice = decodeSlice(msg, buffers[0]);
      const s = ctx.slice;
      renderer.setImage(s.values, msg.w, msg.h, s.placement, s.vs);
      imageVersion++;
      const range = finiteRange(s.values, s.values.length > 1 << 18 ? 4 : 1);
      const hist = range ? valueHistogram(s.values, 128, range, s.values.length > 1 << 18 ? 4 : 1) : null;
      hv.setHistogram(hist);
      Object.assign(stats, { bin: msg.bin, texels: [msg.w, msg.h], slices: msg.slices, image_dims: msg.image_dims });
      stats.decode_ms = performance.now() - t0;
      onView();
    } else if (content.type === "profiles") {
      const msg = content as ProfilesMsg;
      model.send({ type: "ack", of: "profiles", seq: msg.seq });
      ctx.profilesMsg = msg;
      ctx.profiles = decodeProfiles(msg, buffers ?? []);
      stats.profiles_received++;
      syncControls(ctx); // the sparklines
      requestDraw();
    } else if (content.type === "status") {
      ctx.showStatus(content.level, content.message);
    }
  }
  const onRemoteView = () => {
    if (localChange) return;
    // a change that did not start here (another window of the link group, the kernel): flash
    const key = JSON.stringify(ctx.view());
    if (key !== lastRemote && (ctx.info().linked_with ?? []).length) {
      dom.linkInfo.classList.add("lk-flash");
      window.setTimeout(() => dom.linkInfo.classList.remove("lk-flash"), 400);
    }
    lastRemote = key;
    onView();
  };
  model.on("msg:custom", onCustom);
  model.on("change:view", onRemoteView);
  model.on("change:info", onView);

  // ---- export ----
  function exportPng(): void {
    const inf = ctx.info();
    const v = ctx.view();
    const at = Object.entries(v.slices ?? {}).map(([d, i]) => label(d, coordAt(inf.axes?.[d], i), inf.axes?.[d]?.units ?? ""));
    const heading = [`${inf.index}: ${inf.name}`, ...at].join("   ");
    const canvas = composeFigure(dom.fig, heading, () => {
      renderer.setView(ctx.zoomed);
      renderer.draw();
    });
    downloadPng(canvas, inf.name || "view")
      .then((bytes) => {
        stats.exports++;
        stats.export_bytes = bytes;
        ctx.showStatus("ok", `saved ${inf.name || "view"}.png (${canvas.width}×${canvas.height})`);
      })
      .catch((err) => ctx.showStatus("error", String(err)));
  }

  wireControls(ctx);
  wireInput(ctx, preview, showReadout);
  onView();
  model.send({ type: "ready", viewport: viewport() });
  return () => {
    destroyed = true;
    if (rafId) cancelAnimationFrame(rafId);
    if (vpTimer) window.clearTimeout(vpTimer);
    model.off("msg:custom", onCustom);
    model.off("change:view", onRemoteView);
    model.off("change:info", onView);
    renderer.destroy();
    hv.destroy();
    delete window.labkit_viewers?.[uid];
    dom.root.remove();
  };
}
