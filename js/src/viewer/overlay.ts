// The overlay over the image: cursors (crosshairs, one colour each; the active one solid and
// as wide as its bins), the ROI rectangle and the profile line.
import { imageToCanvas, type View } from "../render/viewport";
import { CURSOR_COLORS, type Position, type ViewState } from "./data";

export interface OverlayGeometry {
  view: View; // the image view (device px per full-resolution pixel)
  cw: number; // canvas size, device px
  ch: number;
  dpr: number;
  xdim: string;
  ydim: string; // "" for 1-D data
}

/** A cursor's position as (col, row) pixel indices. */
export function cursorCell(c: Position, g: OverlayGeometry): [number, number] {
  return [c[g.xdim] ?? 0, g.ydim ? (c[g.ydim] ?? 0) : 0];
}

/** The cursor nearest canvas point (px, py) within `radius` device px of its crossing, or -1. */
export function pickCursor(v: ViewState, g: OverlayGeometry, px: number, py: number, radius: number): number {
  let best = -1;
  let bestD = radius;
  (v.cursors ?? []).forEach((c, i) => {
    const [col, row] = cursorCell(c, g);
    const [x, y] = imageToCanvas(g.view, g.cw, g.ch, col + 0.5, row + 0.5);
    const d = Math.hypot(x - px, y - py);
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

export function drawOverlay(
  ctx: CanvasRenderingContext2D,
  v: ViewState,
  g: OverlayGeometry,
  preview: { roi?: [number, number, number, number] | null; line?: [number, number, number, number] | null },
): void {
  ctx.clearRect(0, 0, g.cw, g.ch);
  const at = (x: number, y: number) => imageToCanvas(g.view, g.cw, g.ch, x, y);
  const active = v.active_cursor ?? 0;
  (v.cursors ?? []).forEach((c, i) => {
    const [col, row] = cursorCell(c, g);
    const [cx, cy] = at(col + 0.5, row + 0.5);
    const color = CURSOR_COLORS[i % CURSOR_COLORS.length];
    // the band the profiles average over (bins wider than one pixel), for the active cursor
    if (i === active) {
      const bx = v.bins?.[g.xdim] ?? 1;
      const by = g.ydim ? (v.bins?.[g.ydim] ?? 1) : 1;
      ctx.fillStyle = `${color}33`;
      // as labkit/viewer/_slicing.py:bin_window: `w` pixels from i - floor((w - 1) / 2)
      const first = (i: number, w: number) => i - Math.floor((w - 1) / 2);
      if (bx > 1) {
        const [x0] = at(first(col, bx), 0);
        const [x1] = at(first(col, bx) + bx, 0);
        ctx.fillRect(x0, 0, x1 - x0, g.ch);
      }
      if (by > 1) {
        const [, y0] = at(0, first(row, by));
        const [, y1] = at(0, first(row, by) + by);
        ctx.fillRect(0, y0, g.cw, y1 - y0);
      }
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = (i === active ? 1.5 : 1) * g.dpr;
    ctx.setLineDash(i === active ? [] : [5 * g.dpr, 4 * g.dpr]);
    ctx.beginPath();
    if (g.ydim) {
      ctx.moveTo(0, cy);
      ctx.lineTo(g.cw, cy);
    }
    ctx.moveTo(cx, 0);
    ctx.lineTo(cx, g.ch);
    ctx.stroke();
  });
  ctx.setLineDash([]);
  const roi = preview.roi ?? roiRect(v, g);
  if (roi) {
    const [x0, y0] = at(roi[0], roi[1]);
    const [x1, y1] = at(roi[0] + roi[2], roi[1] + roi[3]);
    ctx.strokeStyle = "#4fc3f7";
    ctx.lineWidth = g.dpr;
    ctx.setLineDash([4 * g.dpr, 3 * g.dpr]);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.setLineDash([]);
  }
  const line = preview.line ?? lineSegment(v, g);
  if (line) {
    const [x0, y0] = at(line[0], line[1]);
    const [x1, y1] = at(line[2], line[3]);
    ctx.strokeStyle = "#f06292";
    ctx.lineWidth = 1.5 * g.dpr;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    for (const [x, y] of [
      [x0, y0],
      [x1, y1],
    ]) {
      ctx.beginPath();
      ctx.arc(x, y, 3 * g.dpr, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
}

/** The view's ROI as [x, y, w, h] in pixels, or null. */
export function roiRect(v: ViewState, g: { xdim: string; ydim: string }): [number, number, number, number] | null {
  const r = v.roi;
  if (!r || !g.ydim || !r[g.xdim] || !r[g.ydim]) return null;
  const [x0, x1] = r[g.xdim];
  const [y0, y1] = r[g.ydim];
  return [x0, y0, x1 - x0, y1 - y0];
}

/** The view's line as [x0, y0, x1, y1] in image positions, or null. */
export function lineSegment(v: ViewState, g: { xdim: string; ydim: string }): [number, number, number, number] | null {
  const l = v.line;
  if (!l || !g.ydim) return null;
  return [l[0][g.xdim], l[0][g.ydim], l[1][g.xdim], l[1][g.ydim]];
}
