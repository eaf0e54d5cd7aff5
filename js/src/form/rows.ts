// One DOM row per schema row: label, controls, units and a red error slot.
import { el as h } from "../render/dom";
import {
  type FormEvent,
  formatNumber,
  optionIndex,
  parseNumber,
  type ProgressValue,
  progressFraction,
  type RowSpec,
  rowClasses,
  sliderToValue,
  valueToSlider,
} from "./schema";

export interface RowView {
  el: HTMLElement;
  /** Show the kernel's value; `force` also overwrites a box the user is typing in. */
  setValue(value: unknown, force?: boolean): void;
  setError(text: string): void;
  setDisabled(disabled: Record<string, boolean>): void;
}

type Emit = (ev: FormEvent) => void;

/** A text-like input committed on Enter or blur, never overwritten while the user edits it. */
function committedInput(type: string, onCommit: (text: string) => void) {
  const input = h("input");
  input.type = type;
  if (type === "number") input.step = "any";
  let shown = "";
  const commit = () => {
    if (input.value !== shown) {
      shown = input.value;
      onCommit(input.value);
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") commit();
    if (e.key === "Escape") input.value = shown;
  });
  input.addEventListener("change", commit);
  return {
    input,
    show(text: string, force = false) {
      const editing = document.activeElement === input && input.value !== shown;
      if (!editing || force) input.value = text;
      shown = text;
    },
  };
}

