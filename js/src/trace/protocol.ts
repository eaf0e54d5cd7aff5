// Messages between the kernel (labkit/widgets/_trace_canvas.py) and the browser.
//
// kernel -> browser: {type: "traces", seq, n, n_channels, t_end, window_s, y_min, y_max,
//   n_samples, rows_lost} with two buffers: buffers[0] = float32 t (n,) in seconds relative to
//   t_end (<= 0), buffers[1] = float32 v (n_channels, n), channel-major (min/max decimated rows).
// browser -> kernel: {type: "ack", seq} on receipt, {type: "ready"|"closed", view},
//   {type: "resize", plot_w} (plot width in device pixels: the kernel decimates to it).

export interface TracesMsg {
  type: "traces";
  seq: number;
  n: number;
  n_channels: number;
  t_end: number; // epoch s of the newest sample
  window_s: number;
  y_min: number | null; // null: no finite data
  y_max: number | null;
  n_samples: number; // samples in the window before decimation
  rows_lost: number;
}

export interface Traces {
  msg: TracesMsg;
  t: Float32Array; // (n,) seconds before t_end
  v: Float32Array[]; // one (n,) array per channel
}

type Buf = DataView | ArrayBuffer | Uint8Array;

/** A float32 view of a buffer (copies only when the view is not 4-byte aligned). */
export function float32s(buf: Buf, count: number): Float32Array {
  if (buf instanceof ArrayBuffer) return new Float32Array(buf, 0, count);
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer as ArrayBuffer, buf.byteOffset, count);
  const bytes = (buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + count * 4);
  return new Float32Array(bytes);
}

function byteLength(buf: Buf): number {
  return buf.byteLength;
}

/** Decode a "traces" message; throws an Error naming the mismatch when sizes disagree. */
export function decodeTraces(msg: TracesMsg, buffers: Buf[]): Traces {
  const { n, n_channels: c } = msg;
  if (buffers.length < 2) throw new Error(`traces message needs 2 buffers, got ${buffers.length}`);
  if (byteLength(buffers[0]) < n * 4) throw new Error(`t buffer has ${byteLength(buffers[0])} bytes, need ${n * 4}`);
  if (byteLength(buffers[1]) < n * c * 4) {
    throw new Error(`v buffer has ${byteLength(buffers[1])} bytes, need ${n * c * 4}`);
  }
  const t = float32s(buffers[0], n);
  const all = float32s(buffers[1], n * c);
  const v: Float32Array[] = [];
  for (let k = 0; k < c; k++) v.push(all.subarray(k * n, (k + 1) * n));
  return { msg, t, v };
}

/** min and max over all channels, ignoring NaN; [NaN, NaN] when empty. */
export function valueRange(v: Float32Array[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const ch of v) {
    for (let i = 0; i < ch.length; i++) {
      const x = ch[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  return lo <= hi ? [lo, hi] : [NaN, NaN];
}
