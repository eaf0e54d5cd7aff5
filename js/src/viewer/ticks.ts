// Tick placement for axes and colorbars: "nice" linear steps (1, 2, 5 × 10^k) and decades for
// log scales, with labels formatted to the precision the step needs. Pure functions.

export interface Ticks {
  values: number[];
  labels: string[];
  step: number; // 0 for log ticks
}

/** The nice step (1, 2 or 5 × 10^k) that puts at most `maxCount` ticks in a span. */
export function niceStep(span: number, maxCount: number): number {
  const raw = Math.abs(span) / Math.max(1, maxCount);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  }
  return 10 * mag;
}

/** Decimals needed to tell ticks `step` apart (0 for steps >= 1). */
export function stepDecimals(step: number): number {
  if (!(step > 0) || step >= 1) return 0;
  return Math.min(12, Math.ceil(-Math.log10(step) - 1e-9));
}

/** A tick label: fixed decimals for the step, exponent form for very large or small values. */
export function formatTick(value: number, step: number): string {
  if (value === 0 || Math.abs(value) < step * 1e-6) return "0";
  const a = Math.abs(value);
  if (a >= 1e6 || a < 1e-4) {
    const digits = Math.max(0, Math.min(6, Math.round(Math.log10(a) - Math.log10(step))));
    return value.toExponential(digits).replace("e+", "e");
  }
  return value.toFixed(stepDecimals(step));
}

/** Ticks at multiples of a nice step inside [a, b] (either order), at most about `maxCount`. */
export function linearTicks(a: number, b: number, maxCount: number): Ticks {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { values: [], labels: [], step: 0 };
  if (hi === lo) return { values: [lo], labels: [formatTick(lo, Math.abs(lo) || 1)], step: 0 };
  const step = niceStep(hi - lo, maxCount);
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last && values.length < 1000; k++) values.push(Number((k * step).toPrecision(12)) || 0);
  return { values, labels: values.map((v) => formatTick(v, step)), step };
}

/**
 * Ticks for a log scale over [lo, hi] (both > 0): every decade (every n-th decade, 1 among them,
 * when there are more than `maxCount`), with 2× and 5× between them when fewer than three decades show. Falls
 * back to linear ticks when the range is not positive or spans less than a factor of 3.
 */
export function logTicks(lo: number, hi: number, maxCount: number): Ticks {
  if (!(lo > 0) || !(hi > lo) || hi / lo < 3) return linearTicks(lo, hi, maxCount);
  const e0 = Math.ceil(Math.log10(lo) - 1e-9);
  const e1 = Math.floor(Math.log10(hi) + 1e-9);
  const decades = e1 - e0 + 1;
  const every = Math.max(1, Math.ceil(decades / Math.max(1, maxCount)));
  const values: number[] = [];
  const mantissas = decades < 3 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= e1; e++) {
    if (((e % every) + every) % every !== 0) continue; // every n-th decade, 10^0 among them
    for (const m of mantissas) {
      const v = m * Math.pow(10, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) values.push(v);
    }
  }
  const labels = values.map((v) => {
    const e = Math.floor(Math.log10(v) + 1e-9);
    return e >= -3 && e <= 5 ? formatTick(v, Math.pow(10, Math.min(0, e))) : v.toExponential(0).replace("e+", "e");
  });
  return { values, labels, step: 0 };
}
