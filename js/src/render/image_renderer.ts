// createImageRenderer(canvas): draws a uint16/uint8/float32 image with contrast, a linear or log
// scale, gamma and a colormap. WebGL2 path: R16UI / R8UI integer textures sampled with usampler2D
// (EXT_texture_norm16 is not needed) or an R32F texture (float data, exact values: NaN is drawn
// as the background), contrast + scale + gamma + 256x1 LUT texture in the fragment shader.
// Canvas2D fallback otherwise.
import { colormapLut } from "./colormaps";
import { type Contrast, lutIndex, sanitizeContrast } from "./contrast";
import type { Placement, View } from "./viewport";

export type Pixels = Uint16Array | Uint8Array;
/** What setImage takes: integer texels (with a ValueScale) or float32 data values. */
export type Texels = Pixels | Float32Array;

/** Maps stored texel values to data values: data = stored * scale + offset (8-bit encodings). */
export interface ValueScale {
  scale: number;
  offset: number;
}

export interface ImageRenderer {
  readonly kind: "webgl2" | "canvas2d";
  setImage(data: Texels, w: number, h: number, placement?: Placement, valueScale?: ValueScale): void;
  /**
   * Upload an 8-bit gray bitmap (its red channel) without reading it back on the CPU. Returns
   * false if this renderer cannot (Canvas2D, or the GPU refused): then use setImage.
   */
  setBitmap(bitmap: ImageBitmap, placement?: Placement, valueScale?: ValueScale): boolean;
  /** Limits in data units; `log` maps log(v / lo) / log(hi / lo) (limits must be > 0). */
  setContrast(lo: number, hi: number, gamma?: number, log?: boolean): void;
  setColormap(name: string): void;
  /** View in full-frame coordinates; null fits the current placement to the canvas. */
  setView(view: View | null): void;
  draw(): void;
  destroy(): void;
}

interface State {
  data: Texels | null;
  w: number;
  h: number;
  placement: Placement;
  vs: ValueScale;
  contrast: Contrast;
  lut: Uint8Array;
  view: View | null;
}

function newState(): State {
  return {
    data: null,
    w: 0,
    h: 0,
    placement: { x: 0, y: 0, w: 1, h: 1, tw: 1, th: 1 },
    vs: { scale: 1, offset: 0 },
    contrast: { lo: 0, hi: 65535, gamma: 1 },
    lut: colormapLut("gray"),
    view: null,
  };
}

function effectiveView(s: State, cw: number, ch: number): View {
  if (s.view) return s.view;
  const p = s.placement;
  const zoom = Math.min(cw / p.w, ch / p.h);
  return { cx: p.x + p.w / 2, cy: p.y + p.h / 2, zoom };
}

const VERT = `#version 300 es
in vec2 a_pos;
uniform vec4 u_rect;   // x, y, w, h of the texture in frame px
uniform vec3 u_view;   // cx, cy, zoom
uniform vec2 u_canvas; // device px
out vec2 v_uv;
void main() {
  vec2 p = u_rect.xy + a_pos * u_rect.zw;
  vec2 c = (p - u_view.xy) * u_view.z + 0.5 * u_canvas;
  vec2 clip = c / u_canvas * 2.0 - 1.0;
  gl_Position = vec4(clip.x, -clip.y, 0.0, 1.0);
  v_uv = a_pos;
}`;

