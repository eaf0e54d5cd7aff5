// Small CSS for the Form: inherits the page's font and text colour, uses JupyterLab's theme
// variables where they exist (JupyterLab, Notebook 7, Voila) and neutral fallbacks elsewhere
// (marimo), so light and dark themes both read well.
export const CSS = `
.labkit-form { --labkit-error: #c62828; --labkit-ok: #2e7d32; --labkit-border: var(--jp-border-color1, rgba(128,128,128,.55));
  --labkit-field-bg: var(--jp-layout-color1, transparent); --labkit-muted: var(--jp-ui-font-color2, rgba(128,128,128,.95));
  font: 13px/1.45 var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--jp-ui-font-color1, inherit); display: flex; flex-direction: column; gap: 3px; min-width: 0; padding: 2px 0; }
body[data-jp-theme-light="false"] .labkit-form, .dark .labkit-form, [data-theme="dark"] .labkit-form,
.labkit-form.labkit-dark { --labkit-error: #ef9a9a; --labkit-ok: #81c784; }
.labkit-form.labkit-inline { flex-direction: row; flex-wrap: wrap; align-items: center; gap: 4px 14px; }
.labkit-form.labkit-inline .labkit-title { margin: 0; }
.labkit-form.labkit-inline .labkit-label { flex-basis: auto; }
.labkit-form .labkit-title { font-weight: 600; font-size: 1.05em; margin: 2px 0 2px; }
.labkit-form .labkit-row { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 6px; min-height: 24px; }
.labkit-form .labkit-row[hidden] { display: none; }
.labkit-form .labkit-label { flex: 0 0 9.5em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
.labkit-form .labkit-label:empty { display: none; }
.labkit-form .labkit-controls { display: inline-flex; flex-wrap: wrap; align-items: center; gap: 4px; min-width: 0; }
.labkit-form .labkit-units { color: var(--labkit-muted); }
.labkit-form .labkit-error { color: var(--labkit-error); font-size: 0.92em; white-space: pre-wrap; }
.labkit-form .labkit-error:empty { display: none; }
.labkit-form input, .labkit-form select, .labkit-form button { font: inherit; color: inherit; box-sizing: border-box; }
.labkit-form input[type=number], .labkit-form input[type=text], .labkit-form select {
  background: var(--labkit-field-bg); border: 1px solid var(--labkit-border); border-radius: 3px; padding: 1px 4px; height: 24px; }
.labkit-form select option { background: var(--jp-layout-color1, #fff); color: var(--jp-ui-font-color1, #222); }
.labkit-form input[type=number] { width: 7.5em; }
.labkit-form .labkit-tuple input[type=number] { width: 5em; }
.labkit-form input[type=text] { width: 16em; max-width: 100%; }
.labkit-form input[type=range] { width: 9em; accent-color: #1976d2; }
.labkit-form input.labkit-invalid, .labkit-form select.labkit-invalid { border-color: var(--labkit-error); }
.labkit-form button { border: 1px solid var(--labkit-border); border-radius: 3px; padding: 2px 12px; height: 26px; cursor: pointer;
  background: var(--jp-layout-color2, rgba(128,128,128,.12)); }
.labkit-form button:disabled { opacity: .45; cursor: default; }
.labkit-form button.labkit-primary { background: #1976d2; border-color: #1976d2; color: #fff; }
.labkit-form button.labkit-success { background: #2e7d32; border-color: #2e7d32; color: #fff; }
.labkit-form button.labkit-warning { background: #ef6c00; border-color: #ef6c00; color: #fff; }
.labkit-form button.labkit-danger { background: #c62828; border-color: #c62828; color: #fff; }
.labkit-form .labkit-value { font-variant-numeric: tabular-nums; white-space: pre-wrap; overflow-wrap: anywhere; }
.labkit-form .labkit-badge { color: #fff; padding: 1px 8px; border-radius: 4px; background: #757575; }
.labkit-form .labkit-multi-item { margin-right: 10px; white-space: nowrap; }
.labkit-form .labkit-bar { width: 22em; max-width: 100%; height: 10px; border-radius: 5px; overflow: hidden;
  background: rgba(128,128,128,.25); }
.labkit-form .labkit-bar-fill { height: 100%; width: 0; background: #1976d2; transition: width .2s; }
.labkit-form .labkit-bar-fill.labkit-bar-success { background: var(--labkit-ok); }
.labkit-form .labkit-bar-fill.labkit-bar-danger { background: var(--labkit-error); }
.labkit-form .labkit-checks { display: flex; flex-direction: column; }
.labkit-form .labkit-check-ok { color: var(--labkit-ok); }
.labkit-form .labkit-check-bad { color: var(--labkit-error); }
.labkit-form .labkit-row-heading .labkit-label { flex-basis: auto; font-size: 1.02em; margin-top: 4px; }
.labkit-form .labkit-form-status { white-space: pre-wrap; font-size: 0.92em; margin: 2px 0; }
.labkit-form .labkit-form-status:empty { display: none; }
.labkit-form .labkit-form-status.labkit-error { color: var(--labkit-error); font-family: var(--jp-code-font-family, monospace); }
.labkit-form .labkit-form-status.labkit-warning { color: #ef6c00; }
`;
