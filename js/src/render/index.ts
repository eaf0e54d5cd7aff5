// Reusable image rendering pieces for labkit widgets (live view, viewer windows).
export {
  createImageRenderer,
  type ImageRenderer,
  type RendererOptions,
  softwareWebGL,
  type ValueScale,
} from "./image_renderer";
export { COLORMAP_NAMES, colormapLut, LUT_SIZE, parseColor } from "./colormaps";
export { type Contrast, lutIndex, normalize, sanitizeContrast } from "./contrast";
export { autoLimits, computeHistogram, dataRange, type Histogram, percentile } from "./histogram";
export { strokeProfile } from "./profile_line";
export * from "./viewport";
