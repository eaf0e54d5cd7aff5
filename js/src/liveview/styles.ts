export const CSS = `
.lk-live-host { display: block; width: 100%; min-width: 0; box-sizing: border-box; }
.lk-live { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222);
  display: inline-flex; flex-direction: column; gap: 4px; max-width: 100%; }
.lk-live .lk-bar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.lk-live button, .lk-live select { font: inherit; padding: 1px 6px; border: 1px solid #888; border-radius: 3px;
  background: var(--jp-layout-color1, #fff); color: inherit; cursor: pointer; }
.lk-live button.lk-on { background: #2b6cb0; color: #fff; border-color: #2b6cb0; }
.lk-live .lk-grid { display: grid; grid-template-columns: auto 64px; grid-template-rows: auto 56px; gap: 2px; }
.lk-live .lk-grid.lk-noprof > :not(.lk-stage) { display: none; }
.lk-live .lk-stage { position: relative; background: #141414; overflow: hidden; touch-action: none; }
.lk-live .lk-stage canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; display: block; }
.lk-live .lk-overlay { cursor: crosshair; }
.lk-live .lk-prof { width: 100%; height: 100%; display: block; }
.lk-live .lk-hist { width: 100%; height: 64px; display: block; cursor: ew-resize; }
.lk-live .lk-info { display: flex; justify-content: space-between; gap: 8px; font-variant-numeric: tabular-nums; }
.lk-live .lk-stats { color: var(--jp-ui-font-color2, #666); }
.lk-live .lk-status { min-height: 1.4em; }
.lk-live .lk-status.lk-error { color: #fff; background: #c53030; padding: 1px 6px; border-radius: 3px; }
.lk-live .lk-status.lk-warning { color: #744210; background: #fefcbf; padding: 1px 6px; border-radius: 3px; }
.lk-live input[type=range] { width: 90px; vertical-align: middle; }
`;
