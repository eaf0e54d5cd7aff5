import assert from "node:assert/strict";
import { test } from "node:test";
import { addCursor, MAX_CURSORS, nudgeCursor, removeCursor, stepCursor } from "../src/viewer/cursors";
import type { ViewState } from "../src/viewer/data";
import { coordAt, coordToPos, isMonotonic, nearestIndex, posToCoord, type AxisInfo } from "../src/viewer/coords";
import { keyAction, SHORTCUTS } from "../src/viewer/keys";
import { formatTick, linearTicks, logTicks, niceStep, stepDecimals } from "../src/viewer/ticks";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

// ---- ticks
test("nice steps are 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(10, 5), 2);
  assert.equal(niceStep(1, 5), 0.2);
  assert.equal(niceStep(0.37, 6), 0.1);
  assert.equal(niceStep(7300, 6), 2000);
  assert.equal(niceStep(0, 5), 1);
});

test("linear ticks fall on multiples of the step inside the range, either order", () => {
  const t = linearTicks(-0.43, 0.61, 6);
  assert.equal(t.step, 0.2);
  assert.deepEqual(t.labels, ["-0.4", "-0.2", "0", "0.2", "0.4", "0.6"]);
  assert.deepEqual(linearTicks(0.61, -0.43, 6).labels, t.labels);
  const big = linearTicks(0, 2047, 5);
  assert.equal(big.step, 500);
  assert.deepEqual(big.values, [0, 500, 1000, 1500, 2000]);
  assert.deepEqual(linearTicks(3, 3, 5).values, [3]);
  assert.deepEqual(linearTicks(NaN, 1, 5).values, []);
});

test("tick labels carry the decimals the step needs and exponents when extreme", () => {
  assert.equal(stepDecimals(0.05), 2);
  assert.equal(stepDecimals(2), 0);
  assert.equal(formatTick(0.15000000000000002, 0.05), "0.15");
  assert.equal(formatTick(1e-17, 0.1), "0"); // float noise at zero
  assert.equal(formatTick(2.5e7, 5e6), "2.5e7");
  assert.equal(formatTick(3e-6, 1e-6), "3e-6");
});

test("log ticks are decades, with 2 and 5 in between over a short range", () => {
  assert.deepEqual(logTicks(1, 10000, 8).values, [1, 10, 100, 1000, 10000]);
  assert.deepEqual(logTicks(1, 10000, 8).labels, ["1", "10", "100", "1000", "10000"]);
  assert.deepEqual(logTicks(3, 70, 8).values, [5, 10, 20, 50]);
  const wide = logTicks(1e-6, 1e6, 4);
  assert.ok(wide.values.length <= 5 && wide.values.includes(1));
  assert.deepEqual(wide.labels, ["1e-4", "1", "10000"]);
  assert.equal(logTicks(-1, 10, 5).step > 0, true); // not positive: linear ticks
});

// ---- coordinates
const uniform: AxisInfo = { size: 11, units: "eV", values: null, start: -1, step: 0.1 };
const listed: AxisInfo = { size: 4, units: "", values: [0, 1, 3, 7], start: 0, step: 1 };
const falling: AxisInfo = { size: 3, units: "", values: [5, 3, 2], start: 5, step: -2 };

test("positions and coordinates: pixel centres carry the coordinate values", () => {
  close(posToCoord(uniform, 0.5), -1);
  close(posToCoord(uniform, 10.5), 0);
  close(posToCoord(uniform, 0), -1.05); // the left edge of pixel 0
  close(posToCoord(listed, 2.5), 3);
  close(posToCoord(listed, 3), 5); // half way between 3 and 7
  close(coordToPos(listed, 5), 3);
  close(coordToPos(uniform, -0.5), 5.5);
  for (const axis of [uniform, listed, falling]) {
    for (const p of [0.2, 1.5, 2.9]) close(coordToPos(axis, posToCoord(axis, p)), p, 1e-9);
  }
});

test("monotonic axes and the nearest index", () => {
  assert.ok(isMonotonic(uniform) && isMonotonic(listed) && isMonotonic(falling));
  const bumpy: AxisInfo = { size: 3, units: "", values: [0, 2, 1], start: 0, step: 2 };
  const text: AxisInfo = { size: 2, units: "", values: ["a", "b"], start: 0, step: 1 };
  assert.ok(!isMonotonic(bumpy) && !isMonotonic(text));
  assert.ok(Number.isNaN(coordToPos(bumpy, 1)));
  close(posToCoord(bumpy, 1.5), 1); // not monotonic: positions map to indices
  assert.equal(nearestIndex(listed, 4.9), 2);
  assert.equal(nearestIndex(uniform, 99), 10);
  assert.equal(nearestIndex(text, "b"), 1);
  assert.equal(coordAt(uniform, 3), -1 + 3 * 0.1);
  assert.ok(Number.isNaN(coordAt({ ...listed, values: [0, null, 2, 3] }, 1) as number));
});

