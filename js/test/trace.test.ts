import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTick, linearScale, niceTicks, paddedRange } from "../src/trace/axes";
import { plotRect } from "../src/trace/draw";
import { decodeTraces, float32s, type TracesMsg, valueRange } from "../src/trace/protocol";

test("nice ticks step 1, 2 or 5 times a power of ten and cover the range", () => {
  assert.deepEqual(niceTicks(-10, 0, 5), { ticks: [-10, -8, -6, -4, -2, 0], step: 2 });
  assert.deepEqual(niceTicks(-4, 0, 4).ticks, [-4, -3, -2, -1, 0]);
  const { ticks, step } = niceTicks(-0.37, 1.2, 5);
  assert.equal(step, 0.5);
  assert.deepEqual(ticks, [0, 0.5, 1]);
  assert.deepEqual(niceTicks(-2.5, 2.5, 4).ticks, [-2, 0, 2]);
});

test("nice ticks of a flat, reversed or non-finite range", () => {
  assert.deepEqual(niceTicks(3, 3).ticks, [3]);
  assert.deepEqual(niceTicks(0, -10, 5).ticks, niceTicks(-10, 0, 5).ticks);
  assert.deepEqual(niceTicks(NaN, 1).ticks, []);
  assert.ok(!niceTicks(-1e-9, 1e-9).ticks.some((v) => Object.is(v, -0)));
});

test("tick labels have just enough decimals", () => {
  assert.equal(formatTick(-2, 2), "-2");
  assert.equal(formatTick(0.5, 0.5), "0.5");
  assert.equal(formatTick(0.25, 0.05), "0.25");
  assert.equal(formatTick(0, 0.1), "0");
  assert.equal(formatTick(1.5e7, 5e6), "1.5e+7");
});

test("linear scale maps the domain onto the range (y flipped)", () => {
  const sx = linearScale(-10, 0, 50, 650);
  assert.equal(sx(-10), 50);
  assert.equal(sx(0), 650);
  assert.equal(sx(-5), 350);
  const sy = linearScale(-1, 1, 200, 0);
  assert.equal(sy(1), 0);
  assert.equal(sy(-1), 200);
  assert.equal(linearScale(2, 2, 0, 100)(7), 50);
});

test("padded range", () => {
  assert.deepEqual(paddedRange(0, 10, 0.1), [-1, 11]);
  assert.deepEqual(paddedRange(5, 5, 0.1), [4.5, 5.5]);
  assert.deepEqual(paddedRange(0, 0), [-1, 1]);
  assert.deepEqual(paddedRange(NaN, 1), [-1, 1]);
});

test("plot rect leaves the margins in device pixels", () => {
  const r = plotRect(1200, 480, 2);
  assert.deepEqual(r, { x: 112, y: 16, w: 1200 - 112 - 20, h: 480 - 16 - 60 });
});

function msg(n: number, c: number): TracesMsg {
  return { type: "traces", seq: 3, n, n_channels: c, t_end: 100, window_s: 5, y_min: -1, y_max: 1, n_samples: 10, rows_lost: 0 };
}

test("decode a traces message from aligned and misaligned buffers", () => {
  const t = new Float32Array([-2, -1, 0]);
  const v = new Float32Array([1, 2, 3, 10, 20, 30]); // channel-major (2, 3)
  const aligned = decodeTraces(msg(3, 2), [new DataView(t.buffer), new DataView(v.buffer)]);
  assert.deepEqual([...aligned.t], [-2, -1, 0]);
  assert.deepEqual(aligned.v.map((a) => [...a]), [[1, 2, 3], [10, 20, 30]]);
  assert.equal(aligned.t.buffer, t.buffer); // zero copy when aligned
  // a buffer that starts at an odd byte offset (as a websocket frame may give it)
  const backing = new Uint8Array(1 + v.byteLength);
  backing.set(new Uint8Array(v.buffer), 1);
  const odd = new DataView(backing.buffer, 1, v.byteLength);
  const copied = decodeTraces(msg(3, 2), [t.buffer, odd]);
  assert.deepEqual(copied.v.map((a) => [...a]), [[1, 2, 3], [10, 20, 30]]);
  assert.deepEqual([...float32s(new Uint8Array(t.buffer), 2)], [-2, -1]);
});

test("decode refuses buffers smaller than the header says", () => {
  const t = new Float32Array(3);
  assert.throws(() => decodeTraces(msg(3, 2), [t.buffer]), /needs 2 buffers/);
  assert.throws(() => decodeTraces(msg(3, 2), [t.buffer, new Float32Array(5).buffer]), /v buffer has 20 bytes, need 24/);
  assert.throws(() => decodeTraces(msg(4, 1), [t.buffer, new Float32Array(4).buffer]), /t buffer/);
});

test("value range over channels ignores NaN", () => {
  assert.deepEqual(valueRange([new Float32Array([1, NaN, -3]), new Float32Array([7])]), [-3, 7]);
  assert.ok(valueRange([new Float32Array([NaN])]).every(Number.isNaN));
});
