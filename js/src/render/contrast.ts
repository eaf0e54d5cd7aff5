// Contrast math shared by the shader (mirrored in GLSL), the Canvas2D fallback, the histogram
// and the colorbar: limits lo/hi, a log or linear scale between them, then the power law t^gamma.

export interface Contrast {
  lo: number;
  hi: number;
  gamma: number;
  /** log scale: t = log(v / lo) / log(hi / lo); values <= 0 map to 0. Needs 0 < lo < hi. */
  log?: boolean;
}

/** Map a data value to 0..1 with limits lo/hi, the scale and gamma (as the fragment shader). */
export function normalize(value: number, c: Contrast): number {
  let t: number;
  if (c.log) {
    t = value > 0 ? Math.log(value / c.lo) / Math.log(c.hi / c.lo) : 0;
  } else {
    const span = c.hi - c.lo;
    t = span > 0 ? (value - c.lo) / span : value >= c.hi ? 1 : 0;
  }
  t = Math.min(1, Math.max(0, t));
  return c.gamma === 1 ? t : Math.pow(t, c.gamma);
}

/** The data value that normalize() maps to `t` (0..1): the colorbar's value at a height. */
export function denormalize(t: number, c: Contrast): number {
  const u = Math.pow(Math.min(1, Math.max(0, t)), 1 / c.gamma);
  return c.log ? c.lo * Math.pow(c.hi / c.lo, u) : c.lo + u * (c.hi - c.lo);
}

/** LUT index (0..255) for a data value, as the shader picks it. */
export function lutIndex(value: number, c: Contrast): number {
  return Math.min(255, Math.floor(normalize(value, c) * 255 + 0.5));
}

/**
 * Clamp a user contrast: hi > lo, gamma in [0.05, 20]. On a log scale the limits must be
 * positive: a low limit <= 0 becomes hi / 1000 (three decades), a high limit <= 0 becomes 1.
 */
export function sanitizeContrast(lo: number, hi: number, gamma: number, log = false): Contrast {
  let l = Number.isFinite(lo) ? lo : 0;
  let h = Number.isFinite(hi) ? hi : l + 1;
  if (h < l) [l, h] = [h, l];
  if (log) {
    if (!(h > 0)) h = 1;
    if (!(l > 0)) l = h / 1000;
    if (h === l) h = l * 10;
  } else if (h === l) {
    h = l + 1;
  }
  const g = Number.isFinite(gamma) && gamma > 0 ? Math.min(20, Math.max(0.05, gamma)) : 1;
  return log ? { lo: l, hi: h, gamma: g, log: true } : { lo: l, hi: h, gamma: g };
}
