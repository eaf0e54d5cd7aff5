// Histogram and percentile math on received frames (typed arrays of raw values).

export type Pixels = Uint16Array | Uint8Array;

export interface Histogram {
  counts: Uint32Array;
  /** value range covered: bin i spans [min + i*width, min + (i+1)*width) */
  min: number;
  max: number;
  total: number;
}

/** Min and max of every `stride`-th value. Returns {min: 0, max: 0} for empty data. */
export function dataRange(data: Pixels, stride = 1): { min: number; max: number } {
  if (data.length === 0) return { min: 0, max: 0 };
  let mn = data[0];
  let mx = data[0];
  for (let i = 0; i < data.length; i += stride) {
    const v = data[i];
    if (v < mn) mn = v;
    else if (v > mx) mx = v;
  }
  return { min: mn, max: mx };
}

/**
 * Histogram of every `stride`-th value into `nbins` equal bins over [min, max] (the data range
 * when not given). Values outside the range are clamped into the end bins.
 */
export function computeHistogram(
  data: Pixels,
  nbins = 256,
  range?: { min: number; max: number },
  stride = 1,
): Histogram {
  const r = range ?? dataRange(data, stride);
  const counts = new Uint32Array(nbins);
  // integer data: bins cover [min, max + 1) so the top value gets a full bin
  const span = Math.max(1, r.max - r.min + 1);
  const scale = nbins / span;
  let total = 0;
  for (let i = 0; i < data.length; i += stride) {
    let b = Math.floor((data[i] - r.min) * scale);
    if (b < 0) b = 0;
    else if (b >= nbins) b = nbins - 1;
    counts[b]++;
    total++;
  }
  return { counts, min: r.min, max: r.min + span, total };
}

/** The value below which `p` percent (0..100) of the histogram's samples fall (bin interpolation). */
export function percentile(h: Histogram, p: number): number {
  if (h.total === 0) return h.min;
  const target = (Math.min(100, Math.max(0, p)) / 100) * h.total;
  const width = (h.max - h.min) / h.counts.length;
  let acc = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (acc + c >= target && c > 0) {
      const frac = (target - acc) / c;
      return h.min + (i + frac) * width;
    }
    acc += c;
  }
  return h.max;
}

/** Auto contrast limits [lo, hi] at the given percentiles (default 0.1 and 99.9). */
export function autoLimits(data: Pixels, pLow = 0.1, pHigh = 99.9): [number, number] {
  const stride = data.length > 1 << 18 ? 4 : 1;
  const range = dataRange(data, stride);
  if (range.max <= range.min) return [range.min, range.min + 1];
  // one bin per integer value (at most 65536 bins for uint16): exact percentiles
  const nbins = range.max - range.min + 1;
  const h = computeHistogram(data, nbins, range, stride);
  let lo = percentile(h, pLow);
  let hi = percentile(h, pHigh);
  if (hi <= lo) hi = lo + 1;
  lo = Math.floor(lo);
  hi = Math.ceil(hi);
  return [lo, hi];
}

/** Min and max of the finite (and, with `positive`, > 0) values among every `stride`-th;
 * null when there are none. For float data (NaN and ±∞ are skipped). */
export function finiteRange(values: ArrayLike<number>, stride = 1, positive = false): { min: number; max: number } | null {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < values.length; i += stride) {
    const v = values[i];
    if (!(v - v === 0) || (positive && !(v > 0))) continue; // NaN, ±Inf, or <= 0 when positive
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  return mx >= mn ? { min: mn, max: mx } : null;
}

/**
 * Histogram of the finite values (every `stride`-th) into `nbins` equal bins over [min, max]
 * (continuous values: bin i spans [min + i*w, min + (i+1)*w)). With `log`, bins are equal in
 * log10(value) and only values > 0 count; min/max are then log10 of the range.
 */
export function valueHistogram(
  values: ArrayLike<number>,
  nbins: number,
  range: { min: number; max: number },
  stride = 1,
  log = false,
): Histogram {
  const counts = new Uint32Array(nbins);
  const a = log ? Math.log10(range.min) : range.min;
  const b = log ? Math.log10(range.max) : range.max;
  const scale = b > a ? nbins / (b - a) : 0;
  let total = 0;
  for (let i = 0; i < values.length; i += stride) {
    const raw = values[i];
    if (!(raw - raw === 0) || (log && !(raw > 0))) continue;
    const v = log ? Math.log10(raw) : raw;
    let k = Math.floor((v - a) * scale);
    if (k < 0) k = 0;
    else if (k >= nbins) k = nbins - 1;
    counts[k]++;
    total++;
  }
  return { counts, min: a, max: b > a ? b : a + 1, total };
}
