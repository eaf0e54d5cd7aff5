// Pointer and keyboard input of a viewer window. On the image: a click moves the active cursor,
// dragging a cursor's crossing moves that cursor, any other drag pans, the wheel zooms at the
// pointer, a double click fits; with the ROI / line tool (or Shift) a drag draws a rectangle
// (line). Keys: see keys.ts.
import { canvasToImage, fitView, panBy, roiFromDrag, zoomAt } from "../render/viewport";
import type { ViewerContext } from "./context";
import { toggleToolFor } from "./controls";
import { addCursor, moveCursor, nudgeCursor, removeCursor, stepCursor } from "./cursors";
import { keyAction } from "./keys";
import { type OverlayGeometry, pickCursor } from "./overlay";

type Drag =
  | { kind: "pan"; px: number; py: number; moved: boolean }
  | { kind: "cursor"; index: number; last: number }
  | { kind: "roi"; x0: number; y0: number }
  | { kind: "line"; x0: number; y0: number };

export interface Preview {
  roi: [number, number, number, number] | null;
  line: [number, number, number, number] | null;
}

const dpr = () => window.devicePixelRatio || 1;

export function geometry(ctx: ViewerContext): OverlayGeometry {
  const [ydim, xdim] = ctx.dims();
  const c = ctx.dom.canvas;
  return { view: ctx.fit(), cw: c.width, ch: c.height, dpr: dpr(), xdim, ydim };
}

