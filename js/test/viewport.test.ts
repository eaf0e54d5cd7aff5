import assert from "node:assert/strict";
import { test } from "node:test";
import {
  binFactor,
  canvasToImage,
  fitView,
  imageToCanvas,
  imageToTexel,
  panBy,
  profiles,
  roiFromDrag,
  visibleRegion,
  zoomAt,
} from "../src/render/viewport";

test("fit shows the whole frame centred", () => {
  const v = fitView(2048, 1024, 640, 640);
  assert.equal(v.zoom, 640 / 2048);
  assert.deepEqual(visibleRegion(v, 640, 640, 2048, 1024), { x0: 0, y0: 0, x1: 2048, y1: 1024 });
});

test("canvas and image coordinates are inverse", () => {
  const v = { cx: 300, cy: 200, zoom: 2.5 };
  const [x, y] = canvasToImage(v, 640, 480, 17, 311);
  const [px, py] = imageToCanvas(v, 640, 480, x, y);
  assert.ok(Math.abs(px - 17) < 1e-9 && Math.abs(py - 311) < 1e-9);
});

test("zoom keeps the point under the cursor fixed", () => {
  const v = fitView(2048, 2048, 640, 640);
  const before = canvasToImage(v, 640, 640, 100, 500);
  const z = zoomAt(v, 640, 640, 100, 500, 4);
  const after = canvasToImage(z, 640, 640, 100, 500);
  assert.ok(Math.abs(before[0] - after[0]) < 1e-9 && Math.abs(before[1] - after[1]) < 1e-9);
  assert.ok(Math.abs(z.zoom - v.zoom * 4) < 1e-12);
  assert.equal(zoomAt(v, 640, 640, 0, 0, 1e9).zoom, 64);
  assert.equal(zoomAt(v, 640, 640, 0, 0, 1e-9, 0.1).zoom, 0.1);
});

test("pan moves the image with the pointer", () => {
  const v = { cx: 100, cy: 100, zoom: 2 };
  assert.deepEqual(panBy(v, 20, -10), { cx: 90, cy: 105, zoom: 2 });
});

test("visible region when zoomed in is clamped and integer", () => {
  const v = { cx: 10, cy: 1000, zoom: 4 };
  assert.deepEqual(visibleRegion(v, 640, 640, 2048, 2048), { x0: 0, y0: 920, x1: 90, y1: 1080 });
  assert.equal(visibleRegion({ cx: -1000, cy: 0, zoom: 1 }, 100, 100, 50, 50), null);
});

test("bin factor gives at least one texel per device pixel", () => {
  assert.equal(binFactor(640 / 2048), 3);
  assert.equal(binFactor(0.5), 2);
  assert.equal(binFactor(1), 1);
  assert.equal(binFactor(3), 1);
  assert.equal(binFactor(0.1), 10);
});

test("texel lookup in a binned, cropped placement", () => {
  const p = { x: 100, y: 200, w: 300, h: 30, tw: 100, th: 10 }; // bin 3
  assert.deepEqual(imageToTexel(p, 100, 200), [0, 0]);
  assert.deepEqual(imageToTexel(p, 103.5, 205), [1, 1]);
  assert.deepEqual(imageToTexel(p, 399.9, 229.9), [99, 9]);
  assert.equal(imageToTexel(p, 400, 210), null);
  assert.equal(imageToTexel(p, 99, 210), null);
});

test("roi from a drag in any direction", () => {
  assert.deepEqual(roiFromDrag(50.7, 80.2, 10.2, 20.9, 100, 100), [10, 20, 41, 61]);
  assert.deepEqual(roiFromDrag(-5, -5, 500, 30, 100, 100), [0, 0, 100, 30]);
  assert.equal(roiFromDrag(5, 5, 5, 5, 100, 100), null);
});

test("profiles through a texel", () => {
  const d = new Uint16Array([1, 2, 3, 4, 5, 6]); // 3 x 2
  const { horizontal, vertical } = profiles(d, 3, 2, 1, 1);
  assert.deepEqual([...horizontal], [4, 5, 6]);
  assert.deepEqual([...vertical], [2, 5]);
});

test("profiles follow the view: zoomed in, NaN outside the data", async () => {
  const { profileAcross } = await import("../src/render/viewport");
  const tw = 4;
  const th = 4;
  const data = new Uint16Array(16).map((_, i) => i); // value = row * 4 + col
  const p = { x: 0, y: 0, w: 4, h: 4, tw, th };
  // canvas 8x8 device px showing the frame at zoom 2 (fills the canvas)
  const v = { cx: 2, cy: 2, zoom: 2 };
  assert.deepEqual([...profileAcross(v, 8, 8, p, data, 1.5, 2.5, false, 4)], [8, 9, 10, 11]);
  assert.deepEqual([...profileAcross(v, 8, 8, p, data, 1.5, 2.5, true, 4)], [1, 5, 9, 13]);
  // zoomed out by 2: half of the canvas has no data
  const out = profileAcross({ cx: 2, cy: 2, zoom: 1 }, 8, 8, p, data, 0.5, 0.5, false, 4);
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[3]));
  assert.deepEqual([out[1], out[2]], [1, 3]); // samples at image x = 1 and 3
});
