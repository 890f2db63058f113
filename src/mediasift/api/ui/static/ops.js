"use strict";
// The ops charts: one JSON document (/ops.json) describes every chart; this draws each kind as
// inline SVG, with the same numbers in a table for screen readers. Gauges are sampled every few
// seconds and drawn over time.
(() => {
  const root = document.getElementById("charts");
  const stamp = document.getElementById("sampled");
  const NS = "http://www.w3.org/2000/svg";
  const W = 360;
  const ROW = 22;
  const LABEL_W = 150;
  const VALUE_W = 90; // room right of the longest bar for its value
  const EVERY_MS = 5000;
  const KEEP = 120;
  const history = [];

  function svg(name, attrs, text) {
    const el = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function fmt(value, unit) {
    if (value === null || value === undefined) return "–";
    if (Number.isInteger(value)) return `${value}${unit ? ` ${value === 1 && unit === "jobs" ? "job" : unit}` : ""}`;
    const abs = Math.abs(value);
    const digits = abs === 0 ? 0 : abs < 0.001 ? 6 : abs < 1 ? 3 : abs < 100 ? 1 : 0;
    return `${value.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
  }

  function short(label) { return label.length > 21 ? `${label.slice(0, 20)}…` : label; }

  function named(x, y, label) {  // a row's name, cut to fit, whole in its tooltip
    const text = svg("text", { x, y, class: "label" }, short(label));
    text.appendChild(svg("title", {}, label));
    return text;
  }

  function table(caption, head, rows) {
    const t = document.createElement("table");
    const c = document.createElement("caption");
    c.textContent = caption;
    t.appendChild(c);
    const tr = document.createElement("tr");
    head.forEach((h) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach((r) => {
      const row = document.createElement("tr");
      r.forEach((cell) => { const td = document.createElement("td"); td.textContent = cell; row.appendChild(td); });
      t.appendChild(row);
    });
    const hidden = document.createElement("div");  // a table grows past any width: its box is hidden instead
    hidden.className = "visually-hidden";
    hidden.appendChild(t);
    return hidden;
  }

  function bars(chart) {
    const rows = chart.bars;
    const max = Math.max(...rows.map((r) => r.value), 0) || 1;
    const box = svg("svg", { viewBox: `0 0 ${W} ${rows.length * ROW + 4}`, class: "chart" });
    rows.forEach((r, i) => {
      const y = i * ROW + 2;
      const width = ((W - LABEL_W - VALUE_W) * r.value) / max;
      box.appendChild(named(0, y + 14, r.label));
      box.appendChild(svg("rect", { x: LABEL_W, y: y + 3, width: Math.max(width, r.value > 0 ? 1 : 0), height: ROW - 8, class: "bar s0" }));
      box.appendChild(svg("text", { x: LABEL_W + width + 4, y: y + 14, class: "value" }, fmt(r.value, chart.unit)));
    });
    return [box, table(chart.title, ["", chart.unit || "value"], rows.map((r) => [r.label, fmt(r.value, chart.unit)])), rows.length];
  }

  function grouped(chart) {
    const n = chart.legend.length;
    const max = Math.max(0, ...chart.groups.flatMap((g) => g.values)) || 1;
    const height = chart.groups.length * (n * 10 + 20) + 20;
    const box = svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart" });
    let at = LABEL_W;
    chart.legend.forEach((name, k) => {
      box.appendChild(svg("rect", { x: at, y: 2, width: 10, height: 10, class: `bar s${k}` }));
      box.appendChild(svg("text", { x: at + 14, y: 11, class: "value" }, name));
      at += 26 + name.length * 7;
    });
    chart.groups.forEach((g, i) => {
      const y = 20 + i * (n * 10 + 20);
      box.appendChild(named(0, y + 12, g.label));
      g.values.forEach((v, k) => {
        const width = ((W - LABEL_W - VALUE_W) * v) / max;
        box.appendChild(svg("rect", { x: LABEL_W, y: y + 4 + k * 10, width: Math.max(width, v > 0 ? 1 : 0), height: 8, class: `bar s${k}` }));
        box.appendChild(svg("text", { x: LABEL_W + width + 4, y: y + 11 + k * 10, class: "value small" }, fmt(v, chart.unit)));
      });
    });
    const rows = chart.groups.map((g) => [g.label, ...g.values.map((v) => fmt(v, chart.unit))]);
    return [box, table(chart.title, ["", ...chart.legend], rows), chart.groups.length];
  }

  function ranges(chart) {
    const rows = chart.ranges;
    const box = svg("svg", { viewBox: `0 0 ${W} ${rows.length * 34 + 20}`, class: "chart" });
    const x = (v) => LABEL_W + (W - LABEL_W - 10) * v;
    [0, 0.5, 1].forEach((v) => box.appendChild(svg("text", { x: x(v) - 6, y: 10, class: "value small" }, v.toFixed(1))));
    rows.forEach((r, i) => {
      const y = 20 + i * 34;
      box.appendChild(named(0, y + 10, r.label));
      box.appendChild(svg("text", { x: 0, y: y + 24, class: `value small ${r.verdict.startsWith("SHIFTED") ? "bad" : ""}` }, r.verdict));
      box.appendChild(svg("line", { x1: x(r.low), x2: x(r.high), y1: y + 8, y2: y + 8, class: "range" }));
      box.appendChild(svg("rect", { x: x(r.mid) - 2, y: y + 2, width: 4, height: 12, class: "bar s1" }));
    });
    const table_rows = rows.map((r) => [r.label, fmt(r.low), fmt(r.mid), fmt(r.high), r.verdict]);
    return [box, table(chart.title, ["", "p10", "p50", "p90", "verdict"], table_rows), rows.length];
  }

  function line(chart) {
    const points = [];
    for (let i = 0; i < history.length; i++) {
      const sample = history[i];
      let v = sample.gauges[chart.gauge];
      if (v === undefined) continue;
      if (chart.rate) {
        if (i === 0) continue;
        const before = history[i - 1];
        v = (60000 * (v - before.gauges[chart.gauge])) / Math.max(1, sample.t - before.t);
      }
      points.push({ t: sample.t, v: Math.max(0, v) });
    }
    const H = 120;
    const box = svg("svg", { viewBox: `0 0 ${W} ${H + 20}`, class: "chart" });
    const max = Math.max(1, ...points.map((p) => p.v));
    box.appendChild(svg("line", { x1: 30, x2: W, y1: H, y2: H, class: "axis" }));
    box.appendChild(svg("text", { x: 0, y: 12, class: "value small" }, fmt(max)));
    box.appendChild(svg("text", { x: 0, y: H, class: "value small" }, "0"));
    if (points.length) {
      const t0 = points[0].t;
      const span = Math.max(1, points[points.length - 1].t - t0);
      const xy = points.map((p) => [30 + ((W - 40) * (p.t - t0)) / span, H - ((H - 10) * p.v) / max]);
      if (xy.length === 1) xy.push([W - 10, xy[0][1]]);
      box.appendChild(svg("polyline", { points: xy.map((p) => p.join(",")).join(" "), class: "series" }));
      const last = points[points.length - 1];
      box.appendChild(svg("text", { x: W, y: H + 16, "text-anchor": "end", class: "value" }, `now ${fmt(last.v, chart.unit)}`));
    }
    const secs = history.length > 1 ? Math.round((history[history.length - 1].t - history[0].t) / 1000) : 0;
    box.appendChild(svg("text", { x: 30, y: H + 16, class: "value small" }, `last ${secs} s`));
    const rows = points.slice(-10).map((p) => [new Date(p.t).toLocaleTimeString(), fmt(p.v, chart.unit)]);
    return [box, table(chart.title, ["time", chart.unit], rows), points.length];
  }

  const DRAW = { bars, grouped, ranges, line };

  function render(doc) {
    history.push({ t: Date.now(), gauges: doc.gauges });
    if (history.length > KEEP) history.shift();
    for (const chart of doc.charts) {
      const draw = DRAW[chart.kind];
      if (!draw) continue;
      let figure = document.getElementById(`chart-${chart.id}`);
      if (!figure) {
        figure = document.createElement("figure");
        figure.id = `chart-${chart.id}`;
        figure.className = "chart-card";
        const caption = document.createElement("figcaption");
        caption.id = `chart-${chart.id}-title`;
        caption.textContent = chart.title;
        figure.appendChild(caption);
        figure.appendChild(document.createElement("div"));
        root.appendChild(figure);
      }
      const [box, data, count] = draw(chart);
      box.setAttribute("role", "img");
      box.setAttribute("aria-labelledby", `chart-${chart.id}-title`);
      const body = figure.lastChild;
      figure.dataset.points = String(count);
      if (count) body.replaceChildren(box, data);
      else {
        const empty = document.createElement("p");
        empty.className = "meta";
        empty.textContent = chart.note || "No data yet.";
        body.replaceChildren(empty);
      }
    }
    stamp.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
  }

  async function sample() {
    try {
      const answer = await fetch(root.dataset.source, { credentials: "same-origin" });
      if (answer.ok) render(await answer.json());
      else stamp.textContent = `Could not read the figures (${answer.status}).`;
    } catch (e) {
      stamp.textContent = "Could not read the figures.";
    }
    setTimeout(sample, EVERY_MS);
  }
  sample();
})();
