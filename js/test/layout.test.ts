import assert from "node:assert/strict";
import { test } from "node:test";
import { CHROME_H, imageBox, MIN_IMAGE_PX, PROFILE_STRIP_H, PROFILE_STRIP_W } from "../src/liveview/layout";
import { type Model, sendIfConnected } from "../src/render/model";

test("the image takes the width it is given and grows with it", () => {
  // a tall window: width decides
  assert.deepEqual(imageBox(900, 3000, 1024, 1024, 0, false), { w: 900, h: 900, profiles: false });
  assert.equal(imageBox(1300, 3000, 1024, 1024, 0, false).w, 1300);
  // 2:1 frames are half as high as wide
  assert.deepEqual(imageBox(800, 3000, 2048, 1024, 0, false), { w: 800, h: 400, profiles: false });
});

test("no taller than the window shows, leaving room for the toolbar and histogram", () => {
  const box = imageBox(1400, 1000, 1024, 1024, 0, false);
  assert.equal(box.h, 1000 - CHROME_H);
  assert.equal(box.w, 1000 - CHROME_H);
});

test("the profile strips take room only while there is a profile", () => {
  const wide = imageBox(900, 3000, 512, 512, 0, false);
  const withProfiles = imageBox(900, 3000, 512, 512, 0, true);
  assert.equal(wide.w, 900);
  assert.equal(withProfiles.w, 900 - PROFILE_STRIP_W);
  const tall = imageBox(3000, 1000, 512, 512, 0, true);
  assert.equal(tall.h, 1000 - CHROME_H - PROFILE_STRIP_H);
});

test("width_px caps the width; tiny spaces keep a usable minimum; no frame yet is square", () => {
  assert.equal(imageBox(1400, 3000, 1024, 1024, 512, false).w, 512);
  assert.equal(imageBox(50, 100, 1024, 1024, 0, false).w, MIN_IMAGE_PX);
  assert.deepEqual(imageBox(300, 3000, 0, 0, 0, false), { w: 300, h: 300, profiles: false });
});

test("a send after the kernel connection is gone reports it instead of throwing", () => {
  const sent: unknown[] = [];
  const model = { send: (c: unknown) => sent.push(c) } as unknown as Model;
  assert.equal(sendIfConnected(model, { type: "stats" }), true);
  const gone = { send: () => { throw new Error("Cannot send"); } } as unknown as Model;
  assert.equal(sendIfConnected(gone, { type: "stats" }), false);
  assert.deepEqual(sent, [{ type: "stats" }]);
});
