// Pure helpers of the viewer window: slice decoding, float -> uint16 quantization for the shared
// integer-texture renderer, coordinate formatting. No DOM here.
import type { Pixels, ValueScale } from "../render/image_renderer";

/** kernel -> browser: one 2-D slice (see labkit/viewer/_window.py). */
export interface SliceMsg {
  type: "slice";
  version: number;
  slices: Record<string, number>;
  w: number;
  h: number;
  full_w?: number; // slice size before binning (pixels)
  full_h?: number;
  bin?: number; // texels are means of bin x bin pixels
  dtype: "u8" | "u16" | "f32";
  min: number;
  max: number;
}

export interface AxisInfo {
  size: number;
  units: string;
  values: (number | string | null)[] | null;
  start: number;
  step: number;
}

export interface WindowInfo {
  uid: string;
  index: number;
  name: string;
  dims: string[];
  shape: number[];
  dtype: string;
  version: number;
  source: string;
  watched: boolean;
  units: string;
  long_name: string;
  image_dims: string[];
  axes: Record<string, AxisInfo>;
  closed: boolean;
}

export interface ViewState {
  slices: Record<string, number>;
  cursor: Record<string, number>;
  contrast_lo: number | null;
  contrast_hi: number | null;
  gamma: number;
  colormap: string;
  link_group: string | null;
}

/** A decoded slice: exact values (for readout/profiles) and texels for the renderer. */
export interface Slice {
  msg: SliceMsg;
  values: Float32Array | Uint16Array | Uint8Array;
  pixels: Pixels;
  vs: ValueScale;
}

/** The buffer's bytes as an ArrayBuffer + offset usable by a typed array of `align`-byte items
 * (no copy when already aligned). */
function aligned(buf: DataView, bytes: number, align: number): [ArrayBuffer, number] {
  if (buf.byteOffset % align === 0) return [buf.buffer as ArrayBuffer, buf.byteOffset];
  return [(buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + bytes), 0];
}

/** Decode a slice message; float data is quantized to uint16 over its finite range (NaN -> 0). */
export function decodeSlice(msg: SliceMsg, buf: DataView): Slice {
  const n = msg.w * msg.h;
  if (msg.dtype === "u8") {
    const values = new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, n);
    return { msg, values, pixels: values, vs: { scale: 1, offset: 0 } };
  }
  if (msg.dtype === "u16") {
    const values = new Uint16Array(...aligned(buf, n * 2, 2), n);
    return { msg, values, pixels: values, vs: { scale: 1, offset: 0 } };
  }
  const values = new Float32Array(...aligned(buf, n * 4, 4), n);
  const { pixels, vs } = quantize(values, msg.min, msg.max);
  return { msg, values, pixels, vs };
}

/** uint16 texels for float values in [lo, hi]: data = stored * scale + offset. */
export function quantize(values: Float32Array, lo: number, hi: number): { pixels: Uint16Array; vs: ValueScale } {
  const span = hi > lo ? hi - lo : 1;
  const k = 65535 / span;
  const pixels = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === v) {
      const q = (v - lo) * k + 0.5;
      pixels[i] = q <= 0 ? 0 : q >= 65535 ? 65535 : q;
    }
  }
  return { pixels, vs: { scale: span / 65535, offset: lo } };
}

/** Coordinate of index `i` along an axis (its coordinate values, else start + i * step). */
export function coordAt(axis: AxisInfo | undefined, i: number): number | string {
  if (!axis) return i;
  if (axis.values && i >= 0 && i < axis.values.length) {
    const v = axis.values[i];
    return v === null ? NaN : v;
  }
  return axis.start + i * axis.step;
}

/** A number with 4 significant digits, or a label as is. */
export function fmt(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

/** "name = value units" with the units only when there are some. */
export function label(name: string, v: number | string, units: string): string {
  return `${name} = ${fmt(v)}${units ? ` ${units}` : ""}`;
}
