// The Suppressions page: every suppression with the number of alerts it has suppressed, a form
// to create one, and deletion (two clicks: no browser dialog).

import { get, remove } from "./api.js";
import { card, clear, empty, h, statusLine, table } from "./dom.js";
import { formatCount, formatTime } from "./format.js";
import { suppressionForm } from "./suppress.js";

function windowText(s) {
  if (!s.start && !s.end) return "always";
  return `${s.start ? formatTime(s.start) : "…"} → ${s.end ? formatTime(s.end) : "open"}`;
}

function deleteButton(suppression, onDeleted, report) {
  let armed = false;
  const button = h("button", { type: "button", class: "btn btn-small", name: "delete" }, "Delete");
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = "Confirm delete";
      button.classList.add("btn-danger");
      return;
    }
    button.disabled = true;
    try {
      await remove(`/suppressions/${encodeURIComponent(suppression.id)}`);
      onDeleted();
    } catch (err) {
      button.disabled = false;
      report(err);
    }
  });
  button.addEventListener("blur", () => {
    armed = false;
    button.textContent = "Delete";
    button.classList.remove("btn-danger");
  });
  return button;
}

function suppressedLink(s) {
  const count = Number(s.suppressed || 0);
  const sids = Array.isArray(s.sids) ? s.sids : [];
  if (!count || sids.length !== 1) return h("span", { class: "count" }, formatCount(count));
  // One sid: the Alerts page can list what this suppression hid.
  const href = `#/alerts?${new URLSearchParams({ sid: String(sids[0]), suppressed: "true" })}`;
  return h("a", { class: "count", href, title: "Show the alerts of this SID, suppressed ones included" }, formatCount(count));
}

function row(s, reload, report) {
  return h(
    "tr",
    { dataset: { id: String(s.id) } },
    h("td", {}, h("div", { class: "strong" }, String(s.name || "")), s.description ? h("div", { class: "sub" }, String(s.description)) : null),
    h("td", {}, h("code", { class: "selector" }, String(s.selector || "all()"))),
    h("td", { class: "mono" }, (Array.isArray(s.sids) ? s.sids : []).join(", ")),
    h("td", {}, windowText(s)),
    h("td", { class: "mono" }, formatTime(s.created)),
    h("td", { class: "num col-suppressed" }, suppressedLink(s)),
    h("td", { class: "actions" }, deleteButton(s, reload, report)),
  );
}

export function suppressionsPage(root) {
  const status = statusLine();
  const list = h("div", { class: "suppressions-list" });
  const formSlot = h("div", { class: "form-slot", hidden: true });
  let cancelled = false;

  const newButton = h("button", { type: "button", class: "btn btn-primary", name: "new" }, "New suppression");
  newButton.addEventListener("click", () => {
    formSlot.hidden = false;
    newButton.disabled = true;
    formSlot.replaceChildren(
      card(
        "New suppression",
        suppressionForm(
          { name: "", description: "", selector: "", sids: "" },
          {
            onCreated: () => load(),
            onCancel: () => {
              formSlot.hidden = true;
              newButton.disabled = false;
            },
          },
        ),
      ),
    );
    formSlot.querySelector("input[name=name]").focus();
  });

  async function load() {
    status.loading();
    try {
      const data = await get("/suppressions");
      if (cancelled) return;
      const items = Array.isArray(data) ? data : Array.isArray(data && data.items) ? data.items : [];
      status.done();
      const total = items.reduce((sum, s) => sum + Number(s.suppressed || 0), 0);
      clear(list).append(
        h("p", { class: "summary" }, `${formatCount(items.length)} suppression${items.length === 1 ? "" : "s"}, ${formatCount(total)} alert${total === 1 ? "" : "s"} suppressed`),
        items.length
          ? table(
              [{ label: "Name" }, { label: "Selector" }, { label: "SIDs" }, { label: "Window (UTC)" }, { label: "Created (UTC)" }, { label: "Suppressed", class: "num" }, { label: "" }],
              items.map((s) => row(s, load, (err) => status.error(err))),
              "suppressions-table",
            )
          : empty("No suppressions: every alert is shown."),
      );
    } catch (err) {
      if (!cancelled) status.error(err);
    }
  }

  clear(root).append(
    h("div", { class: "page-head" }, h("h1", {}, "Suppressions"), newButton),
    formSlot,
    h("section", { class: "card" }, status.node, list),
  );
  load();

  return () => {
    cancelled = true;
  };
}
