import assert from "node:assert/strict";
import { test } from "node:test";
import { PaintRateEstimator, vsyncIn } from "../src/liveview/paint_rate";

function run(est: PaintRateEstimator, t0: number, intervalMs: number, n: number): number {
  let t = t0;
  for (let i = 0; i < n; i++) {
    est.tick(t);
    t += intervalMs;
  }
  return t;
}

test("no estimate until enough intervals", () => {
  const est = new PaintRateEstimator({ minSamples: 10 });
  run(est, 0, 16.667, 10); // 10 ticks = 9 intervals
  assert.ok(Number.isNaN(est.fps));
  est.tick(10 * 16.667);
  assert.ok(Math.abs(est.fps - 60) < 0.01);
});

test("60 Hz and 144 Hz displays", () => {
  const est = new PaintRateEstimator();
  run(est, 0, 1000 / 60, 61);
  assert.ok(Math.abs(est.fps - 60) < 0.01, String(est.fps));
  // the window moves to a 144 Hz screen: the estimate follows within one window
  run(est, 5000, 1000 / 144, 61);
  assert.ok(Math.abs(est.fps - 144) < 0.1, String(est.fps));
});

test("a hidden tab (rAF paused) leaves no sample and keeps the last estimate", () => {
  const est = new PaintRateEstimator({ window: 20 });
  const t = run(est, 0, 1000 / 60, 21);
  // hidden for 5 s: the next callback comes 5 s later; that interval is a pause, not a sample
  run(est, t + 5000, 1000 / 60, 1);
  assert.ok(Math.abs(est.fps - 60) < 0.01, String(est.fps));
  // an explicit pause (the view stopped its loop) breaks continuity too
  est.pause();
  est.tick(t + 5000 + 400); // 400 ms after the last tick, but continuity was broken
  assert.ok(Math.abs(est.fps - 60) < 0.01, String(est.fps));
});

test("single slow paints are outliers, consistently slow paints lower the rate", () => {
  const est = new PaintRateEstimator({ window: 30 });
  let t = 0;
  for (let i = 0; i < 31; i++) {
    est.tick(t);
    t += i % 10 === 5 ? 50 : 1000 / 60; // a 50 ms hiccup every 10 frames (GC, layout)
  }
  assert.ok(Math.abs(est.fps - 60) < 0.01, String(est.fps));
  // every paint now overruns one vsync: the page paints every second vsync
  run(est, t, 2000 / 60, 31);
  assert.ok(Math.abs(est.fps - 30) < 0.01, String(est.fps));
});

test("a throttled tab (1 Hz rAF) is measured, not mistaken for a pause", () => {
  const est = new PaintRateEstimator({ window: 12, minSamples: 10 });
  run(est, 0, 1000, 13);
  assert.ok(Math.abs(est.fps - 1) < 1e-9, String(est.fps));
});

test("jitter around vsync does not move the median", () => {
  const est = new PaintRateEstimator();
  let t = 0;
  for (let i = 0; i < 61; i++) {
    est.tick(t);
    t += 1000 / 60 + (i % 2 ? 0.8 : -0.8);
  }
  assert.ok(Math.abs(est.fps - 60) < 3, String(est.fps));
});

test("shouldReport fires on the first estimate and on changes above 5%", () => {
  const est = new PaintRateEstimator({ window: 10, minSamples: 5 });
  assert.equal(est.shouldReport(), false); // nothing measured yet
  let t = run(est, 0, 1000 / 60, 11);
  assert.equal(est.shouldReport(), true);
  assert.equal(est.shouldReport(), false);
  t = run(est, t, 1000 / 58, 11); // -3%: not worth a message
  assert.equal(est.shouldReport(), false);
  run(est, t, 1000 / 30, 11);
  assert.equal(est.shouldReport(), true);
  assert.ok(Math.abs(est.fps - 30) < 0.01);
});

test("clock glitches (non-increasing timestamps) are ignored", () => {
  const est = new PaintRateEstimator({ minSamples: 3, window: 5 });
  for (const t of [0, 16, 16, 10, 26, 42, 58]) est.tick(t);
  assert.equal(est.intervalMs, 16);
});

test("vsyncIn: time until the next rAF of the running loop", () => {
  assert.equal(vsyncIn(16, 100, 104), 12);
  assert.equal(vsyncIn(16, 100, 116 + 15), 1); // one rAF later, 1 ms before the next
  assert.equal(vsyncIn(16, 100, 100), 16);
  assert.ok(Number.isNaN(vsyncIn(NaN, 100, 104))); // rate not measured yet
  assert.ok(Number.isNaN(vsyncIn(16, NaN, 104))); // loop not running
  assert.ok(Number.isNaN(vsyncIn(16, 110, 104)));
});
