// The Applications page: top applications and categories by flows and bytes, from the flow
// records the sensors send (/api/v1/applications).

import { get } from "./api.js";
import { card, clear, empty, h, statusLine, svg, table, tile } from "./dom.js";
import { formatBytes, formatCount } from "./format.js";
import { RANGES, timeWindow } from "./filters.js";

const TOP = 25;
const METRICS = [
  { value: "bytes", label: "Bytes", format: formatBytes },
  { value: "flows", label: "Flows", format: formatCount },
];

function share(value, max) {
  const width = 120;
  const filled = max > 0 ? Math.max(value > 0 ? 2 : 0, Math.round((value / max) * width)) : 0;
  return svg(
    "svg",
    { class: "share", width, height: 10, viewBox: `0 0 ${width} 10`, preserveAspectRatio: "none", "aria-hidden": "true" },
    svg("rect", { class: "share-track", x: 0, y: 0, width, height: 10, rx: 3 }),
    svg("rect", { class: "share-fill", x: 0, y: 0, width: filled, height: 10, rx: 3 }),
  );
}

function flowsText(n) {
  return `${formatCount(n)} flow${Number(n) === 1 ? "" : "s"}`;
}

function appName(app) {
  return String(app.application || app.protocol || app.app_proto || "unknown");
}

function ranked(rows, metric) {
  return [...rows].sort((a, b) => Number(b[metric] || 0) - Number(a[metric] || 0));
}

function applicationsTable(apps, metric) {
  const rows = ranked(apps, metric).slice(0, TOP);
  const max = rows.length ? Number(rows[0][metric] || 0) : 0;
  return table(
    [{ label: "Application" }, { label: "Protocol" }, { label: "Category" }, { label: "Flows", class: "num" }, { label: "Bytes", class: "num" }, { label: "Share" }],
    rows.map((app) =>
      h(
        "tr",
        { dataset: { application: appName(app), flows: String(app.flows), bytes: String(app.bytes) } },
        h("td", { class: "strong" }, appName(app)),
        h("td", {}, h("span", { class: "proto" }, String(app.app_proto || app.protocol || "—"))),
        h("td", {}, String(app.category || "—")),
        h("td", { class: "num" }, formatCount(app.flows)),
        h("td", { class: "num" }, formatBytes(app.bytes)),
        h("td", {}, share(Number(app[metric] || 0), max)),
      ),
    ),
    "apps-table",
  );
}

function categoryChart(categories, metric) {
  const rows = ranked(categories, metric).slice(0, TOP);
  const format = METRICS.find((m) => m.value === metric).format;
  const max = rows.length ? Number(rows[0][metric] || 0) : 0;
  return h(
    "ol",
    { class: "bars" },
    rows.map((c) =>
      h(
        "li",
        { class: "bar-row", dataset: { category: String(c.category || "Unknown"), flows: String(c.flows), bytes: String(c.bytes) } },
        h("span", { class: "bar-label" }, String(c.category || "Unknown")),
        share(Number(c[metric] || 0), max),
        h("span", { class: "bar-value" }, format(c[metric]), h("span", { class: "muted" }, ` · ${metric === "bytes" ? flowsText(c.flows) : formatBytes(c.bytes)}`)),
      ),
    ),
  );
}

export function applicationsPage(root, params, navigate) {
  const range = params.get("range") || "";
  const metric = params.get("by") === "flows" ? "flows" : "bytes";
  const status = statusLine();
  const body = h("div", { class: "apps" });
  let cancelled = false;

  const rangeSelect = h(
    "select",
    { name: "range", "aria-label": "Time range", on: { change: () => navigate("applications", { range: rangeSelect.value, by: metric }) } },
    RANGES.filter((r) => r.value !== "custom").map((r) => h("option", { value: r.value, selected: r.value === range }, r.label)),
  );
  const metricSwitch = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Rank by" },
    METRICS.map((m) =>
      h(
        "button",
        {
          type: "button",
          class: ["seg", m.value === metric && "is-active"],
          "aria-pressed": String(m.value === metric),
          on: { click: () => navigate("applications", { range, by: m.value }) },
        },
        m.label,
      ),
    ),
  );

  clear(root).append(
    h("div", { class: "page-head" }, h("h1", {}, "Applications"), h("div", { class: "page-tools" }, h("span", { class: "muted" }, "Rank by"), metricSwitch, rangeSelect)),
    status.node,
    body,
  );

  (async () => {
    status.loading();
    try {
      const { since, until } = timeWindow({ range });
      const data = await get("/applications", { since, until });
      if (cancelled) return;
      status.done();
      const apps = Array.isArray(data.applications) ? data.applications : [];
      const categories = Array.isArray(data.categories) ? data.categories : [];
      const flows = apps.reduce((sum, a) => sum + Number(a.flows || 0), 0);
      const bytes = apps.reduce((sum, a) => sum + Number(a.bytes || 0), 0);
      body.append(
        h("div", { class: "tiles" }, tile("Flows", formatCount(flows)), tile("Bytes", formatBytes(bytes)), tile("Applications", formatCount(apps.length)), tile("Categories", formatCount(categories.length))),
        h(
          "div",
          { class: "grid-2" },
          card(`Top applications by ${metric}`, apps.length ? applicationsTable(apps, metric) : empty("No flows recorded in this range.")),
          card(`Categories by ${metric}`, categories.length ? categoryChart(categories, metric) : empty("No flows recorded in this range.")),
        ),
      );
    } catch (err) {
      if (!cancelled) status.error(err);
    }
  })();

  return () => {
    cancelled = true;
  };
}
