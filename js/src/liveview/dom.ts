// DOM of the LiveView: toolbar, image stage (image canvas + overlay), profile canvases, readout
// and status lines. No behaviour here; widget.ts wires it up.
import { COLORMAP_NAMES } from "../render/colormaps";
import { el, imageGrid, type ImageGrid } from "../render/dom";
import { CSS } from "./styles";

/** The toolbar and info lines around the shared image grid. */
export interface LiveViewDom extends ImageGrid {
  root: HTMLDivElement;
  style: HTMLStyleElement;
  bar: HTMLDivElement;
  cmapSel: HTMLSelectElement;
  autoBtn: HTMLButtonElement;
  gamma: HTMLInputElement;
  roiBtn: HTMLButtonElement;
  pickBtn: HTMLButtonElement;
  clearBtn: HTMLButtonElement;
  fitBtn: HTMLButtonElement;
  snapBtn: HTMLButtonElement;
  info: HTMLDivElement;
  readout: HTMLSpanElement;
  statsEl: HTMLSpanElement;
  status: HTMLDivElement;
}

export function buildDom(): LiveViewDom {
  const root = el("div", "lk-live");
  const style = el("style");
  style.textContent = CSS;
  const bar = el("div", "lk-bar");
  const cmapSel = el("select");
  for (const name of COLORMAP_NAMES) cmapSel.append(new Option(name, name));
  const autoBtn = el("button", "", "Auto");
  autoBtn.title = "contrast limits at the 0.1 / 99.9 percentiles of the current frame";
  const gammaLbl = el("label", "", "γ ");
  const gamma = el("input");
  gamma.type = "range";
  gamma.min = "-1.3";
  gamma.max = "1.3";
  gamma.step = "0.01";
  gamma.title = "gamma (double-click: 1)";
  gammaLbl.append(gamma);
  const pickBtn = el("button", "lk-pick", "Pick");
  pickBtn.title = "click beads in the image to add their ROIs";
  pickBtn.style.display = "none"; // shown when the kernel asks for picking (the pick trait)
  const roiBtn = el("button", "", "ROI");
  roiBtn.title = "draw a rectangle (or shift-drag any time)";
  const clearBtn = el("button", "", "Clear");
  clearBtn.title = "remove the ROI and the profile crosshair";
  const fitBtn = el("button", "", "Fit");
  const snapBtn = el("button", "", "Snapshot");
  snapBtn.title = "keep the current full frame in Python: view.last_snapshot";
  bar.append(cmapSel, autoBtn, gammaLbl, roiBtn, pickBtn, clearBtn, fitBtn, snapBtn);

  const image = imageGrid();

  const info = el("div", "lk-info");
  const readout = el("span", "lk-readout", "\u00a0");
  const statsEl = el("span", "lk-stats", "waiting for frames…");
  info.append(readout, statsEl);
  const status = el("div", "lk-status");

  return {
    ...image, root, style, bar, cmapSel, autoBtn, gamma, roiBtn, pickBtn, clearBtn, fitBtn, snapBtn, info,
    readout, statsEl, status,
  };
}