// ---- shortcuts
test("keys map to actions, Shift makes moves 10 px, modified keys are left to the browser", () => {
  assert.deepEqual(keyAction({ key: "ArrowRight" }), { action: "cursor-right", step: 1 });
  assert.deepEqual(keyAction({ key: "ArrowUp", shiftKey: true }), { action: "cursor-up", step: 10 });
  assert.equal(keyAction({ key: "t" })!.action, "transpose");
  assert.equal(keyAction({ key: "N", shiftKey: true })!.action, "prev-cursor");
  assert.equal(keyAction({ key: "]" })!.action, "slice-next");
  assert.equal(keyAction({ key: "s", ctrlKey: true }), null);
  assert.equal(keyAction({ key: "q" }), null);
  const keys = SHORTCUTS.flatMap(([k]) => k);
  assert.equal(new Set(keys).size, keys.length); // no key bound twice
});

// ---- cursors

function cursorView(cursors: Record<string, number>[], active = 0): ViewState {
  return { cursors, active_cursor: active, cursor: cursors[active] } as unknown as ViewState;
}

test("cursors are added beside the active one, removed, stepped and nudged within the image", () => {
  const v = cursorView([{ y: 5, x: 5 }]);
  const added = addCursor(v, ["y", "x"], [100, 50]);
  assert.deepEqual(added.cursors, [{ y: 5, x: 5 }, { y: 10, x: 15 }]);
  assert.equal(added.active_cursor, 1);
  assert.deepEqual(added.cursor, { y: 10, x: 15 });
  const two = cursorView(added.cursors, 1);
  assert.deepEqual(removeCursor(two), { cursors: [{ y: 5, x: 5 }], active_cursor: 0, cursor: { y: 5, x: 5 } });
  assert.deepEqual(removeCursor(cursorView([{ y: 1, x: 1 }])).cursors, [{ y: 1, x: 1 }]); // the last stays
  assert.equal(stepCursor(two, 1).active_cursor, 0);
  assert.equal(stepCursor(two, -3).active_cursor, 0);
  const nudged = nudgeCursor(two, ["y", "x"], [100, 50], 10, -20);
  assert.deepEqual(nudged.cursors[1], { y: 0, x: 25 });
  assert.deepEqual(nudged.cursor, { y: 0, x: 25 });
  const full = cursorView(Array.from({ length: MAX_CURSORS }, () => ({ y: 0, x: 0 })));
  assert.equal(addCursor(full, ["y", "x"], [10, 10]).cursors.length, MAX_CURSORS);
  assert.deepEqual(nudgeCursor(cursorView([{ x: 3 }]), ["", "x"], [10, 1], 100, 5).cursor, { x: 9 });
});

// ---- axes and colorbar placement (the pure parts of axes.ts / colorbar.ts)
import { axisTicks } from "../src/viewer/axes";
import { colorbarTicks } from "../src/viewer/colorbar";

test("axis ticks sit where the image shows their coordinate, under zoom too", () => {
  const kx: AxisInfo = { size: 60, units: "1/Å", values: null, start: 0, step: 0.02 };
  // the whole image over 600 px: coordinate c is at position c / 0.02 + 0.5, 10 px per pixel
  const t = axisTicks(kx, 0, 60, 600, 8);
  assert.deepEqual(t.map((x) => x.text), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
  close(t[1].at, (0.2 / 0.02 + 0.5) * 10, 1e-6);
  // zoomed to pixels 20..30: ticks every 0.05 from 0.4
  const z = axisTicks(kx, 20, 30, 600, 8);
  assert.equal(z[0].text, "0.40");
  close(z[0].at, (0.4 / 0.02 + 0.5 - 20) * 60, 1e-6);
  // no coordinate (index axis, step 1) and a text axis: whole indices
  const idx = axisTicks(undefined, 0, 40, 400, 5);
  assert.deepEqual(idx.map((x) => x.text), ["0", "10", "20", "30"]);
  const text: AxisInfo = { size: 3, units: "", values: ["a", "b", "c"], start: 0, step: 1 };
  assert.deepEqual(axisTicks(text, 0, 3, 300, 5).map((x) => x.text), ["0", "1", "2"]);
});

test("colorbar ticks follow the colour scale", () => {
  const lin = colorbarTicks({ lo: 0, hi: 100, gamma: 1 }, 200);
  assert.equal(lin[0].text, "0");
  close(lin[0].at, 200);
  close(lin.find((x) => x.text === "40")!.at, 120); // ticks every 20 in 200 px
  const log = colorbarTicks({ lo: 1, hi: 1000, gamma: 1, log: true }, 300);
  assert.deepEqual(log.map((x) => x.text), ["1", "10", "100", "1000"]);
  assert.deepEqual(log.map((x) => Math.round(x.at)), [300, 200, 100, 0]);
  const power = colorbarTicks({ lo: 0, hi: 1, gamma: 0.5 }, 100);
  close(power.find((x) => x.text === "0.5")!.at, 100 * (1 - Math.sqrt(0.5)), 1e-6); // gamma 0.5
});
