// Frame statistics kept by the browser side of a live view (published on window.labkit.views).

export interface ViewStats {
  view_id: string;
  renderer: string;
  software_gl: string; // the WebGL renderer string when WebGL2 is CPU-emulated, else ""
  received: number;
  painted: number;
  // camera frames the display skipped on purpose: never sent (the kernel sends the newest frame
  // at the rate the page paints) or received but replaced by a newer one before a paint. Not
  // data loss: every frame is still in the ring for the readers that record it.
  skipped: number;
  replaced: number; // received but replaced by a newer frame before paint
  fps_received: number;
  fps_painted: number;
  latency_ms_p50: number; // camera timestamp -> paint
  latency_ms_p95: number;
  transit_ms_p50: number; // kernel send -> browser receipt
  paint_ms_p50: number; // texture upload + draw call (main thread)
  zoom: number; // device px per full-frame px
  decode_ms_p50: number; // JPEG frames: receipt -> decoded pixels (async)
  last_index: number;
  encoding: string;
  bin: number;
  texture: [number, number];
  bytes_received: number;
  messages_to_kernel: Record<string, number>;
  visible: boolean;
  paint_rate_fps: number; // how often this page can paint (rAF rate), as reported to the kernel
  send_cap_fps: number; // the kernel's cap on frames sent per second (NaN: not capped)
  image_css: [number, number]; // CSS px the image is drawn at
  marks_drawn: number; // labelled boxes (bead ROIs) on the overlay at its last paint
}

export function newStats(viewId: string): ViewStats {
  return {
    view_id: viewId,
    renderer: "",
    software_gl: "",
    received: 0,
    painted: 0,
    skipped: 0,
    replaced: 0,
    fps_received: 0,
    fps_painted: 0,
    latency_ms_p50: NaN,
    latency_ms_p95: NaN,
    transit_ms_p50: NaN,
    paint_ms_p50: NaN,
    zoom: NaN,
    decode_ms_p50: NaN,
    last_index: -1,
    encoding: "",
    bin: 1,
    texture: [0, 0],
    bytes_received: 0,
    messages_to_kernel: {},
    visible: true,
    paint_rate_fps: NaN,
    send_cap_fps: NaN,
    image_css: [0, 0],
    marks_drawn: 0,
  };
}

/** Percentile (0..100) of a list of numbers (nearest rank); NaN for an empty list. */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** Rolling window of samples (latency etc.) capped at `size`. */
export class Window {
  private values: number[] = [];
  constructor(private size = 120) {}
  push(v: number) {
    this.values.push(v);
    if (this.values.length > this.size) this.values.shift();
  }
  quantile(p: number): number {
    return quantile(this.values, p);
  }
  clear() {
    this.values = [];
  }
}

/** Counts events and reports the rate over the last update interval. */
export class RateMeter {
  private count = 0;
  private t0: number;
  rate = 0;
  constructor(now: number) {
    this.t0 = now;
  }
  tick() {
    this.count++;
  }
  /** Recompute the rate if at least `minInterval` ms passed; returns true when it did. */
  update(now: number, minInterval = 500): boolean {
    const dt = now - this.t0;
    if (dt < minInterval) return false;
    this.rate = (this.count * 1000) / dt;
    this.count = 0;
    this.t0 = now;
    return true;
  }
}

/** The rate the display shows frames at: the kernel's send cap (min of max_fps and the page's
 * paint rate), else the measured paint rate; NaN when neither is known yet. */
export function displayRate(s: ViewStats): number {
  return Number.isFinite(s.send_cap_fps) ? s.send_cap_fps : s.paint_rate_fps;
}

/** The one-line summary shown under the image. Frames the display skips on purpose are named
 * as such ("skipped N, display at 60 Hz"); data loss is not a display matter (a ring reader that
 * falls behind counts it, and the dashboard shows it in red). */
export function statsLine(s: ViewStats): string {
  const latency = Number.isNaN(s.latency_ms_p50) ? "–" : s.latency_ms_p50.toFixed(0);
  const rate = displayRate(s);
  const skipped = `skipped ${s.skipped}` + (Number.isFinite(rate) ? `, display at ${rate.toFixed(0)} Hz` : "");
  return (
    `${s.fps_painted.toFixed(0)} fps painted · ${s.fps_received.toFixed(0)} received · ${latency} ms · ` +
    `${skipped} · ${s.encoding}${s.bin > 1 ? ` bin ${s.bin}` : ""}`
  );
}