// the fragment shaders differ only in how a texel becomes a data value
const fragment = (sampler: string, value: string) => `#version 300 es
precision highp float;
precision highp usampler2D;
in vec2 v_uv;
uniform ${sampler} u_img;
uniform sampler2D u_lut;
uniform vec2 u_size;     // texture size in texels
uniform vec2 u_scale;    // data = stored * x + y
uniform vec3 u_contrast; // lo, hi, gamma
uniform int u_log;       // 1: log scale between lo and hi (both > 0)
out vec4 color;
void main() {
  ivec2 t = ivec2(min(floor(v_uv * u_size), u_size - 1.0));
  float v = ${value};
  if (isnan(v)) { color = vec4(0.08, 0.08, 0.08, 1.0); return; }
  float n;
  if (u_log == 1) n = v > 0.0 ? clamp(log(v / u_contrast.x) / log(u_contrast.y / u_contrast.x), 0.0, 1.0) : 0.0;
  else n = clamp((v - u_contrast.x) / (u_contrast.y - u_contrast.x), 0.0, 1.0);
  if (u_contrast.z != 1.0) n = pow(n, u_contrast.z); // uniform branch: no pow() per pixel at gamma 1
  color = texelFetch(u_lut, ivec2(int(n * 255.0 + 0.5), 0), 0);
}`;
const FRAG_UINT = fragment("usampler2D", "float(texelFetch(u_img, t, 0).r) * u_scale.x + u_scale.y");
const FRAG_FLOAT = fragment("sampler2D", "texelFetch(u_img, t, 0).r");

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const sh = gl.createShader(type)!;
  gl.shaderSource(sh, src);
  gl.compileShader(sh);
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) {
    throw new Error(`labkit: shader compile failed: ${gl.getShaderInfoLog(sh)}`);
  }
  return sh;
}

function link(gl: WebGL2RenderingContext, frag: string): WebGLProgram {
  const prog = gl.createProgram()!;
  gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VERT));
  gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, frag));
  gl.bindAttribLocation(prog, 0, "a_pos");
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) {
    throw new Error(`labkit: shader link failed: ${gl.getProgramInfoLog(prog)}`);
  }
  return prog;
}

function createWebGL2(canvas: HTMLCanvasElement, gl: WebGL2RenderingContext): ImageRenderer {
  const s = newState();
  const programs = [link(gl, FRAG_UINT), link(gl, FRAG_FLOAT)].map((prog) => {
    const u = (name: string) => gl.getUniformLocation(prog, name);
    const loc = {
      rect: u("u_rect"),
      view: u("u_view"),
      canvas: u("u_canvas"),
      img: u("u_img"),
      lut: u("u_lut"),
      size: u("u_size"),
      scale: u("u_scale"),
      contrast: u("u_contrast"),
      log: u("u_log"),
    };
    return { prog, loc };
  });
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);
  const vbo = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]), gl.STATIC_DRAW);
  gl.enableVertexAttribArray(0); // a_pos in both programs
  gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);

  const imgTex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, imgTex);
  for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  const lutTex = gl.createTexture();
  let texKey = "";
  let bitmapFailed = false;

  function uploadLut() {
    gl.bindTexture(gl.TEXTURE_2D, lutTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, s.lut);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  }
  uploadLut();

  return {
    kind: "webgl2",
    setImage(data, w, h, placement, valueScale) {
      s.data = data;
      s.w = w;
      s.h = h;
      s.placement = placement ?? { x: 0, y: 0, w, h, tw: w, th: h };
      s.vs = valueScale ?? { scale: 1, offset: 0 };
      const bits = data instanceof Float32Array ? 32 : data instanceof Uint16Array ? 16 : 8;
      const key = `${w}x${h}:${bits}`;
      gl.bindTexture(gl.TEXTURE_2D, imgTex);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      const fmt = bits === 32 ? gl.RED : gl.RED_INTEGER;
      const type = bits === 32 ? gl.FLOAT : bits === 16 ? gl.UNSIGNED_SHORT : gl.UNSIGNED_BYTE;
      if (key !== texKey) {
        const internal = bits === 32 ? gl.R32F : bits === 16 ? gl.R16UI : gl.R8UI;
        gl.texImage2D(gl.TEXTURE_2D, 0, internal, w, h, 0, fmt, type, data);
        texKey = key;
      } else {
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, h, fmt, type, data);
      }
    },
    setBitmap(bitmap, placement, valueScale) {
      if (bitmapFailed) return false;
      const w = bitmap.width;
      const h = bitmap.height;
      gl.bindTexture(gl.TEXTURE_2D, imgTex);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      while (gl.getError() !== gl.NO_ERROR); // clear stale errors
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8UI, w, h, 0, gl.RED_INTEGER, gl.UNSIGNED_BYTE, bitmap);
      if (gl.getError() !== gl.NO_ERROR) {
        bitmapFailed = true;
        texKey = "";
        return false;
      }
      texKey = `${w}x${h}:8`;
      s.data = s.data instanceof Uint8Array && s.data.length === 0 ? s.data : new Uint8Array(0);
      s.w = w;
      s.h = h;
      s.placement = placement ?? { x: 0, y: 0, w, h, tw: w, th: h };
      s.vs = valueScale ?? { scale: 1, offset: 0 };
      return true;
    },
    setContrast(lo, hi, gamma = 1, log = false) {
      s.contrast = sanitizeContrast(lo, hi, gamma, log);
    },
    setColormap(name) {
      s.lut = colormapLut(name);
      uploadLut();
    },
    setView(view) {
      s.view = view;
    },
    draw() {
      const cw = canvas.width;
      const ch = canvas.height;
      gl.viewport(0, 0, cw, ch);
      gl.clearColor(0.08, 0.08, 0.08, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      if (!s.data) return;
      const v = effectiveView(s, cw, ch);
      const p = s.placement;
      const { prog, loc } = programs[s.data instanceof Float32Array ? 1 : 0];
      gl.useProgram(prog);
      gl.bindVertexArray(vao);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, imgTex);
      gl.uniform1i(loc.img, 0);
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, lutTex);
      gl.uniform1i(loc.lut, 1);
      gl.uniform4f(loc.rect, p.x, p.y, p.w, p.h);
      gl.uniform3f(loc.view, v.cx, v.cy, v.zoom);
      gl.uniform2f(loc.canvas, cw, ch);
      gl.uniform2f(loc.size, s.w, s.h);
      gl.uniform2f(loc.scale, s.vs.scale, s.vs.offset);
      gl.uniform3f(loc.contrast, s.contrast.lo, s.contrast.hi, s.contrast.gamma);
      gl.uniform1i(loc.log, s.contrast.log ? 1 : 0);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      gl.activeTexture(gl.TEXTURE0);
    },
    destroy() {
      gl.deleteTexture(imgTex);
      gl.deleteTexture(lutTex);
      gl.deleteBuffer(vbo);
      gl.deleteVertexArray(vao);
      for (const { prog } of programs) gl.deleteProgram(prog);
      s.data = null;
    },
  };
}