/** Wire the overlay's pointer events and the window's keys; `showReadout` gets hover positions. */
export function wireInput(ctx: ViewerContext, preview: Preview, showReadout: (x: number, y: number) => void): void {
  const { dom } = ctx;
  const overlay = dom.overlay;
  let drag: Drag | null = null;

  const toImage = (ev: MouseEvent): [number, number] => {
    const r = overlay.getBoundingClientRect();
    const c = dom.canvas;
    return canvasToImage(ctx.fit(), c.width, c.height, (ev.clientX - r.left) * dpr(), (ev.clientY - r.top) * dpr());
  };
  const cell = (x: number, y: number): Record<string, number> | null => {
    const [w, h] = ctx.planeSize();
    const i = Math.floor(x);
    const j = Math.floor(y);
    if (i < 0 || j < 0 || i >= w || j >= h) return null;
    const [ydim, xdim] = ctx.dims();
    return ydim ? { [ydim]: j, [xdim]: i } : { [xdim]: i };
  };

  overlay.addEventListener("pointerdown", (ev) => {
    ctx.dom.root.focus({ preventScroll: true });
    const [x, y] = toImage(ev);
    const tool = ev.shiftKey && ctx.tool === "none" ? "roi" : ctx.tool;
    const r = overlay.getBoundingClientRect();
    const picked = pickCursor(ctx.view(), geometry(ctx), (ev.clientX - r.left) * dpr(), (ev.clientY - r.top) * dpr(), 7 * dpr());
    if (tool === "roi") drag = { kind: "roi", x0: x, y0: y };
    else if (tool === "line") drag = { kind: "line", x0: x, y0: y };
    else if (picked >= 0) {
      drag = { kind: "cursor", index: picked, last: 0 };
      if (picked !== ctx.view().active_cursor) ctx.setView(stepCursor(ctx.view(), picked - ctx.view().active_cursor));
    } else drag = { kind: "pan", px: ev.clientX, py: ev.clientY, moved: false };
    overlay.setPointerCapture(ev.pointerId);
  });

  overlay.addEventListener("pointermove", (ev) => {
    const [x, y] = toImage(ev);
    showReadout(x, y);
    if (!drag) return;
    const [w, h] = ctx.planeSize();
    if (drag.kind === "roi") {
      preview.roi = roiFromDrag(drag.x0, drag.y0, x, y, w, h);
    } else if (drag.kind === "line") {
      const cl = (v: number, n: number) => Math.min(n, Math.max(0, v));
      preview.line = [cl(drag.x0, w), cl(drag.y0, h), cl(x, w), cl(y, h)];
    } else if (drag.kind === "cursor") {
      const pos = cell(x, y);
      const now = performance.now();
      if (pos && now - drag.last > 40) {
        drag.last = now; // at most 25 updates a second go to the kernel while dragging
        ctx.setView(moveCursor(ctx.view(), drag.index, pos));
      }
    } else if (drag.moved || Math.abs(ev.clientX - drag.px) + Math.abs(ev.clientY - drag.py) > 4) {
      drag.moved = true;
      ctx.zoomed = panBy(ctx.fit(), (ev.clientX - drag.px) * dpr(), (ev.clientY - drag.py) * dpr());
      drag.px = ev.clientX;
      drag.py = ev.clientY;
      ctx.scheduleViewport();
    }
    ctx.requestDraw();
  });

  overlay.addEventListener("pointerup", (ev) => {
    const d = drag;
    drag = null;
    if (!d) return;
    const [x, y] = toImage(ev);
    const [ydim, xdim] = ctx.dims();
    if (d.kind === "roi") {
      const r = preview.roi;
      preview.roi = null;
      if (r && ydim) ctx.setView({ roi: { [ydim]: [r[1], r[1] + r[3]], [xdim]: [r[0], r[0] + r[2]] } });
      ctx.requestDraw();
    } else if (d.kind === "line") {
      const l = preview.line;
      preview.line = null;
      if (l && ydim && Math.hypot(l[2] - l[0], l[3] - l[1]) >= 1) {
        ctx.setView({ line: [{ [ydim]: l[1], [xdim]: l[0] }, { [ydim]: l[3], [xdim]: l[2] }] });
      }
      ctx.requestDraw();
    } else if (d.kind === "cursor") {
      const pos = cell(x, y);
      if (pos) ctx.setView(moveCursor(ctx.view(), d.index, pos));
    } else if (!d.moved) {
      const pos = cell(x, y);
      if (pos) ctx.setCursor(pos);
    }
  });

  const zoomBy = (factor: number, px?: number, py?: number) => {
    const c = dom.canvas;
    const [w, h] = ctx.planeSize();
    const base = fitView(w, h, c.width, c.height);
    ctx.zoomed = zoomAt(ctx.fit(), c.width, c.height, px ?? c.width / 2, py ?? c.height / 2, factor, base.zoom);
    ctx.scheduleViewport();
    ctx.requestDraw();
  };
  overlay.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const r = overlay.getBoundingClientRect();
      zoomBy(Math.pow(1.0015, -ev.deltaY), (ev.clientX - r.left) * dpr(), (ev.clientY - r.top) * dpr());
    },
    { passive: false },
  );
  const fitAll = () => {
    ctx.zoomed = null;
    ctx.scheduleViewport();
    ctx.requestDraw();
  };
  overlay.addEventListener("dblclick", fitAll);
  overlay.addEventListener("pointerleave", () => {
    dom.readout.textContent = "\u00a0";
  });

  dom.root.addEventListener("keydown", (ev) => {
    const target = ev.target as HTMLElement;
    if (target.closest("input, select, textarea")) return;
    const hit = keyAction(ev);
    if (!hit) return;
    // JupyterLab would take letters and arrows as notebook commands: Lumino skips keydown
    // events whose default was prevented (tests/viewer/test_window_lab.py checks it)
    ev.preventDefault();
    ev.stopPropagation();
    const v = ctx.view();
    const dims = ctx.dims();
    const size = ctx.planeSize();
    const s = hit.step;
    const extra = (ctx.info().dims ?? []).find((d) => !(v.image_dims ?? []).includes(d));
    switch (hit.action) {
      case "cursor-left":
      case "cursor-right":
        return ctx.setView(nudgeCursor(v, dims, size, hit.action === "cursor-left" ? -s : s, 0));
      case "cursor-up":
      case "cursor-down":
        return ctx.setView(nudgeCursor(v, dims, size, 0, hit.action === "cursor-up" ? -s : s));
      case "slice-next":
      case "slice-prev": {
        if (!extra) return;
        const n = ctx.info().axes?.[extra]?.size ?? 1;
        const i = Math.min(n - 1, Math.max(0, (v.slices?.[extra] ?? 0) + (hit.action === "slice-next" ? s : -s)));
        const slices = { ...v.slices, [extra]: i };
        ctx.markInput(slices);
        return ctx.setView({ slices });
      }
      case "auto-contrast":
        return ctx.setView({ contrast_lo: null, contrast_hi: null });
      case "transpose":
        return dom.swapBtn.click();
      case "toggle-log":
        return ctx.setView({ norm: v.norm === "log" ? "linear" : "log" });
      case "add-cursor":
        return ctx.setView(addCursor(v, dims, size));
      case "remove-cursor":
        return ctx.setView(removeCursor(v));
      case "next-cursor":
      case "prev-cursor":
        return ctx.setView(stepCursor(v, hit.action === "next-cursor" ? 1 : -1));
      case "roi-tool":
      case "line-tool":
        return toggleToolFor(ctx, hit.action === "roi-tool" ? "roi" : "line");
      case "clear":
        if (ctx.tool !== "none") toggleToolFor(ctx, ctx.tool);
        return ctx.setView({ roi: null, line: null });
      case "fit":
        return fitAll();
      case "zoom-in":
      case "zoom-out":
        return zoomBy(hit.action === "zoom-in" ? 1.5 : 1 / 1.5);
      case "export-png":
        return ctx.exportPng();
      case "help":
        dom.help.hidden = !dom.help.hidden;
        return;
    }
  });
}
