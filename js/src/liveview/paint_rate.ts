// How often this page can really paint: the interval between requestAnimationFrame callbacks,
// measured while the live view keeps a rAF loop running (frames arriving). The kernel paces its
// sends to this rate, so it stops binning and sending frames the browser would never show.
//
// Robust to:
// - a hidden tab: rAF stops; the interval spanning the pause is longer than `maxIntervalMs` and
//   is dropped (continuity is broken, no sample), so the estimate is the last good one;
// - slow paints: a paint that overruns vsync delays the next callback, so consistently slow
//   paints lower the estimate (that is the real paint rate), while single hiccups (GC, layout)
//   are outliers the median ignores;
// - a throttled tab (rAF at 30 Hz or 1 Hz): intervals up to `maxIntervalMs` are samples.

export interface PaintRateOptions {
  window?: number; // intervals kept (median over them)
  minSamples?: number; // intervals needed before an estimate exists
  maxIntervalMs?: number; // longer intervals are pauses (hidden tab, loop stopped), not samples
  reportChange?: number; // relative change that counts as "changed" for `shouldReport`
}

/** Median of the rAF intervals over a sliding window, as frames per second. */
export class PaintRateEstimator {
  private intervals: number[] = [];
  private last = NaN;
  private reported = NaN;
  readonly window: number;
  readonly minSamples: number;
  readonly maxIntervalMs: number;
  readonly reportChange: number;

  constructor(opts: PaintRateOptions = {}) {
    this.window = opts.window ?? 60;
    this.minSamples = opts.minSamples ?? 10;
    this.maxIntervalMs = opts.maxIntervalMs ?? 1100;
    this.reportChange = opts.reportChange ?? 0.05;
  }

  /** One rAF callback at time `t` (ms, the callback's timestamp argument). */
  tick(t: number): void {
    const dt = t - this.last;
    this.last = t;
    if (!(dt > 0) || dt > this.maxIntervalMs) return; // first tick, clock glitch or a pause
    this.intervals.push(dt);
    if (this.intervals.length > this.window) this.intervals.shift();
  }

  /** The loop stopped (or the page was hidden): the next tick starts a new run of intervals. */
  pause(): void {
    this.last = NaN;
  }

  /** Median interval in ms; NaN until `minSamples` intervals were seen. */
  get intervalMs(): number {
    const n = this.intervals.length;
    if (n < this.minSamples) return NaN;
    const s = [...this.intervals].sort((a, b) => a - b);
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /** Painted frames per second the page can sustain now; NaN while unknown. */
  get fps(): number {
    const ms = this.intervalMs;
    return ms > 0 ? 1000 / ms : NaN;
  }

  /** True when the estimate exists and moved by more than `reportChange` since the last report
   *  (or was never reported); marks it reported. */
  shouldReport(): boolean {
    const fps = this.fps;
    if (Number.isNaN(fps)) return false;
    if (!Number.isNaN(this.reported) && Math.abs(fps - this.reported) <= this.reportChange * this.reported) return false;
    this.reported = fps;
    return true;
  }
}

/** Milliseconds from `now` until the next rAF callback of a loop that last ran at `lastRafAt`
 *  with period `intervalMs` (all in the performance.now() time base); NaN when unknown. */
export function vsyncIn(intervalMs: number, lastRafAt: number, now: number): number {
  if (!(intervalMs > 0) || Number.isNaN(lastRafAt) || now < lastRafAt) return NaN;
  const since = (now - lastRafAt) % intervalMs;
  return +(intervalMs - since).toFixed(2);
}
