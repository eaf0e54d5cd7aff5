// Line-profile canvases drawn beside the image (horizontal below, vertical to the right); they
// are shown only while there is a profile (a click on the image), so nothing is drawn without one.
import { strokeProfile } from "../render/profile_line";

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
  if (values.length === 0) return;
  const range = strokeProfile(ctx, values, w, h, vertical, Math.max(1, dpr));
  if (!range) return;
  const [mn, mx] = range;
  ctx.fillStyle = "#bbbbbb";
  ctx.font = `${10 * dpr}px sans-serif`;
  ctx.fillText(`${Math.round(mx)}`, 3, 11 * dpr);
  ctx.fillText(`${Math.round(mn)}`, 3, h - 3);
}
