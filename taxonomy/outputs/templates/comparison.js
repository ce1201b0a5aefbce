// Sorting for the points table and one small plot per (metric, swept setting).
(function () {
  "use strict";

  // --- sortable table: numbers compare as numbers, empty cells last ---
  const table = document.getElementById("points");
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, col) => {
    th.addEventListener("click", () => {
      const asc = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const key = (tr) => {
        const cell = tr.cells[col];
        const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
        const num = raw === "" ? NaN : Number(raw);
        return { raw, num };
      };
      rows.sort((a, b) => {
        const ka = key(a), kb = key(b);
        const aNum = !Number.isNaN(ka.num), bNum = !Number.isNaN(kb.num);
        if (ka.raw === "" || kb.raw === "") return (ka.raw === "") - (kb.raw === "");
        const cmp = aNum && bNum ? ka.num - kb.num : ka.raw.localeCompare(kb.raw);
        return asc ? cmp : -cmp;
      });
      rows.forEach((tr) => body.appendChild(tr));
    });
  });

  // --- plots: figures are built in Python (plotly), drawn here ---
  const figures = JSON.parse(document.getElementById("figures").textContent);
  const holder = document.getElementById("plots");
  const style = {
    paper_bgcolor: "#fff", plot_bgcolor: "#fff", font: { family: "system-ui, sans-serif", size: 11 },
    colorway: ["#1f5fbf", "#d1495b", "#2a9d8f", "#8e6cc2", "#e07a1f", "#5b6575"],
  };
  const axis = { gridcolor: "#eceff3", zerolinecolor: "#d7dce2", linecolor: "#aab2bd", automargin: true };
  function draw(f) {
    const div = document.createElement("div");
    div.className = "plot";
    div.dataset.metric = f.metric;
    div.dataset.param = f.param;
    holder.appendChild(div);
    const layout = Object.assign({}, style, f.layout);
    layout.xaxis = Object.assign({}, axis, f.layout.xaxis || {});
    layout.yaxis = Object.assign({}, axis, f.layout.yaxis || {});
    Plotly.newPlot(div, f.data, layout, { responsive: true, displayModeBar: false });
    return div;
  }
  // Headline metrics first; the rest are drawn once, when asked for, then shown or hidden.
  figures.filter((f) => f.main).forEach(draw);
  let extra = null;
  document.getElementById("all-metrics").addEventListener("change", (ev) => {
    document.body.classList.toggle("all-metrics", ev.target.checked);
    if (ev.target.checked && extra === null) extra = figures.filter((f) => !f.main).map(draw);
    (extra || []).forEach((div) => { div.style.display = ev.target.checked ? "" : "none"; });
  });
  if (!figures.length) {
    holder.textContent = "No metric varies across the points.";
  }
})();
