import assert from "node:assert/strict";
import { test } from "node:test";
import { lutIndex, normalize, sanitizeContrast } from "../src/render/contrast";
import { autoLimits, computeHistogram, dataRange, percentile } from "../src/render/histogram";

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
