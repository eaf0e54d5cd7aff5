// The Form front end: renders the kernel's schema as plain HTML controls, sends edits and clicks
// as custom messages, and shows what the kernel accepted (or its error, in red) per row.
import { EditsBeforeClicks } from "./ordering";
import { buildRow, type RowView } from "./rows";
import type { AppliedMsg, FormEvent, RowSpec } from "./schema";
import { CSS } from "./styles";

import type { Model } from "../render/model";
export type { Model };

/** Longest a click waits for the replies to the edits made before it (ms). A kernel that is
 * busy answers late, and a click sent before then would act on the old values; a kernel that is
 * gone gets neither, so waiting long costs nothing. */
const HOLD_MS = 30000;

/** True when the text colour the page gives us is light (a dark theme). */
function darkTheme(el: HTMLElement): boolean {
  const m = getComputedStyle(el).color.match(/\d+(\.\d+)?/g);
  if (!m || m.length < 3) return false;
  const [r, g, b] = m.slice(0, 3).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 150;
}

export function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const root = document.createElement("div");
  const style = document.createElement("style");
  style.textContent = CSS;
  const title = document.createElement("div");
  title.className = "labkit-title";
  const body = document.createElement("div");
  body.style.display = "contents";
  const status = document.createElement("div");
  status.className = "labkit-form-status";
  root.append(style, title, body, status);
  el.append(root);
  let rows: Record<string, RowView> = {};

  // clicks reach the kernel after the edits made before them (marimo does not keep the order);
  // a click held longer than HOLD_MS (no reply: the kernel is gone or very busy) goes anyway
  const ordered = new EditsBeforeClicks((ev) => model.send(ev));
  let holdTimer = 0;
  const send = (ev: FormEvent) => {
    ordered.send(ev);
    if (ordered.waiting > 0 && !holdTimer) {
      holdTimer = window.setTimeout(() => {
        holdTimer = 0;
        ordered.flush();
      }, HOLD_MS);
    }
  };

  function applyClass() {
    root.className = `labkit-form ${model.get("css_class") || ""}`.trim();
    if (darkTheme(el)) root.classList.add("labkit-dark");
  }
  function applyTitle() {
    title.textContent = model.get("title") || "";
    title.hidden = !title.textContent;
  }
  function applyValues() {
    const values = model.get("values") || {};
    for (const [name, row] of Object.entries(rows)) if (name in values) row.setValue(values[name]);
  }
  function applyErrors() {
    const errors = model.get("errors") || {};
    for (const [name, row] of Object.entries(rows)) row.setError(errors[name] || "");
  }
  function applyDisabled() {
    const disabled = model.get("disabled") || {};
    for (const row of Object.values(rows)) row.setDisabled(disabled);
  }
  function applyHidden() {
    const hidden = model.get("hidden") || {};
    for (const [name, row] of Object.entries(rows)) row.el.hidden = !!hidden[name];
  }
  function applyStatus() {
    const [level, text] = model.get("status") || ["ok", ""];
    status.textContent = text || "";
    status.className = `labkit-form-status${level && level !== "ok" ? " labkit-" + level : ""}`;
  }
  function build() {
    const schema: RowSpec[] = model.get("schema") || [];
    rows = {};
    body.replaceChildren();
    for (const spec of schema) {
      const row = buildRow(spec, send);
      rows[spec.name] = row;
      body.append(row.el);
    }
    applyValues();
    applyErrors();
    applyDisabled();
    applyHidden();
  }
  function onMsg(msg: AppliedMsg) {
    if (!msg || msg.type !== "applied") return;
    ordered.applied(msg.name);
    const row = rows[msg.name];
    if (!row) return;
    row.setValue(msg.value, true);
    row.setError(msg.error || "");
  }

  applyClass();
  applyTitle();
  build();
  applyStatus();
  requestAnimationFrame(applyClass); // the theme's colours are known once the element is in the page
  const handlers: [string, () => void][] = [
    ["change:schema", build],
    ["change:values", applyValues],
    ["change:errors", applyErrors],
    ["change:disabled", applyDisabled],
    ["change:hidden", applyHidden],
    ["change:status", applyStatus],
    ["change:title", applyTitle],
    ["change:css_class", applyClass],
  ];
  for (const [event, fn] of handlers) model.on(event, fn);
  model.on("msg:custom", onMsg);
  return () => {
    window.clearTimeout(holdTimer);
    for (const [event, fn] of handlers) model.off(event, fn);
    model.off("msg:custom", onMsg);
    root.remove();
  };
}
