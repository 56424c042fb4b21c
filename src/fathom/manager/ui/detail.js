// The alert detail panel: the alert's fields, its endpoints, its flow, the protocol events of
// the same flow (http, tls, dns, ...) and the rule that fired, with Dismiss and Suppress….

import { get, post } from "./api.js";
import { clear, empty, h, pairs, statusLine } from "./dom.js";
import { endpointName, formatBytes, formatCount, formatTime, hostPort, parseTime, severityClass, severityName } from "./format.js";
import { defaultsFor, suppressionForm } from "./suppress.js";

// Values from packets are bounded on screen: a 1 MB URI must not make the panel unusable.
const MAX_VALUE = 2048;
const MAX_RAW = 65536;

function bounded(value, max = MAX_VALUE) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  return text.length > max ? `${text.slice(0, max)}… (${formatCount(text.length - max)} more characters)` : text;
}

// Nested protocol objects as dotted keys ("request_headers.0.name"), in the order written.
function flatten(value, prefix = "", out = []) {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    if (!entries.length) out.push([prefix, Array.isArray(value) ? "[]" : "{}"]);
    for (const [key, inner] of entries) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.push([prefix, value]);
  }
  return out;
}

function section(title, ...children) {
  return h("section", { class: "detail-section" }, h("h3", {}, title), ...children);
}

function labelChips(labels) {
  if (!labels || typeof labels !== "object") return null;
  const entries = Object.entries(labels);
  if (!entries.length) return null;
  return h("span", { class: "chips" }, entries.map(([k, v]) => h("span", { class: "chip" }, `${k}=${bounded(v)}`)));
}

function endpointBlock(title, ip, port, endpoint) {
  const ep = endpoint && typeof endpoint === "object" ? endpoint : {};
  return h(
    "div",
    { class: "endpoint" },
    h("h4", {}, title),
    pairs([
      ["Address", hostPort(ip, port)],
      ["Pod", endpointName(ep)],
      ["Node", ep.node],
      ["Interface", ep.interface],
      ["Labels", labelChips(ep.labels)],
    ]),
  );
}

function duration(start, end) {
  const a = parseTime(start);
  const b = parseTime(end);
  if (!a || !b) return "";
  const ms = b - a;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 0)} s`;
}

function flowSection(event) {
  if (!event) return section("Flow", empty("No flow record yet: the sensor writes it when the flow ends."));
  const flow = event.flow || {};
  const app = event.app || {};
  return section(
    "Flow",
    pairs([
      ["Packets", `${formatCount(flow.pkts_toserver)} to server · ${formatCount(flow.pkts_toclient)} to client`],
      ["Bytes", `${formatBytes(flow.bytes_toserver)} to server · ${formatBytes(flow.bytes_toclient)} to client`],
      ["Start", formatTime(flow.start, { millis: true })],
      ["End", formatTime(flow.end, { millis: true })],
      ["Duration", duration(flow.start, flow.end)],
      ["State", flow.state],
      ["Reason", flow.reason],
      ["App protocol", event.app_proto],
      ["Application", [app.protocol, app.application].filter(Boolean).join(" / ")],
      ["Category", app.category],
      ["Alerted", flow.alerted === undefined ? "" : flow.alerted ? "yes" : "no"],
    ]),
  );
}

const PROTOCOL_NAMES = { http: "HTTP", tls: "TLS", dns: "DNS", ssh: "SSH", quic: "QUIC", smb: "SMB", ftp: "FTP", smtp: "SMTP", dhcp: "DHCP", sip: "SIP" };

function contextEvent(event) {
  const type = String(event.event_type || "event");
  const body = event[type] && typeof event[type] === "object" ? event[type] : event;
  const rows = flatten(body).map(([key, value]) => h("tr", {}, h("th", { scope: "row" }, key), h("td", {}, bounded(value))));
  return h(
    "div",
    { class: "context-event", dataset: { eventType: type } },
    h("h4", {}, PROTOCOL_NAMES[type] || type, h("span", { class: "muted" }, ` · ${formatTime(event.timestamp, { millis: true })}`)),
    h("table", { class: "kv" }, h("tbody", {}, rows)),
  );
}

function contextSection(alert, context) {
  const events = Array.isArray(context) ? [...context] : [];
  // An alert may carry its transaction's http/tls/dns object itself.
  for (const type of Object.keys(PROTOCOL_NAMES)) {
    if (alert[type] && !events.some((e) => e.event_type === type)) events.push({ event_type: type, timestamp: alert.timestamp, [type]: alert[type] });
  }
  return section(
    "Protocol context",
    events.length ? events.map(contextEvent) : empty("No http, tls, dns or other protocol events on this flow."),
  );
}

function ruleSection(alert, rule) {
  const a = alert.alert || {};
  return section(
    "Rule",
    rule ? h("pre", { class: "code rule-text" }, bounded(rule)) : empty(`The manager does not know rule ${a.gid}:${a.signature_id}.`),
  );
}

function alertSection(alert) {
  const a = alert.alert || {};
  return section(
    "Alert",
    pairs([
      ["Time", formatTime(alert.timestamp, { millis: true }) + " UTC"],
      ["Rule", `${a.gid}:${a.signature_id}:${a.rev}`],
      ["Category", a.category],
      ["Action", a.action],
      ["Protocol", [alert.proto, alert.app_proto].filter(Boolean).join(" / ")],
      ["Flow id", alert.flow_id === undefined ? "" : String(alert.flow_id)],
      ["Community id", alert.community_id],
      ["Packet", alert.pcap_cnt === undefined ? "" : `#${alert.pcap_cnt}`],
      ["Interface", alert.in_iface],
      ["Event id", alert.id],
      ["Status", statusText(alert)],
    ]),
  );
}

