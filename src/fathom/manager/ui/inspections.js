// The Inspections page: the DeepPacketInspection resources and, per node, whether each is active
// and on which pods; then every sensor with its interfaces and counters (/api/v1/status).

import { get } from "./api.js";
import { card, clear, empty, h, pairs, statusLine, table, tile } from "./dom.js";
import { formatAge, formatCount, formatTime, parseTime } from "./format.js";

const REFRESH_MS = 5000;
// A sensor reports every few seconds; one silent for this long is shown as stale.
const STALE_MS = 30000;

function nodeStatus(node, state) {
  const active = Boolean(state && state.active);
  const pods = state && Array.isArray(state.pods) ? state.pods : [];
  return h(
    "div",
    { class: "node-status", dataset: { node } },
    h("span", { class: ["dot", active ? "dot-ok" : "dot-off"], "aria-hidden": "true" }),
    h("span", { class: "strong" }, node),
    h("span", { class: ["tag", active ? "tag-ok" : "tag-off"] }, active ? "active" : "inactive"),
    pods.length ? h("span", { class: "chips" }, pods.map((pod) => h("span", { class: "chip" }, String(pod)))) : h("span", { class: "muted" }, "no pods selected"),
  );
}

function inspectionsCard(inspections) {
  if (!inspections.length) return card("DPI inspections", empty("No sensor has reported an inspection."));
  return card(
    "DPI inspections",
    table(
      [{ label: "Inspection" }, { label: "Namespace" }, { label: "Nodes" }],
      inspections.map((insp) =>
        h(
          "tr",
          { dataset: { inspection: `${insp.namespace}/${insp.name}` } },
          h("td", { class: "strong" }, String(insp.name)),
          h("td", {}, String(insp.namespace)),
          h("td", {}, Object.entries(insp.nodes || {}).map(([node, state]) => nodeStatus(node, state))),
        ),
      ),
      "inspections-table",
    ),
  );
}

function interfaceChips(interfaces) {
  const entries = Object.entries(interfaces || {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h(
    "span",
    { class: "chips" },
    entries.map(([name, state]) => h("span", { class: ["chip", `if-${["up", "down", "gone"].includes(state) ? state : "unknown"}`], title: String(state) }, `${name} · ${state}`)),
  );
}

function sensorCard(sensor, now) {
  const seen = parseTime(sensor.last_seen);
  const stale = !seen || now - seen.getTime() > STALE_MS;
  const counters = Object.entries(sensor.counters || {}).sort(([a], [b]) => a.localeCompare(b));
  return h(
    "article",
    { class: "sensor", dataset: { node: String(sensor.node) } },
    h(
      "header",
      { class: "sensor-head" },
      h("span", { class: ["dot", stale ? "dot-warn" : "dot-ok"], "aria-hidden": "true" }),
      h("h3", {}, String(sensor.node)),
      h("span", { class: ["tag", stale ? "tag-warn" : "tag-ok"] }, stale ? "stale" : "reporting"),
    ),
    pairs([
      ["Last seen", h("span", { title: formatTime(sensor.last_seen, { millis: true }) }, formatAge(sensor.last_seen, now))],
      ["Version", sensor.version],
      ["Interfaces", interfaceChips(sensor.interfaces)],
    ]),
    counters.length
      ? h(
          "table",
          { class: "kv counters" },
          h("tbody", {}, counters.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "num mono" }, formatCount(value))))),
        )
      : empty("No counters reported."),
  );
}

export function inspectionsPage(root) {
  const status = statusLine();
  const body = h("div", { class: "inspections" });
  let cancelled = false;
  let timer = null;

  clear(root).append(h("div", { class: "page-head" }, h("h1", {}, "Inspections"), h("span", { class: "muted" }, "Refreshes every 5 s")), status.node, body);

  async function load() {
    try {
      const data = await get("/status");
      if (cancelled) return;
      status.done();
      const sensors = Array.isArray(data.sensors) ? data.sensors : [];
      const inspections = Array.isArray(data.inspections) ? data.inspections : [];
      const now = Date.now();
      const activeNodes = inspections.reduce((n, i) => n + Object.values(i.nodes || {}).filter((s) => s && s.active).length, 0);
      clear(body).append(
        h(
          "div",
          { class: "tiles" },
          tile("Sensors", formatCount(sensors.length)),
          tile("Inspections", formatCount(inspections.length)),
          tile("Active on nodes", formatCount(activeNodes)),
        ),
        inspectionsCard(inspections),
        card("Sensors", sensors.length ? h("div", { class: "sensor-grid" }, sensors.map((s) => sensorCard(s, now))) : empty("No sensor has reported yet.")),
      );
    } catch (err) {
      if (!cancelled) status.error(err);
    } finally {
      if (!cancelled) timer = setTimeout(load, REFRESH_MS);
    }
  }
  status.loading();
  load();

  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
