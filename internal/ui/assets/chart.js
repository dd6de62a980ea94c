// chart.js: the last hour of a function as an SVG built node by node:
// bars for invocations per minute (errors in red on top), a line for the
// average latency, and a one-line summary in words.

import { h, s } from "./dom.js";

const W = 600, H = 180, L = 40, R = 52, T = 12, B = 22;

export function chart(box, hist) {
  const pts = (hist && hist.points) || [];
  const n = pts.length || 60;
  const maxInv = Math.max(1, ...pts.map((p) => p.invocations));
  const maxLat = Math.max(0.001, ...pts.map((p) => p.avgSeconds || 0));
  const iw = W - L - R, ih = H - T - B, bw = iw / n;
  const y = (v) => T + ih - (v / maxInv) * ih;
  const yl = (v) => T + ih - (v / maxLat) * ih;

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title", class: "chart-svg" });
  const total = pts.reduce((a, p) => a + p.invocations, 0);
  const errors = pts.reduce((a, p) => a + p.errors, 0);
  const busy = pts.filter((p) => p.invocations > 0);
  const avg = busy.length ? busy.reduce((a, p) => a + p.avgSeconds * p.invocations, 0) / Math.max(1, total) : 0;
  const summary = `${total} invocations in the last hour, ${errors} failed, average latency ${fmtSec(avg)}.`;
  svg.append(s("title", { id: "chart-title" }, summary));

  // grid and axes
  svg.append(s("line", { x1: L, y1: T + ih, x2: L + iw, y2: T + ih, class: "axis" }));
  for (const f of [0.5, 1]) svg.append(s("line", { x1: L, y1: T + ih - f * ih, x2: L + iw, y2: T + ih - f * ih, class: "grid" }));
  svg.append(s("text", { x: L - 4, y: T + 4, class: "tick inv", "text-anchor": "end" }, fmtCount(maxInv)));
  svg.append(s("text", { x: L - 4, y: T + ih, class: "tick inv", "text-anchor": "end" }, "0"));
  svg.append(s("text", { x: L + iw + 4, y: T + 4, class: "tick lat" }, fmtSec(maxLat)));
  svg.append(s("text", { x: L, y: H - 6, class: "tick" }, "−60 min"));
  svg.append(s("text", { x: L + iw, y: H - 6, class: "tick", "text-anchor": "end" }, "now"));

  pts.forEach((p, i) => {
    const x = L + i * bw + bw * 0.1, w = bw * 0.8;
    const when = new Date(p.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const tip = `${when}: ${p.invocations} invocations, ${p.errors} failed, average ${fmtSec(p.avgSeconds)}`;
    if (p.invocations > 0) {
      const ok = p.invocations - p.errors;
      svg.append(s("rect", { x, y: y(p.invocations), width: w, height: Math.max(0, y(ok) - y(p.invocations)), class: "bar err" }, s("title", null, tip)));
      svg.append(s("rect", { x, y: y(ok), width: w, height: T + ih - y(ok), class: "bar" }, s("title", null, tip)));
    }
  });
  const line = busy.length ? pts.map((p, i) => `${(L + i * bw + bw / 2).toFixed(1)},${yl(p.avgSeconds || 0).toFixed(1)}`).join(" ") : "";
  if (line) svg.append(s("polyline", { points: line, class: "latline" }));

  const legend = h("p", { class: "legend" },
    h("span", { class: "key inv" }), "invocations per minute ",
    h("span", { class: "key err" }), "failed ",
    h("span", { class: "key lat" }), "average latency");
  box.replaceChildren(h("p", { class: "summary", id: "chart-summary" }, summary), svg, legend);
}

function fmtSec(v) {
  if (!v) return "0 ms";
  return v < 1 ? (v * 1000).toFixed(v < 0.01 ? 2 : 0) + " ms" : v.toFixed(2) + " s";
}

function fmtCount(v) {
  return v >= 10000 ? Math.round(v / 1000) + "k" : String(v);
}
