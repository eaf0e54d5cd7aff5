// Canvas2D painting of the trace plot: frame, grid, ticks and one polyline per channel.
import { formatTick, linearScale, niceTicks } from "./axes";
import type { Traces } from "./protocol";

/** Plot margins in CSS pixels (left holds the value labels, bottom the time labels). */
export const MARGIN = { left: 56, right: 10, top: 8, bottom: 30 };

export interface PlotRect {
  x: number; // device pixels
  y: number;
  w: number;
  h: number;
}

export function plotRect(canvasW: number, canvasH: number, dpr: number): PlotRect {
  const x = Math.round(MARGIN.left * dpr);
  const y = Math.round(MARGIN.top * dpr);
  return {
    x,
    y,
    w: Math.max(1, canvasW - x - Math.round(MARGIN.right * dpr)),
    h: Math.max(1, canvasH - y - Math.round(MARGIN.bottom * dpr)),
  };
}

export interface PaintResult {
  xTicks: string[];
  yTicks: string[];
}

/** Paint `traces` (null: axes only) into the whole canvas; returns the tick labels drawn. */
export function paintTraces(
  ctx: CanvasRenderingContext2D,
  dpr: number,
  traces: Traces | null,
  windowS: number,
  yRange: [number, number],
  colors: string[],
): PaintResult {
  const { width: cw, height: ch } = ctx.canvas;
  const r = plotRect(cw, ch, dpr);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, cw, ch);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, cw, ch);
  const sx = linearScale(-windowS, 0, r.x, r.x + r.w);
  const sy = linearScale(yRange[0], yRange[1], r.y + r.h, r.y);

  ctx.font = `${Math.round(11 * dpr)}px sans-serif`;
  ctx.lineWidth = Math.max(1, dpr);
  const xt = niceTicks(-windowS, 0, Math.max(2, Math.floor(r.w / (80 * dpr))));
  const yt = niceTicks(yRange[0], yRange[1], Math.max(2, Math.floor(r.h / (40 * dpr))));
  const xTicks = xt.ticks.map((v) => formatTick(v, xt.step));
  const yTicks = yt.ticks.map((v) => formatTick(v, yt.step));

  // grid and labels
  ctx.strokeStyle = "#e3e3e3";
  ctx.fillStyle = "#444444";
  ctx.beginPath();
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  xt.ticks.forEach((v, i) => {
    const x = Math.round(sx(v)) + 0.5;
    ctx.moveTo(x, r.y);
    ctx.lineTo(x, r.y + r.h);
    ctx.fillText(xTicks[i], x, r.y + r.h + 4 * dpr);
  });
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  yt.ticks.forEach((v, i) => {
    const y = Math.round(sy(v)) + 0.5;
    ctx.moveTo(r.x, y);
    ctx.lineTo(r.x + r.w, y);
    ctx.fillText(yTicks[i], r.x - 5 * dpr, y);
  });
  ctx.stroke();
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText("time (s)", r.x + r.w / 2, ch - 1);
  ctx.strokeStyle = "#888888";
  ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1);

  if (traces && traces.msg.n > 0) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(r.x, r.y, r.w, r.h);
    ctx.clip();
    ctx.lineWidth = 1.5 * dpr;
    ctx.lineJoin = "round";
    const { t, v } = traces;
    v.forEach((values, k) => {
      ctx.strokeStyle = colors[k % colors.length] || "#1f77b4";
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < t.length; i++) {
        const y = values[i];
        if (!Number.isFinite(y)) {
          pen = false; // a gap, not a line to zero
          continue;
        }
        const px = sx(t[i]);
        const py = sy(y);
        if (pen) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
    });
    ctx.restore();
  }
  return { xTicks, yTicks };
}
