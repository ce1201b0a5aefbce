// Interactive report: map, taxonomy tree, search, topic table, run panel.
//
// The page carries three gzip+base64 payloads (plotly.js, the core data, the
// abstracts); they are inflated here with DecompressionStream, so the file
// stays small and needs no network. In a large report the abstracts lie beside
// the page instead (report_files/text-NNN.js, each a call of __reportText with
// base64 text), loaded by <script src> (which works from file://) only when an
// abstract is opened or a search needs them. Corpus text only ever enters the
// page via textContent (never innerHTML); strings handed to plotly, which reads a
// few HTML-like tags in labels, are entity-escaped first.
(function () {
  "use strict";
  const status = document.getElementById("status");
  // The system's theme unless the reader picks one (the header's button); set before the page is drawn.
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  // The map fills the window below the header, however many lines the header wraps to.
  new ResizeObserver(([e]) => document.documentElement.style.setProperty("--header-h", e.target.offsetHeight + "px"))
    .observe(document.querySelector("header"));
  const api = (window.__report = { ready: false, textReady: false, timing: {} });
  // Milliseconds since navigation start at each step, for measuring the page.
  const mark = (step) => { api.timing[step] = Math.round(performance.now()); };

  function fail(err) {
    status.textContent = "The report could not be shown: " + (err && err.message ? err.message : err);
    status.className = "error";
    console.error(err);
  }

  function base64Bytes(s) {
    s = s.trim();
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(s);
    const bin = atob(s), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  // Packed text (gzip + base64) back to a string.
  function inflateText(b64) {
    const stream = new Blob([base64Bytes(b64)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  const inflate = (id) => inflateText(document.getElementById(id).textContent);

  if (typeof DecompressionStream === "undefined") {
    fail(new Error("this browser lacks DecompressionStream (needs Chrome 80+, Firefox 113+ or Safari 16.4+)"));
    return;
  }
  mark("start");
  const plotlyReady = inflate("plotly-gz").then((code) => {
    mark("plotly-inflated");
    const s = document.createElement("script");
    s.textContent = code; // runs at once, in global scope, like the inline script it was
    document.head.append(s);
    if (!window.Plotly) throw new Error("plotly.js did not load");
    mark("plotly");
  });
  // The papers' columns come in chunks of their own (report.py, docs_payloads): joined here.
  const joinDocs = (D) => {
    const docs = D.docs, ids = Array.from({ length: docs.count }, (_, k) => "docs-gz-" + k);
    return Promise.all(ids.map((id) => inflate(id).then(JSON.parse))).then((parts) => {
      for (const c of ["id", "title", "x", "y", "topic", "period"]) {
        if (parts.length && c in parts[0]) docs[c] = [].concat(...parts.map((p) => p[c]));
      }
      docs.url_other = Object.assign({}, ...parts.map((p) => p.url_other));
      return D;
    });
  };
  const coreReady = inflate("core-gz").then((s) => joinDocs(JSON.parse(s))).then((D) => { mark("core"); return D; });
  Promise.all([coreReady, plotlyReady])
    .then(([D]) => build(D))
    .catch(fail);

  function build(D) {
    const docs = D.docs, nodes = D.nodes, N = docs.id.length, L = D.n_levels;
    const gd = document.getElementById("map");
    // Positions travel as integers across the map's box: back to map units.
    const [bx0, bx1, by0, by1] = docs.xy_box, steps = docs.xy_steps;
    docs.x = Float64Array.from(docs.x, (q) => bx0 + (q / steps) * (bx1 - bx0));
    docs.y = Float64Array.from(docs.y, (q) => by0 + (q / steps) * (by1 - by0));

    // ---- helpers ---------------------------------------------------------------
    const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const el = (tag, text, attrs) => {
      const e = document.createElement(tag);
      if (text !== undefined && text !== null) e.textContent = String(text);
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
      return e;
    };
    const safeUrl = (u) => (typeof u === "string" && /^https?:\/\//i.test(u) ? u : null);
    const titleOf = (i) => docs.title[i] || docs.id[i];
    // A paper's link: the common prefix + its id, unless listed apart (or none).
    const urlOf = (i) => (Object.hasOwn(docs.url_other, i) ? docs.url_other[i]
      : docs.url_prefix === null ? null : docs.url_prefix + docs.id[i]);
    const numbers = new Intl.NumberFormat("en-US"); // toLocaleString builds one per call
    const fmt = (x) => (typeof x === "number" ? numbers.format(x) : String(x));

    // ---- structure: path of every leaf, papers of every node ---------------------
    const all = Object.values(nodes);
    const pathIds = (id) => { const up = []; for (let n = nodes[id]; n && n.level > 0; n = nodes[n.parent]) up.unshift(n.id); return up; };
    const pathText = (id) => pathIds(id).map((p) => nodes[p].label).join(" › ");
    // A node's one-line description (labels.method: llm), appended to a tooltip.
    const withDesc = (text, n) => (n.description ? text + "\n" + n.description : text);
    const leafPath = {};
    all.filter((n) => n.level === L).forEach((n) => { leafPath[n.id.slice(n.id.indexOf(".") + 1)] = pathIds(n.id); });
    const docPath = (i) => (docs.topic[i] >= 0 ? leafPath[docs.topic[i]] || [] : []);
    const members = Object.fromEntries(all.map((n) => [n.id, []]));
    for (let i = 0; i < N; i++) {
      const p = docPath(i);
      if (p.length) members["0.0"].push(i);
      for (const id of p) members[id].push(i);
    }
    const colorOf = (i) => { const p = docPath(i); return p.length ? nodes[p[0]].color : D.outlier_color; };
    const topLevel = all.filter((n) => n.level === 1).sort((a, b) => b.size - a.size);
    const countAt = {};
    all.forEach((n) => { countAt[n.level] = (countAt[n.level] || 0) + 1; });
    document.getElementById("stats").textContent =
      `${fmt(N)} papers · ${fmt(countAt[L] || 0)} topics · ${L} levels`;

    // ---- time: each paper's period, the range shown on the map (dated runs only) ----------------
    const T = D.time && docs.period ? D.time : null, P = T ? T.periods.length : 0;
    let tFrom = 0, tTo = Math.max(0, P - 1);
    const timeActive = () => T !== null && (tFrom > 0 || tTo < P - 1);
    // Undated papers have period -1: a narrowed range hides them.
    const inTime = (i) => docs.period[i] >= tFrom && docs.period[i] <= tTo;
    const inRange = (idx) => (timeActive() ? idx.filter(inTime) : idx);

    // ---- map -------------------------------------------------------------------
    const gl = (() => { try { return !!document.createElement("canvas").getContext("webgl"); } catch (e) { return false; } })();
    const kind = gl ? "scattergl" : "scatter"; // SVG fallback where WebGL is off
    const size = N > 5000 ? 3 : N > 1000 ? 5 : 8;
    // ---- thinning: a zoomed-out map of many papers draws a seeded sample of them ----------
    // Each paper draws a fixed uniform number; paper i is drawn when it is below `keep`, chosen
    // so that about D.map_points of the papers in view are drawn. Zooming in raises `keep`, so
    // the sample only grows, up to every paper once few enough are in view.
    const budget = D.map_points || 40000;
    const lot = new Float32Array(N);
    for (let i = 0, a = 0x2545f491; i < N; i++) { // mulberry32, seeded: the same sample every load
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      lot[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    let keep = Math.min(1, budget / Math.max(N, 1));
    const shown = (idx) => { const r = inRange(idx); return keep >= 1 ? r : r.filter((i) => lot[i] < keep); };
    const trace = (idx, name, color, extra) => Object.assign({
      type: kind, mode: "markers", name: esc(name), customdata: idx,
      x: idx.map((i) => docs.x[i]), y: idx.map((i) => docs.y[i]),
      hoverinfo: "none", // the page's own label (#hover, below): no string per point
      marker: { size, color, opacity: 0.8 },
    }, extra || {});
    const baseIdx = topLevel.map((n) => members[n.id]); // papers of each base trace, all times
    const traces = topLevel.map((n, k) => trace(shown(baseIdx[k]), n.label, n.color));
    const outliers = [];
    for (let i = 0; i < N; i++) if (!docPath(i).length) outliers.push(i);
    if (outliers.length) { baseIdx.push(outliers); traces.push(trace(shown(outliers), "unassigned", D.outlier_color)); }
    const nBase = traces.length, HI = nBase, SEL = nBase + 1;
    traces.push(trace([], "highlighted", [], { showlegend: false,
      marker: { size: size + 3, color: [], opacity: 1, line: { color: "#111", width: 1.5 } } }));
    traces.push(trace([], "selected", "#111", { showlegend: false,
      marker: { size: size + 10, color: "rgba(0,0,0,0)", opacity: 1, line: { color: "#d62728", width: 3 } } }));

    const layout = {
      margin: { l: 4, r: 4, t: 4, b: 4 }, hovermode: "closest", dragmode: "pan", uirevision: "map",
      xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
      showlegend: false, // the map's legend is the taxonomy's own (#legend)
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", // the page's theme shows through
    };

    // ---- names on the map: every level, none overlapping another ---------------------------
    // Each node's name is an HTML element over the plot (textContent, so never markup), sized
    // by level; moving them is cheap, where plotly annotations redraw the plot. On every view
    // change they are laid out again, by the rule of layoutNames.
    const NAME_MIN_R = 24; // px: a name below the top level shows once its cluster is this wide
    const NAME_GAP = 2; // px of clear space around every name
    const NAME_SHIFTS = [0, -1, 1, -1.7, 1.7]; // where a name may go: lines above or below its node
    const namesLayer = el("div", null, { id: "names", "aria-hidden": "true" }); // the tree says the same
    document.getElementById("map-wrap").append(namesLayer);
    const named = all.filter((n) => n.level > 0 && n.pos && n.label);
    const nameDiv = {}, nameSize = {};
    for (const n of named) {
      const d = el("div", n.label, { class: "name lvl" + Math.min(n.level, 4), "data-node": n.id, title: withDesc(pathText(n.id), n) });
      d.addEventListener("click", () => selectNode(n.id));
      nameDiv[n.id] = d;
    }
    namesLayer.append(...named.map((n) => nameDiv[n.id]));
    // The wheel over a name still zooms the map.
    namesLayer.addEventListener("wheel", (ev) => {
      const drag = gd.querySelector(".nsewdrag");
      if (drag) { ev.preventDefault(); drag.dispatchEvent(new WheelEvent("wheel", ev)); }
    }, { passive: false });
    let showAll = false, measured = false;
    // Candidates: every top-level name, and a deeper one once its papers spread NAME_MIN_R px
    // from it (the node's `r` is their median distance), so deeper levels appear as you zoom
    // in; with "all topic names", every name. A parent whose papers fill the view gives way to
    // its children. Then, top level first and larger nodes first, each name goes at its node's
    // position, or a line or so above or below it, where its box (measured in the page) stays in
    // the plot and clear of every name already placed; otherwise it is hidden.
    function layoutNames() {
      const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
      if (!xa || !xa.l2p) return;
      if (!measured) {
        named.forEach((n) => { nameDiv[n.id].hidden = false; });
        named.forEach((n) => { nameSize[n.id] = [nameDiv[n.id].offsetWidth, nameDiv[n.id].offsetHeight]; });
        measured = named.every((n) => nameSize[n.id][0] > 0); // not yet, while the map is not displayed
      }
      const X0 = xa._offset, Y0 = ya._offset, X1 = X0 + xa._length, Y1 = Y0 + ya._length;
      const k = Math.abs(xa.l2p(1) - xa.l2p(0)), fills = 0.5 * Math.min(xa._length, ya._length);
      const cands = [];
      for (const n of named) {
        const x = X0 + xa.l2p(n.pos[0]), y = Y0 + ya.l2p(n.pos[1]), r = (n.r || 0) * k;
        if (x < X0 || x > X1 || y < Y0 || y > Y1) continue;
        if (n.level > 1 && !showAll && r < NAME_MIN_R) continue;
        cands.push({ n, x, y, rank: n.children.length && r > fills ? 1 : 0 });
      }
      cands.sort((a, b) => a.rank - b.rank || a.n.level - b.n.level || b.n.size - a.n.size);
      const boxes = [], placed = [];
      if (legend.isConnected) { // names keep clear of the legend too
        const wrap = namesLayer.getBoundingClientRect(), g = legend.getBoundingClientRect();
        if (g.width) boxes.push({ l: g.left - wrap.left, t: g.top - wrap.top, r: g.right - wrap.left, b: g.bottom - wrap.top });
      }
      for (const { n, x, y } of cands) {
        const [w, h] = nameSize[n.id];
        for (const dy of NAME_SHIFTS.map((f) => f * (h + NAME_GAP))) {
          const b = { l: x - w / 2, t: y + dy - h / 2, r: x + w / 2, b: y + dy + h / 2 };
          if (b.l < X0 || b.r > X1 || b.t < Y0 || b.b > Y1) continue;
          if (boxes.some((o) => b.l < o.r + NAME_GAP && o.l < b.r + NAME_GAP && b.t < o.b + NAME_GAP && o.t < b.b + NAME_GAP)) continue;
          boxes.push(b);
          placed.push([n, b]);
          break;
        }
      }
      const keep = new Set(placed.map(([n]) => n.id));
      for (const n of named) if (nameDiv[n.id].hidden === keep.has(n.id)) nameDiv[n.id].hidden = !keep.has(n.id);
      for (const [n, b] of placed) {
        nameDiv[n.id].style.left = b.l.toFixed(1) + "px";
        nameDiv[n.id].style.top = b.t.toFixed(1) + "px";
      }
      api.names = placed.map(([n]) => n.id);
      api.layouts = (api.layouts || 0) + 1; // tests wait on it
    }

    // ---- legend: the top-level colours, each node's children nested under it --------------
    const legend = el("div", null, { id: "legend", role: "group", "aria-label": "Legend" });
    const legendHead = el("button", "Legend", { class: "legend-head", "aria-expanded": "true" });
    const legendBody = el("ul", null, { class: "tree-root" });
    const legendButtons = {};
    topLevel.forEach((n) => legendBody.append(nestedItem(n, legendButtons)));
    legendHead.addEventListener("click", () => {
      legendBody.hidden = !legendBody.hidden;
      legendHead.setAttribute("aria-expanded", String(!legendBody.hidden));
    });
    if (outliers.length) {
      const li = el("li", null, { class: "trow" });
      const sw = el("span", null, { class: "swatch" });
      sw.style.background = D.outlier_color;
      li.append(sw, el("span", "unassigned", { class: "tname hint" }),
        el("span", fmt(outliers.length), { class: "count" }));
      legendBody.append(li);
    }
    legend.append(legendHead, legendBody);
    document.getElementById("map-wrap").append(legend);

    // ---- hover: a paper's title and path by its point, as text ---------------------------------
    // Made when a point is hovered, so no string per point is built or handed to plotly.
    const hoverBox = el("div", null, { id: "hover", role: "tooltip" });
    hoverBox.hidden = true;
    document.getElementById("map-wrap").append(hoverBox);
    function showHover(ev) {
      const pt = ev.points && ev.points[0];
      if (!pt || typeof pt.customdata !== "number") return;
      const i = pt.customdata, xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
      const p = docPath(i);
      hoverBox.replaceChildren(el("div", titleOf(i), { class: "hover-title" }),
        el("div", p.length ? p.map((id) => nodes[id].label).join(" › ") : "unassigned", { class: "hover-path" }));
      hoverBox.hidden = false;
      const x = xa._offset + xa.l2p(docs.x[i]), y = ya._offset + ya.l2p(docs.y[i]);
      const w = gd.clientWidth, right = x + 12 + hoverBox.offsetWidth > w;
      hoverBox.style.left = (right ? Math.max(0, x - 12 - hoverBox.offsetWidth) : x + 12) + "px";
      hoverBox.style.top = Math.max(0, Math.min(y - hoverBox.offsetHeight / 2, gd.clientHeight - hoverBox.offsetHeight)) + "px";
    }

    // ---- theme: light or dark (the system's by default); plotly's own colours follow -------
    const themeBtn = document.getElementById("theme");
    const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    function setTheme(t) {
      document.documentElement.dataset.theme = t;
      themeBtn.textContent = t === "dark" ? "Light theme" : "Dark theme";
      themeBtn.setAttribute("aria-pressed", String(t === "dark"));
      if (!gd._fullLayout || !gd._fullLayout.xaxis) return Promise.resolve();
      return Plotly.relayout(gd, { "modebar.bgcolor": "rgba(0,0,0,0)", "modebar.color": cssVar("--hint"),
        "modebar.activecolor": cssVar("--ink") })
        .then(() => Plotly.restyle(gd, { "marker.line.color": cssVar("--ink") }, [HI]));
    }
    themeBtn.addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));

    mark("prepared");
    Plotly.newPlot(gd, traces, layout, {
      responsive: true, scrollZoom: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"],
    }).then(() => setTheme(document.documentElement.dataset.theme)).then(() => {
      mark("map");
      layoutNames();
      let queued = false; // at most one layout per frame
      const later = () => {
        if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; layoutNames(); }); }
      };
      gd.on("plotly_relayouting", later); // follow a pan or zoom as it happens
      gd.on("plotly_relayout", later);
      gd.on("plotly_relayout", rethin);
      const resized = new ResizeObserver(later);
      resized.observe(gd);
      resized.observe(legend); // opened or closed: names keep clear of it
      gd.on("plotly_hover", showHover);
      gd.on("plotly_unhover", () => { hoverBox.hidden = true; });
      gd.on("plotly_click", (ev) => {
        const pt = ev.points && ev.points[0];
        if (pt && typeof pt.customdata === "number") showDoc(pt.customdata, null);
      });
      document.getElementById("show-names").addEventListener("change", (ev) => {
        showAll = ev.target.checked;
        layoutNames();
      });
      ready();
    }).catch(fail);

    // Each restyle of a WebGL plot redraws it all (~0.2 s at 18k papers): skip the no-ops.
    let dimmed = false, selected = null, wanted = [];
    function highlight(all) {
      wanted = all;
      const dated = inRange(all); // more than `budget` are thinned like the map
      const idx = dated.length <= budget || keep >= 1 ? dated : dated.filter((i) => lot[i] < keep);
      if (!idx.length && !gd.data[HI].x.length) return;
      Plotly.restyle(gd, {
        x: [idx.map((i) => docs.x[i])], y: [idx.map((i) => docs.y[i])], customdata: [idx],
        "marker.color": [idx.map(colorOf)],
      }, [HI]);
      if (dimmed !== idx.length > 0) {
        dimmed = idx.length > 0;
        Plotly.restyle(gd, { "marker.opacity": dimmed ? 0.18 : 0.8 }, [...Array(nBase).keys()]);
      }
    }
    // Draw the papers of periods tFrom..tTo, thinned to `keep` (one restyle of the base traces).
    function redraw() {
      const parts = baseIdx.map(shown);
      const done = Plotly.restyle(gd, {
        x: parts.map((idx) => idx.map((i) => docs.x[i])), y: parts.map((idx) => idx.map((i) => docs.y[i])),
        customdata: parts,
      }, [...Array(nBase).keys()]);
      highlight(wanted);
      return done;
    }
    const applyTime = redraw;
    // After a zoom or pan: draw about `budget` of the papers in view (all once they are fewer).
    // Small changes of `keep` are let be: each redraw of the WebGL plot costs a frame or more.
    function rethin() {
      if (N <= budget) return;
      const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
      const x0 = Math.min(...xr), x1 = Math.max(...xr), y0 = Math.min(...yr), y1 = Math.max(...yr);
      let inView = 0;
      for (let i = 0; i < N; i++) {
        const x = docs.x[i], y = docs.y[i];
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) inView++;
      }
      const want = Math.min(1, budget / Math.max(inView, 1));
      if (want === keep || (want < 1 && keep < 1 && want < keep * 1.5 && want > keep / 1.5)) return;
      keep = want;
      redraw();
    }
    function select(i) {
      if (i === selected) return;
      selected = i;
      const idx = i === null ? [] : [i];
      Plotly.restyle(gd, { x: [idx.map((j) => docs.x[j])], y: [idx.map((j) => docs.y[j])],
        customdata: [idx] }, [SEL]);
    }
    function zoomTo(idx) {
      if (!idx.length) return;
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity; // no spread: 100k args overflow
      for (const i of idx) {
        x0 = Math.min(x0, docs.x[i]); x1 = Math.max(x1, docs.x[i]);
        y0 = Math.min(y0, docs.y[i]); y1 = Math.max(y1, docs.y[i]);
      }
      const pad = Math.max(x1 - x0, y1 - y0, 0.5) * 0.12;
      Plotly.relayout(gd, { "xaxis.range": [x0 - pad, x1 + pad], "yaxis.range": [y0 - pad, y1 + pad] });
    }

    // ---- side panel ------------------------------------------------------------------
    const panel = document.getElementById("panel");
    let lastList = null;
    function paperLink(i, text) {
      const url = safeUrl(urlOf(i));
      return url ? el("a", text, { href: url, target: "_blank", rel: "noopener noreferrer" }) : null;
    }
    // A paper's title (opens it in the panel) and, when it has one, its link.
    function paperItem(i, open) {
      const item = el("span", null, { class: "item" });
      const b = el("button", titleOf(i), { class: "linkish" });
      b.addEventListener("click", open);
      item.append(b);
      const a = paperLink(i, "↗");
      if (a) { a.title = "open the paper"; item.append(a); }
      return item;
    }
    function crumbs(ids) {
      const div = el("div", null, { class: "path" });
      if (!ids.length) { div.textContent = "unassigned (outlier)"; return div; }
      ids.forEach((id, k) => {
        if (k) div.append(" › ");
        const b = el("button", nodes[id].label, { class: "linkish", "data-node": id });
        b.addEventListener("click", () => selectNode(id));
        div.append(b);
      });
      return div;
    }
    function showDoc(i, back) {
      select(i);
      panel.replaceChildren();
      if (back) {
        const b = el("button", "← " + back.heading, { class: "back" });
        b.addEventListener("click", () => showList(back.heading, back.sub, back.idx));
        panel.append(b);
      }
      panel.append(el("h3", titleOf(i), { id: "doc-title", "data-doc": String(i) }));
      panel.append(crumbs(docPath(i)));
      const meta = el("p", null, { class: "meta" });
      meta.append(el("span", docs.id[i], { class: "doc-id" }));
      const a = paperLink(i, /arxiv\.org\/abs\//.test(urlOf(i) || "") ? "arXiv ↗" : "open ↗");
      if (a) { meta.append(" · "); meta.append(a); }
      panel.append(meta);
      const abs = el("p", null, { id: "doc-abstract", class: "abstract" });
      const fill = (chunk) => {
        abs.textContent = !chunk.length
          ? "(abstracts are not included in this report: report.max_abstract_chars = 0)"
          : chunk[i % TX.chunk] || "(no abstract)";
      };
      const k = Math.floor(i / TX.chunk);
      if (chunkText[k]) fill(chunkText[k]);
      else {
        abs.textContent = "Loading abstract…";
        loadChunk(k).then(fill, (err) => { abs.textContent = "The abstract could not be loaded: " + err.message; });
      }
      panel.append(abs);
      const leaf = docPath(i).slice(-1)[0];
      if (leaf) panel.append(el("p", "Topic keywords: " + nodes[leaf].keywords.join(", "), { class: "hint" }));
    }
    const PAGE = 200;
    function showList(heading, sub, idx) {
      lastList = { heading, sub, idx };
      panel.replaceChildren();
      panel.append(el("h3", heading, { id: "list-title" }));
      if (sub) panel.append(el("div", sub, { class: "path" }));
      const bar = el("div", null, { class: "bar" });
      bar.append(el("span", fmt(idx.length) + (idx.length === 1 ? " paper" : " papers"), { id: "list-count", class: "hint" }));
      const zoom = el("button", "Zoom map to these");
      zoom.addEventListener("click", () => zoomTo(idx));
      const clear = el("button", "Clear");
      clear.addEventListener("click", clearAll);
      bar.append(zoom, clear);
      panel.append(bar);
      const ol = el("ol", null, { id: "panel-list" });
      let shown = 0;
      const more = el("button", "", { class: "more" });
      const page = () => {
        for (const i of idx.slice(shown, shown + PAGE)) {
          const li = el("li", null, { "data-doc": String(i) });
          li.append(paperItem(i, () => showDoc(i, lastList)));
          ol.append(li);
        }
        shown = Math.min(idx.length, shown + PAGE);
        more.textContent = `Show more (${fmt(idx.length - shown)} left)`;
        more.hidden = shown >= idx.length;
      };
      more.addEventListener("click", page);
      page();
      panel.append(ol, more);
    }
    function clearAll() {
      highlight([]);
      select(null);
      unselect();
      panel.replaceChildren(el("p", "Click a paper on the map, a topic in the taxonomy, or search.", { class: "hint" }));
      lastList = null;
    }

    // ---- taxonomy tree (left); the map's legend is built the same way -----------------------
    const treeNav = document.getElementById("tree");
    const treeButtons = {};
    // A node's row (caret, swatch, name, size) and its children, closed; `buttons` gets its button.
    function nestedItem(n, buttons) {
      const li = el("li");
      const row = el("div", null, { class: "trow" });
      const kids = n.children.map((id) => nodes[id]).sort((a, b) => b.size - a.size);
      const caret = el("button", kids.length ? "▸" : "", { class: "caret", "aria-label": "expand " + n.label });
      if (!kids.length) caret.disabled = true;
      const btn = el("button", null, { class: "tlabel", "data-node": n.id, title: withDesc(pathText(n.id), n) });
      const sw = el("span", null, { class: "swatch" });
      sw.style.background = n.color;
      btn.append(sw, el("span", n.label, { class: "tname" }), el("span", fmt(n.size), { class: "count" }));
      btn.addEventListener("click", () => selectNode(n.id));
      buttons[n.id] = btn;
      row.append(caret, btn);
      li.append(row);
      if (kids.length) {
        const ul = el("ul");
        ul.hidden = true;
        kids.forEach((k) => ul.append(nestedItem(k, buttons)));
        caret.addEventListener("click", () => {
          ul.hidden = !ul.hidden;
          caret.textContent = ul.hidden ? "▸" : "▾";
        });
        li.append(ul);
      }
      return li;
    }
    const rootBtn = el("button", "All papers", { class: "tlabel root", "data-node": "0.0" });
    rootBtn.append(el("span", fmt(members["0.0"].length), { class: "count" }));
    rootBtn.addEventListener("click", () => selectNode("0.0"));
    treeButtons["0.0"] = rootBtn;
    const rootUl = el("ul", null, { class: "tree-root" });
    topLevel.forEach((n) => rootUl.append(nestedItem(n, treeButtons)));
    treeNav.append(rootBtn, rootUl);

    function reveal(id, buttons) {
      for (const p of pathIds(id).slice(0, -1)) {
        const ul = buttons[p].closest("li").querySelector(":scope > ul");
        if (ul && ul.hidden) { ul.hidden = false; buttons[p].previousSibling.textContent = "▾"; }
      }
      buttons[id].scrollIntoView({ block: "nearest" });
    }
    const unselect = () => document.querySelectorAll("#tree .selected, #legend .selected, #names .selected")
      .forEach((e) => e.classList.remove("selected"));
    function selectNode(id) {
      const n = nodes[id];
      if (!n) return;
      select(null);
      highlight(members[id]);
      unselect();
      treeButtons[id].classList.add("selected");
      if (n.level > 0) {
        reveal(id, treeButtons);
        legendButtons[id].classList.add("selected");
        if (nameDiv[id]) nameDiv[id].classList.add("selected");
      }
      const up = pathIds(id).slice(0, -1).map((p) => nodes[p].label).join(" › ");
      showList(n.level === 0 ? "All papers" : n.label, up, inRange(members[id]));
      if (n.description) document.getElementById("list-title").after(el("p", n.description, { class: "desc" }));
    }

    // ---- abstracts: chunks of TX.chunk papers, inline or in files beside the page --------------
    const TX = D.text;
    const chunkText = [], chunkLoad = [], waiting = {};
    const parsed = () => (document.readyState !== "loading" ? Promise.resolve()
      : new Promise((done) => document.addEventListener("DOMContentLoaded", done, { once: true })));
    // A chunk file calls this with its number and its packed text, nothing else.
    window.__reportText = (k, b64) => {
      const done = waiting[k];
      if (done && typeof b64 === "string") { delete waiting[k]; done(b64); }
    };
    function chunkPacked(k) {
      if (!TX.files) return parsed().then(() => document.getElementById(k ? "text-gz-" + k : "text-gz").textContent);
      return new Promise((done, failed) => {
        waiting[k] = done;
        const s = document.createElement("script");
        s.src = TX.files[k];
        s.onerror = () => failed(new Error(TX.files[k] + " is missing: keep the folder beside the report"));
        document.head.append(s);
      });
    }
    // The abstracts of chunk k (papers k * TX.chunk ...), loaded and inflated once.
    const loadChunk = (k) => chunkLoad[k] || (chunkLoad[k] = chunkPacked(k).then(inflateText).then((s) => {
      chunkText[k] = JSON.parse(s);
      return chunkText[k];
    }));
    let textReady = null;
    const loadText = () => textReady || (textReady = Promise.all(
      Array.from({ length: TX.count }, (_, k) => loadChunk(k))).then(() => {
      api.textReady = true;
      mark("text");
    }));
    const abstractOf = (i) => (chunkText[Math.floor(i / TX.chunk)] || [])[i % TX.chunk] || "";

    // ---- search ------------------------------------------------------------------------------
    // Same rule as the tests: every whitespace-separated term occurs (case-insensitively)
    // in the title or abstract, as a substring (works for scripts without word spaces). A term
    // has no space, so it is in the title or in the abstract. Titles are searched at once;
    // abstracts once they are loaded.
    let titleHay = null, textHay = null;
    function matching(terms, withText) {
      if (!titleHay) titleHay = docs.title.map((t) => t.toLowerCase());
      if (withText && !textHay) textHay = Array.from({ length: N }, (_, i) => abstractOf(i).toLowerCase());
      const idx = [];
      for (let i = 0; i < N; i++) {
        if (terms.every((w) => titleHay[i].includes(w) || (withText && textHay[i].includes(w)))) idx.push(i);
      }
      return idx;
    }
    const box = document.getElementById("search"), count = document.getElementById("search-count");
    let timer = null, seq = 0;
    function showMatches(q, idx, note) {
      select(null);
      highlight(idx);
      unselect();
      const inTimeRange = inRange(idx); // within the time range, when one is set
      count.textContent = fmt(inTimeRange.length) + note;
      showList("Search: " + q, null, inTimeRange);
    }
    async function runSearch() {
      const q = box.value, mine = ++seq;
      const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
      if (!terms.length) { count.textContent = ""; clearAll(); return; }
      if (!api.textReady) {
        showMatches(q, matching(terms, false), " in titles · searching abstracts once loaded…");
        try { await loadText(); } catch (err) { count.textContent += " (" + err.message + ")"; return; }
        if (mine !== seq) return;
      }
      showMatches(q, matching(terms, true), " matching");
    }
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 150); });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { box.value = ""; count.textContent = ""; clearAll(); }
    });

    // ---- sparklines and growth ----------------------------------------------------------------
    const SVG = "http://www.w3.org/2000/svg";
    const svgEl = (tag, attrs) => {
      const e = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      return e;
    };
    const pct = (x) => (100 * x).toFixed(x < 0.001 ? 2 : 1) + " %";
    // A node's share of each period's papers; the recent periods are shaded.
    function spark(id, w = 96, h = 22) {
      const c = T.counts[id];
      if (!c) return el("span", "–");
      const share = c.map((v, p) => (T.totals[p] ? v / T.totals[p] : 0));
      const top = share.reduce((a, b) => Math.max(a, b), 0) || 1;
      const X = (p) => (P > 1 ? 1 + (p * (w - 2)) / (P - 1) : w / 2), Y = (v) => h - 1 - (v / top) * (h - 3);
      const svg = svgEl("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img", "data-node": id });
      const k = T.recent_periods || 0;
      if (k && P > 1) svg.append(svgEl("rect", { x: X(P - k) - 0.5 * (w - 2) / (P - 1), y: 0, width: w - X(P - k) + 0.5 * (w - 2) / (P - 1), height: h }));
      svg.append(svgEl("polyline", { points: share.map((v, p) => X(p).toFixed(1) + "," + Y(v).toFixed(1)).join(" ") }));
      svg.append(svgEl("circle", { cx: X(P - 1), cy: Y(share[P - 1]), r: 1.8 }));
      const first = share.findIndex((v, p) => T.totals[p] > 0);
      const t = svgEl("title", {});
      t.textContent = `${T.periods[0]} – ${T.periods[P - 1]}: share ${pct(share[Math.max(first, 0)])} → ${pct(share[P - 1])}; ` +
        `papers per ${T.bin}: ` + c.join(" ");
      svg.append(t);
      svg.setAttribute("aria-label", t.textContent);
      return svg;
    }
    const ratio = (x) => "×" + (2 ** x).toFixed(2 ** x >= 10 ? 0 : 1);
    const growthText = (g) => `${ratio(g[0])} (${ratio(g[1])}–${ratio(g[2])})`;
    const trendClass = (g) => (g[1] > 0 ? "up" : g[2] < 0 ? "down" : "");

    // ---- topic table -------------------------------------------------------------------------
    const tbody = document.querySelector("#topics tbody");
    const rows = [];
    const dfs = (n) => { if (n.level > 0) rows.push(n); n.children.map((id) => nodes[id]).sort((a, b) => b.size - a.size).forEach(dfs); };
    dfs(nodes["0.0"]);
    const toMap = () => document.querySelector("main").scrollIntoView({ behavior: "instant", block: "start" });
    if (T) {
      const head = document.querySelector("#topics thead tr");
      head.append(el("th", "Over time", { title: "share of each period's papers" }),
        el("th", "Growth", { "data-sort": "growth", title: "recent share / earlier share, with its 90 % interval" }));
    }
    rows.forEach((n, order) => {
      const tr = el("tr", null, { "data-node": n.id });
      const g = T ? T.growth[n.id] : null;
      tr._key = { order, level: n.level, size: -n.size, coherence: n.coherence === null ? Infinity : -n.coherence,
        growth: g ? -g[1] : Infinity };
      const name = el("td", null, { class: "tname lvl" + Math.min(n.level, 4) });
      const sw = el("span", null, { class: "swatch" });
      sw.style.background = n.color;
      const b = el("button", n.label, { class: "linkish", title: withDesc(pathText(n.id), n) });
      b.addEventListener("click", () => { selectNode(n.id); toMap(); });
      name.append(sw, b);
      if (n.description) name.append(el("div", n.description, { class: "desc" }));
      const reps = el("td");
      n.rep.forEach((i) => {
        reps.append(paperItem(i, () => { showDoc(i, null); toMap(); }));
      });
      tr.append(name, el("td", n.level), el("td", fmt(n.size)), el("td", n.keywords.join(", ")), reps,
        el("td", typeof n.coherence === "number" ? n.coherence.toFixed(3) : "–"));
      if (T) {
        const sp = el("td", null, { class: "spark-cell" });
        sp.append(spark(n.id));
        tr.append(sp, el("td", g ? growthText(g) : "–", { class: g ? trendClass(g) : "" }));
      }
      tbody.append(tr);
    });
    let sortKey = "order", sortDir = 1;
    document.querySelectorAll("#topics th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      const k = th.dataset.sort;
      sortDir = k === sortKey ? -sortDir : 1;
      sortKey = k;
      const trs = Array.from(tbody.children);
      trs.sort((a, b) => sortDir * (a._key[k] - b._key[k]) || a._key.order - b._key.order);
      tbody.append(...trs);
    }));

    // ---- run panel -----------------------------------------------------------------------------
    const table = (pairs) => {
      const t = el("table", null, { class: "kv" });
      pairs.forEach(([k, v]) => {
        const tr = el("tr");
        tr.append(el("th", k), el("td", Array.isArray(v) ? v.join(", ") : v === null ? "–" : typeof v === "number" ? fmt(v) : v));
        t.append(tr);
      });
      return t;
    };
    const flat = (obj, prefix) => Object.entries(obj || {}).flatMap(([k, v]) =>
      v && typeof v === "object" && !Array.isArray(v) ? flat(v, prefix + k + ".") : [[prefix + k, v]]);
    const M = D.metrics || {};
    const skip = new Set(["npmi_per_node", "seconds", "versions", "gold_scores", "seed_topics", "labels", "rising", "fading"]);
    document.getElementById("run-metrics").append(
      table(flat(Object.fromEntries(Object.entries(M).filter(([k]) => !skip.has(k))), "")
        .filter(([k]) => !k.startsWith("labels.per_node."))));  // per node: in metrics.json
    const secs = Object.entries(M.seconds || {});
    const total = secs.reduce((s, [, v]) => s + (typeof v === "number" ? v : 0), 0);
    document.getElementById("run-seconds").append(table(secs.concat([["total", Math.round(total * 1000) / 1000]])));
    document.getElementById("run-versions").append(table(Object.entries(M.versions || {})));
    // Agreement with gold labels: one row per (taxonomy level, gold field).
    const goldRows = Array.isArray(M.gold_scores) ? M.gold_scores : [];
    if (goldRows.length) {
      const cols = Object.keys(goldRows[0]);
      const t = el("table");
      const head = el("tr");
      cols.forEach((c) => head.append(el("th", c)));
      t.append(head);
      goldRows.forEach((r) => {
        const tr = el("tr");
        cols.forEach((c) => tr.append(el("td", typeof r[c] === "number" ? fmt(r[c]) : String(r[c]))));
        t.append(tr);
      });
      const box = document.getElementById("run-gold");
      box.hidden = false;
      box.append(el("h3", "Agreement with gold labels (all papers / covered papers)"), t);
    }
    // Seed topics asked for (taxonomy.seed_topics): size, and which formed no node.
    const seeds = Array.isArray(M.seed_topics) ? M.seed_topics : [];
    if (seeds.length) {
      const rows = seeds.flatMap((s) => [[s.name, s], ...(s.children || []).map((c) => ["  " + c.name, c])]);
      const t = el("table", null, { class: "kv" });
      rows.forEach(([name, s]) => {
        const tr = el("tr");
        tr.append(el("th", name), el("td", s.formed ? fmt(s.papers) + " papers" : "no node: " + (s.note || "too few papers")));
        t.append(tr);
      });
      const box = el("div", null, { id: "run-seeds" });
      box.append(el("h3", "Seed topics"), t);
      document.querySelector("#run .run-grid").append(box);
    }
    document.getElementById("run-config").textContent = JSON.stringify(D.config, null, 2);

    // ---- rising and fading (leaf topics; metrics.json "rising"/"fading") -----------------------
    const nodeButton = (id, label) => {
      if (!nodes[id]) return el("span", label);
      const b = el("button", nodes[id].label, { class: "linkish", "data-node": id, title: pathText(id) });
      b.addEventListener("click", () => { selectNode(id); toMap(); });
      return b;
    };
    if (T && P > 1) {
      const k = T.recent_periods, unit = T.bin + (k > 1 ? "s" : "");
      document.getElementById("trends").hidden = false;
      document.getElementById("trends-rule").textContent =
        `A topic's share of the papers in the last ${k} ${unit} (${T.periods[P - k]} – ${T.periods[P - 1]}) ` +
        `against its share before; ×2 = doubled. Listed only when the whole 90 % interval is above ×1 ` +
        `(rising) or below it (fading), surest first, so a topic of a few papers cannot top the list.`;
      for (const [key, list] of [["rising", M.rising], ["fading", M.fading]]) {
        const ol = document.getElementById(key);
        if (!Array.isArray(list) || !list.length) { ol.append(el("li", "none for sure", { class: "hint" })); continue; }
        for (const r of list) {
          const li = el("li", null, { "data-node": r.node_id });
          const row = el("span", null, { class: "item" });
          const g = T.growth[r.node_id] || [r.growth, r.low, r.high];
          row.append(spark(r.node_id), nodeButton(r.node_id, r.label),
            el("span", growthText(g), { class: trendClass(g) }),
            el("span", `${fmt(r.recent)} recent / ${fmt(r.earlier)} before`, { class: "hint" }));
          li.append(row);
          ol.append(li);
        }
      }
    }

    // ---- what changed (changes.json of an update or a refit with --previous) --------------------
    const C = D.changes;
    if (C) {
      const box = document.getElementById("changes-body");
      document.getElementById("changes").hidden = false;
      box.append(el("p", C.summary || "", { id: "changes-summary" }));
      const lists = [
        ["new_topics", "New topics", (r) => [nodeButton(r.node_id, r.label), el("span", ` under ${r.parent_label || "–"} · ${fmt(r.size)} papers`, { class: "hint" })]],
        ["grew", "Grew", (r) => [nodeButton(r.node_id, r.label), el("span", ` +${fmt(r.added)} papers (${fmt(r.before)} before) · share ${ratio(r.growth)}`, { class: "up" })]],
        ["shrank", "Shrank (share)", (r) => [nodeButton(r.node_id, r.label), el("span", ` +${fmt(r.added)} papers (${fmt(r.before)} before) · share ${ratio(r.growth)}`, { class: "down" })]],
        ["merges", "Merged", (r) => [el("span", r.from.map((f) => f.label).join(" + ") + " → "), nodeButton(r.node_id, r.label)]],
        ["splits", "Split", (r) => [el("span", r.old_label + " → "), ...r.into.flatMap((f, j) => (j ? [el("span", " + "), nodeButton(f.node_id, f.label)] : [nodeButton(f.node_id, f.label)]))]],
        ["vanished_topics", "Vanished", (r) => [el("span", `${r.label} (${r.old_node_id}, ${fmt(r.size)} papers)`)]],
        ["renamed", "Renamed", (r) => [el("span", r.old_label + " → "), nodeButton(r.node_id, r.label)]],
      ];
      for (const [key, title, render] of lists) {
        const list = C[key];
        if (!Array.isArray(list) || !list.length) continue;
        box.append(el("h3", `${title} (${list.length})`));
        const ol = el("ol", null, { id: "changes-" + key });
        for (const r of list) {
          const li = el("li", null, r.node_id ? { "data-node": r.node_id } : {});
          li.append(...render(r));
          ol.append(li);
        }
        box.append(ol);
      }
    }

    // ---- time filter -----------------------------------------------------------------------------
    const from = document.getElementById("time-from"), to = document.getElementById("time-to");
    const timeLabel = () => {
      let n = 0;
      for (let i = 0; i < N; i++) if (!timeActive() || inTime(i)) n++;
      document.getElementById("time-label").textContent = `${T.periods[tFrom]} – ${T.periods[tTo]} · ${fmt(n)} papers`;
    };
    function setTimeRange(a, b) {
      tFrom = Math.max(0, Math.min(a, b, P - 1));
      tTo = Math.min(P - 1, Math.max(a, b, 0));
      from.value = String(tFrom);
      to.value = String(tTo);
      timeLabel();
      return applyTime();
    }
    if (T && P > 0) {
      from.max = to.max = String(P - 1);
      to.value = String(P - 1);
      document.getElementById("timebar").hidden = false;
      timeLabel();
      let tt = null;
      const onInput = (ev) => {
        let a = +from.value, b = +to.value;
        if (a > b) { if (ev.target === from) b = a; else a = b; }
        tFrom = a; tTo = b; from.value = String(a); to.value = String(b);
        timeLabel();
        clearTimeout(tt);
        tt = setTimeout(applyTime, 120);
      };
      from.addEventListener("input", onInput);
      to.addEventListener("input", onInput);
    }

    function ready() {
      status.hidden = true;
      mark("ready");
      if (!TX.files) setTimeout(() => loadText().catch(fail), 0); // inline: inflate them now
      Object.assign(api, {
        ready: true, nPoints: N, webgl: gl, selectNode, showDoc, highlight, clearAll, zoomTo,
        search: (q) => { box.value = q; return runSearch(); },
        highlighted: () => gd.data[HI].customdata.slice(),
        mapPoints: () => gd.data.slice(0, nBase).reduce((s, t) => s + t.x.length, 0),
        chunksLoaded: () => chunkText.filter(Boolean).length,
        listed: () => (lastList ? lastList.idx.slice() : []),
        mapIds: () => gd.data.slice(0, nBase).flatMap((t) => Array.from(t.customdata)),
        members: (id) => members[id].slice(),
        node: (id) => nodes[id],
        setTimeRange: (a, b) => (T ? setTimeRange(a, b) : Promise.resolve()),
        timeRange: () => (T ? [T.periods[tFrom], T.periods[tTo]] : null),
      });
    }
  }
})();
