// Several cursors: the view changes that add, remove, pick and move them. Pure functions; they
// keep `cursor` equal to `cursors[active_cursor]` as the kernel does (labkit/viewer/_view.py).
import type { Position, ViewState } from "./data";

/** As MAX_CURSORS in labkit/viewer/_view.py. */
export const MAX_CURSORS = 8;

type CursorChanges = Pick<ViewState, "cursors" | "active_cursor" | "cursor">;

function changes(cursors: Position[], active: number): CursorChanges {
  const a = Math.min(Math.max(0, active), cursors.length - 1);
  return { cursors, active_cursor: a, cursor: { ...cursors[a] } };
}

/** Move cursor `index` to `pos` (merged per dim). */
export function moveCursor(v: ViewState, index: number, pos: Position): CursorChanges {
  const cursors = v.cursors.map((c) => ({ ...c }));
  cursors[index] = { ...cursors[index], ...pos };
  return changes(cursors, v.active_cursor);
}

/** A new active cursor a tenth of the image away from the active one (down and right). */
export function addCursor(v: ViewState, dims: [string, string], size: [number, number]): CursorChanges {
  if (v.cursors.length >= MAX_CURSORS) return changes(v.cursors, v.active_cursor);
  const [ydim, xdim] = dims;
  const base = v.cursors[v.active_cursor] ?? {};
  const next: Position = { ...base };
  next[xdim] = Math.min(size[0] - 1, (base[xdim] ?? 0) + Math.max(1, Math.round(size[0] / 10)));
  if (ydim) next[ydim] = Math.min(size[1] - 1, (base[ydim] ?? 0) + Math.max(1, Math.round(size[1] / 10)));
  return changes([...v.cursors.map((c) => ({ ...c })), next], v.cursors.length);
}

/** Remove the active cursor (the last one stays). */
export function removeCursor(v: ViewState): CursorChanges {
  if (v.cursors.length <= 1) return changes(v.cursors, 0);
  const cursors = v.cursors.filter((_, i) => i !== v.active_cursor).map((c) => ({ ...c }));
  return changes(cursors, Math.min(v.active_cursor, cursors.length - 1));
}

/** Make the cursor `delta` places on (wrapping) the active one. */
export function stepCursor(v: ViewState, delta: number): CursorChanges {
  const n = v.cursors.length;
  return changes(v.cursors, (((v.active_cursor + delta) % n) + n) % n);
}

/** Move the active cursor by (dx, dy) pixels, clamped to the image of `size` [columns, rows]. */
export function nudgeCursor(v: ViewState, dims: [string, string], size: [number, number], dx: number, dy: number): CursorChanges {
  const [ydim, xdim] = dims;
  const c = v.cursors[v.active_cursor] ?? {};
  const pos: Position = { [xdim]: Math.min(size[0] - 1, Math.max(0, (c[xdim] ?? 0) + dx)) };
  if (ydim) pos[ydim] = Math.min(size[1] - 1, Math.max(0, (c[ydim] ?? 0) + dy));
  return moveCursor(v, v.active_cursor, pos);
}
