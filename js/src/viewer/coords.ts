// Coordinates of a window's axes: index <-> coordinate value <-> position along the image.
// Positions are continuous image coordinates: pixel i spans [i, i + 1) and its centre i + 0.5
// carries coordinate value i (the value of the data's coordinate array there). Pure functions.

/** One dim of a window (from the kernel's `info.axes`). */
export interface AxisInfo {
  size: number;
  units: string;
  values: (number | string | null)[] | null; // null: longer than the kernel sends (use start/step)
  start: number;
  step: number;
}

/** Coordinate of index `i` (its coordinate value, else start + i * step; NaN for a gap). */
export function coordAt(axis: AxisInfo | undefined, i: number): number | string {
  if (!axis) return i;
  if (axis.values && i >= 0 && i < axis.values.length) {
    const v = axis.values[i];
    return v === null ? NaN : v;
  }
  return axis.start + i * axis.step;
}

/** True when the axis has numeric coordinates that rise or fall strictly (so they can be
 * mapped back to positions and get numeric ticks). */
export function isMonotonic(axis: AxisInfo | undefined): boolean {
  if (!axis) return true;
  if (!axis.values) return axis.step !== 0;
  const v = axis.values;
  if (v.length < 2) return typeof v[0] === "number";
  let sign = 0;
  for (let i = 1; i < v.length; i++) {
    const a = v[i - 1];
    const b = v[i];
    if (typeof a !== "number" || typeof b !== "number") return false;
    const s = Math.sign(b - a);
    if (s === 0 || (sign !== 0 && s !== sign)) return false;
    sign = s;
  }
  return true;
}

/** Coordinate value at a continuous position (linear between pixel centres, extrapolated at
 * the ends). For axes that are not monotonic, the index itself. */
export function posToCoord(axis: AxisInfo | undefined, pos: number): number {
  const f = pos - 0.5; // fractional index
  if (!axis || !isMonotonic(axis)) return f;
  if (!axis.values) return axis.start + f * axis.step;
  const v = axis.values as number[];
  if (v.length === 1) return v[0];
  const i = Math.min(v.length - 2, Math.max(0, Math.floor(f)));
  return v[i] + (f - i) * (v[i + 1] - v[i]);
}

/** Inverse of posToCoord for monotonic axes (NaN otherwise). */
export function coordToPos(axis: AxisInfo | undefined, c: number): number {
  if (!axis) return c + 0.5;
  if (!isMonotonic(axis)) return NaN;
  if (!axis.values) return (c - axis.start) / axis.step + 0.5;
  const v = axis.values as number[];
  if (v.length === 1) return 0.5;
  const rising = v[v.length - 1] > v[0];
  // binary search for the segment [v[i], v[i + 1]] holding c (clamped to the end segments)
  let lo = 0;
  let hi = v.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rising ? v[mid] <= c : v[mid] >= c) lo = mid;
    else hi = mid - 1;
  }
  return lo + (c - v[lo]) / (v[lo + 1] - v[lo]) + 0.5;
}

/** The index whose coordinate is nearest `c` (a numeric value, or a label for text axes). */
export function nearestIndex(axis: AxisInfo | undefined, c: number | string): number {
  const n = axis?.size ?? 0;
  if (!axis || n === 0) return 0;
  if (axis.values) {
    let best = 0;
    let bestD = Infinity;
    for (let i = 0; i < axis.values.length; i++) {
      const v = axis.values[i];
      const d = typeof v === "number" && typeof c === "number" ? Math.abs(v - c) : v === c ? 0 : Infinity;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }
  if (typeof c !== "number" || axis.step === 0) return 0;
  return Math.min(n - 1, Math.max(0, Math.round((c - axis.start) / axis.step)));
}

/** "name (units)" or the name alone. */
export function axisTitle(name: string, units: string): string {
  return units ? `${name} (${units})` : name;
}

/** A number with 4–5 significant digits, or a label as is. */
export function fmt(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

/** "name = value units" with the units only when there are some. */
export function label(name: string, v: number | string | null | undefined, units: string): string {
  return `${name} = ${fmt(v)}${units ? ` ${units}` : ""}`;
}
