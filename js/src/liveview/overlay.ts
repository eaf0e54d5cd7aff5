// The overlay canvas above the image: the ROI rectangle (dashed while drawn) and the profile
// crosshair, in full-frame coordinates mapped through the current view.
import { imageToCanvas, type View } from "../render/viewport";

export function paintOverlay(
  overlay: HTMLCanvasElement,
  v: View,
  roi: number[] | null,
  roiIsDraft: boolean,
  crosshair: [number, number] | null,
): void {
  const ctx = overlay.getContext("2d")!;
  const w = overlay.width;
  const h = overlay.height;
  ctx.clearRect(0, 0, w, h);
  const dpr = window.devicePixelRatio || 1;
  ctx.lineWidth = Math.max(1, dpr);
  if (roi) {
    const [ax, ay] = imageToCanvas(v, w, h, roi[0], roi[1]);
    const [bx, by] = imageToCanvas(v, w, h, roi[0] + roi[2], roi[1] + roi[3]);
    ctx.strokeStyle = "#ffd54f";
    ctx.setLineDash(roiIsDraft ? [4 * dpr, 3 * dpr] : []);
    ctx.strokeRect(ax, ay, bx - ax, by - ay);
    ctx.setLineDash([]);
  }
  if (crosshair) {
    const [cx, cy] = imageToCanvas(v, w, h, crosshair[0], crosshair[1]);
    ctx.strokeStyle = "rgba(129, 199, 132, 0.8)"; // horizontal profile color
    ctx.beginPath();
    ctx.moveTo(0, cy);
    ctx.lineTo(w, cy);
    ctx.stroke();
    ctx.strokeStyle = "rgba(79, 195, 247, 0.8)"; // vertical profile color
    ctx.beginPath();
    ctx.moveTo(cx, 0);
    ctx.lineTo(cx, h);
    ctx.stroke();
  }
}
