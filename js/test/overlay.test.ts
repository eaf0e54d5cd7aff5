import assert from "node:assert/strict";
import { test } from "node:test";
import { validMarks } from "../src/liveview/overlay";

test("marks keep boxes with finite x, y, w, h and drop the rest", () => {
  const marks = validMarks([
    { name: "bead0", x: 1, y: 2, w: 50, h: 50 },
    { name: "bad", x: 1, y: null, w: 50, h: 50 },
    { x: 0, y: 0, w: 8, h: 8, color: "#fff" },
    null,
    "bead",
  ]);
  assert.deepEqual(
    marks.map((m) => m.name ?? m.color),
    ["bead0", "#fff"],
  );
});

test("a trait value that is not a list draws no marks", () => {
  assert.deepEqual(validMarks(undefined), []);
  assert.deepEqual(validMarks({ x: 1 }), []);
});
