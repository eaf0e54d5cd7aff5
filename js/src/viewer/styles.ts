export const CSS = `
.lk-viewer { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222);
  display: inline-flex; flex-direction: column; gap: 4px; max-width: 100%; }
.lk-viewer .lk-title { font-weight: 600; }
.lk-viewer .lk-title .lk-meta { font-weight: 400; color: var(--jp-ui-font-color2, #666); margin-left: 6px; }
.lk-viewer .lk-bar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.lk-viewer button, .lk-viewer select, .lk-viewer input[type=number] { font: inherit; padding: 1px 4px;
  border: 1px solid #888; border-radius: 3px; background: var(--jp-layout-color1, #fff); color: inherit; }
.lk-viewer input[type=number] { width: 72px; }
.lk-viewer input.lk-link { font: inherit; padding: 1px 4px; border: 1px solid #888; border-radius: 3px; }
.lk-viewer button { cursor: pointer; }
.lk-viewer button.lk-on { background: #2b6cb0; color: #fff; border-color: #2b6cb0; }
.lk-viewer .lk-sliders { display: flex; flex-direction: column; gap: 2px; }
.lk-viewer .lk-sliders label { display: flex; gap: 6px; align-items: center; }
.lk-viewer .lk-sliders input { flex: 1; min-width: 120px; }
.lk-viewer .lk-grid { display: grid; grid-template-columns: auto 64px; grid-template-rows: auto 56px; gap: 2px; }
.lk-viewer .lk-stage { position: relative; background: #141414; overflow: hidden; }
.lk-viewer .lk-stage canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; display: block; }
.lk-viewer .lk-overlay { cursor: crosshair; }
.lk-viewer .lk-prof { width: 100%; height: 100%; display: block; }
.lk-viewer .lk-hist { width: 100%; height: 56px; display: block; cursor: ew-resize; }
.lk-viewer .lk-readout { font-variant-numeric: tabular-nums; min-height: 1.4em; }
.lk-viewer .lk-status { min-height: 1.4em; }
.lk-viewer .lk-status.lk-error { color: #fff; background: #c53030; padding: 1px 6px; border-radius: 3px; }
.lk-viewer.lk-closed { opacity: 0.5; }
`;
