// function.js: one function's page: state and scale buttons, its whole
// spec, the last hour's chart, logs with follow, the invoke panel and
// delete with a confirmation.

import { h, add, text, msg, fmtBytes, fmtTime, pairsText } from "./dom.js";
import { api, q, logs } from "./api.js";
import { stateText, pollMs } from "./functions.js";
import { chart } from "./chart.js";
import { invokePanel } from "./invoke.js";

export function functionView(root, [ns, name], ctx) {
  if (!ns || !name) throw new Error("Which function? The address lacks its namespace or name.");
  if (ns !== ctx.ns) ctx.setNamespace(ns);
  const stops = [];
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true });
  const state = h("span", { class: "badge", id: "fn-state" });
  const replicas = h("span", { id: "fn-replicas" });
  const busy = (on) => { for (const b of scaleButtons) b.disabled = on; };
  let current = null;

  async function scaleTo(n) {
    busy(true);
    msg(status, "info", `Scaling ${name} to ${n}…`);
    try {
      await api.scale(name, ns, n);
      msg(status, "ok", `Asked for ${n} replica${n === 1 ? "" : "s"}.`);
    } catch (e) {
      msg(status, "error", e.message);
    }
    busy(false);
    refresh();
  }
  const scaleButtons = [
    h("button", { type: "button", id: "scale-zero", onclick: () => scaleTo(0) }, "Scale to 0"),
    h("button", { type: "button", id: "scale-down", onclick: () => scaleTo(Math.max(0, (current?.replicas || 0) - 1)) }, "−1"),
    h("button", { type: "button", id: "scale-up", onclick: () => scaleTo((current?.replicas || 0) + 1) }, "+1"),
  ];

  const confirmBox = h("div", { class: "confirm", hidden: true, role: "group", "aria-label": "Confirm delete" },
    h("p", null, "Delete ", h("strong", null, name), " from ", ns, "? Its replicas stop and its spec is gone."),
    h("button", { type: "button", class: "danger", id: "delete-confirm", onclick: doDelete }, "Yes, delete"),
    h("button", { type: "button", id: "delete-cancel", onclick: () => { confirmBox.hidden = true; delBtn.focus(); } }, "Cancel"));
  const delBtn = h("button", { type: "button", class: "danger", id: "delete", onclick: () => {
    confirmBox.hidden = false;
    confirmBox.querySelector("#delete-cancel").focus();
  } }, "Delete…");
  async function doDelete() {
    try {
      await api.remove(name, ns);
      location.hash = "#/functions";
    } catch (e) {
      msg(status, "error", e.message);
    }
  }

  const spec = h("dl", { class: "spec", id: "spec" });
  const raw = h("pre", { class: "raw" });
  const chartBox = h("div", { class: "chart", id: "chart" });

  add(root, 
    h("p", { class: "crumbs" }, h("a", { href: "#/functions" }, "Functions"), " / ", ns),
    h("div", { class: "head" }, h("h1", null, name), state, replicas),
    status,
    h("div", { class: "actions" }, h("span", { class: "label" }, "Scale"), ...scaleButtons,
      h("a", { class: "button", href: `#/deploy/${q(ns)}/${q(name)}`, id: "edit" }, "Update…"), delBtn),
    confirmBox,
    h("section", { "aria-labelledby": "h-chart" }, h("h2", { id: "h-chart" }, "Last hour"), chartBox),
    h("section", { "aria-labelledby": "h-invoke" }, h("h2", { id: "h-invoke" }, "Invoke"), invokePanel(name, ns)),
    h("section", { "aria-labelledby": "h-logs" }, h("h2", { id: "h-logs" }, "Logs"), logsPanel(name, ns, stops)),
    h("section", { "aria-labelledby": "h-spec" }, h("h2", { id: "h-spec" }, "Spec"), spec,
      h("details", null, h("summary", null, "As JSON"), raw)),
  );

  let timer = 0, stopped = false, lastHistory = 0;
  async function refresh() {
    try {
      const [st, full] = await Promise.all([api.fnStatus(name, ns), api.fn(name, ns)]);
      if (stopped) return;
      current = { ...full, ...st };
      text(state, stateText(current));
      state.className = "badge state-" + (current.state || "unknown");
      text(replicas, `${current.availableReplicas || 0}/${current.replicas || 0} ready`);
      fillSpec(spec, current);
      text(raw, JSON.stringify(full, null, 2));
      if (Date.now() - lastHistory > 10000) {
        lastHistory = Date.now();
        chart(chartBox, await api.history(name, ns));
      }
      if (status.classList.contains("error") && status.textContent.startsWith("Cannot")) msg(status, "info", "");
    } catch (e) {
      if (!stopped) msg(status, "error", e.status === 404 ? `${name} is not deployed in ${ns}.` : "Cannot refresh: " + e.message);
    }
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(refresh, pollMs);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); for (const s of stops) s(); };
}

