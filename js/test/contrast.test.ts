import assert from "node:assert/strict";
import { test } from "node:test";
import { denormalize, lutIndex, normalize, sanitizeContrast } from "../src/render/contrast";
import {
  autoLimits,
  computeHistogram,
  dataRange,
  finiteRange,
  percentile,
  valueHistogram,
} from "../src/render/histogram";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test("normalize clamps to the limits and applies gamma", () => {
  const c = { lo: 100, hi: 200, gamma: 1 };
  assert.equal(normalize(50, c), 0);
  assert.equal(normalize(150, c), 0.5);
  assert.equal(normalize(500, c), 1);
  assert.equal(normalize(150, { ...c, gamma: 2 }), 0.25);
  assert.equal(lutIndex(150, c), 128);
  assert.equal(lutIndex(200, c), 255);
});

test("sanitizeContrast orders limits and bounds gamma", () => {
  assert.deepEqual(sanitizeContrast(10, 5, 1), { lo: 5, hi: 10, gamma: 1 });
  assert.deepEqual(sanitizeContrast(3, 3, 0), { lo: 3, hi: 4, gamma: 1 });
  assert.equal(sanitizeContrast(0, 1, 1000).gamma, 20);
  assert.equal(sanitizeContrast(NaN, NaN, 1).hi, 1);
});

test("histogram counts every value once, top value in the last bin", () => {
  const d = new Uint16Array([0, 1, 2, 3, 3, 3]);
  const h = computeHistogram(d, 4);
  assert.deepEqual([...h.counts], [1, 1, 1, 3]);
  assert.equal(h.total, 6);
  assert.deepEqual(dataRange(d), { min: 0, max: 3 });
});

test("histogram clamps out-of-range values into the end bins", () => {
  const h = computeHistogram(new Uint8Array([0, 10, 200, 255]), 2, { min: 10, max: 199 });
  assert.deepEqual([...h.counts], [2, 2]);
});

test("percentiles of a uniform ramp", () => {
  const d = new Uint16Array(1000);
  for (let i = 0; i < d.length; i++) d[i] = i;
  const h = computeHistogram(d, 1000);
  assert.ok(Math.abs(percentile(h, 50) - 500) <= 1);
  assert.ok(Math.abs(percentile(h, 99) - 990) <= 1);
  assert.equal(percentile(h, 0), 0);
});

test("autoLimits ignores rare outliers", () => {
  const d = new Uint16Array(100_000).fill(1000);
  for (let i = 0; i < d.length; i++) d[i] = 1000 + (i % 100);
  d[0] = 65535; // one hot pixel
  d[1] = 0; // one dead pixel
  const [lo, hi] = autoLimits(d);
  assert.ok(lo >= 999 && lo <= 1001, `lo ${lo}`);
  assert.ok(hi >= 1098 && hi <= 1101, `hi ${hi}`);
});

test("autoLimits of a flat image gives a non-empty window", () => {
  const [lo, hi] = autoLimits(new Uint8Array(64).fill(7));
  assert.equal(lo, 7);
  assert.equal(hi, 8);
});

// ---- normalisation
test("log normalisation spaces decades evenly and round-trips", () => {
  const c = { lo: 1, hi: 1000, gamma: 1, log: true };
  close(normalize(10, c), 1 / 3);
  close(normalize(100, c), 2 / 3);
  assert.equal(normalize(0, c), 0);
  assert.equal(normalize(-5, c), 0);
  close(denormalize(0.5, c), Math.sqrt(1000));
  const p = { lo: 0, hi: 10, gamma: 0.5 };
  close(normalize(2.5, p), 0.5); // power law: sqrt(0.25)
  close(denormalize(normalize(7, p), p), 7);
});

test("log contrast needs positive limits", () => {
  assert.deepEqual(sanitizeContrast(0, 500, 1, true), { lo: 0.5, hi: 500, gamma: 1, log: true });
  assert.deepEqual(sanitizeContrast(-3, -1, 1, true), { lo: 0.001, hi: 1, gamma: 1, log: true });
  assert.deepEqual(sanitizeContrast(10, 5, 1), { lo: 5, hi: 10, gamma: 1 });
});

// ---- float histograms and auto limits
test("finite range skips NaN, infinities and (for log) values <= 0", () => {
  const v = new Float32Array([NaN, -2, 0, 3, Infinity, 7]);
  assert.deepEqual(finiteRange(v), { min: -2, max: 7 });
  assert.deepEqual(finiteRange(v, 1, true), { min: 3, max: 7 });
  assert.equal(finiteRange(new Float32Array([NaN])), null);
});

test("value histograms bin continuous values", () => {
  const h = valueHistogram(new Float32Array([0, 0.5, 1, NaN]), 2, { min: 0, max: 1 });
  assert.deepEqual([...h.counts], [1, 2]);
  assert.equal(h.total, 3);
  const logh = valueHistogram(new Float32Array([1, 10, 100, -1]), 2, { min: 1, max: 100 }, 1, true);
  assert.deepEqual([...logh.counts], [1, 2]);
});
