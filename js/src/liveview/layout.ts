// How big the live image is drawn: as wide as the space the page gives the widget, no taller
// than the part of the window it is seen in, the line-profile strips beside and below it only
// while there is a profile. Pure functions (unit tested); widget.ts measures and applies.

/** CSS px of the vertical profile strip to the right of the image (64 px + 2 px gap). */
export const PROFILE_STRIP_W = 66;
/** CSS px of the horizontal profile strip below the image (56 px + 2 px gap). */
export const PROFILE_STRIP_H = 58;
/** CSS px of the window height kept for the toolbar, histogram and text lines around the image. */
export const CHROME_H = 170;
/** The image is never drawn smaller than this (CSS px), however little space there is. */
export const MIN_IMAGE_PX = 160;

export interface ImageBox {
  w: number; // CSS px of the image
  h: number;
  profiles: boolean; // the profile strips are shown
}

/**
 * Size of the image for `availW` CSS px of width and a window `visibleH` px high.
 * `fullW`×`fullH`: the frame (0 before the first one: square); `capW`: the widget's
 * `width_px` (0: no cap); `profiles`: make room for the profile strips.
 */
export function imageBox(
  availW: number,
  visibleH: number,
  fullW: number,
  fullH: number,
  capW: number,
  profiles: boolean,
): ImageBox {
  const aspect = fullW > 0 && fullH > 0 ? fullH / fullW : 1;
  let w = availW - (profiles ? PROFILE_STRIP_W : 0);
  if (capW > 0) w = Math.min(w, capW);
  const maxH = visibleH - CHROME_H - (profiles ? PROFILE_STRIP_H : 0);
  if (maxH > 0) w = Math.min(w, maxH / aspect);
  w = Math.max(MIN_IMAGE_PX, Math.floor(w));
  return { w, h: Math.max(1, Math.round(w * aspect)), profiles };
}

/** Height of the window area `el` is seen in: the nearest ancestor that scrolls vertically (a
 * notebook panel in JupyterLab) or the window, whichever is smaller; crosses shadow roots
 * (marimo). An ancestor whose overflow-y is only "auto" because its overflow-x is set (output
 * areas) never scrolls vertically: its content fits, so it is passed over. */
export function visibleHeight(el: Element): number {
  let h = window.innerHeight || 0;
  let node: Node | null = el.parentNode;
  while (node) {
    if (node instanceof Element) {
      const oy = getComputedStyle(node).overflowY;
      if ((oy === "auto" || oy === "scroll") && node.clientHeight > 0 && node.scrollHeight > node.clientHeight) {
        h = Math.min(h || node.clientHeight, node.clientHeight);
        break;
      }
      node = node.parentNode;
    } else if (node instanceof ShadowRoot) {
      node = node.host;
    } else {
      break;
    }
  }
  return h;
}
