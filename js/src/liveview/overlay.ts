// The overlay canvas above the image: labelled marks (bead ROIs), the ROI rectangle (dashed
// while drawn) and the profile crosshair, in full-frame coordinates mapped through the view.
import { imageToCanvas, type View } from "../render/viewport";

/** A labelled box over the image, in frame pixels (the kernel's `marks` trait). */
export interface Mark {
  name?: string;
  x: number;
  y: number;
  w: number;
  h: number;
  color?: string;
}

/** The marks of a `marks` trait value that can be drawn (others are skipped). */
export function validMarks(value: unknown): Mark[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (m): m is Mark =>
      m !== null && typeof m === "object" && ["x", "y", "w", "h"].every((k) => Number.isFinite((m as Record<string, unknown>)[k])),
  );
}

function paintMarks(ctx: CanvasRenderingContext2D, v: View, w: number, h: number, marks: Mark[], dpr: number): void {
  ctx.font = `${Math.round(11 * dpr)}px sans-serif`;
  ctx.textBaseline = "bottom";
  for (const m of marks) {
    const [ax, ay] = imageToCanvas(v, w, h, m.x, m.y);
    const [bx, by] = imageToCanvas(v, w, h, m.x + m.w, m.y + m.h);
    ctx.strokeStyle = m.color || "#4fc3f7";
    ctx.strokeRect(ax, ay, bx - ax, by - ay);
    if (m.name) {
      ctx.fillStyle = m.color || "#4fc3f7";
      ctx.fillText(m.name, ax + 2 * dpr, ay - 1 * dpr);
    }
  }
}

export function paintOverlay(
  overlay: HTMLCanvasElement,
  v: View,
  roi: number[] | null,
  roiIsDraft: boolean,
  crosshair: [number, number] | null,
  marks: Mark[] = [],
): void {
  const ctx = overlay.getContext("2d")!;
  const w = overlay.width;
  const h = overlay.height;
  ctx.clearRect(0, 0, w, h);
  const dpr = window.devicePixelRatio || 1;
  ctx.lineWidth = Math.max(1, dpr);
  if (marks.length) paintMarks(ctx, v, w, h, marks, dpr);
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
