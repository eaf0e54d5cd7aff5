// Toolbars and sliders of a viewer window: the view state shown in the controls
// (syncControls) and control events turned into view changes (wireControls).
import { el } from "../render/dom";
import type { ViewerContext } from "./context";
import { coordAt, fmt, nearestIndex } from "./coords";
import { addCursor, MAX_CURSORS, removeCursor, stepCursor } from "./cursors";
import { drawSeries } from "./profile";

function clampInt(value: string, lo: number, hi: number): number | null {
  const n = Math.round(Number(value));
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : null;
}

/** A width input for `dim` (pixels or slices averaged). */
function binInput(ctx: ViewerContext, dim: string): HTMLInputElement {
  const input = el("input", "lk-bin");
  input.type = "number";
  input.min = "1";
  input.step = "1";
  input.dataset.dim = dim;
  input.title = `width along ${dim}: pixels (slices) averaged`;
  input.addEventListener("change", () => {
    const n = clampInt(input.value, 1, ctx.info().axes?.[dim]?.size ?? 1);
    if (n !== null) ctx.setView({ bins: { ...ctx.view().bins, [dim]: n } });
  });
  return input;
}

function sliderRow(ctx: ViewerContext, dim: string): HTMLLabelElement {
  const lab = el("label");
  lab.dataset.dim = dim;
  const range = el("input", "lk-slider");
  range.type = "range";
  range.min = "0";
  range.step = "1";
  const coord = el("input", "lk-coord");
  coord.type = "text";
  coord.title = `type a ${dim} value: the nearest index is shown`;
  const units = el("span", "lk-units");
  const idx = el("span", "lk-idx");
  const spark = el("canvas", "lk-spark");
  spark.title = `profile along ${dim} at the active cursor; click to go there`;
  const go = (i: number) => {
    const slices = { ...ctx.view().slices, [dim]: i };
    ctx.markInput(slices);
    ctx.setView({ slices });
  };
  range.addEventListener("input", () => go(Number(range.value)));
  coord.addEventListener("change", () => {
    const axis = ctx.info().axes?.[dim];
    const typed = Number(coord.value);
    go(nearestIndex(axis, coord.value.trim() !== "" && Number.isFinite(typed) ? typed : coord.value.trim()));
  });
  spark.addEventListener("click", (ev) => {
    const n = ctx.info().axes?.[dim]?.size ?? 1;
    const r = spark.getBoundingClientRect();
    go(Math.min(n - 1, Math.max(0, Math.floor(((ev.clientX - r.left) / r.width) * n))));
  });
  lab.append(el("span", "lk-dimname", dim), range, coord, units, idx, binInput(ctx, dim), spark);
  return lab;
}

/** Show the view in the controls (inputs being edited keep their text). */
export function syncControls(ctx: ViewerContext): void {
  const { dom } = ctx;
  const inf = ctx.info();
  const v = ctx.view();
  const [ydim, xdim] = ctx.dims();
  dom.titleText.textContent = `${inf.index ?? ""}: ${inf.name ?? ""}`;
  dom.meta.textContent = `${(inf.shape ?? []).join("×")} ${inf.dtype ?? ""} v${inf.version ?? 0}${inf.watched ? " · watched" : ""}${inf.closed ? " · closed" : ""}`;
  const linked = inf.linked_with ?? [];
  dom.linkInfo.textContent = linked.length ? `linked ${v.link_group}: ${linked.map((w) => `${w.index}: ${w.name}`).join(", ")}` : "";
  dom.linkInfo.title = linked.length ? "cursors, slices, bins and the colour scale follow the linked windows" : "";
  dom.root.classList.toggle("lk-closed", !!inf.closed);
  dom.root.dataset.version = String(inf.version ?? 0);
  const dims = inf.dims ?? [];
  for (const [sel, value] of [
    [dom.ydimSel, ydim],
    [dom.xdimSel, xdim],
  ] as const) {
    if (sel.options.length !== dims.length || Array.from(sel.options).some((o, i) => o.value !== dims[i])) {
      sel.replaceChildren(...dims.map((d) => new Option(d, d)));
    }
    sel.value = value;
    sel.disabled = dims.length < 2;
  }
  dom.swapBtn.disabled = dims.length < 2;
  dom.cmapSel.value = v.colormap ?? "gray";
  dom.normSel.value = v.norm ?? "linear";
  dom.gamma.value = String(Math.log10(v.gamma ?? 1));
  dom.gammaVal.textContent = fmt(v.gamma ?? 1);
  if (document.activeElement !== dom.linkIn) dom.linkIn.value = v.link_group ?? "";
  const n = v.cursors?.length ?? 1;
  dom.cursorLabel.textContent = `cursor ${(v.active_cursor ?? 0) + 1}/${n}`;
  dom.delCursorBtn.disabled = n <= 1;
  dom.addCursorBtn.disabled = n >= MAX_CURSORS;
  dom.roiBtn.classList.toggle("lk-on", ctx.tool === "roi");
  dom.lineBtn.classList.toggle("lk-on", ctx.tool === "line");
  // widths of the image dims
  const imageDims = [ydim, xdim].filter((d) => d);
  if (dom.binsBox.dataset.dims !== imageDims.join(",")) {
    dom.binsBox.dataset.dims = imageDims.join(",");
    dom.binsBox.replaceChildren(...imageDims.flatMap((d) => [el("span", "", `Δ${d}`), binInput(ctx, d)]));
  }
  for (const input of Array.from(dom.root.querySelectorAll<HTMLInputElement>("input.lk-bin"))) {
    const b = String(v.bins?.[input.dataset.dim!] ?? 1);
    if (document.activeElement !== input && input.value !== b) input.value = b;
  }
  buildSliders(ctx);
}