function createCanvas2D(canvas: HTMLCanvasElement): ImageRenderer {
  const s = newState();
  const ctx = canvas.getContext("2d", { alpha: false });
  if (!ctx) throw new Error("labkit: this browser has neither WebGL2 nor a 2D canvas");
  const off = document.createElement("canvas");
  const offCtx = off.getContext("2d")!;
  let dirty = true;
  let img: ImageData | null = null;
  // value -> packed RGBA for every storable value (65536 or 256 entries), rebuilt only when the
  // contrast, colormap, value scale or bit depth changes (not per frame)
  let packed = new Uint32Array(0);
  let packedKey = "";

  function packedLut(n: number): Uint32Array {
    const c = s.contrast;
    const key = `${n}:${c.lo}:${c.hi}:${c.gamma}:${c.log}:${s.vs.scale}:${s.vs.offset}`;
    if (key !== packedKey || packed.length !== n) {
      packed = new Uint32Array(n);
      const lut32 = new Uint32Array(s.lut.buffer, s.lut.byteOffset, 256);
      for (let v = 0; v < n; v++) packed[v] = lut32[lutIndex(v * s.vs.scale + s.vs.offset, c)];
      packedKey = key;
    }
    return packed;
  }

  function rebuild() {
    if (!s.data) return;
    if (off.width !== s.w || off.height !== s.h) {
      off.width = s.w;
      off.height = s.h;
    }
    if (!img || img.width !== s.w || img.height !== s.h) img = offCtx.createImageData(s.w, s.h);
    const out = new Uint32Array(img.data.buffer);
    const d = s.data;
    const n = Math.min(d.length, out.length);
    if (d instanceof Float32Array) {
      // float values: one LUT lookup per pixel through normalize (no table over all values)
      const lut32 = new Uint32Array(s.lut.buffer, s.lut.byteOffset, 256);
      const nan = 0xff141414; // the background (little-endian RGBA)
      for (let i = 0; i < n; i++) out[i] = d[i] === d[i] ? lut32[lutIndex(d[i], s.contrast)] : nan;
    } else {
      const lut = packedLut(d instanceof Uint16Array ? 65536 : 256);
      for (let i = 0; i < n; i++) out[i] = lut[d[i]];
    }
    offCtx.putImageData(img, 0, 0);
    dirty = false;
  }

  return {
    kind: "canvas2d",
    setImage(data, w, h, placement, valueScale) {
      s.data = data;
      s.w = w;
      s.h = h;
      s.placement = placement ?? { x: 0, y: 0, w, h, tw: w, th: h };
      s.vs = valueScale ?? { scale: 1, offset: 0 };
      dirty = true;
    },
    setBitmap() {
      return false; // the LUT needs the pixel values on the CPU here
    },
    setContrast(lo, hi, gamma = 1, log = false) {
      s.contrast = sanitizeContrast(lo, hi, gamma, log);
      dirty = true;
    },
    setColormap(name) {
      s.lut = colormapLut(name);
      packedKey = "";
      dirty = true;
    },
    setView(view) {
      s.view = view;
    },
    draw() {
      const cw = canvas.width;
      const ch = canvas.height;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#141414";
      ctx.fillRect(0, 0, cw, ch);
      if (!s.data) return;
      if (dirty) rebuild();
      const v = effectiveView(s, cw, ch);
      const p = s.placement;
      ctx.imageSmoothingEnabled = false;
      ctx.setTransform(v.zoom, 0, 0, v.zoom, cw / 2 - v.cx * v.zoom, ch / 2 - v.cy * v.zoom);
      ctx.drawImage(off, 0, 0, s.w, s.h, p.x, p.y, p.w, p.h);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
    },
    destroy() {
      s.data = null;
      img = null;
      packed = new Uint32Array(0);
      off.width = 0;
      off.height = 0;
    },
  };
}

