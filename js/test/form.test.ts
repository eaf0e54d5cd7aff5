import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatNumber,
  optionIndex,
  parseNumber,
  progressFraction,
  rowClasses,
  SLIDER_STEPS,
  sliderToValue,
  valueToSlider,
  type FormEvent,
} from "../src/form/schema";
import { EditsBeforeClicks } from "../src/form/ordering";

test("linear slider maps limits to the ends and clamps", () => {
  assert.equal(valueToSlider(0, 0, 10, false), 0);
  assert.equal(valueToSlider(5, 0, 10, false), SLIDER_STEPS / 2);
  assert.equal(valueToSlider(99, 0, 10, false), SLIDER_STEPS);
  assert.equal(valueToSlider(-1, 0, 10, false), 0);
  assert.equal(sliderToValue(SLIDER_STEPS / 2, 0, 10, false), 5);
});

test("log slider: equal ratios get equal distances; the ends are exact", () => {
  const [lo, hi] = [0.01, 2000];
  const a = valueToSlider(0.1, lo, hi, true) - valueToSlider(0.01, lo, hi, true);
  const b = valueToSlider(10, lo, hi, true) - valueToSlider(1, lo, hi, true);
  assert.ok(Math.abs(a - b) <= 1);
  assert.equal(sliderToValue(0, lo, hi, true), lo);
  assert.equal(sliderToValue(SLIDER_STEPS, lo, hi, true), hi);
  const mid = sliderToValue(SLIDER_STEPS / 2, lo, hi, true);
  assert.ok(Math.abs(mid - Math.sqrt(lo * hi)) / mid < 1e-3, String(mid));
  // a round trip lands on the same slider step
  assert.equal(valueToSlider(sliderToValue(321, lo, hi, true), lo, hi, true), 321);
});

test("degenerate limits never give NaN", () => {
  assert.equal(valueToSlider(5, 3, 3, false), 0);
  assert.equal(valueToSlider(Number.NaN, 0, 1, false), 0);
});

test("numbers show without float noise", () => {
  assert.equal(formatNumber(0.1 + 0.2), "0.3");
  assert.equal(formatNumber(25), "25");
  assert.equal(formatNumber(null), "");
  assert.equal(formatNumber("uint16"), "uint16");
});

test("number boxes: empty is null, garbage goes to the kernel as text", () => {
  assert.equal(parseNumber(" 12.5 "), 12.5);
  assert.equal(parseNumber(""), null);
  assert.equal(parseNumber("abc"), "abc");
  assert.equal(parseNumber("1e3"), 1000);
});

test("progress fraction is clamped and safe without a max", () => {
  assert.equal(progressFraction({ value: 5, max: 10 }), 0.5);
  assert.equal(progressFraction({ value: 50, max: 10 }), 1);
  assert.equal(progressFraction({ value: 5 }), 0);
  assert.equal(progressFraction(null), 0);
});

test("choices match by value, lists included", () => {
  const options: [string, unknown][] = [["1", 1], ["2", 2], ["pair", [1, 2]]];
  assert.equal(optionIndex(options, 2), 1);
  assert.equal(optionIndex(options, [1, 2]), 2);
  assert.equal(optionIndex(options, "2"), -1);
});

test("row classes carry kind, name and the row's own classes, sanitised", () => {
  assert.deepEqual(rowClasses({ kind: "number", name: "exposure_ms", cls: "labkit-prop  labkit-prop-exposure_ms" }), [
    "labkit-row",
    "labkit-row-number",
    "labkit-field-exposure_ms",
    "labkit-prop",
    "labkit-prop-exposure_ms",
  ]);
  assert.equal(rowClasses({ kind: "text", name: "a b<" })[2], "labkit-field-a_b_");
});

test("a click waits for the replies to the edits made before it", () => {
  const sent: FormEvent[] = [];
  const o = new EditsBeforeClicks((ev) => sent.push(ev));
  o.send({ type: "click", name: "start" }); // nothing pending: at once
  o.send({ type: "edit", name: "max_frames", value: 20 });
  o.send({ type: "edit", name: "max_frames", value: 25 });
  o.send({ type: "click", name: "start" });
  assert.deepEqual(sent.map((e) => e.type), ["click", "edit", "edit"]);
  assert.equal(o.waiting, 1);
  o.applied("max_frames");
  assert.equal(sent.length, 3); // one reply still due
  o.applied("max_frames");
  assert.deepEqual(sent.map((e) => e.type), ["click", "edit", "edit", "click"]);
  assert.equal(o.waiting, 0);
});

test("held clicks keep their order and a flush sends them without replies", () => {
  const sent: FormEvent[] = [];
  const o = new EditsBeforeClicks((ev) => sent.push(ev));
  o.send({ type: "edit", name: "directory", value: "/d" });
  o.send({ type: "click", name: "start" });
  o.send({ type: "click", name: "stop" });
  o.flush();
  assert.deepEqual(sent.map((e) => (e.type === "click" ? e.name : e.type)), ["edit", "start", "stop"]);
  o.applied("directory"); // a late reply changes nothing
  assert.equal(sent.length, 3);
  o.send({ type: "click", name: "start" });
  assert.equal(sent.length, 4);
});
