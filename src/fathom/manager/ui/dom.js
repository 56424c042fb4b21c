// Building the DOM. Every value that reaches the page goes through textContent, a property
// (value, title) or an attribute set by name: nothing is ever parsed as HTML, so a packet's bytes
// stay text whatever they contain.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function apply(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = String(value);
    else if (key in node && !(node instanceof SVGElement)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  return node;
}

// h("td", {class: "num"}, "42") -> <td class="num">42</td>; strings become text nodes.
export function h(tag, props = {}, ...children) {
  const node = apply(document.createElement(tag), props);
  append(node, children);
  return node;
}

export function svg(tag, props = {}, ...children) {
  const node = apply(document.createElementNS(SVG_NS, tag), props);
  append(node, children);
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// A labelled form control: <label><span>Text</span><control></label>.
export function field(label, control, extra = "") {
  return h("label", { class: ["field", extra] }, h("span", { class: "field-label" }, label), control);
}

export function empty(message) {
  return h("p", { class: "empty" }, message);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", { class: "card-title" }, title) : null, ...children);
}

// A loading/error line that a page can update in place.
export function statusLine(extra = "") {
  const node = h("p", { class: ["status-line", extra], role: "status" });
  const say = (text, failed) => {
    node.classList.toggle("status-error", failed);
    node.textContent = text;
  };
  return {
    node,
    loading: (text = "Loading…") => say(text, false),
    error: (err) => say(err instanceof Error ? err.message : String(err), true),
    done: (text = "") => say(text, false),
  };
}

// A table with a header row; columns: [{label, class}], rows: <tr> elements.
export function table(columns, rows, extra = "") {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: ["table", extra] },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class, scope: "col" }, c.label)))),
      h("tbody", {}, rows),
    ),
  );
}

// Key/value pairs as a definition list; values that are nodes are kept, others become text.
export function pairs(entries, extra = "") {
  return h(
    "dl",
    { class: ["pairs", extra] },
    entries
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([key, value]) => h("div", { class: "pair" }, h("dt", {}, key), h("dd", {}, value))),
  );
}

// A headline number: "Flows 1,234".
export function tile(label, value) {
  return h("div", { class: "tile" }, h("span", { class: "tile-label" }, label), h("span", { class: "tile-value" }, value));
}
