// The colorbar: the colormap from the low limit (bottom) to the high limit (top), with ticks in
// data units placed where the colour scale (linear or log, then gamma) puts those values.
import { colormapLut } from "../render/colormaps";
import { type Contrast, normalize } from "../render/contrast";
import { el } from "../render/dom";
import { linearTicks, logTicks } from "./ticks";

export interface Colorbar {
  readonly el: HTMLDivElement;
  update(colormap: string, c: Contrast, heightPx: number, units: string): void;
  ticks(): { text: string; at: number }[];
}

/** Tick labels and their height from the top (CSS px) for a colorbar `heightPx` tall. */
export function colorbarTicks(c: Contrast, heightPx: number): { text: string; at: number }[] {
  const maxCount = Math.max(2, Math.floor(heightPx / 36));
  const t = c.log ? logTicks(c.lo, c.hi, maxCount) : linearTicks(c.lo, c.hi, maxCount);
  return t.values
    .map((v, i) => ({ text: t.labels[i], at: (1 - normalize(v, c)) * heightPx, v }))
    .filter((x) => x.v >= Math.min(c.lo, c.hi) && x.v <= Math.max(c.lo, c.hi))
    .map(({ text, at }) => ({ text, at }));
}

export function createColorbar(): Colorbar {
  const root = el("div", "lk-colorbar");
  const bar = el("canvas", "lk-cbar");
  const labels = el("div", "lk-axis-labels");
  const unit = el("div", "lk-cbar-units");
  root.append(bar, labels, unit);
  let key = "";
  let drawn: { text: string; at: number }[] = [];

  function update(colormap: string, c: Contrast, heightPx: number, units: string) {
    const next = colorbarTicks(c, heightPx);
    const k = JSON.stringify([colormap, c, heightPx, units]);
    if (k === key) return;
    key = k;
    drawn = next;
    root.style.height = `${heightPx}px`;
    unit.textContent = units;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(14 * dpr));
    const h = Math.max(1, Math.round(heightPx * dpr));
    bar.width = w;
    bar.height = h;
    bar.style.height = `${heightPx}px`;
    const ctx = bar.getContext("2d")!;
    const img = ctx.createImageData(w, h);
    const lut = colormapLut(colormap);
    for (let r = 0; r < h; r++) {
      const t = 1 - (r + 0.5) / h; // the top row shows the high limit
      const i = Math.min(255, Math.floor(t * 255 + 0.5)) * 4;
      for (let x = 0; x < w; x++) img.data.set(lut.subarray(i, i + 4), (r * w + x) * 4);
    }
    ctx.putImageData(img, 0, 0);
    ctx.strokeStyle = "#333";
    ctx.lineWidth = dpr;
    ctx.beginPath();
    for (const t of next) {
      const y = Math.round(t.at * dpr) + 0.5;
      ctx.moveTo(w - 4 * dpr, y);
      ctx.lineTo(w, y);
    }
    ctx.stroke();
    labels.replaceChildren(
      ...next.map((t) => {
        const span = el("span", "lk-tick", t.text);
        span.style.top = `${t.at}px`;
        return span;
      }),
    );
  }

  return { el: root, update, ticks: () => drawn };
}
