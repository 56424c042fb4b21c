// The form that creates a suppression (Calico's AlertException: a selector, sids, a window),
// used on the Suppressions page and from an alert's detail panel, prefilled from the alert.

import { post } from "./api.js";
import { field, h } from "./dom.js";
import { endpointName, localInputToIso } from "./format.js";

// Selector values are quoted with " or ' and have no escapes: a value holding both cannot be
// written, so that clause is left out rather than written wrongly.
function quote(value) {
  const text = String(value);
  if (!text.includes('"')) return `"${text}"`;
  if (!text.includes("'")) return `'${text}'`;
  return null;
}

function clause(label, value) {
  if (value === undefined || value === null || value === "") return null;
  const quoted = quote(value);
  return quoted === null ? null : `${label} == ${quoted}`;
}

// The narrowest selector that names this alert's traffic: its inspected pod when it has one,
// else its two addresses.
function selectorFor(alert) {
  const endpoint = alert.endpoint || {};
  const clauses =
    endpoint.namespace && endpoint.pod
      ? [clause("namespace", endpoint.namespace), clause("pod", endpoint.pod)]
      : [clause("src_ip", alert.src_ip), clause("dest_ip", alert.dest_ip)];
  return clauses.filter(Boolean).join(" && ");
}

export function defaultsFor(alert) {
  const rule = alert.alert || {};
  const where = endpointName(alert.endpoint) || alert.src_ip || "";
  return {
    name: `sid ${rule.signature_id}${where ? ` on ${where}` : ""}`.slice(0, 200),
    description: String(rule.signature || "").slice(0, 500),
    selector: selectorFor(alert),
    sids: rule.signature_id === undefined ? "" : String(rule.signature_id),
  };
}

function parseSids(text) {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const sids = parts.map((part) => Number(part));
  if (!parts.length || sids.some((sid) => !Number.isInteger(sid) || sid < 0)) {
    throw new Error("SIDs: give one or more rule numbers, separated by commas.");
  }
  return sids;
}

// onCreated(suppression) runs after the manager accepted it; onCancel, if given, adds a Cancel.
export function suppressionForm(defaults, { onCreated, onCancel } = {}) {
  const message = h("p", { class: "form-message", role: "status" });
  const input = (name, value, extra = {}) => h("input", { type: "text", name, value: value || "", autocomplete: "off", ...extra });
  const form = h(
    "form",
    { class: "suppress-form", "aria-label": "New suppression" },
    h(
      "div",
      { class: "form-grid" },
      field("Name", input("name", defaults.name, { required: true, maxLength: 200 })),
      field("SIDs", input("sids", defaults.sids, { required: true, placeholder: "e.g. 2013028, 2013031" })),
      field("Selector", input("selector", defaults.selector, { class: "mono", spellcheck: false, placeholder: "all()" }), "span-2"),
      field("Description", input("description", defaults.description, { maxLength: 500 }), "span-2"),
      field("From (UTC, empty: always)", h("input", { type: "datetime-local", name: "start", step: 1 })),
      field("Until (UTC, empty: open)", h("input", { type: "datetime-local", name: "end", step: 1 })),
    ),
    h(
      "p",
      { class: "hint" },
      "Alerts whose SID is listed and whose attributes match the selector (namespace, pod, node, src_/dest_namespace, src_/dest_pod, src_ip, dest_ip, proto, app_proto, label.KEY) are stored as suppressed when they arrive: counted, hidden from the list, never dropped.",
    ),
    message,
    h(
      "div",
      { class: "form-actions" },
      onCancel ? h("button", { type: "button", class: "btn btn-ghost", on: { click: onCancel } }, "Cancel") : null,
      h("button", { type: "submit", class: "btn btn-primary" }, "Create suppression"),
    ),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const submit = form.querySelector("button[type=submit]");
    message.className = "form-message";
    message.textContent = "";
    try {
      const body = {
        name: String(data.get("name") || "").trim(),
        description: String(data.get("description") || "").trim(),
        selector: String(data.get("selector") || "").trim(),
        sids: parseSids(String(data.get("sids") || "")),
        start: localInputToIso(String(data.get("start") || "")) || null,
        end: localInputToIso(String(data.get("end") || "")) || null,
      };
      submit.disabled = true;
      const created = await post("/suppressions", body);
      message.className = "form-message form-ok";
      message.textContent = `Suppression “${created && created.name ? created.name : body.name}” created.`;
      if (onCreated) onCreated(created);
    } catch (err) {
      message.className = "form-message form-error";
      message.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
