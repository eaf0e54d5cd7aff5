// The viewer window front end (anywidget ESM; also rendered by the manager page through its
// websocket model). Shows a 2-D slice of N-d data with the shared WebGL2 renderer, sliders for
// extra dims, a crosshair with line profiles, contrast/colormap controls, a coordinate readout and
// a small edit tool (normalize / crop to ROI / fill ROI) whose result flows back to the kernel.
// Counters for tests live on window.labkit_viewers[uid].
import { el, imageGrid } from "../render/dom";
import { COLORMAP_NAMES } from "../render/colormaps";
import { autoLimits, computeHistogram, dataRange } from "../render/histogram";
import { createImageRenderer } from "../render/image_renderer";
import { canvasToImage, fitView, imageToCanvas, panBy, profiles, roiFromDrag, type View, zoomAt } from "../render/viewport";
import { coordAt, decodeSlice, fmt, label, type Slice, type SliceMsg, type ViewState, type WindowInfo } from "./data";
import { createHistogramView } from "../liveview/histogram_view";
import { drawProfile } from "./profile";
import { CSS } from "./styles";

import type { Model } from "../render/model";
export type { Model };

export interface ViewerStats {
  uid: string;
  slices_received: number;
  painted: number;
  received_at_ms: number; // Date.now() when the last slice arrived
  decode_ms: number; // last slice: decode (+ float quantization) and texture upload
  paint_ms: number; // last paint: draw + overlay + profiles
  zoom: number;
  version: number;
  renderer: string;
  status: string;
  contrast: [number, number, number];
  roi: [number, number, number, number] | null;
}

declare global {
  interface Window {
    labkit_viewers?: Record<string, ViewerStats>;
  }
}

