// Line-profile canvases drawn beside the image (horizontal below, vertical to the right).

/** Draw `values` as a line; `vertical` plots along the canvas height (top = first value). */
export function drawProfile(canvas: HTMLCanvasElement, values: Float64Array | null, vertical: boolean): void {
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
  if (!values || values.length === 0) {
    ctx.fillStyle = "#777777";
    ctx.font = `${10 * dpr}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    if (vertical) {
      ctx.save();
      ctx.translate(w / 2, h / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText("click the image for profiles", 0, 0);
      ctx.restore();
    } else {
      ctx.fillText("click the image for line profiles", w / 2, h / 2);
    }
    ctx.textAlign = "start";
    ctx.textBaseline = "alphabetic";
    return;
  }
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of values) {
    if (v < mn) mn = v; // NaN (no data there) fails both tests
    if (v > mx) mx = v;
  }
  if (!Number.isFinite(mn)) return;
  const span = mx > mn ? mx - mn : 1;
  ctx.strokeStyle = vertical ? "#4fc3f7" : "#81c784";
  ctx.lineWidth = Math.max(1, dpr);
  ctx.beginPath();
  const n = values.length;
  let penDown = false;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(values[i])) {
      penDown = false; // a gap where the canvas shows no data
      continue;
    }
    const a = (i + 0.5) / n;
    const b = (values[i] - mn) / span;
    const x = vertical ? 2 + b * (w - 4) : a * w;
    const y = vertical ? a * h : h - 2 - b * (h - 4);
    if (!penDown) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
    penDown = true;
  }
  ctx.stroke();
  ctx.fillStyle = "#bbbbbb";
  ctx.font = `${10 * dpr}px sans-serif`;
  ctx.fillText(`${Math.round(mx)}`, 3, 11 * dpr);
  ctx.fillText(`${Math.round(mn)}`, 3, h - 3);
}
