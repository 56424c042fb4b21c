// The Fathom manager's web UI: one page, routed by the address's hash (#/alerts?sid=...).
// Plain ES modules, no build step; the CSP allows no inline script or style, so none is used.

import { setToken, token } from "./api.js";
import { alertsPage } from "./alerts.js";
import { applicationsPage } from "./applications.js";
import { h } from "./dom.js";
import { inspectionsPage } from "./inspections.js";
import { suppressionsPage } from "./suppressions.js";

const PAGES = {
  alerts: { title: "Alerts", render: alertsPage },
  applications: { title: "Applications", render: applicationsPage },
  inspections: { title: "Inspections", render: inspectionsPage },
  suppressions: { title: "Suppressions", render: suppressionsPage },
};
const DEFAULT_PAGE = "alerts";

const root = document.getElementById("page");
const banner = document.getElementById("banner");
const tokenButton = document.getElementById("token-button");
let cleanup = null;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, search = ""] = hash.split("?", 2);
  return { name: name in PAGES ? name : DEFAULT_PAGE, params: new URLSearchParams(search) };
}

function navigate(name, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, String(value));
  const text = search.toString();
  const target = `#/${name}${text ? `?${text}` : ""}`;
  if (location.hash === target) render();
  else location.hash = target;
}

function render() {
  const { name, params } = parseHash();
  if (cleanup) cleanup();
  cleanup = null;
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${PAGES[name].title} · Fathom manager`;
  cleanup = PAGES[name].render(root, params, navigate) || null;
}

function updateTokenButton() {
  tokenButton.textContent = token() ? "Token ✓" : "Token";
  tokenButton.title = token() ? "A bearer token is set for this tab" : "Set a bearer token (not needed on loopback)";
}

// The token form lives in the banner under the top bar; it opens on demand or after a 401.
function showTokenForm(reason) {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", placeholder: "Bearer token", "aria-label": "Bearer token" });
  const form = h(
    "form",
    { class: "token-form" },
    h("span", {}, reason),
    input,
    h("button", { type: "submit", class: "btn btn-primary" }, "Use token"),
    token() ? h("button", { type: "button", class: "btn btn-ghost", name: "forget", on: { click: () => save("") } }, "Forget token") : null,
    h("button", { type: "button", class: "btn btn-ghost", name: "close", on: { click: hideBanner } }, "Close"),
  );
  function save(value) {
    setToken(value);
    updateTokenButton();
    hideBanner();
    render();
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(input.value.trim());
  });
  banner.replaceChildren(form);
  banner.hidden = false;
  input.focus();
}

function hideBanner() {
  banner.hidden = true;
  banner.replaceChildren();
}

tokenButton.addEventListener("click", () => showTokenForm("The API needs a token except from loopback; it is kept for this tab only."));
window.addEventListener("fathom:unauthorized", () => {
  if (banner.hidden) showTokenForm("This manager asked for a token.");
});
window.addEventListener("hashchange", render);
updateTokenButton();
render();
