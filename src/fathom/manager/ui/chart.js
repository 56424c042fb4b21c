// The Alerts page's counts-over-time chart: one stacked SVG bar per histogram bucket, high
// severity at the bottom, drawn to the width of its container.

import { svg } from "./dom.js";
import { SEVERITIES, formatClock, formatCount, formatDay, formatSpan, parseTime, severityName } from "./format.js";

const HEIGHT = 170;
const MARGIN = { top: 10, right: 8, bottom: 24, left: 40 };
const MIN_BAR_GAP = 1;
const MIN_SEGMENT = 2;

// Bucket widths (seconds) the chart asks for: about TARGET_BARS bars over the range shown.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
const TARGET_BARS = 60;

export function stepFor(spanSeconds) {
  const wanted = spanSeconds / TARGET_BARS;
  return STEPS.find((step) => step >= wanted) || STEPS[STEPS.length - 1];
}

function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (factor * magnitude >= value) return factor * magnitude;
  }
  return 10 * magnitude;
}

function total(counts) {
  return SEVERITIES.reduce((sum, s) => sum + Number(counts[s.level] || 0), 0);
}

function tooltip(start, step, counts) {
  const parts = SEVERITIES.filter((s) => counts[s.level]).map((s) => `${formatCount(counts[s.level])} ${severityName(s.level).toLowerCase()}`);
  const when = `${formatDay(start)} ${formatClock(start, step < 60)} UTC, ${formatSpan(step)}`;
  return `${when}: ${formatCount(total(counts))} alerts${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

// buckets: [{start, counts: {"1": n, ...}}]; domain: optional [Date, Date] to span.
export function histogramChart(buckets, step, { width, domain, onSelect }) {
  const points = buckets
    .map((b) => ({ start: parseTime(b.start), counts: b.counts || {} }))
    .filter((b) => b.start)
    .sort((a, b) => a.start - b.start);
  const stepMs = step * 1000;
  const first = domain && domain[0] ? Math.floor(domain[0].getTime() / stepMs) * stepMs : points[0].start.getTime();
  const last = domain && domain[1] ? domain[1].getTime() : points[points.length - 1].start.getTime() + stepMs;
  const slots = Math.max(1, Math.ceil((last - first) / stepMs));
  const plotWidth = Math.max(100, width - MARGIN.left - MARGIN.right);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slotWidth = plotWidth / slots;
  const barWidth = Math.max(1, Math.min(48, slotWidth - Math.max(MIN_BAR_GAP, slotWidth * 0.2)));
  const yMax = niceMax(Math.max(1, ...points.map((p) => total(p.counts))));
  const y = (count) => MARGIN.top + plotHeight - (count / yMax) * plotHeight;

  const root = svg("svg", {
    class: "chart",
    width,
    height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img",
    "aria-label": "Alerts over time by severity",
  });

  for (let i = 0; i <= 4; i += 1) {
    const value = (yMax / 4) * i;
    const yy = y(value);
    root.append(
      svg("line", { class: "chart-grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: yy, y2: yy }),
      svg("text", { class: "chart-axis", x: MARGIN.left - 6, y: yy + 4, "text-anchor": "end" }, formatCount(value)),
    );
  }

  const labelEvery = Math.max(1, Math.ceil(slots / Math.max(2, Math.floor(plotWidth / 90))));
  let lastDay = "";
  for (let i = 0; i < slots; i += labelEvery) {
    const date = new Date(first + i * stepMs);
    const day = formatDay(date);
    const text = step >= 86400 ? day : day !== lastDay && i > 0 ? `${day.slice(5)} ${formatClock(date, step < 60)}` : formatClock(date, step < 60);
    lastDay = day;
    root.append(
      svg("text", { class: "chart-axis", x: MARGIN.left + i * slotWidth + slotWidth / 2, y: HEIGHT - 6, "text-anchor": "middle" }, text),
    );
  }

  for (const point of points) {
    const slot = Math.floor((point.start.getTime() - first) / stepMs);
    if (slot < 0 || slot >= slots) continue;
    const x = MARGIN.left + slot * slotWidth + (slotWidth - barWidth) / 2;
    const group = svg("g", { class: "chart-bar", dataset: { start: point.start.toISOString() } });
    // Stacked from the baseline up; a segment of a few alerts under a tall one keeps a visible sliver.
    let top = y(0);
    for (const severity of SEVERITIES) {
      const count = Number(point.counts[severity.level] || 0);
      if (!count) continue;
      const height = Math.max(MIN_SEGMENT, (count / yMax) * plotHeight);
      top -= height;
      group.append(svg("rect", { class: `bar sev-fill-${severity.level}`, x, width: barWidth, y: top, height, dataset: { count: String(count) } }));
    }
    const hit = svg("rect", { class: "chart-hit", x: MARGIN.left + slot * slotWidth, width: slotWidth, y: MARGIN.top, height: plotHeight });
    hit.append(svg("title", {}, tooltip(point.start, step, point.counts)));
    if (onSelect) hit.addEventListener("click", () => onSelect(point.start, new Date(point.start.getTime() + stepMs)));
    group.append(hit);
    root.append(group);
  }
  root.append(svg("line", { class: "chart-baseline", x1: MARGIN.left, x2: width - MARGIN.right, y1: y(0), y2: y(0) }));
  return root;
}

export function histogramTotals(buckets) {
  const totals = { 1: 0, 2: 0, 3: 0, 4: 0 };
  for (const bucket of buckets) {
    for (const severity of SEVERITIES) totals[severity.level] += Number((bucket.counts || {})[severity.level] || 0);
  }
  return totals;
}
