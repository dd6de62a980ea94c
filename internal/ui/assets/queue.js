// queue.js: the queue of asynchronous invocations: totals and per function,
// and the dead letters, of which a selection can be redriven or purged.

import { h, add, text, keyed, msg, fmtTime } from "./dom.js";
import { api, q } from "./api.js";
import { pollMs } from "./functions.js";

export function queueView(root) {
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true, id: "q-status" });
  const totals = h("dl", { class: "totals", id: "q-totals" });
  const perFn = h("tbody");
  const dead = h("tbody");
  const selected = new Set();
  const all = h("input", { type: "checkbox", id: "dl-all", "aria-label": "Select every dead letter" });
  const redrive = h("button", { type: "button", id: "dl-redrive", disabled: true, onclick: () => act("redrive") }, "Redrive selected");
  const purge = h("button", { type: "button", class: "danger", id: "dl-purge", disabled: true, onclick: () => act("purge") }, "Purge selected");
  const none = h("p", { class: "empty", id: "dl-none", hidden: true }, "No dead letters.");

  function syncButtons() {
    redrive.disabled = purge.disabled = selected.size === 0;
    text(redrive, `Redrive selected (${selected.size})`);
    text(purge, `Purge selected (${selected.size})`);
  }
  all.addEventListener("change", () => {
    for (const row of dead._rows?.values() || []) {
      row.box.checked = all.checked;
      if (all.checked) selected.add(row.id); else selected.delete(row.id);
    }
    syncButtons();
  });

  async function act(what) {
    const ids = [...selected];
    try {
      const r = what === "redrive" ? await api.redrive(ids) : await api.purge(ids);
      msg(status, "ok", what === "redrive" ? `${r.redriven} redriven.` : `${r.purged} purged.`);
      selected.clear();
      all.checked = false;
    } catch (e) {
      msg(status, "error", e.message);
    }
    syncButtons();
    load();
  }

  add(root, 
    h("h1", null, "Queue"), status, totals,
    h("h2", null, "Per function"),
    h("div", { class: "scroll" }, h("table", { class: "list", id: "q-functions" },
      h("thead", null, h("tr", null, ["Function", "Depth", "In flight", "Retrying", "Dead letters"].map((c) => h("th", { scope: "col" }, c)))),
      perFn)),
    h("h2", null, "Dead letters"),
    h("div", { class: "actions" }, redrive, purge),
    h("div", { class: "scroll" }, h("table", { class: "list", id: "dead-letters" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, all),
        ["Function", "Status", "Error", "Attempts", "Path", "Failed at", "Call id"].map((c) => h("th", { scope: "col" }, c)))),
      dead)),
    none,
  );
  syncButtons();

  let timer = 0, stopped = false;
  async function load() {
    clearTimeout(timer);
    try {
      const [st, dls] = await Promise.all([api.queue(), api.deadLetters()]);
      if (stopped) return;
      const t = [["Depth", st.depth], ["In flight", st.inFlight], ["Retrying", st.retrying],
        ["Dead letters", st.deadLetters], ["Callbacks", st.callbacks], ["Workers", st.workers]];
      totals.replaceChildren(...t.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, String(v ?? 0)))));
      keyed(perFn, st.functions || [], (f) => f.namespace + "/" + f.name, fnRow);
      const ids = new Set(dls.map((d) => d.id));
      for (const id of selected) if (!ids.has(id)) selected.delete(id);
      keyed(dead, dls, (d) => d.id, (d) => deadRow(d, selected, syncButtons));
      none.hidden = dls.length > 0;
      syncButtons();
    } catch (e) {
      if (!stopped) msg(status, "error", e.message);
    }
    if (!stopped) timer = setTimeout(load, pollMs);
  }
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function fnRow(f) {
  const link = h("a", { href: `#/function/${q(f.namespace)}/${q(f.name)}` });
  const c = [1, 2, 3, 4].map((i) => h("td", { class: "num", "data-label": ["Depth", "In flight", "Retrying", "Dead letters"][i - 1] }));
  return {
    el: h("tr", null, h("th", { scope: "row", "data-label": "Function" }, link), ...c),
    update(f) {
      text(link, `${f.name}.${f.namespace}`);
      [f.depth, f.inFlight, f.retrying, f.deadLetters].forEach((v, i) => text(c[i], v ?? 0));
    },
  };
}

function deadRow(d, selected, changed) {
  const box = h("input", { type: "checkbox", "aria-label": `Select dead letter ${d.id} of ${d.function}` });
  box.addEventListener("change", () => {
    if (box.checked) selected.add(d.id); else selected.delete(d.id);
    changed();
  });
  const cells = ["Function", "Status", "Error", "Attempts", "Path", "Failed at", "Call id"].map((l) => h("td", { "data-label": l }));
  const row = {
    id: d.id,
    box,
    el: h("tr", { class: "dead" }, h("td", { class: "pick" }, box), ...cells),
    update(d) {
      box.checked = selected.has(d.id);
      const v = [`${d.function}.${d.namespace}`, d.status || "no answer", d.error, d.attempts, d.path, fmtTime(d.failedAt), d.callId];
      v.forEach((x, i) => text(cells[i], x));
    },
  };
  return row;
}
