// dom.js: build elements from data as text only. Nothing here parses HTML:
// strings become text nodes, attributes go through setAttribute, and only
// the attributes below may be set, so data can never become markup or a
// script URL.

const safeAttrs = new Set(["class", "id", "for", "type", "name", "value", "placeholder", "role",
  "aria-label", "aria-labelledby", "aria-describedby", "aria-live", "aria-busy", "aria-current", "aria-expanded", "title", "min", "max", "step",
  "rows", "cols", "autocomplete", "spellcheck", "required", "disabled", "checked", "selected",
  "multiple", "accept", "colspan", "scope", "tabindex", "data-label", "hidden", "open", "inputmode",
  "enterkeyhint", "method", "action"]);

// h(tag, attrs, ...children) returns a new element. attrs keys starting with
// "on" add event listeners; "href" takes only in-page links (#/...).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "href") {
      el.setAttribute("href", localHref(v));
    } else if (k === "prop") {
      Object.assign(el, v);
    } else if (safeAttrs.has(k)) {
      el.setAttribute(k, v === true ? "" : String(v));
    } else {
      throw new Error("dom: attribute not allowed: " + k);
    }
  }
}

// localHref keeps an href to this page's own hash routes, else "#".
export function localHref(v) {
  const s = String(v);
  return s.startsWith("#/") ? s : "#";
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// add appends children to el, as h takes them.
export function add(el, ...children) {
  append(el, children);
  return el;
}

// fill replaces el's children with children, as h takes them (null and
// false are skipped, strings become text).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// text sets el's text when it changed (no layout work otherwise).
export function text(el, s) {
  s = String(s ?? "");
  if (el.textContent !== s) el.textContent = s;
}

const svgNS = "http://www.w3.org/2000/svg";

// s(tag, attrs, ...children) builds an SVG element; attrs are numbers or
// fixed names, never data, but text children still go in as text.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// keyed keeps a container's children in step with items by key: existing
// rows are updated in place (focus and selection survive a refresh), new
// ones made, gone ones removed, order kept.
export function keyed(container, items, key, make) {
  const old = container._rows || new Map();
  const next = new Map();
  let prev = null;
  for (const item of items) {
    const k = key(item);
    let row = old.get(k);
    if (!row) row = make(item);
    row.update(item);
    next.set(k, row);
    const want = prev ? prev.el.nextSibling : container.firstChild;
    if (want !== row.el) container.insertBefore(row.el, want);
    prev = row;
  }
  for (const [k, row] of old) if (!next.has(k)) row.el.remove();
  container._rows = next;
}

// field wraps a control with its label.
export function field(label, control, hint) {
  const id = control.id || (control.id = "f" + Math.random().toString(36).slice(2, 9));
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint ? h("small", { class: "hint" }, hint) : null);
}

// msg shows a message (kind: ok, error, info) in a status region.
export function msg(el, kind, s) {
  el.className = "msg " + kind;
  el.textContent = s;
  el.hidden = !s;
}

export function fmtBytes(n) {
  if (!n) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + " " + u[i];
}

export function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

// parsePairs reads KEY=VALUE lines into an object; it throws naming the
// first line without "=".
export function parsePairs(textValue, what) {
  const out = {};
  const lines = textValue.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`${what}, line ${i + 1}: write KEY=VALUE`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

export function pairsText(obj) {
  return Object.entries(obj || {}).map(([k, v]) => k + "=" + v).join("\n");
}
