// Decoding of JPEG frames (the slow-link / marimo encoding) into 8-bit gray pixels.

let jpegCanvas: HTMLCanvasElement | null = null;

export async function decodeJpeg(buf: DataView): Promise<Uint8Array> {
  const blob = new Blob([new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength)], { type: "image/jpeg" });
  const bmp = await createImageBitmap(blob);
  const c = (jpegCanvas ??= document.createElement("canvas"));
  if (c.width !== bmp.width || c.height !== bmp.height) {
    c.width = bmp.width;
    c.height = bmp.height;
  }
  const ctx = c.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = new Uint8Array(c.width * c.height);
  for (let i = 0; i < out.length; i++) out[i] = rgba[i * 4];
  return out;
}

