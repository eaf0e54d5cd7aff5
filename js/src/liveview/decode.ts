// Decoding of JPEG frames (the slow-link / marimo encoding). The bitmap goes straight into the
// WebGL2 texture; gray pixels for the histogram, readout and profiles are read back only when
// those need them (a few times per second), not for every frame.

import type { Pixels, ValueScale } from "../render/image_renderer";
import type { FrameMsg } from "./protocol";

let grayCanvas: HTMLCanvasElement | null = null;

/** Decode JPEG bytes to an ImageBitmap without color management (values stay as encoded). */
export function decodeJpegBitmap(buf: DataView): Promise<ImageBitmap> {
  const bytes = new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
  const blob = new Blob([bytes], { type: "image/jpeg" });
  return createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
}

/** The red channel (= gray value) of a bitmap as 8-bit pixels, row-major. */
export function bitmapToGray(bmp: ImageBitmap): Uint8Array {
  const c = (grayCanvas ??= document.createElement("canvas"));
  if (c.width !== bmp.width || c.height !== bmp.height) {
    c.width = bmp.width;
    c.height = bmp.height;
  }
  const ctx = c.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0);
  const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = new Uint8Array(c.width * c.height);
  for (let i = 0; i < out.length; i++) out[i] = rgba[i * 4];
  return out;
}

/** A frame as received: raw pixels, or a JPEG bitmap read back on first use. */
export interface Received {
  msg: FrameMsg;
  data: Pixels | null; // null until read back from `bitmap` (JPEG frames)
  bitmap: ImageBitmap | null;
  vs: ValueScale;
  receivedAt: number;
}

/** The frame's pixel values on the CPU (JPEG frames are read back once, on first use). */
export function pixelsOf(r: Received): Pixels {
  if (!r.data) r.data = r.bitmap ? bitmapToGray(r.bitmap) : new Uint8Array(r.msg.w * r.msg.h);
  return r.data;
}

export function release(r: Received | null) {
  r?.bitmap?.close();
  if (r) r.bitmap = null;
}
