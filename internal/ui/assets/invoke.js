// invoke.js: call a function as any client would (/function/NAME.NS/...,
// open, so no CSRF token goes to the function) and show status, headers,
// body as text and the time taken; or queue the call on
// /async-function/... and show its X-Call-Id.

import { h, fill, msg, field } from "./dom.js";
import { q } from "./api.js";

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const maxShown = 256 * 1024;

export function invokePanel(name, ns) {
  const method = h("select", { id: "inv-method" }, methods.map((m) => h("option", { value: m }, m)));
  const path = h("input", { id: "inv-path", value: "/", spellcheck: "false", autocomplete: "off" });
  const query = h("input", { id: "inv-query", placeholder: "a=1&b=2", spellcheck: "false", autocomplete: "off" });
  const headers = h("textarea", { id: "inv-headers", rows: "2", placeholder: "Content-Type: text/plain", spellcheck: "false" });
  const body = h("textarea", { id: "inv-body", rows: "4", spellcheck: "false" });
  const file = h("input", { type: "file", id: "inv-file" });
  const async = h("input", { type: "checkbox", id: "inv-async" });
  const status = h("p", { role: "status", "aria-live": "polite", hidden: true });
  const result = h("div", { class: "result", id: "inv-result", hidden: true });
  const go = h("button", { type: "submit", id: "inv-send", class: "primary" }, "Send");

  async.addEventListener("change", () => {
    if (async.checked) method.value = "POST";
    method.disabled = async.checked;
  });

  async function send(e) {
    e.preventDefault();
    let hdrs;
    try {
      hdrs = parseHeaders(headers.value);
    } catch (err) {
      msg(status, "error", err.message);
      return;
    }
    let p = path.value.trim() || "/";
    if (!p.startsWith("/")) p = "/" + p;
    const qs = query.value.trim().replace(/^\?/, "");
    const base = async.checked ? "/async-function/" : "/function/";
    const url = base + q(name) + "." + q(ns) + encodePath(p) + (qs ? "?" + qs : "");
    const m = async.checked ? "POST" : method.value;
    const init = { method: m, headers: hdrs, credentials: "same-origin", cache: "no-store" };
    if (m !== "GET" && m !== "HEAD") init.body = file.files.length ? file.files[0] : body.value;
    go.disabled = true;
    msg(status, "info", `${m} ${url}…`);
    result.hidden = true;
    const t0 = performance.now();
    try {
      const r = await fetch(url, init);
      const buf = await r.arrayBuffer();
      const ms = performance.now() - t0;
      show(r, buf, ms, async.checked);
      msg(status, "", "");
    } catch (err) {
      msg(status, "error", "The request failed: " + err.message);
    }
    go.disabled = false;
  }

  function show(r, buf, ms, wasAsync) {
    const hdrList = h("dl", { class: "headers", id: "inv-headers-out" });
    for (const [k, v] of r.headers) hdrList.append(h("div", null, h("dt", null, k), h("dd", null, v)));
    const bytes = buf.byteLength;
    let textBody = new TextDecoder().decode(bytes > maxShown ? buf.slice(0, maxShown) : buf);
    if (bytes > maxShown) textBody += `\n… (${bytes - maxShown} more bytes not shown)`;
    const callId = r.headers.get("X-Call-Id");
    fill(result,
      h("p", { class: "summary" },
        h("strong", { id: "inv-status", class: r.ok ? "ok" : "bad" }, `${r.status} ${r.statusText}`),
        ` in `, h("span", { id: "inv-time" }, ms < 1000 ? ms.toFixed(1) + " ms" : (ms / 1000).toFixed(2) + " s"),
        `, ${bytes} bytes`),
      wasAsync && callId ? h("p", null, "Queued with call id ", h("code", { id: "inv-callid" }, callId)) : null,
      h("details", null, h("summary", null, "Response headers"), hdrList),
      h("pre", { class: "body", id: "inv-body-out", tabindex: "0" }, textBody),
    );
    result.hidden = false;
  }

  return h("form", { class: "invoke", id: "invoke", onsubmit: send },
    h("div", { class: "row" }, field("Method", method), field("Path", path), field("Query", query)),
    field("Headers (one Name: value a line)", headers),
    field("Body", body),
    field("or a file as the body", file),
    h("div", { class: "actions" }, h("label", { class: "check" }, async, " Asynchronous (queue it, answer with a call id)"), go),
    status, result);
}

// parseHeaders reads "Name: value" lines; it throws naming a bad line.
export function parseHeaders(v) {
  const out = new Headers();
  v.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const c = line.indexOf(":");
    if (c <= 0) throw new Error(`Headers, line ${i + 1}: write Name: value`);
    try {
      out.append(line.slice(0, c).trim(), line.slice(c + 1).trim());
    } catch {
      throw new Error(`Headers, line ${i + 1}: not a valid header`);
    }
  });
  return out;
}

// encodePath escapes each segment of p, keeping its slashes.
function encodePath(p) {
  return p.split("/").map((seg) => encodeURIComponent(decodeSafe(seg))).join("/");
}

function decodeSafe(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}
