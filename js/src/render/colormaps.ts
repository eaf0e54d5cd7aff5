// Colormap lookup tables: 256 RGBA entries each, uploaded as a 256x1 texture by the renderer.
import {
  interpolateCividis,
  interpolateInferno,
  interpolateMagma,
  interpolatePlasma,
  interpolateTurbo,
  interpolateViridis,
} from "d3-scale-chromatic";

export const LUT_SIZE = 256;

type Interp = (t: number) => string;

const INTERPOLATORS: Record<string, Interp> = {
  viridis: interpolateViridis,
  magma: interpolateMagma,
  inferno: interpolateInferno,
  plasma: interpolatePlasma,
  cividis: interpolateCividis,
  turbo: interpolateTurbo,
};

/** Names accepted by `colormapLut` / `setColormap`, in picker order. */
export const COLORMAP_NAMES: readonly string[] = [
  "gray",
  "viridis",
  "magma",
  "inferno",
  "plasma",
  "cividis",
  "turbo",
  "hot",
  "green",
  "hilo",
];

/** Parse "#rrggbb" or "rgb(r, g, b)" into [r, g, b] (0..255). */
export function parseColor(text: string): [number, number, number] {
  const s = text.trim();
  if (s.startsWith("#") && s.length === 7) {
    return [parseInt(s.slice(1, 3), 16), parseInt(s.slice(3, 5), 16), parseInt(s.slice(5, 7), 16)];
  }
  const m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/.exec(s);
  if (m) return [Math.round(+m[1]), Math.round(+m[2]), Math.round(+m[3])];
  throw new Error(`cannot parse color ${JSON.stringify(text)}`);
}

const cache = new Map<string, Uint8Array>();

/**
 * The 256-entry RGBA table of a colormap (entry i is the color of normalized value i/255).
 * Throws an Error naming the valid choices for an unknown name.
 */
export function colormapLut(name: string): Uint8Array {
  const hit = cache.get(name);
  if (hit) return hit;
  const lut = new Uint8Array(LUT_SIZE * 4);
  for (let i = 0; i < LUT_SIZE; i++) {
    const t = i / (LUT_SIZE - 1);
    let rgb: [number, number, number];
    if (name === "gray" || name === "hilo") {
      const v = Math.round(t * 255);
      rgb = [v, v, v];
    } else if (name === "green") {
      rgb = [0, Math.round(t * 255), 0];
    } else if (name === "hot") {
      rgb = [
        Math.round(255 * Math.min(1, t / 0.375)),
        Math.round(255 * Math.min(1, Math.max(0, (t - 0.375) / 0.375))),
        Math.round(255 * Math.max(0, (t - 0.75) / 0.25)),
      ];
    } else if (name in INTERPOLATORS) {
      rgb = parseColor(INTERPOLATORS[name](t));
    } else {
      throw new Error(`unknown colormap ${JSON.stringify(name)}; choose one of ${COLORMAP_NAMES.join(", ")}`);
    }
    lut.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
  }
  if (name === "hilo") {
    lut.set([0, 0, 255, 255], 0); // at or below the low limit: blue
    lut.set([255, 0, 0, 255], (LUT_SIZE - 1) * 4); // at or above the high limit: red
  }
  cache.set(name, lut);
  return lut;
}
