// Viewport math: zoom/pan state, canvas <-> image coordinates, the visible region and where a
// received (possibly binned, cropped) texture sits in full-frame coordinates.

/** View state: the full-frame point at the canvas centre and the zoom in device px per frame px. */
export interface View {
  cx: number;
  cy: number;
  zoom: number;
}

/** Where a received texture sits: it covers full-frame [x, x + w) x [y, y + h) with tw x th texels. */
export interface Placement {
  x: number;
  y: number;
  w: number;
  h: number;
  tw: number;
  th: number;
}

export interface Region {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export const MAX_ZOOM = 64;

/** The view that shows the whole frame centred in the canvas. */
export function fitView(fullW: number, fullH: number, cw: number, ch: number): View {
  const zoom = Math.min(cw / Math.max(1, fullW), ch / Math.max(1, fullH));
  return { cx: fullW / 2, cy: fullH / 2, zoom: zoom > 0 ? zoom : 1 };
}

export function canvasToImage(v: View, cw: number, ch: number, px: number, py: number): [number, number] {
  return [v.cx + (px - cw / 2) / v.zoom, v.cy + (py - ch / 2) / v.zoom];
}

export function imageToCanvas(v: View, cw: number, ch: number, x: number, y: number): [number, number] {
  return [(x - v.cx) * v.zoom + cw / 2, (y - v.cy) * v.zoom + ch / 2];
}

/**
 * Zoom by `factor` keeping the image point under canvas point (px, py) fixed.
 * The zoom is clamped to [minZoom, MAX_ZOOM] (minZoom: a quarter of the fit zoom by default).
 */
export function zoomAt(v: View, cw: number, ch: number, px: number, py: number, factor: number, minZoom = 0): View {
  const [ix, iy] = canvasToImage(v, cw, ch, px, py);
  const zoom = Math.min(MAX_ZOOM, Math.max(minZoom, v.zoom * factor));
  return { zoom, cx: ix - (px - cw / 2) / zoom, cy: iy - (py - ch / 2) / zoom };
}

/** Pan by a drag of (dx, dy) device pixels (the image follows the pointer). */
export function panBy(v: View, dx: number, dy: number): View {
  return { zoom: v.zoom, cx: v.cx - dx / v.zoom, cy: v.cy - dy / v.zoom };
}

/** The integer full-frame region visible in the canvas, clamped to the frame; null if none is. */
export function visibleRegion(v: View, cw: number, ch: number, fullW: number, fullH: number): Region | null {
  const [ax, ay] = canvasToImage(v, cw, ch, 0, 0);
  const [bx, by] = canvasToImage(v, cw, ch, cw, ch);
  const x0 = Math.max(0, Math.floor(ax));
  const y0 = Math.max(0, Math.floor(ay));
  const x1 = Math.min(fullW, Math.ceil(bx));
  const y1 = Math.min(fullH, Math.ceil(by));
  if (x1 <= x0 || y1 <= y0) return null;
  return { x0, y0, x1, y1 };
}

/**
 * Bin factor the kernel uses for a zoom (device px per frame px): the largest integer k with
 * k frame px per device px or more, so the sent image has at least one texel per device pixel.
 * Mirrors labkit/widgets/_binning.py:bin_factor.
 */
export function binFactor(zoom: number): number {
  return Math.max(1, Math.floor(1 / zoom + 1e-9));
}

/** Texel (col, row) of a placement holding full-frame point (x, y); null outside the texture. */
export function imageToTexel(p: Placement, x: number, y: number): [number, number] | null {
  if (x < p.x || y < p.y || x >= p.x + p.w || y >= p.y + p.h) return null;
  const col = Math.min(p.tw - 1, Math.floor(((x - p.x) * p.tw) / p.w));
  const row = Math.min(p.th - 1, Math.floor(((y - p.y) * p.th) / p.h));
  return [col, row];
}

/** Normalize a rectangle dragged between two image points into an integer ROI clamped to the frame. */
export function roiFromDrag(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  fullW: number,
  fullH: number,
): [number, number, number, number] | null {
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx)));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by)));
  const x1 = Math.min(fullW, Math.ceil(Math.max(ax, bx)));
  const y1 = Math.min(fullH, Math.ceil(Math.max(ay, by)));
  if (x1 - x0 < 1 || y1 - y0 < 1) return null;
  return [x0, y0, x1 - x0, y1 - y0];
}

/** Horizontal and vertical profiles through texel (col, row) of a tw x th texture. */
export function profiles(
  data: ArrayLike<number>,
  tw: number,
  th: number,
  col: number,
  row: number,
): { horizontal: Float64Array; vertical: Float64Array } {
  const horizontal = new Float64Array(tw);
  const vertical = new Float64Array(th);
  const r = Math.min(th - 1, Math.max(0, row));
  const c = Math.min(tw - 1, Math.max(0, col));
  for (let i = 0; i < tw; i++) horizontal[i] = data[r * tw + i];
  for (let j = 0; j < th; j++) vertical[j] = data[j * tw + c];
  return { horizontal, vertical };
}

/**
 * Values along the line through full-frame point (x, y) as the canvas shows it: `n` samples
 * spanning the canvas width (horizontal) or height (vertical) under view `v`, read from the
 * texture `data` placed at `p`. NaN where the canvas shows no data. Aligned with the image.
 */
export function profileAcross(
  v: View,
  cw: number,
  ch: number,
  p: Placement,
  data: ArrayLike<number>,
  x: number,
  y: number,
  vertical: boolean,
  n: number,
): Float64Array {
  const out = new Float64Array(n);
  const len = vertical ? ch : cw;
  for (let i = 0; i < n; i++) {
    const c = ((i + 0.5) / n) * len;
    const [ix, iy] = vertical ? canvasToImage(v, cw, ch, 0, c) : canvasToImage(v, cw, ch, c, 0);
    const t = vertical ? imageToTexel(p, x, iy) : imageToTexel(p, ix, y);
    out[i] = t ? data[t[1] * p.tw + t[0]] : NaN;
  }
  return out;
}

/** The viewport a front end reports to the kernel (labkit/widgets/_binning.py Viewport): canvas
 * size and zoom in device px and the visible full-frame region (zeros when nothing shows). */
export function viewportReport(
  v: View,
  cw: number,
  ch: number,
  fullW: number,
  fullH: number,
): { type: "viewport"; canvas_w: number; canvas_h: number; zoom: number; x0: number; y0: number; x1: number; y1: number } {
  const r = visibleRegion(v, cw, ch, fullW, fullH);
  return {
    type: "viewport",
    canvas_w: cw,
    canvas_h: ch,
    zoom: v.zoom,
    x0: r ? r.x0 : 0,
    y0: r ? r.y0 : 0,
    x1: r ? r.x1 : 0,
    y1: r ? r.y1 : 0,
  };
}