function buildSliders(ctx: ViewerContext): void {
  const inf = ctx.info();
  const v = ctx.view();
  const image = new Set(v.image_dims ?? []);
  const extra = (inf.dims ?? []).filter((d) => !image.has(d));
  const key = JSON.stringify(extra.map((d) => [d, inf.axes?.[d]?.size]));
  const box = ctx.dom.sliders;
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(...extra.map((d) => sliderRow(ctx, d)));
  }
  for (const lab of Array.from(box.children) as HTMLElement[]) {
    const d = lab.dataset.dim!;
    const axis = inf.axes?.[d];
    const i = v.slices?.[d] ?? 0;
    const range = lab.querySelector<HTMLInputElement>("input.lk-slider")!;
    range.max = String((axis?.size ?? 1) - 1);
    if (Number(range.value) !== i) range.value = String(i);
    const coord = lab.querySelector<HTMLInputElement>("input.lk-coord")!;
    if (document.activeElement !== coord) coord.value = fmt(coordAt(axis, i));
    lab.querySelector(".lk-units")!.textContent = axis?.units ?? "";
    lab.querySelector(".lk-idx")!.textContent = `[${i}]`;
    const spark = lab.querySelector<HTMLCanvasElement>("canvas.lk-spark")!;
    const series = ctx.profiles.get(`dim.${d}`);
    if (series) drawSeries(spark, series, "#81c784", i);
  }
}

/** Turn control events into view changes. */
export function wireControls(ctx: ViewerContext): void {
  const { dom } = ctx;
  const showDims = (ydim: string, xdim: string) => ctx.setView({ image_dims: ydim ? [ydim, xdim] : [xdim] });
  dom.ydimSel.addEventListener("change", () => {
    const [y, x] = ctx.dims();
    const d = dom.ydimSel.value;
    showDims(d, d === x ? y : x); // picking the other shown dim swaps them
  });
  dom.xdimSel.addEventListener("change", () => {
    const [y, x] = ctx.dims();
    const d = dom.xdimSel.value;
    showDims(d === y ? x : y, d);
  });
  dom.swapBtn.addEventListener("click", () => {
    const [y, x] = ctx.dims();
    if (y) showDims(x, y);
  });
  dom.cmapSel.addEventListener("change", () => ctx.setView({ colormap: dom.cmapSel.value }));
  dom.normSel.addEventListener("change", () => ctx.setView({ norm: dom.normSel.value as "linear" | "log" }));
  dom.gamma.addEventListener("input", () => ctx.setView({ gamma: Number(Math.pow(10, Number(dom.gamma.value)).toPrecision(4)) }));
  dom.gamma.addEventListener("dblclick", () => ctx.setView({ gamma: 1 }));
  dom.autoBtn.addEventListener("click", () => ctx.setView({ contrast_lo: null, contrast_hi: null }));
  const setLimits = () => {
    const lo = Number(dom.loIn.value);
    const hi = Number(dom.hiIn.value);
    if (Number.isFinite(lo) && Number.isFinite(hi)) ctx.setView({ contrast_lo: lo, contrast_hi: hi });
    else ctx.showStatus("error", "contrast limits must be numbers");
  };
  dom.loIn.addEventListener("change", setLimits);
  dom.hiIn.addEventListener("change", setLimits);
  dom.linkIn.addEventListener("change", () => ctx.setView({ link_group: dom.linkIn.value.trim() || null }));
  dom.addCursorBtn.addEventListener("click", () => ctx.setView(addCursor(ctx.view(), ctx.dims(), ctx.planeSize())));
  dom.delCursorBtn.addEventListener("click", () => ctx.setView(removeCursor(ctx.view())));
  dom.cursors.addEventListener("click", (ev) => {
    const row = (ev.target as HTMLElement).closest<HTMLElement>(".lk-cursor-row");
    if (row) ctx.setView(stepCursor(ctx.view(), Number(row.dataset.index) - (ctx.view().active_cursor ?? 0)));
  });
  const toggleTool = (tool: "roi" | "line") => {
    ctx.tool = ctx.tool === tool ? "none" : tool;
    dom.overlay.classList.toggle("lk-tool", ctx.tool !== "none");
    syncControls(ctx);
  };
  dom.roiBtn.addEventListener("click", () => toggleTool("roi"));
  dom.lineBtn.addEventListener("click", () => toggleTool("line"));
  dom.clearBtn.addEventListener("click", () => ctx.setView({ roi: null, line: null }));
  dom.applyBtn.addEventListener("click", () => {
    const op = dom.opSel.value;
    const [ydim, xdim] = ctx.dims();
    const roi = ctx.view().roi;
    if (op !== "normalize" && !(roi && ydim)) return ctx.showStatus("error", `${op} needs a ROI: press ROI and drag a rectangle`);
    const r = roi && ydim ? [roi[xdim][0], roi[ydim][0], roi[xdim][1], roi[ydim][1]] : null;
    ctx.showStatus("ok", `${op}…`);
    ctx.model.send({ type: "edit", op, roi: r, value: Number(dom.valueIn.value) });
  });
  dom.pngBtn.addEventListener("click", () => ctx.exportPng());
  dom.helpBtn.addEventListener("click", () => {
    dom.help.hidden = !dom.help.hidden;
  });
}

/** Toggle a tool from the keyboard the way the buttons do. */
export function toggleToolFor(ctx: ViewerContext, tool: "roi" | "line"): void {
  (tool === "roi" ? ctx.dom.roiBtn : ctx.dom.lineBtn).click();
}
