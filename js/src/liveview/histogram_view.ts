// Histogram canvas with draggable low/high contrast handles and the gamma curve.
import type { Contrast } from "../render/contrast";
import { normalize } from "../render/contrast";
import type { Histogram } from "../render/histogram";

export interface HistogramView {
  readonly canvas: HTMLCanvasElement;
  setHistogram(h: Histogram | null): void;
  setContrast(c: Contrast): void;
  draw(): void;
  destroy(): void;
}

const HANDLE_PX = 8;

/**
 * `onChange(lo, hi)` fires while a handle is dragged (apply locally), `onCommit(lo, hi)` on release.
 * Dragging near a limit moves it; elsewhere the nearest limit jumps to the pointer.
 */
export function createHistogramView(
  onChange: (lo: number, hi: number) => void,
  onCommit: (lo: number, hi: number) => void,
): HistogramView {
  const canvas = document.createElement("canvas");
  canvas.className = "lk-hist";
  canvas.title = "drag the white handles to set the contrast limits";
  const ctx = canvas.getContext("2d")!;
  let hist: Histogram | null = null;
  let c: Contrast = { lo: 0, hi: 1, gamma: 1 };
  let dragging: "lo" | "hi" | null = null;

  // value range shown: the histogram range widened to include the limits
  function range(): [number, number] {
    const a = Math.min(hist ? hist.min : c.lo, c.lo);
    const b = Math.max(hist ? hist.max : c.hi, c.hi);
    return b > a ? [a, b] : [a, a + 1];
  }
  const toX = (v: number, w: number) => {
    const [a, b] = range();
    return ((v - a) / (b - a)) * w;
  };
  const toValue = (x: number, w: number) => {
    const [a, b] = range();
    return a + (x / w) * (b - a);
  };

  function resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
  }

  function draw() {
    resize();
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#1b1b1b";
    ctx.fillRect(0, 0, w, h);
    if (hist) {
      let peak = 1;
      for (const n of hist.counts) peak = Math.max(peak, n);
      const logPeak = Math.log1p(peak);
      ctx.fillStyle = "#8a8f98";
      const bw = (hist.max - hist.min) / hist.counts.length;
      for (let i = 0; i < hist.counts.length; i++) {
        const n = hist.counts[i];
        if (n === 0) continue;
        const x0 = toX(hist.min + i * bw, w);
        const x1 = toX(hist.min + (i + 1) * bw, w);
        const bh = (Math.log1p(n) / logPeak) * (h - 4);
        ctx.fillRect(x0, h - bh, Math.max(1, x1 - x0), bh);
      }
    }
    // gamma curve between the limits
    const xl = toX(c.lo, w);
    const xh = toX(c.hi, w);
    ctx.strokeStyle = "#f0b429";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (let i = 0; i <= 32; i++) {
      const v = c.lo + ((c.hi - c.lo) * i) / 32;
      const x = toX(v, w);
      const y = h - normalize(v, c) * (h - 4) - 2;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
    for (const x of [xl, xh]) {
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(Math.round(x) - 1, 0, 2, h);
      ctx.fillRect(Math.round(x) - 4, 0, 8, 6);
    }
  }

  function pointerX(ev: PointerEvent): number {
    const r = canvas.getBoundingClientRect();
    return ((ev.clientX - r.left) / Math.max(1, r.width)) * canvas.width;
  }

  function apply(ev: PointerEvent) {
    const v = toValue(pointerX(ev), canvas.width);
    if (dragging === "lo") c = { ...c, lo: Math.min(v, c.hi - 1e-6) };
    else if (dragging === "hi") c = { ...c, hi: Math.max(v, c.lo + 1e-6) };
    onChange(c.lo, c.hi);
    draw();
  }

  canvas.addEventListener("pointerdown", (ev) => {
    const x = pointerX(ev);
    const dpr = window.devicePixelRatio || 1;
    const dl = Math.abs(x - toX(c.lo, canvas.width));
    const dh = Math.abs(x - toX(c.hi, canvas.width));
    dragging = dl <= dh ? "lo" : "hi";
    if (Math.min(dl, dh) > HANDLE_PX * dpr) apply(ev);
    canvas.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (dragging) apply(ev);
  });
  const end = (ev: PointerEvent) => {
    if (!dragging) return;
    apply(ev);
    dragging = null;
    onCommit(c.lo, c.hi);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    canvas,
    setHistogram(h) {
      hist = h;
    },
    setContrast(next) {
      if (!dragging) c = next;
    },
    draw,
    destroy() {
      hist = null;
    },
  };
}
