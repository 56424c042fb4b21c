// The Alerts page's filter bar. Filters live in the page's address (#/alerts?sid=...), so a
// filtered view can be reloaded and shared; this module turns them into API parameters.

import { field, h } from "./dom.js";
import { SEVERITIES, isoToLocalInput, localInputToIso } from "./format.js";

export const RANGES = [
  { value: "", label: "All time", seconds: 0 },
  { value: "15m", label: "Last 15 minutes", seconds: 900 },
  { value: "1h", label: "Last hour", seconds: 3600 },
  { value: "24h", label: "Last 24 hours", seconds: 86400 },
  { value: "7d", label: "Last 7 days", seconds: 7 * 86400 },
  { value: "30d", label: "Last 30 days", seconds: 30 * 86400 },
  { value: "custom", label: "Custom range", seconds: 0 },
];

const TEXT_KEYS = ["q", "namespace", "pod", "sid", "severity", "since", "until", "range"];
const FLAG_KEYS = ["dismissed", "suppressed"];

// The filters of an address, as plain strings (flags as "true" or absent).
export function readFilters(params) {
  const filters = {};
  for (const key of TEXT_KEYS) {
    const value = (params.get(key) || "").trim();
    if (value) filters[key] = value;
  }
  for (const key of FLAG_KEYS) if (params.get(key) === "true") filters[key] = "true";
  return filters;
}

// The time window the filters name, as ISO strings ("" when open).
export function timeWindow(filters, now = Date.now()) {
  const range = RANGES.find((r) => r.value === (filters.range || ""));
  if (range && range.seconds) return { since: new Date(now - range.seconds * 1000).toISOString(), until: "" };
  return { since: filters.since || "", until: filters.until || "" };
}

export function apiParams(filters) {
  const { since, until } = timeWindow(filters);
  return {
    q: filters.q,
    namespace: filters.namespace,
    pod: filters.pod,
    sid: filters.sid,
    severity: filters.severity,
    since,
    until,
    dismissed: filters.dismissed === "true" ? "true" : "",
    suppressed: filters.suppressed === "true" ? "true" : "",
  };
}

function textInput(name, value, placeholder, extra = {}) {
  return h("input", { type: "text", name, value: value || "", placeholder, autocomplete: "off", spellcheck: false, ...extra });
}

function select(name, value, options) {
  return h(
    "select",
    { name },
    options.map((o) => h("option", { value: o.value, selected: (value || "") === o.value }, o.label)),
  );
}

function checkbox(name, checked, label) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, checked: checked === "true" }), h("span", {}, label));
}

// onApply(filters) is called with the form's filters when they are submitted or a choice changes.
export function filterBar(filters, onApply) {
  const custom = filters.range === "custom" || (!filters.range && (filters.since || filters.until));
  const since = h("input", { type: "datetime-local", name: "since", step: 1, value: isoToLocalInput(filters.since) });
  const until = h("input", { type: "datetime-local", name: "until", step: 1, value: isoToLocalInput(filters.until) });
  const customFields = h(
    "div",
    { class: "filter-custom", hidden: !custom },
    field("From (UTC)", since),
    field("To (UTC)", until),
  );
  const range = select("range", custom ? "custom" : filters.range, RANGES);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Alert filters" },
    h(
      "div",
      { class: "filter-row" },
      field("Search", textInput("q", filters.q, "Signature, IP address or pod", { type: "search" }), "field-wide"),
      field("Namespace", textInput("namespace", filters.namespace, "any")),
      field("Pod", textInput("pod", filters.pod, "any")),
      field("SID", textInput("sid", filters.sid, "any", { inputMode: "numeric", pattern: "[0-9]*" }), "field-narrow"),
      field(
        "Severity",
        select("severity", filters.severity, [
          { value: "", label: "Any" },
          ...SEVERITIES.map((s) => ({ value: String(s.level), label: `${s.level} · ${s.name}` })),
        ]),
      ),
      field("Time", range),
      customFields,
    ),
    h(
      "div",
      { class: "filter-row filter-actions" },
      checkbox("dismissed", filters.dismissed, "Show dismissed"),
      checkbox("suppressed", filters.suppressed, "Show suppressed"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "btn btn-ghost", name: "reset", on: { click: () => onApply({}) } }, "Reset"),
      h("button", { type: "submit", class: "btn btn-primary" }, "Apply"),
    ),
  );

  const collect = () => {
    const data = new FormData(form);
    const next = {};
    for (const key of ["q", "namespace", "pod", "sid", "severity", "range"]) {
      const value = String(data.get(key) || "").trim();
      if (value) next[key] = value;
    }
    if (next.range === "custom") {
      const from = localInputToIso(String(data.get("since") || ""));
      const to = localInputToIso(String(data.get("until") || ""));
      if (from) next.since = from;
      if (to) next.until = to;
      if (from || to) delete next.range;
    }
    for (const key of FLAG_KEYS) if (data.get(key)) next[key] = "true";
    return next;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onApply(collect());
  });
  range.addEventListener("change", () => {
    customFields.hidden = range.value !== "custom";
    if (range.value !== "custom") onApply(collect());
  });
  for (const name of ["severity", "dismissed", "suppressed"]) {
    form.elements[name].addEventListener("change", () => onApply(collect()));
  }
  return form;
}
