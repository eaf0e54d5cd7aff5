// The TraceCanvas front end (labkit.widgets.TracePlot with renderer="canvas"): receives min/max
// decimated float32 traces over custom messages (acked on receipt; the kernel sends only with
// credit, so nothing queues), paints the newest on requestAnimationFrame with Canvas2D, and holds
// the controls (window length, autoscale, pause). Counters live on window.labkitTraces[view_id].
import { el } from "../render/dom";
import { paddedRange } from "./axes";
import { paintTraces, plotRect } from "./draw";
import { decodeTraces, type Traces, type TracesMsg } from "./protocol";

import { type Model, sendIfConnected } from "../render/model";
export type { Model };

export interface TraceStats {
  view: string;
  received: number;
  painted: number;
  decode_errors: number;
  last_seq: number;
  t_end: number;
  window_s: number;
  n_points: number;
  plot_w: number;
  paused: boolean;
  paint_ms: number; // the last paint's time on the page's main thread
  x_ticks: string[];
  y_ticks: string[];
  closed: boolean;
}

declare global {
  interface Window {
    labkitTraces?: Record<string, TraceStats>;
  }
}

const CSS = `
.lk-trace { font: 12px sans-serif; color: #222; max-width: 100%; }
.lk-trace-title { font-weight: 600; margin: 2px 0 2px 56px; }
.lk-trace-legend { display: flex; flex-wrap: wrap; gap: 12px; margin: 2px 0 2px 56px; }
.lk-trace-legend span { display: inline-flex; align-items: center; gap: 4px; }
.lk-trace-legend i { display: inline-block; width: 14px; height: 3px; }
.lk-trace canvas { display: block; will-change: transform; }
.lk-trace-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin: 4px 0 0 56px; }
.lk-trace-bar input[type=number] { width: 70px; font: inherit; padding: 1px 4px; border: 1px solid #999; border-radius: 3px; background: #fff; }
.lk-trace-bar input[type=checkbox] { margin: 0 3px 0 0; vertical-align: middle; }
.lk-trace-bar button { font: inherit; padding: 2px 10px; border: 1px solid #999; border-radius: 3px; background: #f3f3f3; cursor: pointer; }
.lk-trace-bar button.lk-on { background: #ffe9b3; border-color: #c9a227; }
.lk-trace-status.lk-error, .lk-trace-lost { color: #c62828; }
.lk-trace-status.lk-warning { color: #8a6100; }
`;

