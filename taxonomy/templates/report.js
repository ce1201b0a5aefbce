// Interactive report: map, taxonomy sunburst, search, topic table, run panel.
// Corpus text is only ever put into the page with textContent (never innerHTML),
// and escaped as entities in strings handed to plotly.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const docs = D.docs, nodes = D.nodes, N = docs.id.length;
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c6d31", "#637939", "#7b4173", "#3182bd", "#e6550d"];
  const OUTLIER = "#c7cbd1";

  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const el = (tag, text, attrs) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  };
  const pathLabels = (i) => docs.path[i].map((id) => nodes[id].label);
  const topLevel = Object.values(nodes).filter((n) => n.level === 1).sort((a, b) => b.size - a.size);
  const colorOf = {};
  topLevel.forEach((n, k) => { colorOf[n.id] = PALETTE[k % PALETTE.length]; });

  // ---- map ----------------------------------------------------------------
  const groups = topLevel.map((n) => ({ node: n, idx: [] }));
  const outliers = [];
  const groupIndex = Object.fromEntries(topLevel.map((n, k) => [n.id, k]));
  for (let i = 0; i < N; i++) {
    if (docs.path[i].length) groups[groupIndex[docs.path[i][0]]].idx.push(i);
    else outliers.push(i);
  }
  const hover = (i) => esc(docs.title[i] || docs.id[i]) + "<br>" +
    (docs.path[i].length ? esc(pathLabels(i).join(" › ")) : "unassigned (outlier)");
  const trace = (idx, name, color) => ({
    type: "scattergl", mode: "markers", name: esc(name),
    x: idx.map((i) => docs.x[i]), y: idx.map((i) => docs.y[i]), customdata: idx,
    text: idx.map(hover), hoverinfo: "text",
    marker: { size: N > 5000 ? 3 : N > 1000 ? 5 : 8, color, opacity: 0.8 },
  });
  const traces = groups.map((g) => trace(g.idx, g.node.label, colorOf[g.node.id]));
  if (outliers.length) traces.push(trace(outliers, "unassigned", OUTLIER));
  const baseTraces = traces.length;
  traces.push({ type: "scattergl", mode: "markers", name: "highlighted", x: [], y: [], customdata: [],
    text: [], hoverinfo: "text", showlegend: false,
    marker: { size: N > 5000 ? 6 : 11, color: "rgba(0,0,0,0)", line: { color: "#111", width: 2 } } });

  const centre = (idx) => {
    const xs = idx.map((i) => docs.x[i]).sort((a, b) => a - b);
    const ys = idx.map((i) => docs.y[i]).sort((a, b) => a - b);
    return [xs[xs.length >> 1], ys[ys.length >> 1]];
  };
  const docsOf = (nodeId) => {
    const out = [];
    for (let i = 0; i < N; i++) if (docs.path[i].includes(nodeId)) out.push(i);
    return out;
  };
  const annotation = (n, big) => {
    const [x, y] = centre(docsOf(n.id));
    return { x, y, text: esc(n.label), showarrow: false,
      font: { size: big ? 15 : 11, color: big ? "#111" : "#333" },
      bgcolor: big ? "rgba(255,255,255,0.75)" : "rgba(255,255,255,0.55)" };
  };
  const topNotes = topLevel.map((n) => annotation(n, true));
  const leafNotes = Object.values(nodes).filter((n) => n.level === D.n_levels).map((n) => annotation(n, false));
  const layout = {
    margin: { l: 10, r: 10, t: 10, b: 10 }, hovermode: "closest", dragmode: "pan",
    xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
    legend: { orientation: "h", y: -0.02 }, annotations: topNotes,
  };
  const mapDiv = document.getElementById("map");
  Plotly.newPlot(mapDiv, traces, layout, { responsive: true, scrollZoom: true, displaylogo: false });

  function highlight(idx) {
    Plotly.restyle(mapDiv, { x: [idx.map((i) => docs.x[i])], y: [idx.map((i) => docs.y[i])],
      customdata: [idx], text: [idx.map(hover)] }, [baseTraces]);
  }

  // ---- side panel ---------------------------------------------------------
  const panel = document.getElementById("panel");
  function link(i, text) {
    if (!docs.url[i]) return el("span", text);
    return el("a", text, { href: docs.url[i], target: "_blank", rel: "noopener noreferrer" });
  }
  function showDoc(i) {
    panel.replaceChildren();
    panel.append(el("h3", docs.title[i] || docs.id[i]));
    panel.append(el("div", docs.path[i].length ? pathLabels(i).join(" › ") : "unassigned (outlier)", { class: "path" }));
    panel.append(el("p", docs.abstract[i]));
    const meta = el("p", null, { class: "hint" });
    meta.append(link(i, docs.url[i] ? "Open paper ↗" : "id: " + docs.id[i]));
    panel.append(meta);
  }
  function showList(heading, sub, idx) {
    panel.replaceChildren();
    panel.append(el("h3", heading));
    if (sub) panel.append(el("div", sub, { class: "path" }));
    panel.append(el("div", idx.length + " papers", { class: "hint" }));
    const ol = el("ol", null, { id: "panel-list" });
    idx.slice(0, 500).forEach((i) => {
      const li = el("li", null, { "data-doc": String(i) });
      li.append(link(i, docs.title[i] || docs.id[i]));
      ol.append(li);
    });
    panel.append(ol);
  }
  mapDiv.on("plotly_click", (ev) => { if (ev.points.length) showDoc(ev.points[0].customdata); });

  // ---- taxonomy (sunburst) -----------------------------------------------------
  const all = Object.values(nodes).sort((a, b) => a.level - b.level);
  const burstDiv = document.getElementById("sunburst");
  Plotly.newPlot(burstDiv, [{
    type: "sunburst", branchvalues: "total", maxdepth: 3,
    ids: all.map((n) => n.id), parents: all.map((n) => n.parent || ""),
    labels: all.map((n) => (n.level === 0 ? "All papers" : esc(n.label))), values: all.map((n) => n.size),
    hovertemplate: "%{label}<br>%{value} papers<extra></extra>",
  }], { margin: { l: 0, r: 0, t: 0, b: 0 } }, { displaylogo: false });
  function selectNode(id) {
    const n = nodes[id];
    const idx = n.level === 0 ? docs.id.map((_, i) => i).filter((i) => docs.path[i].length) : docsOf(id);
    highlight(idx);
    const up = [];
    for (let p = n; p && p.level > 0; p = nodes[p.parent]) up.unshift(p.label);
    showList(n.level === 0 ? "All papers" : n.label, up.slice(0, -1).join(" › "), idx);
  }
  burstDiv.on("plotly_sunburstclick", (ev) => { if (ev.points.length) selectNode(ev.points[0].id); });

  // ---- search -------------------------------------------------------------------
  const lowerText = docs.title.map((t, i) => (t + " " + docs.abstract[i]).toLowerCase());
  const search = document.getElementById("search"), count = document.getElementById("search-count");
  let timer = null;
  function runSearch() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) { highlight([]); count.textContent = ""; return; }
    const idx = [];
    for (let i = 0; i < N; i++) if (words.every((w) => lowerText[i].includes(w))) idx.push(i);
    highlight(idx);
    count.textContent = idx.length + " matching";
    showList("Search: " + search.value, null, idx);
  }
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 150); });

  // ---- leaf names toggle ------------------------------------------------------------
  document.getElementById("show-leaves").addEventListener("change", (ev) => {
    Plotly.relayout(mapDiv, { annotations: ev.target.checked ? topNotes.concat(leafNotes) : topNotes });
  });

  // ---- topic table ------------------------------------------------------------------
  const tbody = document.querySelector("#topics tbody");
  const leaves = Object.values(nodes).filter((n) => n.level === D.n_levels);
  const fullPath = (n) => { const up = []; for (let p = n; p && p.level > 0; p = nodes[p.parent]) up.unshift(p.label); return up; };
  leaves.sort((a, b) => fullPath(a).join("\u0000").localeCompare(fullPath(b).join("\u0000")));
  for (const n of leaves) {
    const tr = el("tr", null, { "data-node": n.id });
    const name = el("td");
    const a = el("a", fullPath(n).join(" › "), { href: "#map" });
    a.addEventListener("click", (ev) => { ev.preventDefault(); selectNode(n.id); });
    name.append(a);
    tr.append(name, el("td", n.size), el("td", n.keywords.join(", ")));
    const reps = el("td");
    n.rep.forEach((i) => { const d = el("div"); d.append(link(i, docs.title[i] || docs.id[i])); reps.append(d); });
    tr.append(reps, el("td", n.coherence === null || n.coherence === undefined ? "–" : n.coherence.toFixed(3)));
    tbody.append(tr);
  }

  // ---- run panel ------------------------------------------------------------------------
  const mt = el("table");
  const flat = (obj, prefix) => Object.entries(obj).flatMap(([k, v]) =>
    v && typeof v === "object" && !Array.isArray(v) ? flat(v, prefix + k + ".") : [[prefix + k, v]]);
  flat(Object.fromEntries(Object.entries(D.metrics).filter(([k]) => k !== "npmi_per_node")), "")
    .forEach(([k, v]) => { const tr = el("tr"); tr.append(el("th", k), el("td", Array.isArray(v) ? v.join(", ") : v)); mt.append(tr); });
  document.getElementById("run-metrics").append(mt);
  document.getElementById("run-config").textContent = JSON.stringify(D.config, null, 2);
  window.__report = { ready: true, nPoints: N, highlight, selectNode };
})();
