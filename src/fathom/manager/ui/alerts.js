// The Alerts page: filters, counts over time by severity, the alert table (newest first, paged
// with the API's cursor) and the detail panel of the row clicked.

import { get } from "./api.js";
import { histogramChart, histogramTotals, stepFor } from "./chart.js";
import { detailPanel } from "./detail.js";
import { card, clear, empty, h, statusLine, table } from "./dom.js";
import { SEVERITIES, endpointName, formatCount, formatSpan, formatTime, hostPort, parseTime, severityClass, severityName } from "./format.js";
import { apiParams, filterBar, readFilters, timeWindow } from "./filters.js";

const PAGE_SIZE = 100;

const COLUMNS = [
  { label: "Time (UTC)", class: "col-time" },
  { label: "Severity", class: "col-sev" },
  { label: "Signature" },
  { label: "SID", class: "num" },
  { label: "Source → Destination" },
  { label: "Namespace" },
  { label: "App" },
];

function tag(text, extra) {
  return h("span", { class: ["tag", extra] }, text);
}

function row(alert, onOpen) {
  const a = alert.alert || {};
  const src = endpointName(alert.src_endpoint);
  const dest = endpointName(alert.dest_endpoint);
  const namespace = ["endpoint", "src_endpoint", "dest_endpoint"].map((side) => (alert[side] || {}).namespace).find(Boolean) || "";
  const suppressed = alert.suppressed_by !== undefined && alert.suppressed_by !== null;
  const tr = h(
    "tr",
    {
      class: ["alert-row", alert.dismissed && "is-dismissed", suppressed && "is-suppressed"],
      tabIndex: 0,
      dataset: { id: String(alert.id), sid: String(a.signature_id), severity: String(a.severity) },
      on: {
        click: () => onOpen(alert, tr),
        keydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            onOpen(alert, tr);
          }
        },
      },
    },
    h("td", { class: "col-time mono", title: String(alert.timestamp || "") }, formatTime(alert.timestamp)),
    h("td", { class: "col-sev" }, h("span", { class: severityClass(a.severity) }, severityName(a.severity))),
    h(
      "td",
      { class: "col-sig" },
      h("div", { class: "sig" }, String(a.signature || "")),
      h(
        "div",
        { class: "sub" },
        a.category ? String(a.category) : null,
        alert.dismissed ? tag("Dismissed", "tag-dismissed") : null,
        suppressed ? tag("Suppressed", "tag-suppressed") : null,
      ),
    ),
    h("td", { class: "num mono", title: `${a.gid}:${a.signature_id}:${a.rev}` }, String(a.signature_id)),
    h(
      "td",
      { class: "col-flow" },
      h("div", { class: "mono" }, `${hostPort(alert.src_ip, alert.src_port)} → ${hostPort(alert.dest_ip, alert.dest_port)}`),
      src || dest ? h("div", { class: "sub pods" }, `${src || "?"} → ${dest || "?"}`) : null,
    ),
    h("td", {}, namespace || h("span", { class: "muted" }, "—")),
    h("td", {}, h("span", { class: "proto" }, String(alert.app_proto || alert.proto || "—"))),
  );
  return tr;
}

function legend(totals) {
  return h(
    "div",
    { class: "legend" },
    SEVERITIES.map((s) =>
      h("span", { class: "legend-item", dataset: { severity: String(s.level) } }, h("span", { class: `swatch sev-fill-${s.level}` }), `${s.name} `, h("strong", {}, formatCount(totals[s.level]))),
    ),
  );
}

