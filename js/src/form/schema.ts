// The Form schema (what labkit/widgets/_form.py sends) and the pure helpers the renderer uses.
// Row kinds: number, int, choice, multi, bool, text, tuple, label, badge, buttons, progress, checks, heading.

export interface ButtonSpec {
  name: string;
  label: string;
  style?: "" | "primary" | "success" | "warning" | "danger";
  cls?: string;
  description?: string;
}

export interface RowSpec {
  kind: string;
  name: string;
  label?: string;
  units?: string;
  description?: string;
  cls?: string;
  low?: number | null;
  high?: number | null;
  slider?: "" | "linear" | "log";
  step?: number | null;
  item?: "int" | "float";
  options?: [string, unknown][];
  buttons?: ButtonSpec[];
  width?: string;
}

/** Browser -> kernel. */
export type FormEvent =
  | { type: "edit"; name: string; value: unknown }
  | { type: "click"; name: string };

/** Kernel -> browser: the outcome of one edit (the control shows `value`, `error` in red). */
export interface AppliedMsg {
  type: "applied";
  name: string;
  value: unknown;
  error: string;
}

export interface ProgressValue {
  value?: number;
  max?: number;
  style?: string;
  text?: string;
}

export const SLIDER_STEPS = 1000;

/** Slider position (0..SLIDER_STEPS) of `value` on a linear or logarithmic scale; clamped. */
export function valueToSlider(value: number, low: number, high: number, log: boolean): number {
  if (!Number.isFinite(value) || !(high > low)) return 0;
  let f: number;
  if (log && low > 0) f = (Math.log10(Math.max(value, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low));
  else f = (value - low) / (high - low);
  return Math.round(Math.min(1, Math.max(0, f)) * SLIDER_STEPS);
}

/** Value at slider position `pos`, rounded to 4 significant digits so a drag sends tidy numbers. */
export function sliderToValue(pos: number, low: number, high: number, log: boolean): number {
  const f = Math.min(1, Math.max(0, pos / SLIDER_STEPS));
  const v = log && low > 0 ? 10 ** (Math.log10(low) + f * (Math.log10(high) - Math.log10(low))) : low + f * (high - low);
  if (f === 0) return low;
  if (f === 1) return high;
  return Number(v.toPrecision(4));
}

/** Text for a number box: integers as is, floats without float noise (`0.1 + 0.2` -> `0.3`). */
export function formatNumber(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}

/**
 * Parse a number box: an empty box is null; text that is not a number is sent as the text itself
 * so the kernel's validation names the problem (the browser never silently drops an edit).
 */
export function parseNumber(text: string): number | string | null {
  const t = text.trim();
  if (t === "") return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : t;
}

/** Fraction 0..1 of a progress value (a bar without a max is empty). */
export function progressFraction(p: ProgressValue | null | undefined): number {
  if (!p || !p.max || !(p.max > 0)) return 0;
  const f = (p.value ?? 0) / p.max;
  return Number.isFinite(f) ? Math.min(1, Math.max(0, f)) : 0;
}

/** Index of `value` among a choice row's options (deep-equal for lists), -1 if absent. */
export function optionIndex(options: [string, unknown][], value: unknown): number {
  const key = JSON.stringify(value);
  return options.findIndex(([, v]) => JSON.stringify(v) === key);
}

/** Row CSS classes: generic ones plus the row's own (`cls`, space separated). */
export function rowClasses(spec: RowSpec): string[] {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");
  return ["labkit-row", `labkit-row-${safe(spec.kind)}`, `labkit-field-${safe(spec.name)}`, ...(spec.cls ?? "").split(/\s+/).filter(Boolean)];
}
