export const CSS = `
.lk-viewer { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222);
  display: inline-flex; flex-direction: column; gap: 4px; max-width: 100%; position: relative; outline: none; }
.lk-viewer:focus-visible { box-shadow: 0 0 0 2px #2b6cb055; }
.lk-viewer .lk-title { font-weight: 600; }
.lk-viewer .lk-title .lk-meta { font-weight: 400; color: var(--jp-ui-font-color2, #666); margin-left: 6px; }
.lk-viewer .lk-linkinfo { font-weight: 400; margin-left: 8px; padding: 0 6px; border-radius: 8px; background: #2b6cb0; color: #fff; }
.lk-viewer .lk-linkinfo:empty { display: none; }
.lk-viewer .lk-linkinfo.lk-flash { background: #dd6b20; }
.lk-viewer .lk-bar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.lk-viewer .lk-sep { width: 1px; height: 16px; background: #bbb; margin: 0 2px; }
.lk-viewer button, .lk-viewer select, .lk-viewer input[type=number], .lk-viewer input[type=text] { font: inherit;
  padding: 1px 4px; border: 1px solid #888; border-radius: 3px; background: var(--jp-layout-color1, #fff); color: inherit; }
.lk-viewer input.lk-lo, .lk-viewer input.lk-hi, .lk-viewer input.lk-fill-value { width: 72px; }
.lk-viewer input.lk-bin { width: 44px; }
.lk-viewer input.lk-coord { width: 72px; }
.lk-viewer input.lk-gamma { width: 80px; }
.lk-viewer button { cursor: pointer; }
.lk-viewer button.lk-on { background: #2b6cb0; color: #fff; border-color: #2b6cb0; }
.lk-viewer .lk-sliders { display: flex; flex-direction: column; gap: 2px; }
.lk-viewer .lk-sliders label { display: flex; gap: 6px; align-items: center; }
.lk-viewer .lk-sliders input[type=range] { flex: 1; min-width: 120px; }
.lk-viewer .lk-sliders .lk-dimname { min-width: 48px; font-weight: 600; }
.lk-viewer canvas.lk-spark { width: 120px; height: 22px; cursor: pointer; }
.lk-viewer .lk-fig { display: grid; gap: 2px; background: var(--jp-layout-color0, #fff); }
.lk-viewer .lk-stage { position: relative; background: #141414; overflow: hidden; }
.lk-viewer .lk-stage canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; display: block; }
.lk-viewer .lk-overlay { cursor: crosshair; }
.lk-viewer .lk-overlay.lk-tool { cursor: cell; }
.lk-viewer .lk-prof { width: 100%; height: 100%; display: block; }
.lk-viewer .lk-axis { position: relative; font-size: 10px; color: var(--jp-ui-font-color1, #333); }
.lk-viewer .lk-axis canvas { position: absolute; display: block; }
.lk-viewer .lk-xaxis canvas { left: 0; top: 0; width: 100%; height: 6px; }
.lk-viewer .lk-yaxis canvas { right: 0; top: 0; width: 6px; height: 100%; }
.lk-viewer .lk-axis-labels { position: absolute; inset: 0; }
.lk-viewer .lk-tick { position: absolute; white-space: nowrap; font-variant-numeric: tabular-nums; }
.lk-viewer .lk-xaxis .lk-tick { top: 6px; transform: translateX(-50%); }
.lk-viewer .lk-yaxis .lk-tick { right: 8px; transform: translateY(-50%); }
.lk-viewer .lk-axis-title { position: absolute; white-space: nowrap; font-weight: 600; }
.lk-viewer .lk-xaxis .lk-axis-title { left: 50%; bottom: 0; transform: translateX(-50%); }
.lk-viewer .lk-yaxis .lk-axis-title { left: 0; top: 50%; writing-mode: vertical-rl; transform: translateY(-50%) rotate(180deg); }
.lk-viewer .lk-colorbar { position: relative; font-size: 10px; }
.lk-viewer .lk-colorbar canvas { position: absolute; left: 0; top: 0; width: 14px; display: block; }
.lk-viewer .lk-colorbar .lk-tick { left: 18px; transform: translateY(-50%); }
.lk-viewer .lk-cbar-units { position: absolute; left: 0; bottom: -16px; white-space: nowrap; }
.lk-viewer .lk-hist { width: 100%; height: 56px; display: block; cursor: ew-resize; }
.lk-viewer .lk-readout, .lk-viewer .lk-cursors { font-variant-numeric: tabular-nums; min-height: 1.4em; }
.lk-viewer .lk-cursor-row { cursor: pointer; }
.lk-viewer .lk-cursor-row.lk-active { font-weight: 600; }
.lk-viewer .lk-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.lk-viewer .lk-panel { display: flex; gap: 8px; align-items: center; }
.lk-viewer .lk-panel[hidden] { display: none; }
.lk-viewer canvas.lk-panel-plot { width: 260px; height: 60px; }
.lk-viewer .lk-panel-text { font-variant-numeric: tabular-nums; white-space: pre-line; }
.lk-viewer .lk-help { position: absolute; right: 4px; top: 24px; z-index: 10; background: #fffffff0; color: #222;
  border: 1px solid #999; border-radius: 4px; padding: 6px 10px; box-shadow: 0 2px 8px #0004; }
.lk-viewer .lk-help table { border-collapse: collapse; }
.lk-viewer .lk-help td { padding: 1px 6px; }
.lk-viewer .lk-help kbd { font: 11px monospace; border: 1px solid #aaa; border-radius: 3px; padding: 0 3px; }
.lk-viewer .lk-status { min-height: 1.4em; }
.lk-viewer .lk-status.lk-error { color: #fff; background: #c53030; padding: 1px 6px; border-radius: 3px; }
.lk-viewer.lk-closed { opacity: 0.5; }
`;