function fillSpec(dl, f) {
  const rows = [
    ["Image", f.image],
    ["Namespace", f.namespace],
    ["Created", fmtTime(f.createdAt)],
    ["Replicas", `${f.availableReplicas || 0} ready of ${f.replicas || 0}`],
    ["Invocations", Math.round(f.invocationCount || 0)],
    ["Errors", f.errors || 0],
    ["Cold starts", f.coldStarts || 0],
    ["Memory", fmtBytes(f.usage?.totalMemoryBytes)],
    ["CPU", f.usage?.cpu ? Math.round(f.usage.cpu) + " m" : "–"],
    ["Last error", f.lastError ? `${f.lastError}${f.lastErrorAt ? " (" + fmtTime(f.lastErrorAt) + ")" : ""}` : "none"],
    ["Process", f.envProcess],
    ["Environment", pairsText(f.envVars)],
    ["Labels", pairsText(f.labels)],
    ["Annotations", pairsText(f.annotations)],
    ["Secrets", (f.secrets || []).join(", ")],
    ["Constraints", (f.constraints || []).join(", ")],
    ["Limits", resources(f.limits)],
    ["Requests", resources(f.requests)],
    ["Read-only root", f.readOnlyRootFilesystem ? "yes" : "no"],
  ];
  const items = [];
  for (const [k, v] of rows) {
    if (v === undefined || v === "") continue;
    items.push(h("div", null, h("dt", null, k), h("dd", { class: /\n/.test(String(v)) ? "pre" : "" }, String(v))));
  }
  // Replace only when something changed, so selection survives a refresh.
  const sig = JSON.stringify(rows);
  if (dl._sig !== sig) { dl._sig = sig; dl.replaceChildren(...items); }
}

function resources(r) {
  if (!r) return "";
  return [r.memory && "memory " + r.memory, r.cpu && "cpu " + r.cpu].filter(Boolean).join(", ");
}

// logsPanel shows the last lines and, with follow, new ones as they come.
function logsPanel(name, ns, stops) {
  const out = h("ol", { class: "logs", id: "logs", "aria-live": "off", tabindex: "0", "aria-label": "Log lines" });
  const status = h("p", { role: "status", hidden: true });
  const follow = h("input", { type: "checkbox", id: "follow" });
  const tail = h("input", { type: "number", id: "tail", value: "100", min: "0", max: "10000", inputmode: "numeric" });
  let ctl = null;
  const max = 2000;

  function stop() { if (ctl) { ctl.abort(); ctl = null; } }
  async function load() {
    stop();
    const c = (ctl = new AbortController());
    out.replaceChildren();
    msg(status, "info", follow.checked ? "Following…" : "");
    try {
      await logs(name, ns, { tail: Number(tail.value) || 0, follow: follow.checked, signal: c.signal }, (m) => {
        const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.append(h("li", null,
          h("time", null, m.timestamp ? new Date(m.timestamp).toLocaleTimeString() : ""), " ",
          h("span", { class: "inst" }, (m.instance || "").slice(0, 12)), " ",
          h("span", { class: "text" }, m.text ?? "")));
        while (out.childElementCount > max) out.firstElementChild.remove();
        if (atEnd) out.scrollTop = out.scrollHeight;
      });
      if (ctl === c) msg(status, "info", follow.checked ? "The stream ended." : `${out.childElementCount} lines.`);
    } catch (e) {
      if (e.name !== "AbortError") msg(status, "error", e.message);
    }
  }
  follow.addEventListener("change", load);
  stops.push(stop);
  load();
  return h("div", null,
    h("div", { class: "actions" },
      h("label", { class: "check" }, follow, " Follow"),
      h("label", { for: "tail" }, "Last"), tail, h("span", null, "lines"),
      h("button", { type: "button", id: "logs-reload", onclick: load }, "Reload")),
    status, out);
}
