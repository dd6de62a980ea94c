// admin.js: secrets (names only; create, update, delete) and namespaces
// (list, create, delete) of funcd.

import { h, add, msg, field } from "./dom.js";
import { api } from "./api.js";

export function secretsView(root, _params, ctx) {
  const ns = ctx.ns;
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true, id: "s-status" });
  const list = h("ul", { class: "items", id: "secrets" });
  const name = h("input", { id: "s-name", required: true, autocomplete: "off", spellcheck: "false" });
  const value = h("textarea", { id: "s-value", rows: "3", required: true, spellcheck: "false", autocomplete: "off" });

  async function load() {
    try {
      const secrets = await api.secrets(ns);
      list.replaceChildren(...secrets.map((s) => item(s.name)));
      if (!secrets.length) list.append(h("li", { class: "empty" }, "No secrets in " + ns + "."));
    } catch (e) {
      msg(status, "error", e.message);
    }
  }

  function item(sname) {
    const val = h("input", { type: "password", autocomplete: "new-password", "aria-label": "New value for " + sname });
    const edit = h("form", { class: "inline", hidden: true, onsubmit: async (e) => {
      e.preventDefault();
      await act(() => api.updateSecret(ns, sname, val.value), `Secret ${sname} updated.`);
    } }, val, h("button", { type: "submit" }, "Save"),
    h("button", { type: "button", onclick: () => { edit.hidden = true; } }, "Cancel"));
    const confirm = h("span", { class: "confirm", hidden: true }, "Delete " + sname + "? ",
      h("button", { type: "button", class: "danger", "aria-label": "Yes, delete secret " + sname, onclick: () => act(() => api.deleteSecret(ns, sname), `Secret ${sname} deleted.`) }, "Yes, delete"),
      h("button", { type: "button", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    return h("li", null, h("span", { class: "name" }, sname),
      h("span", { class: "buttons" },
        h("button", { type: "button", "aria-label": "Update secret " + sname, onclick: () => { edit.hidden = false; val.focus(); } }, "Update…"),
        h("button", { type: "button", class: "danger", "aria-label": "Delete secret " + sname, onclick: () => { confirm.hidden = false; } }, "Delete…")),
      edit, confirm);
  }

  async function act(fn, ok) {
    try {
      await fn();
      msg(status, "ok", ok);
      await load();
    } catch (e) {
      msg(status, "error", e.message);
    }
  }

  add(root, 
    h("h1", null, "Secrets"),
    h("p", { class: "hint" }, "Namespace ", h("strong", null, ns), ". Values are never shown; functions read them under /var/openfaas/secrets/."),
    status, list,
    h("h2", null, "Create a secret"),
    h("form", { id: "secret-create", onsubmit: async (e) => {
      e.preventDefault();
      await act(() => api.createSecret(ns, name.value.trim(), value.value), `Secret ${name.value.trim()} created.`);
      if (status.classList.contains("ok")) { name.value = ""; value.value = ""; }
    } }, field("Name", name), field("Value", value), h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "s-create" }, "Create"))),
  );
  load();
}

export function namespacesView(root, _params, ctx) {
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true, id: "n-status" });
  const list = h("ul", { class: "items", id: "namespaces" });
  const name = h("input", { id: "n-name", required: true, autocomplete: "off", spellcheck: "false" });

  async function load() {
    await ctx.refreshNamespaces();
    list.replaceChildren(...ctx.namespaces.map(item));
  }

  function item(ns) {
    const confirm = h("span", { class: "confirm", hidden: true }, "Delete " + ns + "? ",
      h("button", { type: "button", class: "danger", "aria-label": "Yes, delete namespace " + ns, onclick: () => act(async () => {
        await api.deleteNamespace(ns);
        if (ctx.ns === ns) ctx.setNamespace("openfaas-fn");
      }, `Namespace ${ns} deleted.`) }, "Yes, delete"),
      h("button", { type: "button", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    const isDefault = ns === "openfaas-fn";
    return h("li", null, h("span", { class: "name" }, ns),
      h("span", { class: "buttons" },
        h("button", { type: "button", onclick: () => { ctx.setNamespace(ns); location.hash = "#/functions"; } }, "Open"),
        isDefault ? h("span", { class: "hint" }, "default") :
          h("button", { type: "button", class: "danger", "aria-label": "Delete namespace " + ns, onclick: () => { confirm.hidden = false; } }, "Delete…")),
      confirm);
  }

  async function act(fn, ok) {
    try {
      await fn();
      msg(status, "ok", ok);
    } catch (e) {
      msg(status, "error", e.message);
    }
    await load();
  }

  add(root, 
    h("h1", null, "Namespaces"), status, list,
    h("h2", null, "Create a namespace"),
    h("form", { id: "namespace-create", onsubmit: async (e) => {
      e.preventDefault();
      await act(() => api.createNamespace(name.value.trim()), `Namespace ${name.value.trim()} created.`);
      if (status.classList.contains("ok")) name.value = "";
    } }, field("Name", name, "lower-case letters, digits and '-'"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "n-create" }, "Create"))),
  );
  load();
}
