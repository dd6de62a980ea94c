// deploy.js: the deploy / update form and "deploy from stack.yml". What
// the API refuses is shown in its own words.

import { h, add, fill, msg, field, parsePairs, pairsText } from "./dom.js";
import { api, q } from "./api.js";

// The scaling labels, as OpenFaaS spells them.
const scaleLabels = {
  min: "com.openfaas.scale.min",
  max: "com.openfaas.scale.max",
  zero: "com.openfaas.scale.zero",
  zeroDuration: "com.openfaas.scale.zero-duration",
};

export function deployView(root, [ns, name], ctx) {
  const editing = Boolean(ns && name);
  if (editing && ns !== ctx.ns) ctx.setNamespace(ns);
  const target = editing ? ns : ctx.ns;

  const f = {
    service: h("input", { id: "d-name", required: true, autocomplete: "off", spellcheck: "false", placeholder: "my-function" }),
    image: h("input", { id: "d-image", required: true, autocomplete: "off", spellcheck: "false", placeholder: "registry.example/fn:1.0" }),
    envProcess: h("input", { id: "d-process", autocomplete: "off", spellcheck: "false" }),
    env: h("textarea", { id: "d-env", rows: "3", spellcheck: "false", placeholder: "KEY=value" }),
    labels: h("textarea", { id: "d-labels", rows: "3", spellcheck: "false", placeholder: "team=payments" }),
    annotations: h("textarea", { id: "d-annotations", rows: "3", spellcheck: "false", placeholder: "com.openfaas.retry.attempts=3" }),
    memLimit: h("input", { id: "d-mem-limit", placeholder: "128Mi", autocomplete: "off" }),
    cpuLimit: h("input", { id: "d-cpu-limit", placeholder: "500m", autocomplete: "off" }),
    memReq: h("input", { id: "d-mem-req", placeholder: "64Mi", autocomplete: "off" }),
    cpuReq: h("input", { id: "d-cpu-req", placeholder: "100m", autocomplete: "off" }),
    min: h("input", { id: "d-scale-min", type: "number", min: "0", inputmode: "numeric" }),
    max: h("input", { id: "d-scale-max", type: "number", min: "1", inputmode: "numeric" }),
    zero: h("input", { id: "d-scale-zero", type: "checkbox" }),
    zeroDuration: h("input", { id: "d-scale-zero-duration", placeholder: "15m", autocomplete: "off" }),
    readOnly: h("input", { id: "d-readonly", type: "checkbox" }),
  };
  const secretsBox = h("fieldset", { class: "secrets", id: "d-secrets" }, h("legend", null, "Secrets"), h("p", { class: "hint" }, "Loading…"));
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true, id: "d-status" });
  const submit = h("button", { type: "submit", class: "primary", id: "d-submit" }, editing ? "Update" : "Deploy");
  if (editing) { f.service.value = name; f.service.disabled = true; }

  const form = h("form", { id: "deploy", class: "deploy", onsubmit: onSubmit },
    h("div", { class: "row" }, field("Name", f.service), field("Image", f.image)),
    field("Process (fprocess)", f.envProcess, "optional: the command the watchdog runs"),
    field("Environment (KEY=value a line)", f.env),
    field("Labels (KEY=value a line)", f.labels),
    field("Annotations (KEY=value a line)", f.annotations),
    secretsBox,
    h("fieldset", null, h("legend", null, "Limits and requests"),
      h("div", { class: "row" }, field("Memory limit", f.memLimit), field("CPU limit", f.cpuLimit),
        field("Memory request", f.memReq), field("CPU request", f.cpuReq))),
    h("fieldset", null, h("legend", null, "Scaling"),
      h("div", { class: "row" }, field("Min replicas", f.min), field("Max replicas", f.max),
        h("div", { class: "field check" }, h("label", { class: "check" }, f.zero, " Scale to zero when idle")),
        field("Idle time before zero", f.zeroDuration, "e.g. 5m"))),
    h("div", { class: "field check" }, h("label", { class: "check" }, f.readOnly, " Read-only root filesystem")),
    h("div", { class: "actions" }, submit),
    status);

  add(root, 
    h("h1", null, editing ? `Update ${name}` : "Deploy a function"),
    h("p", { class: "hint" }, "Namespace: ", h("strong", null, target), editing ? "" : " (change it at the top)"),
    form,
    editing ? null : stackSection(target),
  );

  let chosen = new Set();
  async function loadSecrets() {
    try {
      const list = await api.secrets(target);
      fill(secretsBox, h("legend", null, "Secrets"),
        list.length ? null : h("p", { class: "hint" }, "No secrets in this namespace. ", h("a", { href: "#/secrets" }, "Create one"), "."),
        ...list.map((s) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: "secret", value: s.name, checked: chosen.has(s.name) }), " ", s.name)));
    } catch (e) {
      secretsBox.replaceChildren(h("legend", null, "Secrets"), h("p", { class: "msg error" }, e.message));
    }
  }

  async function load() {
    if (editing) {
      try {
        const fn = await api.fn(name, ns);
        fillForm(fn);
        chosen = new Set(fn.secrets || []);
      } catch (e) {
        msg(status, "error", e.status === 404 ? `${name} is not deployed in ${ns}.` : e.message);
      }
    }
    loadSecrets();
  }

  function fillForm(fn) {
    const labels = { ...(fn.labels || {}) };
    f.min.value = take(labels, scaleLabels.min);
    f.max.value = take(labels, scaleLabels.max);
    f.zero.checked = take(labels, scaleLabels.zero) === "true";
    f.zeroDuration.value = take(labels, scaleLabels.zeroDuration);
    f.image.value = fn.image || "";
    f.envProcess.value = fn.envProcess || "";
    f.env.value = pairsText(fn.envVars);
    f.labels.value = pairsText(labels);
    f.annotations.value = pairsText(fn.annotations);
    f.memLimit.value = fn.limits?.memory || "";
    f.cpuLimit.value = fn.limits?.cpu || "";
    f.memReq.value = fn.requests?.memory || "";
    f.cpuReq.value = fn.requests?.cpu || "";
    f.readOnly.checked = Boolean(fn.readOnlyRootFilesystem);
  }

  function build() {
    const labels = parsePairs(f.labels.value, "Labels");
    if (f.min.value !== "") labels[scaleLabels.min] = f.min.value;
    if (f.max.value !== "") labels[scaleLabels.max] = f.max.value;
    if (f.zero.checked) labels[scaleLabels.zero] = "true";
    if (f.zeroDuration.value.trim()) labels[scaleLabels.zeroDuration] = f.zeroDuration.value.trim();
    const d = {
      service: editing ? name : f.service.value.trim(),
      image: f.image.value.trim(),
      namespace: target,
      envProcess: f.envProcess.value.trim() || undefined,
      envVars: orNone(parsePairs(f.env.value, "Environment")),
      labels: orNone(labels),
      annotations: orNone(parsePairs(f.annotations.value, "Annotations")),
      secrets: [...form.querySelectorAll("input[name=secret]:checked")].map((c) => c.value),
      limits: resources(f.memLimit.value, f.cpuLimit.value),
      requests: resources(f.memReq.value, f.cpuReq.value),
      readOnlyRootFilesystem: f.readOnly.checked || undefined,
    };
    if (!d.secrets.length) delete d.secrets;
    return d;
  }

  async function onSubmit(e) {
    e.preventDefault();
    let d;
    try { d = build(); } catch (err) { msg(status, "error", err.message); return; }
    submit.disabled = true;
    msg(status, "info", editing ? `Updating ${d.service}…` : `Deploying ${d.service}…`);
    try {
      await (editing ? api.update(d) : api.deploy(d));
      msg(status, "ok", `${d.service} ${editing ? "updated" : "deployed"}.`);
      location.hash = `#/function/${q(target)}/${q(d.service)}`;
    } catch (err) {
      msg(status, "error", err.message);
    }
    submit.disabled = false;
  }

  load();
}

