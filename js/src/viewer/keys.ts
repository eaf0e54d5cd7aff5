// Keyboard shortcuts of a viewer window (focus the window: click it or Tab to it). One table
// drives the key handling and the help overlay (docs/viewer.md lists the same).

export type Action =
  | "cursor-left"
  | "cursor-right"
  | "cursor-up"
  | "cursor-down"
  | "slice-next"
  | "slice-prev"
  | "auto-contrast"
  | "transpose"
  | "toggle-log"
  | "add-cursor"
  | "remove-cursor"
  | "next-cursor"
  | "prev-cursor"
  | "roi-tool"
  | "line-tool"
  | "clear"
  | "fit"
  | "zoom-in"
  | "zoom-out"
  | "export-png"
  | "help";

/** [keys (KeyboardEvent.key values), action, what it does] */
export const SHORTCUTS: readonly (readonly [readonly string[], Action, string])[] = [
  [["ArrowLeft", "ArrowRight"], "cursor-left", "move the active cursor along x (Shift: 10 px)"],
  [["ArrowUp", "ArrowDown"], "cursor-up", "move the active cursor along y (Shift: 10 px)"],
  [["PageUp", "]"], "slice-next", "next index of the first slider dim (Shift: 10)"],
  [["PageDown", "["], "slice-prev", "previous index of the first slider dim (Shift: 10)"],
  [["a"], "auto-contrast", "automatic contrast (0.1–99.9 percentiles)"],
  [["t"], "transpose", "transpose: swap the x and y dims of the image"],
  [["l"], "toggle-log", "log / linear colour scale"],
  [["c"], "add-cursor", "add a cursor (it becomes the active one)"],
  [["Delete", "Backspace"], "remove-cursor", "remove the active cursor"],
  [["n", "N"], "next-cursor", "next cursor (N: previous)"],
  [["r"], "roi-tool", "ROI tool: drag a rectangle"],
  [["p"], "line-tool", "line profile tool: drag a line"],
  [["Escape"], "clear", "clear the ROI and the line, leave the tool"],
  [["f", "0"], "fit", "fit the image (undo zoom and pan)"],
  [["+", "="], "zoom-in", "zoom in (wheel: at the pointer)"],
  [["-"], "zoom-out", "zoom out"],
  [["s"], "export-png", "save the view as PNG"],
  [["?", "h"], "help", "show or hide this list"],
];

const EXACT: Record<string, Action> = {
  ArrowLeft: "cursor-left",
  ArrowRight: "cursor-right",
  ArrowUp: "cursor-up",
  ArrowDown: "cursor-down",
  N: "prev-cursor",
};

/** The action for a key (KeyboardEvent.key) and the step a move takes (10 with Shift), or
 * null for keys without a shortcut and for keys held with Ctrl / Alt / Meta (browser shortcuts). */
export function keyAction(ev: {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
}): { action: Action; step: number } | null {
  if (ev.ctrlKey || ev.altKey || ev.metaKey) return null;
  const step = ev.shiftKey ? 10 : 1;
  const exact = EXACT[ev.key];
  if (exact) return { action: exact, step };
  for (const [keys, action] of SHORTCUTS) {
    if (keys.includes(ev.key)) return { action, step };
  }
  return null;
}