function statusText(alert) {
  const parts = [];
  if (alert.dismissed) parts.push("dismissed");
  if (alert.suppressed_by !== undefined && alert.suppressed_by !== null) parts.push(`suppressed by ${alert.suppressed_by}`);
  return parts.length ? parts.join(", ") : "open";
}

function endpointsSection(alert) {
  const inspected = endpointName(alert.endpoint);
  return section(
    "Endpoints",
    h(
      "div",
      { class: "endpoints" },
      endpointBlock("Source", alert.src_ip, alert.src_port, alert.src_endpoint),
      h("span", { class: "endpoints-arrow", "aria-hidden": "true" }, "→"),
      endpointBlock("Destination", alert.dest_ip, alert.dest_port, alert.dest_endpoint),
    ),
    inspected ? h("p", { class: "muted" }, `Inspected on ${inspected}${alert.endpoint.node ? ` (node ${alert.endpoint.node})` : ""}`) : null,
  );
}

// A panel that shows one alert at a time; onChanged() after a dismiss or a suppression.
export function detailPanel({ onClose, onChanged }) {
  const body = h("div", { class: "detail-body" });
  const panel = h(
    "aside",
    { class: "detail", hidden: true, "aria-label": "Alert detail", tabIndex: -1 },
    h(
      "div",
      { class: "detail-head" },
      h("span", { class: "detail-kicker" }, "Alert detail"),
      h("button", { type: "button", class: "btn btn-ghost btn-icon", "aria-label": "Close detail", on: { click: () => close() } }, "✕"),
    ),
    body,
  );
  let shown = null;

  function close() {
    panel.hidden = true;
    shown = null;
    onClose();
  }

  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });

  function actions(alert) {
    const message = h("p", { class: "form-message", role: "status" });
    const slot = h("div", { class: "detail-suppress" });
    const dismiss = h(
      "button",
      {
        type: "button",
        class: "btn",
        name: "dismiss",
        disabled: Boolean(alert.dismissed),
        on: {
          click: async () => {
            dismiss.disabled = true;
            try {
              await post(`/alerts/${encodeURIComponent(alert.id)}/dismiss`);
              message.className = "form-message form-ok";
              message.textContent = "Dismissed.";
              onChanged();
            } catch (err) {
              dismiss.disabled = false;
              message.className = "form-message form-error";
              message.textContent = err.message;
            }
          },
        },
      },
      alert.dismissed ? "Dismissed" : "Dismiss",
    );
    const suppress = h(
      "button",
      {
        type: "button",
        class: "btn",
        name: "suppress",
        on: {
          click: () => {
            suppress.disabled = true;
            slot.replaceChildren(
              suppressionForm(defaultsFor(alert), {
                onCreated: () => onChanged(),
                onCancel: () => {
                  slot.replaceChildren();
                  suppress.disabled = false;
                },
              }),
            );
          },
        },
      },
      "Suppress…",
    );
    return [h("div", { class: "detail-actions" }, dismiss, suppress), message, slot];
  }

  async function show(alert) {
    shown = alert.id;
    panel.hidden = false;
    const status = statusLine();
    const a = alert.alert || {};
    clear(body).append(
      h(
        "div",
        { class: "detail-title" },
        h("span", { class: severityClass(a.severity) }, severityName(a.severity)),
        h("h2", {}, bounded(a.signature || "")),
      ),
      ...actions(alert),
      status.node,
    );
    status.loading();
    panel.focus();
    let detail;
    try {
      detail = await get(`/alerts/${encodeURIComponent(alert.id)}`);
    } catch (err) {
      if (shown === alert.id) status.error(err);
      return;
    }
    if (shown !== alert.id) return;
    status.done();
    const full = { ...alert, ...(detail.alert || {}) };
    body.append(
      alertSection(full),
      endpointsSection(full),
      flowSection(detail.flow),
      contextSection(full, detail.context),
      ruleSection(full, detail.rule),
      h(
        "details",
        { class: "detail-section raw" },
        h("summary", {}, "Raw event"),
        h("pre", { class: "code" }, bounded(JSON.stringify(full, null, 2), MAX_RAW)),
      ),
    );
  }

  return { node: panel, show };
}
