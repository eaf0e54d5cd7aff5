// DOM of a viewer window: title, two toolbars, sliders, the figure (y axis | image | vertical
// profile | colorbar, then x axis and horizontal profile), histogram, readouts, ROI/line panel,
// keyboard help and status. No behaviour here; widget.ts wires it up.
import { COLORMAP_NAMES } from "../render/colormaps";
import { el, imageGrid } from "../render/dom";
import { type Axis, createAxis } from "./axes";
import { type Colorbar, createColorbar } from "./colorbar";
import { SHORTCUTS } from "./keys";
import { CSS } from "./styles";

export interface ViewerDom {
  root: HTMLDivElement;
  title: HTMLDivElement;
  titleText: HTMLSpanElement;
  meta: HTMLSpanElement;
  linkInfo: HTMLSpanElement;
  ydimSel: HTMLSelectElement;
  xdimSel: HTMLSelectElement;
  swapBtn: HTMLButtonElement;
  cmapSel: HTMLSelectElement;
  normSel: HTMLSelectElement;
  gamma: HTMLInputElement;
  gammaVal: HTMLSpanElement;
  autoBtn: HTMLButtonElement;
  loIn: HTMLInputElement;
  hiIn: HTMLInputElement;
  addCursorBtn: HTMLButtonElement;
  delCursorBtn: HTMLButtonElement;
  cursorLabel: HTMLSpanElement;
  binsBox: HTMLSpanElement; // width inputs of the image dims
  roiBtn: HTMLButtonElement;
  lineBtn: HTMLButtonElement;
  clearBtn: HTMLButtonElement;
  opSel: HTMLSelectElement;
  valueIn: HTMLInputElement;
  applyBtn: HTMLButtonElement;
  linkIn: HTMLInputElement;
  pngBtn: HTMLButtonElement;
  helpBtn: HTMLButtonElement;
  sliders: HTMLDivElement;
  fig: HTMLDivElement;
  stage: HTMLDivElement;
  canvas: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
  vprof: HTMLCanvasElement;
  hprof: HTMLCanvasElement;
  xaxis: Axis;
  yaxis: Axis;
  colorbar: Colorbar;
  readout: HTMLDivElement;
  cursors: HTMLDivElement;
  panel: HTMLDivElement;
  panelText: HTMLDivElement;
  panelPlot: HTMLCanvasElement; // the ROI mean along the first slider dim
  linePlot: HTMLCanvasElement; // the profile along the line
  help: HTMLDivElement;
  status: HTMLDivElement;
}

function button(cls: string, text: string, title: string): HTMLButtonElement {
  const b = el("button", cls, text);
  b.title = title;
  return b;
}

function numberInput(cls: string, title: string): HTMLInputElement {
  const i = el("input", cls);
  i.type = "number";
  i.step = "any";
  i.title = title;
  return i;
}

const sep = () => el("span", "lk-sep");

