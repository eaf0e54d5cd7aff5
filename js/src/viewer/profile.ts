// Line profiles beside the viewer image (horizontal below, vertical to the right).
import { fmt } from "./data";

/** Draw `values` as a line; `vertical` plots along the canvas height (top = first value). */
export function drawProfile(canvas: HTMLCanvasElement, values: Float64Array, vertical: boolean): void {
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
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of values) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (!(mx >= mn)) return;
  const span = mx > mn ? mx - mn : 1;
  ctx.strokeStyle = vertical ? "#4fc3f7" : "#81c784";
  ctx.lineWidth = dpr;
  ctx.beginPath();
  const n = values.length;
  let started = false;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) {
      started = false;
      continue;
    }
    const a = (i + 0.5) / n;
    const b = (values[i] - mn) / span;
    const x = vertical ? 2 + b * (w - 4) : a * w;
    const y = vertical ? a * h : h - 2 - b * (h - 4);
    if (!started) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
    started = true;
  }
  ctx.stroke();
  ctx.fillStyle = "#bbbbbb";
  ctx.font = `${10 * dpr}px sans-serif`;
  ctx.fillText(fmt(mx), 3, 11 * dpr);
  ctx.fillText(fmt(mn), 3, h - 3);
}
