// app.js: the page's shell. It learns the session, fills the namespace
// switcher and routes the URL hash to one view at a time. A view is a
// function (root, params, ctx) that may return a clean-up function, called
// when the route changes (to stop polling and log streams).

import { h, add, msg } from "./dom.js";
import { api, session, csrfToken } from "./api.js";
import { functionsView } from "./functions.js";

// Views other than the functions list load when first opened, so the
// first page fetches only what it shows.
const routes = {
  functions: async () => functionsView,
  function: async () => (await import("./function.js")).functionView,
  deploy: async () => (await import("./deploy.js")).deployView,
  secrets: async () => (await import("./admin.js")).secretsView,
  namespaces: async () => (await import("./admin.js")).namespacesView,
  queue: async () => (await import("./queue.js")).queueView,
};

const ctx = {
  ns: sessionStorage.getItem("funcd.ns") || "openfaas-fn",
  setNamespace(ns) {
    ctx.ns = ns;
    sessionStorage.setItem("funcd.ns", ns);
    const sel = document.getElementById("ns");
    if (sel.value !== ns) fillNamespaces([...ctx.namespaces]);
  },
  namespaces: ["openfaas-fn"],
  refreshNamespaces,
};

let cleanup = null;

async function refreshNamespaces() {
  try {
    ctx.namespaces = await api.namespaces();
  } catch { /* keep the old list */ }
  fillNamespaces(ctx.namespaces);
}

function fillNamespaces(list) {
  const sel = document.getElementById("ns");
  if (!list.includes(ctx.ns)) list = [...list, ctx.ns];
  sel.replaceChildren(...list.map((n) => h("option", { value: n, selected: n === ctx.ns }, n)));
  sel.value = ctx.ns;
}

let routing = 0;

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const mine = ++routing;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const name = parts[0] || "functions";
  const load = routes[name];
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.route === (name === "function" ? "functions" : name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = document.getElementById("main");
  root.replaceChildren();
  if (!load) {
    const p = h("p");
    msg(p, "error", "No such page: " + location.hash);
    add(root, p, h("p", null, h("a", { href: "#/functions" }, "Back to the functions")));
    return;
  }
  try {
    const view = await load();
    if (mine !== routing) return; // another route won meanwhile
    cleanup = view(root, parts.slice(1), ctx) || null;
  } catch (e) {
    const p = h("p");
    msg(p, "error", String(e.message || e));
    add(root, p);
  }
}

async function start() {
  const s = await session();
  document.getElementById("who").textContent = "(" + s.user + ")";
  document.getElementById("logout-csrf").value = csrfToken();
  document.getElementById("ns").addEventListener("change", (e) => {
    ctx.setNamespace(e.target.value);
    route();
  });
  await refreshNamespaces();
  window.addEventListener("hashchange", route);
  route();
}

start().catch((e) => {
  if (e.status === 401) return; // on the way to the login page
  const root = document.getElementById("main");
  const p = h("p");
  msg(p, "error", "Cannot reach funcd: " + (e.message || e));
  root.replaceChildren(p);
});