export function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const uid: string = model.get("uid");
  const stats: ViewerStats = {
    uid, slices_received: 0, painted: 0, received_at_ms: 0, decode_ms: 0, paint_ms: 0, zoom: 1, version: -1, renderer: "", status: "", contrast: [0, 1, 1], roi: null,
  };
  window.labkit_viewers = window.labkit_viewers ?? {};
  window.labkit_viewers[uid] = stats;

  // ---- DOM ----
  const root = el("div", "lk-viewer");
  root.dataset.uid = uid;
  const style = el("style");
  style.textContent = CSS;
  const title = el("div", "lk-title");
  const bar = el("div", "lk-bar");
  const cmapSel = el("select", "lk-cmap");
  for (const name of COLORMAP_NAMES) cmapSel.append(new Option(name, name));
  const autoBtn = el("button", "lk-auto", "Auto");
  autoBtn.title = "contrast limits at the 0.1 / 99.9 percentiles of this slice";
  const loIn = el("input", "lk-lo");
  const hiIn = el("input", "lk-hi");
  for (const i of [loIn, hiIn]) {
    i.type = "number";
    i.step = "any";
  }
  loIn.title = "contrast low (data units)";
  hiIn.title = "contrast high (data units)";
  const gamma = el("input", "lk-gamma");
  gamma.type = "range";
  gamma.min = "-1.3";
  gamma.max = "1.3";
  gamma.step = "0.01";
  gamma.title = "gamma (log scale; double-click: 1)";
  const roiBtn = el("button", "lk-roi", "ROI");
  roiBtn.title = "drag a rectangle on the image (or shift-drag)";
  const opSel = el("select", "lk-op");
  for (const [v, t] of [["normalize", "normalize"], ["crop", "crop to ROI"], ["fill", "fill ROI with"]]) opSel.append(new Option(t, v));
  const valueIn = el("input", "lk-fill-value");
  valueIn.type = "number";
  valueIn.step = "any";
  valueIn.value = "0";
  const linkIn = el("input", "lk-link");
  linkIn.placeholder = "link group";
  linkIn.title = "windows with the same link group share cursor, slices and contrast (empty: unlinked)";
  linkIn.size = 9;
  const applyBtn = el("button", "lk-apply", "Apply");
  applyBtn.title = "edit the data; a watched notebook variable gets the result";
  bar.append(cmapSel, autoBtn, loIn, hiIn, gamma, roiBtn, opSel, valueIn, applyBtn, linkIn);
  const sliders = el("div", "lk-sliders");
  const { grid, stage, canvas, overlay, vprof, hprof } = imageGrid();
  const readout = el("div", "lk-readout", "\u00a0");
  const status = el("div", "lk-status");
  // histogram with draggable limits: applied locally while dragging, stored on release
  const hv = createHistogramView(
    (lo, hi) => {
      renderer.setContrast(lo, hi, view().gamma ?? 1);
      hv.setContrast({ lo, hi, gamma: view().gamma ?? 1 });
      hv.draw();
      requestDraw();
    },
    (lo, hi) => setView({ contrast_lo: lo, contrast_hi: hi }),
  );
  root.append(style, title, bar, sliders, grid, hv.canvas, readout, status);
  host.append(root);

  const renderer = createImageRenderer(canvas);
  stats.renderer = renderer.kind;

  // ---- state ----
  let slice: Slice | null = null;
  let roi: [number, number, number, number] | null = null; // x, y, w, h in image indices
  let drag: { x0: number; y0: number; px: number; py: number; moved: boolean; roi: boolean } | null = null;
  let zoomed: View | null = null; // null: fit the image to the canvas
  let roiTool = false;
  let rafId = 0;
  let destroyed = false;
  const info = (): WindowInfo => model.get("info") ?? {};
  const view = (): ViewState => model.get("view") ?? {};
  const imageDims = (): [string, string] => {
    const d = info().image_dims ?? [];
    return d.length >= 2 ? [d[0], d[1]] : ["", d[0] ?? ""];
  };

  function setView(changes: Partial<ViewState>) {
    model.set("view", { ...view(), ...changes });
    model.save_changes();
    syncControls();
    requestDraw();
  }
  function showStatus(level: string, message: string) {
    status.textContent = message;
    status.className = `lk-status${level === "error" ? " lk-error" : ""}`;
    stats.status = `${level}: ${message}`;
  }

  // ---- layout ----
  function layout() {
    const w0 = fullW();
    const h0 = fullH();
    const maxH: number = model.get("height_px") || 420;
    const avail = host.clientWidth > 0 ? Math.max(160, host.clientWidth - 70) : 560;
    let w = Math.min(avail, 560);
    let h = Math.max(32, Math.round((w * h0) / w0)); // 1-D data: a strip, its profile below
    if (h > maxH) {
      h = maxH;
      w = Math.max(80, Math.round((h * w0) / h0));
    }
    stage.style.width = `${w}px`;
    stage.style.height = `${h}px`;
    grid.style.gridTemplateColumns = `${w}px 64px`;
    hv.canvas.style.width = `${w + 66}px`;
    const dpr = window.devicePixelRatio || 1;
    for (const c of [canvas, overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
  }
  // geometry is in full-slice pixels; a binned slice (msg.bin > 1) has fewer texels
  const fullW = () => slice?.msg.full_w ?? slice?.msg.w ?? 1;
  const fullH = () => slice?.msg.full_h ?? slice?.msg.h ?? 1;
  const binOf = () => slice?.msg.bin ?? 1;
  const fit = (): View => zoomed ?? fitView(fullW(), fullH(), canvas.width, canvas.height);
  const texel = (i: number, j: number): number => {
    const b = binOf();
    const col = Math.min(slice!.msg.w - 1, Math.floor(i / b));
    const row = Math.min(slice!.msg.h - 1, Math.floor(j / b));
    return row * slice!.msg.w + col;
  };
  function eventToIndex(ev: MouseEvent): [number, number] {
    const r = overlay.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    return canvasToImage(fit(), canvas.width, canvas.height, (ev.clientX - r.left) * dpr, (ev.clientY - r.top) * dpr);
  }

  // ---- controls from model ----
  function contrast(): [number, number, number] {
    const v = view();
    let lo = v.contrast_lo;
    let hi = v.contrast_hi;
    if ((lo === null || lo === undefined || hi === null || hi === undefined) && slice) {
      const [a, b] = autoLimits(slice.pixels);
      lo = lo ?? a * slice.vs.scale + slice.vs.offset;
      hi = hi ?? b * slice.vs.scale + slice.vs.offset;
    }
    return [lo ?? 0, hi ?? 1, v.gamma ?? 1];
  }
  function syncControls() {
    const inf = info();
    const v = view();
    title.textContent = `${inf.index ?? ""}: ${inf.name ?? ""}`;
    const meta = el("span", "lk-meta", `${(inf.shape ?? []).join("×")} ${inf.dtype ?? ""} v${inf.version ?? 0}${inf.watched ? " · watched" : ""}${inf.closed ? " · closed" : ""}`);
    title.append(meta);
    root.classList.toggle("lk-closed", !!inf.closed);
    root.dataset.version = String(inf.version ?? 0);
    cmapSel.value = v.colormap ?? "gray";
    if (document.activeElement !== linkIn) linkIn.value = v.link_group ?? "";
    const [lo, hi, g] = contrast();
    if (document.activeElement !== loIn) loIn.value = fmt(lo);
    if (document.activeElement !== hiIn) hiIn.value = fmt(hi);
    gamma.value = String(Math.log10(g));
    stats.contrast = [lo, hi, g];
    renderer.setContrast(lo, hi, g);
    hv.setContrast({ lo, hi, gamma: g });
    hv.draw();
    try {
      renderer.setColormap(v.colormap ?? "gray");
    } catch (err) {
      showStatus("error", String(err instanceof Error ? err.message : err));
    }
    buildSliders();
  }
  let sliderKey = "";
  function buildSliders() {
    const inf = info();
    const extra = (inf.dims ?? []).slice(0, -2);
    const key = JSON.stringify([extra, inf.shape]);
    if (key !== sliderKey) {
      sliderKey = key;
      sliders.replaceChildren();
      for (const d of extra) {
        const lab = el("label");
        lab.dataset.dim = d;
        const input = el("input");
        input.type = "range";
        input.min = "0";
        input.max = String((inf.axes?.[d]?.size ?? 1) - 1);
        input.step = "1";
        const text = el("span");
        input.addEventListener("input", () => setView({ slices: { ...view().slices, [d]: Number(input.value) } }));
        lab.append(el("span", "", d), input, text);
        sliders.append(lab);
      }
    }
    for (const lab of Array.from(sliders.children) as HTMLElement[]) {
      const d = lab.dataset.dim!;
      const i = view().slices?.[d] ?? 0;
      const input = lab.querySelector("input")!;
      if (Number(input.value) !== i) input.value = String(i);
      const axis = inf.axes?.[d];
      lab.lastElementChild!.textContent = `${fmt(coordAt(axis, i))}${axis?.units ? ` ${axis.units}` : ""} [${i}]`;
    }
  }

  function updateHistogram() {
    if (!slice) return;
    const d = slice.pixels;
    const stride = d.length > 1 << 18 ? 4 : 1;
    const h = computeHistogram(d, 128, dataRange(d, stride), stride);
    const { scale, offset } = slice.vs;
    hv.setHistogram({ counts: h.counts, min: h.min * scale + offset, max: h.max * scale + offset, total: h.total });
  }

  // ---- painting ----
  function requestDraw() {
    if (!rafId && !destroyed) rafId = requestAnimationFrame(paint);
  }
  function paint() {
    rafId = 0;
    if (destroyed) return;
    const t0 = performance.now();
    renderer.setView(zoomed);
    renderer.draw();
    if (slice) stats.painted++;
    stats.zoom = fit().zoom / (window.devicePixelRatio || 1); // CSS px per data pixel
    drawOverlay();
    drawProfiles();
    stats.paint_ms = performance.now() - t0;
  }
  function cursorIdx(): [number, number] | null {
    if (!slice) return null;
    const [yd, xd] = imageDims();
    const c = view().cursor ?? {};
    const x = c[xd] ?? Math.floor(fullW() / 2);
    const y = yd ? (c[yd] ?? Math.floor(fullH() / 2)) : 0;
    return [Math.min(fullW() - 1, Math.max(0, x)), Math.min(fullH() - 1, Math.max(0, y))];
  }
  function drawOverlay() {
    const ctx = overlay.getContext("2d")!;
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const cur = cursorIdx();
    if (!slice || !cur) return;
    const v = fit();
    const dpr = window.devicePixelRatio || 1;
    const [cx, cy] = imageToCanvas(v, canvas.width, canvas.height, cur[0] + 0.5, cur[1] + 0.5);
    ctx.strokeStyle = "rgba(255, 214, 0, 0.85)";
    ctx.lineWidth = dpr;
    ctx.beginPath();
    ctx.moveTo(0, cy);
    ctx.lineTo(overlay.width, cy);
    ctx.moveTo(cx, 0);
    ctx.lineTo(cx, overlay.height);
    ctx.stroke();
    if (roi) {
      const [x0, y0] = imageToCanvas(v, canvas.width, canvas.height, roi[0], roi[1]);
      const [x1, y1] = imageToCanvas(v, canvas.width, canvas.height, roi[0] + roi[2], roi[1] + roi[3]);
      ctx.strokeStyle = "#4fc3f7";
      ctx.setLineDash([4 * dpr, 3 * dpr]);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      ctx.setLineDash([]);
    }
  }
  function drawProfiles() {
    const cur = cursorIdx();
    if (!slice || !cur) return;
    const b = binOf();
    const p = profiles(slice.values, slice.msg.w, slice.msg.h, Math.floor(cur[0] / b), Math.floor(cur[1] / b));
    drawProfile(hprof, p.horizontal, false);
    drawProfile(vprof, p.vertical, true);
  }
  function showReadout(ix: number, iy: number) {
    if (!slice) return;
    const i = Math.floor(ix);
    const j = Math.floor(iy);
    if (i < 0 || j < 0 || i >= fullW() || j >= fullH()) {
      readout.textContent = "\u00a0";
      return;
    }
    const inf = info();
    const [yd, xd] = imageDims();
    const parts = [label(xd, coordAt(inf.axes?.[xd], i), inf.axes?.[xd]?.units ?? "")];
    if (yd) parts.push(label(yd, coordAt(inf.axes?.[yd], j), inf.axes?.[yd]?.units ?? ""));
    const value = label(inf.name || "value", slice.values[texel(i, j)], inf.units ?? "");
    parts.push(binOf() > 1 ? `${value} (mean of ${binOf()}×${binOf()})` : value);
    readout.textContent = `${parts.join(", ")}  [${j}, ${i}]`;
  }

  // ---- kernel messages ----
  function onCustom(content: any, buffers: DataView[]) {
    if (!content || typeof content !== "object") return;
    if (content.type === "slice") {
      if (!buffers?.length) return showStatus("error", "slice message without data");
      const t0 = performance.now();
      stats.received_at_ms = Date.now();
      const msg = content as SliceMsg;
      const first = !slice || fullW() !== (msg.full_w ?? msg.w) || fullH() !== (msg.full_h ?? msg.h);
      slice = decodeSlice(msg, buffers[0]);
      model.send({ type: "ack", version: msg.version }); // credit for the next slice
      stats.slices_received++;
      stats.version = msg.version;
      if (first) {
        layout();
        roi = null;
        zoomed = null;
      }
      const b = msg.bin ?? 1;
      renderer.setImage(slice.pixels, msg.w, msg.h, { x: 0, y: 0, w: msg.w * b, h: msg.h * b, tw: msg.w, th: msg.h }, slice.vs);
      updateHistogram();
      syncControls();
      stats.decode_ms = performance.now() - t0;
      requestDraw();
    } else if (content.type === "status") {
      showStatus(content.level, content.message);
    }
  }
  const onInfo = () => {
    syncControls();
    requestDraw();
  };
  model.on("msg:custom", onCustom);
  model.on("change:view", onInfo);
  model.on("change:info", onInfo);

  // ---- user input ----
  cmapSel.addEventListener("change", () => setView({ colormap: cmapSel.value }));
  linkIn.addEventListener("change", () => setView({ link_group: linkIn.value.trim() || null }));
  autoBtn.addEventListener("click", () => setView({ contrast_lo: null, contrast_hi: null }));
  const setLimits = () => setView({ contrast_lo: Number(loIn.value), contrast_hi: Number(hiIn.value) });
  loIn.addEventListener("change", setLimits);
  hiIn.addEventListener("change", setLimits);
  gamma.addEventListener("input", () => setView({ gamma: Math.pow(10, Number(gamma.value)) }));
  gamma.addEventListener("dblclick", () => setView({ gamma: 1 }));
  roiBtn.addEventListener("click", () => {
    roiTool = !roiTool;
    roiBtn.classList.toggle("lk-on", roiTool);
  });
  applyBtn.addEventListener("click", () => {
    const op = opSel.value;
    if (op !== "normalize" && !roi) return showStatus("error", `${op} needs a ROI: press ROI and drag a rectangle`);
    const r = roi ? [roi[0], roi[1], roi[0] + roi[2], roi[1] + roi[3]] : null;
    showStatus("ok", `${op}…`);
    model.send({ type: "edit", op, roi: r, value: Number(valueIn.value) });
  });
  const dpr = () => window.devicePixelRatio || 1;
  overlay.addEventListener("pointerdown", (ev) => {
    const [x, y] = eventToIndex(ev);
    drag = { x0: x, y0: y, px: ev.clientX, py: ev.clientY, moved: false, roi: roiTool || ev.shiftKey };
    overlay.setPointerCapture(ev.pointerId);
  });
  overlay.addEventListener("pointermove", (ev) => {
    const [x, y] = eventToIndex(ev);
    showReadout(x, y);
    if (!drag || !slice) return;
    if (drag.roi) {
      drag.moved = true;
      roi = roiFromDrag(drag.x0, drag.y0, x, y, fullW(), fullH());
      stats.roi = roi;
      requestDraw();
    } else if (drag.moved || Math.abs(ev.clientX - drag.px) + Math.abs(ev.clientY - drag.py) > 4) {
      drag.moved = true; // a drag pans; a click moves the crosshair
      zoomed = panBy(fit(), (ev.clientX - drag.px) * dpr(), (ev.clientY - drag.py) * dpr());
      drag.px = ev.clientX;
      drag.py = ev.clientY;
      requestDraw();
    }
  });
  overlay.addEventListener("pointerup", (ev) => {
    const d = drag;
    drag = null;
    if (!d || !slice || d.roi || d.moved) return;
    const [x, y] = eventToIndex(ev);
    const i = Math.floor(x);
    const j = Math.floor(y);
    if (i < 0 || j < 0 || i >= fullW() || j >= fullH()) return;
    const [yd, xd] = imageDims();
    setView({ cursor: yd ? { [yd]: j, [xd]: i } : { [xd]: i } });
  });
  overlay.addEventListener(
    "wheel",
    (ev) => {
      if (!slice) return;
      ev.preventDefault();
      const r = overlay.getBoundingClientRect();
      const base = fitView(fullW(), fullH(), canvas.width, canvas.height);
      const factor = Math.pow(1.0015, -ev.deltaY);
      const px = (ev.clientX - r.left) * dpr();
      const py = (ev.clientY - r.top) * dpr();
      zoomed = zoomAt(fit(), canvas.width, canvas.height, px, py, factor, base.zoom);
      requestDraw();
    },
    { passive: false },
  );
  overlay.addEventListener("dblclick", () => {
    zoomed = null; // back to fit
    requestDraw();
  });

  syncControls();
  model.send({ type: "ready" });
  return () => {
    destroyed = true;
    if (rafId) cancelAnimationFrame(rafId);
    model.off("msg:custom", onCustom);
    model.off("change:view", onInfo);
    model.off("change:info", onInfo);
    renderer.destroy();
    hv.destroy();
    delete window.labkit_viewers?.[uid];
    root.remove();
  };
}