function take(obj, k) {
  const v = obj[k];
  delete obj[k];
  return v ?? "";
}

function orNone(o) {
  return Object.keys(o).length ? o : undefined;
}

function resources(memory, cpu) {
  memory = memory.trim(); cpu = cpu.trim();
  if (!memory && !cpu) return undefined;
  return { memory: memory || undefined, cpu: cpu || undefined };
}

// stackSection deploys every function of a stack.yml: the server turns
// the file into deployments; each is then created or updated.
function stackSection(ns) {
  const yaml = h("textarea", { id: "stack-text", rows: "8", spellcheck: "false", placeholder: "version: 1.0\nfunctions:\n  hello:\n    image: …" });
  const file = h("input", { type: "file", id: "stack-file", accept: ".yml,.yaml,text/yaml" });
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true, id: "stack-status" });
  const results = h("ul", { class: "results", id: "stack-results" });
  const go = h("button", { type: "submit", id: "stack-submit" }, "Deploy the stack");
  file.addEventListener("change", async () => {
    if (file.files.length) yaml.value = await file.files[0].text();
  });

  async function onSubmit(e) {
    e.preventDefault();
    results.replaceChildren();
    if (!yaml.value.trim()) { msg(status, "error", "Paste a stack.yml or pick a file."); return; }
    go.disabled = true;
    msg(status, "info", "Reading the stack…");
    try {
      const deps = await api.stack(ns, yaml.value);
      msg(status, "info", `Deploying ${deps.length} function${deps.length === 1 ? "" : "s"}…`);
      let failed = 0;
      for (const d of deps) {
        const li = h("li", null, d.service, ": …");
        results.append(li);
        try {
          const exists = await api.fn(d.service, d.namespace || ns).then(() => true, (err) => {
            if (err.status === 404) return false;
            throw err;
          });
          await (exists ? api.update(d) : api.deploy(d));
          li.replaceChildren(h("a", { href: `#/function/${q(d.namespace || ns)}/${q(d.service)}` }, d.service), exists ? ": updated" : ": deployed");
          li.className = "ok";
        } catch (err) {
          failed++;
          li.replaceChildren(d.service + ": " + err.message);
          li.className = "error";
        }
      }
      msg(status, failed ? "error" : "ok", failed ? `${failed} of ${deps.length} failed.` : `All ${deps.length} deployed.`);
    } catch (err) {
      msg(status, "error", err.message);
    }
    go.disabled = false;
  }

  return h("section", { "aria-labelledby": "h-stack" },
    h("h2", { id: "h-stack" }, "Deploy from stack.yml"),
    h("form", { id: "stack", onsubmit: onSubmit },
      field("stack.yml", yaml), field("or upload one", file),
      h("div", { class: "actions" }, go), status, results));
}
