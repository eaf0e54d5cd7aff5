// Profile plots of a viewer window: the cursor profiles beside the image (aligned with its
// pixels under zoom and pan, one colour per cursor) and small plots of one series (a profile
// along a slider dim, the ROI mean, the line profile) with a marker.
import { fmt } from "./coords";

function sized(canvas: HTMLCanvasElement): [CanvasRenderingContext2D, number, number, number] {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#1b1b1b";
  ctx.fillRect(0, 0, w, h);
  return [ctx, w, h, dpr];
}

function range(curves: ArrayLike<number>[], first: number, last: number): [number, number] | null {
  let mn = Infinity;
  let mx = -Infinity;
  for (const values of curves) {
    for (let i = Math.max(0, first); i <= Math.min(values.length - 1, last); i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
  }
  return mx >= mn ? [mn, mx > mn ? mx : mn + 1] : null;
}

/**
 * Draw profiles beside the image: sample i sits at device px `toCanvas(i + 0.5)` along the
 * canvas (x for a horizontal profile, y for a vertical one, as the image shows that pixel).
 * The value range is that of the visible samples. Returns it (or null when nothing is finite).
 */
export function drawAlignedProfiles(
  canvas: HTMLCanvasElement,
  curves: { values: ArrayLike<number>; color: string; width: number }[],
  toCanvas: (pos: number) => number,
  fromCanvas: (px: number) => number,
  vertical: boolean,
): [number, number] | null {
  const [ctx, w, h, dpr] = sized(canvas);
  const len = vertical ? h : w;
  const first = Math.floor(fromCanvas(0));
  const last = Math.ceil(fromCanvas(len));
  const r = range(
    curves.map((c) => c.values),
    first,
    last,
  );
  if (!r) return null;
  const [mn, mx] = r;
  for (const c of curves) {
    ctx.strokeStyle = c.color;
    ctx.lineWidth = c.width * dpr;
    ctx.beginPath();
    let pen = false;
    for (let i = Math.max(0, first - 1); i <= Math.min(c.values.length - 1, last + 1); i++) {
      const v = c.values[i];
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      const a = toCanvas(i + 0.5);
      const b = (v - mn) / (mx - mn);
      const x = vertical ? 2 * dpr + b * (w - 4 * dpr) : a;
      const y = vertical ? a : h - 2 * dpr - b * (h - 4 * dpr);
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  }
  ctx.fillStyle = "#bbbbbb";
  ctx.font = `${10 * dpr}px sans-serif`;
  ctx.fillText(fmt(mx), 3 * dpr, 11 * dpr);
  ctx.fillText(fmt(mn), 3 * dpr, h - 3 * dpr);
  return r;
}

/** One series across a small canvas, a vertical marker at index `marker`; returns the range. */
export function drawSeries(
  canvas: HTMLCanvasElement,
  values: ArrayLike<number>,
  color: string,
  marker: number | null,
): [number, number] | null {
  const [ctx, w, h, dpr] = sized(canvas);
  const n = values.length;
  const r = range([values], 0, n - 1);
  if (!r || n === 0) return null;
  const [mn, mx] = r;
  const xAt = (i: number) => ((i + 0.5) / n) * w;
  if (marker !== null) {
    ctx.strokeStyle = "#ffd60088";
    ctx.lineWidth = dpr;
    ctx.beginPath();
    ctx.moveTo(xAt(marker), 0);
    ctx.lineTo(xAt(marker), h);
    ctx.stroke();
  }
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.25 * dpr;
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      pen = false;
      continue;
    }
    const y = h - 2 * dpr - ((v - mn) / (mx - mn)) * (h - 4 * dpr);
    if (pen) ctx.lineTo(xAt(i), y);
    else ctx.moveTo(xAt(i), y);
    pen = true;
  }
  ctx.stroke();
  return r;
}
