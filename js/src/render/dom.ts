// DOM helpers shared by the labkit widgets (live view, viewer window, trace plot, form).

/** `<tag class=cls>text</tag>` */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export interface ImageGrid {
  grid: HTMLDivElement;
  stage: HTMLDivElement;
  canvas: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
  vprof: HTMLCanvasElement;
  hprof: HTMLCanvasElement;
}

/** The image stage (image canvas + overlay) with the vertical profile to its right and the
 * horizontal one below, in a 2×2 grid (`.lk-grid`; the widget's CSS sizes it). */
export function imageGrid(): ImageGrid {
  const grid = el("div", "lk-grid");
  const stage = el("div", "lk-stage");
  const canvas = el("canvas", "lk-image");
  const overlay = el("canvas", "lk-overlay");
  stage.append(canvas, overlay);
  const vprof = el("canvas", "lk-prof lk-vprof");
  const hprof = el("canvas", "lk-prof lk-hprof");
  grid.append(stage, vprof, hprof, el("div"));
  return { grid, stage, canvas, overlay, vprof, hprof };
}
