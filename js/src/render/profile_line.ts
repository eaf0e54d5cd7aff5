// A line profile stroked on a 2-D canvas (live view and viewer windows share it).

/**
 * Stroke `values` across a `w`×`h` canvas (along x, or along y when `vertical`), scaled to the
 * finite range of the values; NaN/∞ samples (no data there) leave a gap. Returns the range
 * drawn as [min, max], or null when no sample is finite (nothing is drawn).
 */
export function strokeProfile(
  ctx: CanvasRenderingContext2D,
  values: ArrayLike<number>,
  w: number,
  h: number,
  vertical: boolean,
  lineWidth: number,
): [number, number] | null {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (!(mx >= mn)) return null;
  const span = mx > mn ? mx - mn : 1;
  ctx.strokeStyle = vertical ? "#4fc3f7" : "#81c784";
  ctx.lineWidth = lineWidth;
  ctx.beginPath();
  const n = values.length;
  let penDown = false;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) {
      penDown = false;
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
  return [mn, mx];
}
