// Messages between the kernel (labkit/widgets/_liveview.py) and the browser.

/** kernel -> browser: one frame, binned/cropped to what the viewport shows. */
export interface FrameMsg {
  type: "frame";
  seq: number;
  index: number;
  timestamp_s: number; // camera time (epoch s)
  sent_s: number; // kernel send time (epoch s)
  encoding: "raw16" | "raw8" | "jpeg";
  w: number; // texels
  h: number;
  x: number; // full-frame region covered
  y: number;
  rw: number;
  rh: number;
  full_w: number;
  full_h: number;
  bin: number;
  scale: number; // data = stored * scale + offset
  offset: number;
  send_cap_fps: number | null; // frames/s the kernel holds its sends to (null: not capped)
}

export interface StatusMsg {
  type: "status";
  level: "ok" | "warning" | "error";
  message: string;
}

export type KernelMsg = FrameMsg | StatusMsg;

/** Copy into a fresh ArrayBuffer when the view is not aligned for `bytesPerElement`. */
export function alignedBytes(buf: DataView | ArrayBuffer | Uint8Array, bytesPerElement: number): ArrayBuffer {
  if (buf instanceof ArrayBuffer) return buf;
  const { buffer, byteOffset, byteLength } = buf;
  if (byteOffset % bytesPerElement === 0 && byteOffset === 0 && byteLength === buffer.byteLength) {
    return buffer as ArrayBuffer;
  }
  return (buffer as ArrayBuffer).slice(byteOffset, byteOffset + byteLength);
}

/** A typed view of a raw frame buffer (copies only when misaligned). */
export function rawPixels(buf: DataView | ArrayBuffer | Uint8Array, encoding: "raw16" | "raw8", n: number): Uint16Array | Uint8Array {
  if (buf instanceof ArrayBuffer) {
    return encoding === "raw16" ? new Uint16Array(buf, 0, n) : new Uint8Array(buf, 0, n);
  }
  if (encoding === "raw8") return new Uint8Array(buf.buffer, buf.byteOffset, n);
  if (buf.byteOffset % 2 === 0) return new Uint16Array(buf.buffer, buf.byteOffset, n);
  return new Uint16Array(alignedBytes(buf, 2), 0, n);
}