export function alertsPage(root, params, navigate) {
  const filters = readFilters(params);
  const query = apiParams(filters);
  // Each reload starts a generation; answers to an older one (or after leaving) are dropped.
  let generation = 0;

  const apply = (next) => navigate("alerts", next);
  const chartBody = h("div", { class: "chart-body" });
  const chartCard = card("Alerts over time", chartBody);
  chartCard.classList.add("chart-card");
  const status = statusLine("table-status");
  const summary = h("p", { class: "summary", role: "status" });
  const alertsTable = table(COLUMNS, [], "alerts-table");
  const tbody = alertsTable.querySelector("tbody");
  const more = h("button", { type: "button", class: "btn", name: "more", hidden: true }, "Load more");
  let next = null;
  let count = 0;
  // The histogram counts what the same filters select: the total behind the table's pages.
  let matching = null;
  let selectedRow = null;

  const panel = detailPanel({
    onClose: () => {
      if (selectedRow) selectedRow.classList.remove("is-selected");
      selectedRow = null;
      root.classList.remove("with-detail");
    },
    onChanged: () => reload(),
  });

  function open(alert, tr) {
    if (selectedRow) selectedRow.classList.remove("is-selected");
    selectedRow = tr;
    tr.classList.add("is-selected");
    root.classList.add("with-detail");
    panel.show(alert);
  }

  function updateSummary() {
    if (count === 0) {
      summary.textContent = "";
      return;
    }
    const of = matching !== null && matching >= count ? ` of ${formatCount(matching)}` : "";
    summary.textContent = `Showing ${formatCount(count)}${of} alert${(matching ?? count) === 1 ? "" : "s"}, newest first`;
  }

  async function loadPage(cursor) {
    const mine = generation;
    more.disabled = true;
    status.loading();
    try {
      const page = await get("/alerts", { ...query, limit: PAGE_SIZE, cursor });
      if (mine !== generation) return;
      const items = Array.isArray(page.items) ? page.items : [];
      tbody.append(...items.map((alert) => row(alert, open)));
      count += items.length;
      next = page.next || null;
      more.hidden = !next;
      status.done(count === 0 ? "No alerts match these filters." : "");
      updateSummary();
    } catch (err) {
      if (mine === generation) status.error(err);
    } finally {
      more.disabled = false;
    }
  }

  async function loadChart() {
    const mine = generation;
    const span = timeWindow(filters);
    // A "last N hours" range ends now, whether or not the latest bucket does.
    span.end = span.until ? parseTime(span.until) : filters.range ? new Date() : null;
    const range = span.since && span.end ? (span.end - parseTime(span.since)) / 1000 : 0;
    const histogram = async (bucket) => (await get("/alerts/histogram", { ...query, bucket })).buckets || [];
    try {
      let step = range ? stepFor(range) : 60;
      let buckets = await histogram(step);
      // Without a closed range the data's span is known only from an answer: refine the bucket
      // width from what came back (all in one bucket: the span is at most that bucket).
      for (let round = 0; round < 3 && !range && buckets.length; round += 1) {
        const times = buckets.map((b) => parseTime(b.start)).filter(Boolean);
        const better = stepFor(times.length === 1 ? step : (Math.max(...times) - Math.min(...times)) / 1000 + step);
        if (better === step) break;
        step = better;
        buckets = await histogram(step);
      }
      if (mine !== generation) return;
      drawChart(buckets, step, span);
    } catch (err) {
      if (mine === generation) clear(chartBody).append(h("p", { class: "status-line status-error" }, err.message));
    }
  }

  let lastChart = null;
  function drawChart(buckets, step, span) {
    lastChart = { buckets, step, span };
    const totals = histogramTotals(buckets);
    const all = Object.values(totals).reduce((a, b) => a + b, 0);
    matching = all;
    updateSummary();
    clear(chartBody);
    chartBody.append(
      h("div", { class: "chart-head" }, h("span", { class: "chart-total" }, h("strong", {}, formatCount(all)), ` alert${all === 1 ? "" : "s"}`), legend(totals)),
    );
    if (!buckets.length) {
      chartBody.append(empty("No alerts in this range."));
      return;
    }
    const domain = span.since || span.end ? [parseTime(span.since), span.end] : null;
    chartBody.append(
      histogramChart(buckets, step, {
        width: Math.max(320, chartBody.clientWidth || 900),
        domain,
        onSelect: (start, end) => {
          const narrowed = { ...filters, since: start.toISOString(), until: end.toISOString() };
          delete narrowed.range;
          apply(narrowed);
        },
      }),
      h("p", { class: "hint" }, `Each bar counts ${formatSpan(step)}; click one to list its alerts.`),
    );
  }

  const resize = new ResizeObserver(() => {
    if (lastChart && chartBody.isConnected) {
      const svgNode = chartBody.querySelector("svg.chart");
      if (svgNode && Math.abs(svgNode.getAttribute("width") - chartBody.clientWidth) > 24) {
        drawChart(lastChart.buckets, lastChart.step, lastChart.span);
      }
    }
  });

  function reload() {
    generation += 1;
    clear(tbody);
    count = 0;
    next = null;
    matching = null;
    loadPage(null);
    loadChart();
  }

  more.addEventListener("click", () => loadPage(next));

  clear(root).append(
    h("div", { class: "page-head" }, h("h1", {}, "Alerts"), h("button", { type: "button", class: "btn btn-ghost", name: "refresh", on: { click: reload } }, "Refresh")),
    card(null, filterBar(filters, apply)),
    chartCard,
    h(
      "section",
      { class: "card card-flush" },
      h("div", { class: "table-head" }, summary),
      alertsTable,
      status.node,
      h("div", { class: "table-foot" }, more),
    ),
    panel.node,
  );
  resize.observe(chartBody);
  reload();

  return () => {
    generation += 1;
    resize.disconnect();
    root.classList.remove("with-detail");
  };
}