let softwareGL: string | null | undefined; // undefined: not probed yet; null: hardware / unknown

/**
 * The WebGL renderer string when WebGL2 is emulated on the CPU (SwiftShader, llvmpipe: headless
 * or GPU-less browsers), else null. Probed once on a throwaway canvas.
 */
export function softwareWebGL(): string | null {
  if (softwareGL !== undefined) return softwareGL;
  softwareGL = null;
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (gl) {
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      const name = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? "");
      if (/swiftshader|llvmpipe|softpipe|software/i.test(name)) softwareGL = name;
      gl.getExtension("WEBGL_lose_context")?.loseContext();
    }
  } catch {
    softwareGL = null;
  }
  return softwareGL;
}

export interface RendererOptions {
  /** Always use the Canvas2D renderer. */
  forceCanvas2D?: boolean;
  /**
   * Use Canvas2D when WebGL2 is only emulated on the CPU. There every WebGL frame is drawn by
   * the GPU process in software and read back for the software compositor (~15 ms of CPU per
   * frame for 640² in headless Chromium), where the Canvas2D LUT path costs ~2 ms.
   */
  canvas2DOnSoftwareGL?: boolean;
}

/**
 * Create a renderer on `canvas`: WebGL2 when available (unless `forceCanvas2D`, or
 * `canvas2DOnSoftwareGL` and WebGL2 is software-emulated), else Canvas2D.
 * The canvas backing size (canvas.width/height, device px) is owned by the caller.
 */
export function createImageRenderer(canvas: HTMLCanvasElement, opts: RendererOptions = {}): ImageRenderer {
  const useGL = !opts.forceCanvas2D && !(opts.canvas2DOnSoftwareGL && softwareWebGL() !== null);
  if (useGL) {
    // opaque, no depth/stencil: the compositor neither blends the canvas nor clears buffers
    // it does not need
    const gl = canvas.getContext("webgl2", {
      alpha: false,
      antialias: false,
      depth: false,
      stencil: false,
      premultipliedAlpha: true,
      preserveDrawingBuffer: false,
    });
    if (gl) {
      try {
        return createWebGL2(canvas, gl);
      } catch (err) {
        console.warn("labkit: WebGL2 renderer failed, using Canvas2D", err);
      }
    }
  }
  return createCanvas2D(canvas);
}
