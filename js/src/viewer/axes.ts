// Axes beside the image: tick marks and DOM tick labels in coordinate values (units in the axis
// title), following zoom and pan. Labels are DOM text so they stay sharp and readable by tests.
import { el } from "../render/dom";
import { type AxisInfo, axisTitle, coordToPos, isMonotonic, posToCoord } from "./coords";
import { linearTicks } from "./ticks";

export interface Axis {
  readonly el: HTMLDivElement;
  /**
   * Show coordinates of `axis` for image positions `p0` (at pixel 0 of the axis) .. `p1` (at
   * `lengthPx` CSS px). For axes without monotonic numeric coordinates the ticks are indices.
   */
  update(name: string, axis: AxisInfo | undefined, p0: number, p1: number, lengthPx: number): void;
  /** Tick labels as drawn: text and position along the axis in CSS px. */
  ticks(): { text: string; at: number }[];
}

/** Tick positions (CSS px along the axis) and labels for coordinates between positions p0..p1. */
export function axisTicks(
  axis: AxisInfo | undefined,
  p0: number,
  p1: number,
  lengthPx: number,
  maxCount: number,
): { text: string; at: number }[] {
  if (!(lengthPx > 0) || p1 === p0) return [];
  const numeric = isMonotonic(axis);
  const c0 = numeric ? posToCoord(axis, p0) : p0 - 0.5;
  const c1 = numeric ? posToCoord(axis, p1) : p1 - 0.5;
  const t = linearTicks(c0, c1, maxCount);
  const out: { text: string; at: number }[] = [];
  t.values.forEach((c, i) => {
    if (!numeric && !Number.isInteger(c)) return; // index ticks only at whole indices
    const pos = numeric ? coordToPos(axis, c) : c + 0.5;
    const at = ((pos - p0) / (p1 - p0)) * lengthPx;
    if (at >= -0.5 && at <= lengthPx + 0.5) out.push({ text: numeric ? t.labels[i] : String(c), at });
  });
  return out;
}

export function createAxis(orientation: "x" | "y"): Axis {
  const root = el("div", `lk-axis lk-${orientation}axis`);
  const marks = el("canvas", "lk-axis-marks");
  const labels = el("div", "lk-axis-labels");
  const title = el("div", "lk-axis-title");
  root.append(marks, labels, title);
  let drawn: { text: string; at: number }[] = [];
  let key = "";

  function update(name: string, axis: AxisInfo | undefined, p0: number, p1: number, lengthPx: number) {
    const maxCount = Math.max(2, Math.floor(lengthPx / (orientation === "x" ? 70 : 40)));
    const next = axisTicks(axis, p0, p1, lengthPx, maxCount);
    const k = JSON.stringify([name, axis?.units, next, lengthPx]);
    if (k === key) return;
    key = k;
    drawn = next;
    title.textContent = axisTitle(name, axis?.units ?? "");
    labels.replaceChildren(
      ...next.map((t) => {
        const span = el("span", "lk-tick", t.text);
        span.style[orientation === "x" ? "left" : "top"] = `${t.at}px`;
        return span;
      }),
    );
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(marks.clientWidth * dpr));
    const h = Math.max(1, Math.round(marks.clientHeight * dpr));
    marks.width = w;
    marks.height = h;
    const ctx = marks.getContext("2d")!;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#777";
    ctx.lineWidth = dpr;
    ctx.beginPath();
    for (const t of next) {
      const a = Math.round(t.at * dpr) + 0.5;
      if (orientation === "x") {
        ctx.moveTo(a, 0);
        ctx.lineTo(a, 5 * dpr);
      } else {
        ctx.moveTo(w, a);
        ctx.lineTo(w - 5 * dpr, a);
      }
    }
    ctx.stroke();
  }

  return { el: root, update, ticks: () => drawn };
}
