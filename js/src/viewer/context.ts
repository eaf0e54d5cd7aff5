// What the parts of a viewer window (controls.ts, input.ts, widget.ts) share: the model, the
// DOM, the decoded data and a few actions. widget.ts creates it.
import type { ImageRenderer } from "../render/image_renderer";
import type { Model } from "../render/model";
import type { View } from "../render/viewport";
import type { Position, ProfilesMsg, Slice, ViewState, WindowInfo } from "./data";
import type { ViewerDom } from "./layout";

export interface ViewerContext {
  model: Model;
  dom: ViewerDom;
  renderer: ImageRenderer;
  info(): WindowInfo;
  view(): ViewState;
  /** [row dim, column dim]; the row dim is "" for 1-D data. */
  dims(): [string, string];
  /** Size of the full-resolution image: [columns, rows]. */
  planeSize(): [number, number];
  slice: Slice | null;
  profiles: Map<string, Float32Array>;
  profilesMsg: ProfilesMsg | null;
  zoomed: View | null; // null: the whole image fitted
  tool: "none" | "roi" | "line";
  /** Store view changes in the model (synced to the kernel) and repaint. */
  setView(changes: Partial<ViewState>): void;
  /** Move cursor `index` (default the active one) to `pos` (merged per dim). */
  setCursor(pos: Position, index?: number): void;
  /** Remember when the user asked for slices (the latency to their paint is measured). */
  markInput(slices: Record<string, number>): void;
  requestDraw(): void;
  showStatus(level: string, message: string): void;
  /** The view the image is drawn with (fitted unless zoomed), device px. */
  fit(): View;
  scheduleViewport(): void;
  exportPng(): void;
}
