import assert from "node:assert/strict";
import { test } from "node:test";
import { COLORMAP_NAMES, colormapLut, parseColor } from "../src/render/colormaps";

test("every colormap has 256 opaque RGBA entries", () => {
  for (const name of COLORMAP_NAMES) {
    const lut = colormapLut(name);
    assert.equal(lut.length, 256 * 4, name);
    for (let i = 0; i < 256; i++) assert.equal(lut[i * 4 + 3], 255);
  }
});

test("gray is the identity ramp", () => {
  const lut = colormapLut("gray");
  for (const i of [0, 1, 127, 254, 255]) assert.deepEqual([...lut.slice(i * 4, i * 4 + 3)], [i, i, i]);
});

test("viridis runs from dark purple to yellow", () => {
  const lut = colormapLut("viridis");
  assert.deepEqual([...lut.slice(0, 3)], [68, 1, 84]);
  const end = [...lut.slice(255 * 4, 255 * 4 + 3)];
  assert.ok(end[0] > 240 && end[1] > 220 && end[2] < 60, `viridis end ${end}`);
});

test("magma and inferno start black and differ", () => {
  const a = colormapLut("magma");
  const b = colormapLut("inferno");
  assert.ok(a[0] < 5 && a[1] < 5 && a[2] < 10);
  assert.notDeepEqual([...a.slice(128 * 4, 128 * 4 + 3)], [...b.slice(128 * 4, 128 * 4 + 3)]);
});

test("hilo marks the ends blue and red", () => {
  const lut = colormapLut("hilo");
  assert.deepEqual([...lut.slice(0, 3)], [0, 0, 255]);
  assert.deepEqual([...lut.slice(255 * 4, 255 * 4 + 3)], [255, 0, 0]);
  assert.deepEqual([...lut.slice(100 * 4, 100 * 4 + 3)], [100, 100, 100]);
});

test("unknown colormap names the valid choices", () => {
  assert.throws(() => colormapLut("jet2"), /unknown colormap "jet2"; choose one of gray, viridis/);
});

test("parseColor handles hex and rgb()", () => {
  assert.deepEqual(parseColor("#ff8000"), [255, 128, 0]);
  assert.deepEqual(parseColor("rgb(1, 2, 3)"), [1, 2, 3]);
  assert.throws(() => parseColor("red"));
});

test("the kernel offers the same colormaps, in the same order", async () => {
  const { readFileSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  // npm test runs in js/; the kernel's list is COLORMAPS in labkit/widgets/_liveview_sources.py
  const py = readFileSync(resolve(process.cwd(), "..", "labkit", "widgets", "_liveview_sources.py"), "utf8");
  const block = /^COLORMAPS = \(([\s\S]*?)\n\)/m.exec(py);
  assert.ok(block, "COLORMAPS not found in _liveview_sources.py");
  const names = [...block[1].matchAll(/"(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(names, [...COLORMAP_NAMES]);
});