export function buildRow(spec: RowSpec, emit: Emit): RowView {
  const el = h("div", rowClasses(spec).join(" "));
  el.dataset.name = spec.name;
  const label = h("span", "labkit-label", spec.label ?? spec.name);
  if (spec.description) label.title = spec.description;
  const controls = h("span", "labkit-controls");
  const error = h("span", "labkit-error");
  el.append(label, controls);
  const inputs: (HTMLInputElement | HTMLSelectElement | HTMLButtonElement)[] = [];
  const edit = (value: unknown) => emit({ type: "edit", name: spec.name, value });
  let setValue: (value: unknown, force?: boolean) => void = () => {};
  let setDisabled = (d: Record<string, boolean>) => {
    for (const i of inputs) i.disabled = !!d[spec.name];
  };

  switch (spec.kind) {
    case "number":
    case "int": {
      const integer = spec.kind === "int";
      const low = spec.low ?? null;
      const high = spec.high ?? null;
      const log = spec.slider === "log";
      let slider: HTMLInputElement | null = null;
      const box = committedInput("number", (text) => edit(parseNumber(text)));
      if (integer) box.input.step = "1";
      else if (spec.step) box.input.step = String(spec.step);
      if (low !== null) box.input.min = String(low);
      if (high !== null) box.input.max = String(high);
      box.input.title = `${low ?? "-inf"} … ${high ?? "inf"}${spec.units ? " " + spec.units : ""}`;
      if (spec.slider && low !== null && high !== null && high > low) {
        const s = h("input", "labkit-slider");
        s.type = "range";
        s.min = "0";
        s.max = "1000";
        s.addEventListener("input", () => box.show(formatNumber(sliderToValue(+s.value, low, high, log)), true));
        s.addEventListener("change", () => edit(sliderToValue(+s.value, low, high, log)));
        slider = s;
        controls.append(s);
        inputs.push(s);
      }
      controls.append(box.input);
      inputs.push(box.input);
      setValue = (v, force = false) => {
        box.show(formatNumber(v), force);
        if (slider && typeof v === "number" && low !== null && high !== null) slider.value = String(valueToSlider(v, low, high, log));
      };
      break;
    }
    case "choice": {
      const sel = h("select");
      const options = spec.options ?? [];
      options.forEach(([text], i) => {
        const o = h("option", "", text);
        o.value = String(i);
        sel.append(o);
      });
      sel.addEventListener("change", () => edit(options[+sel.value]?.[1]));
      controls.append(sel);
      inputs.push(sel);
      setValue = (v) => {
        sel.value = String(optionIndex(options, v));
      };
      break;
    }
    case "multi": {
      // any number of the options: one checkbox each; the value is the list of checked values
      const options = spec.options ?? [];
      const boxes = options.map(([text]) => {
        const item = h("label", "labkit-multi-item");
        const cb = h("input");
        cb.type = "checkbox";
        item.append(cb, document.createTextNode(` ${text}`));
        controls.append(item);
        inputs.push(cb);
        return cb;
      });
      const checked = () => options.filter((_, i) => boxes[i].checked).map(([, value]) => value);
      for (const cb of boxes) cb.addEventListener("change", () => edit(checked()));
      if (!options.length) controls.append(h("span", "labkit-units", "(none)"));
      setValue = (v) => {
        const chosen = Array.isArray(v) ? v.map((x) => JSON.stringify(x)) : [];
        options.forEach(([, value], i) => {
          boxes[i].checked = chosen.includes(JSON.stringify(value));
        });
      };
      break;
    }
    case "bool": {
      const cb = h("input");
      cb.type = "checkbox";
      cb.addEventListener("change", () => edit(cb.checked));
      controls.append(cb);
      inputs.push(cb);
      setValue = (v) => {
        cb.checked = !!v;
      };
      break;
    }
    case "text": {
      const box = committedInput("text", (text) => edit(text));
      if (spec.width) box.input.style.width = spec.width;
      controls.append(box.input);
      inputs.push(box.input);
      setValue = (v, force = false) => box.show(v === null || v === undefined ? "" : String(v), force);
      break;
    }
    case "tuple": {
      const wrap = h("span", "labkit-tuple");
      controls.append(wrap);
      let boxes: ReturnType<typeof committedInput>[] = [];
      const send = () => edit(boxes.map((b) => parseNumber(b.input.value)));
      setValue = (v, force = false) => {
        const items = Array.isArray(v) ? v : [];
        if (items.length !== boxes.length) {
          wrap.replaceChildren();
          inputs.length = 0;
          boxes = items.map(() => committedInput("number", send));
          for (const b of boxes) {
            if (spec.item === "int") b.input.step = "1";
            wrap.append(b.input);
            inputs.push(b.input);
          }
        }
        items.forEach((item, i) => boxes[i].show(formatNumber(item), force));
      };
      break;
    }
    case "label": {
      const span = h("span", "labkit-value");
      controls.append(span);
      setValue = (v) => {
        span.textContent = Array.isArray(v) ? v.map(formatNumber).join(", ") : formatNumber(v);
      };
      break;
    }
    case "badge": {
      const span = h("span", "labkit-badge");
      controls.append(span);
      setValue = (v) => {
        const b = (v ?? {}) as { text?: string; color?: string; cls?: string };
        span.textContent = b.text ?? "";
        span.className = `labkit-badge ${b.cls ?? ""}`.trim();
        span.style.background = b.color ?? "";
      };
      break;
    }
    case "progress": {
      const bar = h("span", "labkit-bar");
      const fill = h("span", "labkit-bar-fill");
      fill.style.display = "block";
      bar.style.display = "inline-block";
      bar.append(fill);
      const text = h("span", "labkit-value");
      controls.append(bar, text);
      setValue = (v) => {
        const p = (v ?? {}) as ProgressValue;
        fill.style.width = `${(100 * progressFraction(p)).toFixed(1)}%`;
        fill.className = `labkit-bar-fill${p.style ? " labkit-bar-" + p.style : ""}`;
        text.textContent = p.text ?? "";
      };
      break;
    }
    case "checks": {
      const list = h("span", "labkit-checks");
      controls.append(list);
      setValue = (v) => {
        const items = Array.isArray(v) ? (v as [boolean, string][]) : [];
        list.replaceChildren(
          ...items.map(([ok, msg]) => h("span", ok ? "labkit-check-ok" : "labkit-check-bad", `${ok ? "✔" : "✘"} ${msg}`)),
        );
      };
      break;
    }
    case "buttons": {
      const byName: Record<string, HTMLButtonElement> = {};
      for (const b of spec.buttons ?? []) {
        const btn = h("button", `labkit-button ${b.style ? "labkit-" + b.style : ""} ${b.cls ?? ""}`.trim(), b.label);
        btn.type = "button";
        btn.dataset.name = b.name;
        if (b.description) btn.title = b.description;
        btn.addEventListener("click", () => emit({ type: "click", name: b.name }));
        byName[b.name] = btn;
        controls.append(btn);
      }
      setDisabled = (d) => {
        for (const [name, btn] of Object.entries(byName)) btn.disabled = !!(d[name] || d[spec.name]);
      };
      break;
    }
    case "heading":
      break;
    default:
      error.textContent = `unknown row kind ${JSON.stringify(spec.kind)}`;
  }
  if (spec.units) controls.append(h("span", "labkit-units", spec.units));
  el.append(error);
  return {
    el,
    setValue,
    setError(text: string) {
      error.textContent = text;
      for (const i of inputs) i.classList.toggle("labkit-invalid", !!text);
    },
    setDisabled,
  };
}