export function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const modelId: string = model.get("view_id") || Math.random().toString(36).slice(2);
  let viewId = modelId;
  window.labkitTraces = window.labkitTraces ?? {};
  for (let n = 2; window.labkitTraces[viewId]; n++) viewId = `${modelId}-${n}`;
  const stats: TraceStats = {
    view: viewId, received: 0, painted: 0, decode_errors: 0, last_seq: -1, t_end: NaN,
    window_s: NaN, n_points: 0, plot_w: 0, paused: false, paint_ms: 0, x_ticks: [], y_ticks: [], closed: false,
  };
  window.labkitTraces[viewId] = stats;

  // ---- DOM ----
  const root = el("div", "lk-trace");
  const style = el("style");
  style.textContent = CSS;
  const title = el("div", "lk-trace-title");
  const legend = el("div", "lk-trace-legend");
  const canvas = el("canvas", "lk-trace-canvas");
  const bar = el("div", "lk-trace-bar");
  const winLabel = el("label", "", "window (s) ");
  const winInput = el("input", "lk-trace-window");
  winInput.type = "number";
  winInput.min = "0.1";
  winInput.max = "3600";
  winInput.step = "any";
  winLabel.append(winInput);
  const autoLabel = el("label");
  const autoBox = el("input", "lk-trace-autoscale");
  autoBox.type = "checkbox";
  autoLabel.append(autoBox, " autoscale");
  const pauseBtn = el("button", "lk-trace-pause");
  const status = el("span", "lk-trace-status");
  bar.append(winLabel, autoLabel, pauseBtn, status);
  root.append(style, title, legend, canvas, bar);
  host.append(root);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;

  let current: Traces | null = null;
  let pending: Traces | null = null;
  let rafId = 0;
  let destroyed = false;
  let yRange: [number, number] = [-1, 1];

  function send(content: Record<string, unknown>) {
    if (!destroyed) sendIfConnected(model, content);
  }

  // ---- model -> DOM ----
  function syncControls() {
    const w = Number(model.get("window_s"));
    if (document.activeElement !== winInput) winInput.value = String(w);
    autoBox.checked = Boolean(model.get("autoscale"));
    stats.paused = Boolean(model.get("paused"));
    pauseBtn.textContent = stats.paused ? "resume" : "pause";
    pauseBtn.classList.toggle("lk-on", stats.paused);
    title.textContent = model.get("title") || "";
    title.style.display = title.textContent ? "" : "none";
    legend.replaceChildren();
    const colors: string[] = model.get("colors") || [];
    (model.get("channels") || []).forEach((name: string, k: number) => {
      const item = el("span");
      const swatch = el("i");
      swatch.style.background = colors[k % colors.length] || "#1f77b4";
      item.append(swatch, String(name));
      legend.append(item);
    });
    showStatus();
  }

  // The status line changes the page's DOM, which costs a style and layout pass of the whole
  // page (in a dashboard: every panel beside the live view). So it changes only when its text
  // does, and the sample count (different in every update) at most every COUNT_MS; a message,
  // a level or a loss shows at once.
  const COUNT_MS = 1000;
  let shown = "";
  let countShownAt = -Infinity;
  function showStatus() {
    const [level, text] = (model.get("status") as [string, string]) || ["ok", ""];
    const m = current?.msg;
    const lost = m && m.rows_lost > 0 ? m.rows_lost : 0;
    const head = `${level}|${text}|${lost}`;
    const now = performance.now();
    if (!text && m && shown.startsWith(`${head}|`) && now - countShownAt < COUNT_MS) return;
    const key = `${head}|${text || !m ? "" : m.n_samples}`;
    if (key === shown) return;
    shown = key;
    status.replaceChildren();
    status.className = `lk-trace-status${level === "error" ? " lk-error" : level === "warning" ? " lk-warning" : ""}`;
    if (text) {
      status.textContent = text;
      return;
    }
    if (!m) return;
    countShownAt = now;
    status.append(`${m.n_samples} samples`);
    if (lost > 0) status.append("; ", el("span", "lk-trace-lost", `${lost} rows lost`));
  }

  // ---- sizing: the kernel decimates to the plot width in device pixels ----
  let laidOut = "";
  function layout() {
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(200, Math.min(host.clientWidth || 640, 1600));
    const cssH = Math.max(80, Number(model.get("height_px")) || 240);
    const key = `${cssW}x${cssH}@${dpr}`;
    if (key === laidOut) return;
    laidOut = key;
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    const plotW = plotRect(canvas.width, canvas.height, dpr).w;
    if (plotW !== stats.plot_w) {
      stats.plot_w = plotW;
      send({ type: "resize", plot_w: plotW });
    }
    requestPaint();
  }

  // ---- painting ----
  function requestPaint() {
    if (!rafId && !destroyed) rafId = requestAnimationFrame(paint);
  }

  function paint() {
    rafId = 0;
    if (destroyed) return;
    if (pending) {
      current = pending;
      pending = null;
      const m = current.msg;
      yRange = m.y_min != null && m.y_max != null ? paddedRange(m.y_min, m.y_max, 0.05) : [-1, 1];
      stats.t_end = m.t_end;
      stats.n_points = m.n;
      showStatus();
    }
    const windowS = Number(model.get("window_s")) || 10;
    const t0 = performance.now();
    const drawn = paintTraces(ctx, window.devicePixelRatio || 1, current, windowS, yRange, model.get("colors") || []);
    stats.window_s = windowS;
    stats.x_ticks = drawn.xTicks;
    stats.y_ticks = drawn.yTicks;
    stats.painted += 1;
    stats.paint_ms = performance.now() - t0;
  }

  // ---- acks: cumulative ("every update up to seq"), for every ACK_EVERY-th update received or
  // ACK_DELAY_MS after the first one not acked yet. Each message to a Jupyter kernel costs it
  // three (the message and the busy/idle status it publishes), beside the live view's frames.
  const ACK_EVERY = 2;
  const ACK_DELAY_MS = 150;
  let unacked = 0;
  let lastSeq = -1;
  let ackTimer = 0;
  function flushAck() {
    if (ackTimer) window.clearTimeout(ackTimer);
    ackTimer = 0;
    if (unacked === 0) return;
    unacked = 0;
    send({ type: "ack", seq: lastSeq });
  }
  function ackLater(seq: number) {
    lastSeq = seq;
    unacked += 1;
    if (unacked >= ACK_EVERY) flushAck();
    else if (!ackTimer) ackTimer = window.setTimeout(flushAck, ACK_DELAY_MS);
  }

  // ---- kernel -> browser ----
  function onMsg(content: any, buffers: any[]) {
    if (!content || content.type !== "traces") return;
    const msg = content as TracesMsg;
    ackLater(msg.seq);
    stats.received += 1;
    stats.last_seq = msg.seq;
    if (stats.paused) return; // a message already in flight when pause was pressed
    try {
      pending = decodeTraces(msg, buffers || []);
    } catch (err) {
      stats.decode_errors += 1;
      console.warn("labkit trace plot: bad traces message", err);
      return;
    }
    requestPaint();
  }

  // ---- controls -> model ----
  winInput.addEventListener("change", () => {
    const w = Number(winInput.value);
    if (!(w >= 0.1 && w <= 3600)) {
      winInput.value = String(model.get("window_s"));
      return;
    }
    model.set("window_s", w);
    model.save_changes();
    requestPaint();
  });
  autoBox.addEventListener("change", () => {
    model.set("autoscale", autoBox.checked);
    model.save_changes();
  });
  pauseBtn.addEventListener("click", () => {
    model.set("paused", !model.get("paused"));
    model.save_changes();
    syncControls();
  });

  const onChange = () => {
    syncControls();
    layout();
    requestPaint();
  };
  model.on("msg:custom", onMsg);
  for (const name of ["window_s", "autoscale", "paused", "status", "channels", "colors", "title", "height_px"]) {
    model.on(`change:${name}`, onChange);
  }
  const observer = new ResizeObserver(() => layout());
  observer.observe(host);
  syncControls();
  layout();
  send({ type: "ready", view: viewId });

  return () => {
    send({ type: "closed", view: viewId });
    destroyed = true;
    stats.closed = true;
    if (rafId) cancelAnimationFrame(rafId);
    if (ackTimer) window.clearTimeout(ackTimer);
    observer.disconnect();
    model.off("msg:custom", onMsg);
    for (const name of ["window_s", "autoscale", "paused", "status", "channels", "colors", "title", "height_px"]) {
      model.off(`change:${name}`, onChange);
    }
  };
}
