// Contrast math shared by the shader (mirrored in GLSL), the Canvas2D fallback and the histogram.

export interface Contrast {
  lo: number;
  hi: number;
  gamma: number;
}

/** Map a data value to 0..1 with limits lo/hi and gamma (same formula as the fragment shader). */
export function normalize(value: number, c: Contrast): number {
  const span = c.hi - c.lo;
  let t = span > 0 ? (value - c.lo) / span : value >= c.hi ? 1 : 0;
  t = Math.min(1, Math.max(0, t));
  return c.gamma === 1 ? t : Math.pow(t, c.gamma);
}

/** LUT index (0..255) for a data value, as the shader picks it. */
export function lutIndex(value: number, c: Contrast): number {
  return Math.min(255, Math.floor(normalize(value, c) * 255 + 0.5));
}

/** Clamp a user contrast: hi > lo, gamma in [0.05, 20]. */
export function sanitizeContrast(lo: number, hi: number, gamma: number): Contrast {
  let l = Number.isFinite(lo) ? lo : 0;
  let h = Number.isFinite(hi) ? hi : l + 1;
  if (h < l) [l, h] = [h, l];
  if (h === l) h = l + 1;
  const g = Number.isFinite(gamma) && gamma > 0 ? Math.min(20, Math.max(0.05, gamma)) : 1;
  return { lo: l, hi: h, gamma: g };
}
