// functions.js: the functions of the current namespace, refreshed every
// 2 s in place (no reload; rows keep focus).

import { h, add, text, keyed, msg, fmtBytes } from "./dom.js";
import { api, q } from "./api.js";

export const pollMs = 2000;

export function stateText(f) {
  switch (f.state) {
    case "ready": return "ready";
    case "scaling": return "scaling";
    case "zero": return "at zero";
    case "failing": return "failing" + (f.lastError ? ": " + f.lastError : "");
    default: return f.state || "";
  }
}

export function functionsView(root, _params, ctx) {
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true });
  const count = h("span", { class: "count" });
  const tbody = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No functions in this namespace yet. ",
    h("a", { href: "#/deploy" }, "Deploy one"), ".");
  add(root, 
    h("div", { class: "head" }, h("h1", null, "Functions ", count), h("a", { class: "button", href: "#/deploy" }, "Deploy a function")),
    status,
    h("div", { class: "scroll" }, h("table", { class: "list fns", id: "functions" },
      h("thead", null, h("tr", null,
        ["Name", "Image", "Ready", "Invocations", "Cold starts", "Memory", "State"].map((c) => h("th", { scope: "col" }, c)))),
      tbody)),
    empty,
  );

  let timer = 0, stopped = false;
  async function load() {
    try {
      const fns = await api.functions(ctx.ns);
      if (stopped) return;
      fns.sort((a, b) => a.name.localeCompare(b.name));
      keyed(tbody, fns, (f) => f.name, (f) => row(f, ctx));
      text(count, `(${fns.length})`);
      empty.hidden = fns.length > 0;
      root.dataset.loaded = String(fns.length);
      msg(status, "info", "");
    } catch (e) {
      if (!stopped) msg(status, "error", e.message);
    }
    if (!stopped) timer = setTimeout(load, pollMs);
  }
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function row(f, ctx) {
  const link = h("a", { href: `#/function/${q(ctx.ns)}/${q(f.name)}` });
  const cells = {
    image: h("td", { "data-label": "Image", class: "mono" }),
    ready: h("td", { "data-label": "Ready", class: "num" }),
    inv: h("td", { "data-label": "Invocations", class: "num" }),
    cold: h("td", { "data-label": "Cold starts", class: "num" }),
    mem: h("td", { "data-label": "Memory", class: "num" }),
    state: h("td", { "data-label": "State" }),
  };
  const tr = h("tr", null, h("th", { scope: "row", "data-label": "Name" }, link),
    cells.image, cells.ready, cells.inv, cells.cold, cells.mem, cells.state);
  return {
    el: tr,
    update(f) {
      text(link, f.name);
      text(cells.image, f.image);
      text(cells.ready, `${f.availableReplicas || 0}/${f.replicas || 0}`);
      text(cells.inv, Math.round(f.invocationCount || 0));
      text(cells.cold, f.coldStarts || 0);
      text(cells.mem, fmtBytes(f.usage && f.usage.totalMemoryBytes));
      text(cells.state, stateText(f));
      tr.className = "state-" + (f.state || "unknown");
    },
  };
}