export function buildDom(): ViewerDom {
  const root = el("div", "lk-viewer");
  root.tabIndex = 0; // keyboard shortcuts work while the window has focus
  const style = el("style");
  style.textContent = CSS;
  const title = el("div", "lk-title");
  const titleText = el("span", "lk-name");
  const meta = el("span", "lk-meta");
  const linkInfo = el("span", "lk-linkinfo");
  title.append(titleText, meta, linkInfo);

  const bar1 = el("div", "lk-bar");
  const ydimSel = el("select", "lk-ydim");
  ydimSel.title = "dim shown along y (rows)";
  const xdimSel = el("select", "lk-xdim");
  xdimSel.title = "dim shown along x (columns)";
  const swapBtn = button("lk-swap", "⇄", "transpose: swap the x and y dims (t)");
  const cmapSel = el("select", "lk-cmap");
  for (const name of COLORMAP_NAMES) cmapSel.append(new Option(name, name));
  const normSel = el("select", "lk-norm");
  normSel.title = "colour scale between the limits (l)";
  for (const n of ["linear", "log"]) normSel.append(new Option(n, n));
  const gamma = el("input", "lk-gamma");
  gamma.type = "range";
  gamma.min = "-1.3";
  gamma.max = "1.3";
  gamma.step = "0.01";
  gamma.title = "power law γ (log slider; double-click: 1)";
  const gammaVal = el("span", "lk-gamma-val");
  const autoBtn = button("lk-auto", "Auto", "contrast limits at the 0.1 / 99.9 percentiles of what is shown (a)");
  const loIn = numberInput("lk-lo", "contrast low (data units)");
  const hiIn = numberInput("lk-hi", "contrast high (data units)");
  bar1.append(
    el("span", "", "y"), ydimSel, swapBtn, el("span", "", "x"), xdimSel, sep(),
    cmapSel, normSel, el("span", "", "γ"), gamma, gammaVal, autoBtn, loIn, hiIn,
  ); // prettier-ignore

  const bar2 = el("div", "lk-bar");
  const addCursorBtn = button("lk-add-cursor", "+ cursor", "add a cursor (c)");
  const delCursorBtn = button("lk-del-cursor", "− cursor", "remove the active cursor (Delete)");
  const cursorLabel = el("span", "lk-cursor-n");
  const binsBox = el("span", "lk-bins");
  binsBox.title = "profile width: pixels averaged across each image dim";
  const roiBtn = button("lk-roi", "ROI", "drag a rectangle: statistics and its mean along the first slider dim (r)");
  const lineBtn = button("lk-line", "Line", "drag a line: the profile along it (p)");
  const clearBtn = button("lk-clear", "Clear", "remove the ROI and the line (Escape)");
  const opSel = el("select", "lk-op");
  for (const [v, t] of [["normalize", "normalize"], ["crop", "crop to ROI"], ["fill", "fill ROI with"]]) opSel.append(new Option(t, v));
  const valueIn = numberInput("lk-fill-value", "fill value");
  valueIn.value = "0";
  const applyBtn = button("lk-apply", "Apply", "edit the data; a watched notebook variable gets the result");
  const linkIn = el("input", "lk-link");
  linkIn.type = "text";
  linkIn.placeholder = "link group";
  linkIn.title = "windows with the same link group share cursors, slices, bins and colour scale (empty: unlinked)";
  linkIn.size = 9;
  const pngBtn = button("lk-png", "PNG", "save the view (image, axes, profiles, colorbar) as PNG (s)");
  const helpBtn = button("lk-help-btn", "?", "keyboard shortcuts (?)");
  bar2.append(
    addCursorBtn, delCursorBtn, cursorLabel, sep(), el("span", "", "width"), binsBox, sep(),
    roiBtn, lineBtn, clearBtn, sep(), opSel, valueIn, applyBtn, sep(), linkIn, pngBtn, helpBtn,
  ); // prettier-ignore

  const sliders = el("div", "lk-sliders");

  const fig = el("div", "lk-fig");
  const { stage, canvas, overlay, vprof, hprof } = imageGrid(); // re-placed in the figure grid
  const xaxis = createAxis("x");
  const yaxis = createAxis("y");
  const colorbar = createColorbar();
  fig.append(yaxis.el, stage, vprof, colorbar.el, el("div"), xaxis.el, el("div"), el("div"), el("div"), hprof);

  const readout = el("div", "lk-readout", "\u00a0");
  const cursors = el("div", "lk-cursors");
  const panel = el("div", "lk-panel");
  panel.hidden = true;
  const panelText = el("div", "lk-panel-text");
  const panelPlot = el("canvas", "lk-panel-plot lk-roi-plot");
  const linePlot = el("canvas", "lk-panel-plot lk-line-plot");
  panel.append(panelText, panelPlot, linePlot);
  const help = el("div", "lk-help");
  help.hidden = true;
  const rows = SHORTCUTS.map(([keys, , what]) => `<tr><td>${keys.map((k) => `<kbd>${k === " " ? "Space" : k}</kbd>`).join(" ")}</td><td>${what}</td></tr>`);
  help.innerHTML = `<b>Keyboard</b> (click the window first)<table>${rows.join("")}</table>`;
  const status = el("div", "lk-status");
  root.append(style, title, bar1, bar2, sliders, fig, readout, cursors, panel, help, status);
  return {
    root, title, titleText, meta, linkInfo, ydimSel, xdimSel, swapBtn, cmapSel, normSel, gamma, gammaVal,
    autoBtn, loIn, hiIn, addCursorBtn, delCursorBtn, cursorLabel, binsBox, roiBtn, lineBtn, clearBtn, opSel,
    valueIn, applyBtn, linkIn, pngBtn, helpBtn, sliders, fig, stage, canvas, overlay, vprof, hprof, xaxis,
    yaxis, colorbar, readout, cursors, panel, panelText, panelPlot, linePlot, help, status,
  }; // prettier-ignore
}

/** Size the figure grid for an image of `w` x `h` CSS px. */
export function sizeFigure(dom: ViewerDom, w: number, h: number): void {
  dom.fig.style.gridTemplateColumns = `52px ${w}px 64px 64px`;
  dom.fig.style.gridTemplateRows = `${h}px 34px 60px`;
  dom.stage.style.width = `${w}px`;
  dom.stage.style.height = `${h}px`;
  const dpr = window.devicePixelRatio || 1;
  for (const c of [dom.canvas, dom.overlay]) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
}
