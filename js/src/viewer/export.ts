// Export of the current view as PNG: the figure (image, overlay, axes with their labels,
// profiles, colorbar) composed as it is shown, at device resolution, under a title line.

/**
 * Compose the canvases and text labels inside `fig` into one canvas. `redraw` repaints the
 * WebGL image first: a WebGL canvas without preserveDrawingBuffer is only readable in the task
 * that drew it.
 */
export function composeFigure(fig: HTMLElement, heading: string, redraw: () => void): HTMLCanvasElement {
  const dpr = window.devicePixelRatio || 1;
  const box = fig.getBoundingClientRect();
  const head = 20;
  const out = document.createElement("canvas");
  out.width = Math.round(box.width * dpr);
  out.height = Math.round((box.height + head + 16) * dpr);
  const ctx = out.getContext("2d")!;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#222";
  ctx.font = "600 13px sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillText(heading, 4, head / 2);
  ctx.translate(0, head);
  redraw();
  for (const c of Array.from(fig.querySelectorAll("canvas"))) {
    const r = c.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || c.width === 0 || c.height === 0) continue;
    ctx.drawImage(c, r.left - box.left, r.top - box.top, r.width, r.height);
  }
  for (const t of Array.from(fig.querySelectorAll<HTMLElement>(".lk-tick, .lk-axis-title, .lk-cbar-units"))) {
    const text = t.textContent ?? "";
    if (!text) continue;
    const r = t.getBoundingClientRect();
    const css = getComputedStyle(t);
    ctx.save();
    ctx.fillStyle = css.color;
    ctx.font = `${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const cx = r.left - box.left + r.width / 2;
    const cy = r.top - box.top + r.height / 2;
    ctx.translate(cx, cy);
    if (css.writingMode.startsWith("vertical")) ctx.rotate(-Math.PI / 2);
    ctx.fillText(text, 0, 0);
    ctx.restore();
  }
  return out;
}

/** Offer `canvas` as a download named `name` (.png added). Resolves with the PNG's size. */
export function downloadPng(canvas: HTMLCanvasElement, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) return reject(new Error("the browser could not encode the PNG"));
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${name.replace(/[^\w.-]+/g, "_") || "view"}.png`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      resolve(blob.size);
    }, "image/png");
  });
}
