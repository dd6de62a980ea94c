// api.js: every call to funcd's API. Requests carry the session cookie and
// the X-Funcd-CSRF header; a 401 sends the browser to the login page.

let csrf = "";
export let user = "";

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function toLogin() {
  const next = location.pathname + location.hash;
  location.assign("/ui/login?next=" + encodeURIComponent(next));
}

// session learns the CSRF token; it needs only the cookie.
export async function session() {
  const r = await fetch("/ui/api/session", { credentials: "same-origin", cache: "no-store" });
  if (r.status === 401) {
    toLogin();
    throw new APIError(401, "not logged in");
  }
  if (!r.ok) throw new APIError(r.status, await r.text());
  const s = await r.json();
  csrf = s.csrf;
  user = s.user;
  return s;
}

export function csrfToken() { return csrf; }

// request sends method path with an optional JSON (or raw) body and
// returns the Response; a non-2xx answer throws APIError with the API's
// own text.
export async function request(method, path, body, opts = {}) {
  const headers = { "X-Funcd-CSRF": csrf };
  let b = body;
  if (body !== undefined && !opts.raw) {
    headers["Content-Type"] = "application/json";
    b = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: b, credentials: "same-origin", cache: "no-store", signal: opts.signal });
  if (r.status === 401) {
    toLogin();
    throw new APIError(401, "session ended: log in again");
  }
  if (!r.ok && !(opts.allow || []).includes(r.status)) {
    const t = (await r.text()).trim();
    throw new APIError(r.status, t || `${method} ${path}: ${r.status} ${r.statusText}`);
  }
  return r;
}

export async function getJSON(path, opts) {
  const r = await request("GET", path, undefined, opts);
  return r.status === 204 ? null : r.json();
}

export const q = encodeURIComponent;

export const api = {
  functions: (ns) => getJSON(`/ui/api/functions?namespace=${q(ns)}`),
  fn: (name, ns) => getJSON(`/system/function/${q(name)}?namespace=${q(ns)}`),
  fnStatus: (name, ns) => getJSON(`/ui/api/functions?namespace=${q(ns)}`).then((l) => l.find((f) => f.name === name)),
  history: (name, ns) => getJSON(`/ui/api/history?name=${q(name)}&namespace=${q(ns)}`),
  deploy: (d) => request("POST", "/system/functions", d),
  update: (d) => request("PUT", "/system/functions", d),
  remove: (name, ns) => request("DELETE", "/system/functions", { functionName: name, namespace: ns }),
  scale: (name, ns, replicas) => request("POST", `/system/scale-function/${q(name)}`, { serviceName: name, namespace: ns, replicas }),
  namespaces: () => getJSON("/system/namespaces"),
  createNamespace: (name) => request("POST", `/system/namespace/${q(name)}`, { name }),
  deleteNamespace: (name) => request("DELETE", `/system/namespace/${q(name)}`),
  secrets: (ns) => getJSON(`/system/secrets?namespace=${q(ns)}`),
  createSecret: (ns, name, value) => request("POST", "/system/secrets", { name, namespace: ns, value }),
  updateSecret: (ns, name, value) => request("PUT", "/system/secrets", { name, namespace: ns, value }),
  deleteSecret: (ns, name) => request("DELETE", "/system/secrets", { name, namespace: ns }),
  stack: (ns, text) => request("POST", `/ui/api/stack?namespace=${q(ns)}`, text, { raw: true }).then((r) => r.json()),
  queue: () => getJSON("/system/queue"),
  deadLetters: () => getJSON("/system/queue/dead-letters?limit=100"),
  redrive: (ids) => request("POST", "/system/queue/redrive", { ids }).then((r) => r.json()),
  purge: (ids) => request("POST", "/system/queue/purge", { ids }).then((r) => r.json()),
};

// logs streams NDJSON lines of a function's output to onLine until signal
// aborts or the stream ends.
export async function logs(name, ns, { tail = 100, follow = true, signal }, onLine) {
  const r = await request("GET", `/system/logs?name=${q(name)}&namespace=${q(ns)}&tail=${tail}&follow=${follow}`, undefined, { signal });
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) {
        try { onLine(JSON.parse(line)); } catch { onLine({ text: line }); }
      }
    }
  }
}
