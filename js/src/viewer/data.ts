// Messages and state of a viewer window (see labkit/viewer/_controller.py and _view.py) and
// their decoding into typed arrays. No DOM here.
import type { Texels, ValueScale } from "../render/image_renderer";
import type { Placement } from "../render/viewport";
import type { AxisInfo } from "./coords";

export type { AxisInfo };

/** kernel -> browser: the part of the image a viewport shows, binned `bin` x `bin`. */
export interface SliceMsg {
  type: "slice";
  seq: number;
  version: number;
  image_dims: string[];
  slices: Record<string, number>;
  x: number; // region [x, x + rw) x [y, y + rh) of the full-resolution image
  y: number;
  rw: number;
  rh: number;
  w: number; // texels
  h: number;
  bin: number;
  full_w: number;
  full_h: number;
  dtype: "u8" | "u16" | "f32";
  min: number;
  max: number;
  auto: [number, number] | null; // automatic contrast limits of the whole image
  auto_log: [number, number] | null; // the same over the values > 0 (log scale)
  kernel_ms?: number; // after a view change from here: the kernel's time from it to this send
}

export interface RoiStats {
  count: number;
  mean: number | null;
  sum: number;
  min: number | null;
  max: number | null;
  dim: string | null; // the extra dim of the "roi" profile
  skipped?: string;
}

/** kernel -> browser: full-resolution profiles, one float32 buffer per name in `arrays`. */
export interface ProfilesMsg {
  type: "profiles";
  seq: number;
  version: number;
  values: (number | null)[]; // value at each cursor (mean over the bins box)
  roi: RoiStats | null;
  line: { length: number; units: string; width: number } | null;
  arrays: string[];
}

export interface LinkedWindow {
  index: number;
  uid: string;
  name: string;
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
  axes: Record<string, AxisInfo>;
  linked_with: LinkedWindow[];
  link_group: string | null;
  closed: boolean;
}

export type Position = Record<string, number>;

export interface ViewState {
  image_dims: string[];
  slices: Record<string, number>;
  cursor: Position;
  cursors: Position[];
  active_cursor: number;
  bins: Record<string, number>;
  contrast_lo: number | null;
  contrast_hi: number | null;
  gamma: number;
  norm: "linear" | "log";
  colormap: string;
  link_group: string | null;
  roi: Record<string, [number, number]> | null;
  line: [Position, Position] | null;
}

/** A decoded slice: the values as sent (exact for float data) and where they sit. */
export interface Slice {
  msg: SliceMsg;
  values: Texels;
  placement: Placement;
  vs: ValueScale;
}

/** The buffer's bytes as an ArrayBuffer + offset usable by a typed array of `align`-byte items
 * (no copy when already aligned). */
function aligned(buf: DataView, bytes: number, align: number): [ArrayBuffer, number] {
  if (buf.byteOffset % align === 0) return [buf.buffer as ArrayBuffer, buf.byteOffset];
  return [(buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + bytes), 0];
}

function typed(dtype: SliceMsg["dtype"], buf: DataView, n: number): Texels {
  if (dtype === "u8") return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, n);
  if (dtype === "u16") return new Uint16Array(...aligned(buf, n * 2, 2), n);
  return new Float32Array(...aligned(buf, n * 4, 4), n);
}

/** Decode a slice message (no copy of aligned buffers). */
export function decodeSlice(msg: SliceMsg, buf: DataView): Slice {
  const values = typed(msg.dtype, buf, msg.w * msg.h);
  const placement = { x: msg.x, y: msg.y, w: msg.rw, h: msg.rh, tw: msg.w, th: msg.h };
  return { msg, values, placement, vs: { scale: 1, offset: 0 } };
}

/** The profiles of a message by name (float32 views of the buffers). */
export function decodeProfiles(msg: ProfilesMsg, buffers: DataView[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  msg.arrays.forEach((name, i) => {
    const b = buffers[i];
    if (b) out.set(name, typed("f32", b, b.byteLength / 4) as Float32Array);
  });
  return out;
}

/** The texel of a slice holding full-resolution pixel (col, row), or -1 outside the region. */
export function texelIndex(s: Slice, col: number, row: number): number {
  const p = s.placement;
  if (col < p.x || row < p.y || col >= p.x + p.w || row >= p.y + p.h) return -1;
  const b = s.msg.bin;
  const tc = Math.min(p.tw - 1, Math.floor((col - p.x) / b));
  const tr = Math.min(p.th - 1, Math.floor((row - p.y) / b));
  return tr * p.tw + tc;
}

/** Colours of cursors 1..8 (the active one is drawn solid, the others dashed). */
export const CURSOR_COLORS = ["#ffd600", "#ff5252", "#40c4ff", "#69f0ae", "#e040fb", "#ffab40", "#b2ff59", "#ffffff"];
