import assert from "node:assert/strict";
import { test } from "node:test";
import { rawPixels } from "../src/liveview/protocol";
import { displayRate, newStats, quantile, RateMeter, statsLine, Window } from "../src/liveview/stats";

test("quantile uses nearest rank", () => {
  assert.equal(quantile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(quantile([5, 1, 3, 2, 4], 100), 5);
  assert.ok(Number.isNaN(quantile([], 50)));
});

test("window keeps the last samples", () => {
  const w = new Window(3);
  for (const v of [100, 1, 2, 3]) w.push(v);
  assert.equal(w.quantile(100), 3);
});

test("rate meter", () => {
  const r = new RateMeter(0);
  for (let i = 0; i < 30; i++) r.tick();
  assert.equal(r.update(100), false);
  assert.equal(r.update(500), true);
  assert.equal(r.rate, 60);
});

test("raw pixels copy only a misaligned uint16 view", () => {
  const backing = new ArrayBuffer(9);
  new Uint8Array(backing).set([0, 1, 0, 2, 0, 3, 0, 4, 0]);
  const odd = new DataView(backing, 1, 8);
  const px = rawPixels(odd, "raw16", 4);
  assert.deepEqual([...px], [1, 2, 3, 4].map((v) => v)); // little endian: bytes [1,0] -> 1
  assert.notEqual(px.buffer, backing);
  const even = new DataView(backing, 0, 8);
  assert.equal(rawPixels(even, "raw16", 4).buffer, backing);
  assert.deepEqual([...rawPixels(even, "raw8", 3)], [0, 1, 0]);
});

test("stats line names display skips as skips, with the display rate", () => {
  const s = { ...newStats("v"), fps_painted: 59.6, fps_received: 70.2, latency_ms_p50: 21.4, skipped: 3, encoding: "raw16", bin: 3 };
  assert.equal(statsLine(s), "60 fps painted · 70 received · 21 ms · skipped 3 · raw16 bin 3");
  assert.match(statsLine(newStats("w")), /– ms/);
  assert.doesNotMatch(statsLine(s), /drop|lost/);
});

test("the display rate is the kernel's send cap, else the page's paint rate", () => {
  const s = { ...newStats("v"), fps_painted: 60, fps_received: 61, latency_ms_p50: 20, skipped: 640, encoding: "raw16", send_cap_fps: 59.88 };
  assert.match(statsLine(s), / · skipped 640, display at 60 Hz · raw16$/);
  assert.equal(displayRate({ ...s, send_cap_fps: NaN, paint_rate_fps: 30.2 }), 30.2);
  assert.match(statsLine({ ...s, send_cap_fps: NaN, paint_rate_fps: 30.2 }), /skipped 640, display at 30 Hz/);
  assert.match(statsLine({ ...s, send_cap_fps: NaN }), /skipped 640 · raw16$/);
});
