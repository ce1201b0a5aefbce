"""The self-contained interactive HTML report of a run.

The page is a Jinja2 template (autoescaped) with its CSS and JS kept as real
files and inlined at render time, plus plotly.js, so it works offline from one
file. Corpus text travels only inside a JSON block escaped for ``<script>``
and is put into the page with ``textContent``, never as HTML.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("taxonomy", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )


def script_json(data: object) -> str:
    """JSON safe to place inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become unicode escapes so no corpus text can close
    the script element or open a comment; U+2028/2029 are escaped for old parsers.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _static(name: str) -> str:
    return (resources.files("taxonomy") / "templates" / name).read_text(encoding="utf-8")


def report_data(result, tree: dict, metrics: dict) -> dict:
    """Everything the page's script needs, as plain JSON-able data."""
    c, tax = result.corpus, result.taxonomy
    limit = result.cfg.report.max_abstract_chars
    leaf_level = tax.n_levels
    leaf_path = {leaf.index: [n.node_id for n in tax.path(leaf.node_id)] for leaf in tax.level(leaf_level)}
    nodes = {
        n.node_id: {
            "id": n.node_id, "parent": n.parent_id, "level": n.level, "label": n.label,
            "size": n.size, "keywords": n.keywords, "rep": n.representative,
            "children": n.children, "coherence": metrics.get("npmi_per_node", {}).get(n.node_id),
        }
        for n in tax.nodes.values()
    }
    topic = result.topic_ids.astype(int).tolist()
    return {
        "title": result.cfg.report.title or f"Taxonomy of {result.cfg.name}",
        "n_levels": tax.n_levels,
        "docs": {
            "id": list(c.ids),
            "title": list(c.titles),
            "abstract": [a if len(a) <= limit else a[:limit].rstrip() + "…" for a in c.abstracts],
            "url": list(c.urls),
            "x": np.round(result.xy[:, 0], 3).tolist(),
            "y": np.round(result.xy[:, 1], 3).tolist(),
            "topic": topic,
            "path": [leaf_path.get(t, []) for t in topic],
            "prob": np.round(result.probabilities, 3).tolist(),
        },
        "nodes": nodes,
        "metrics": metrics,
        "config": result.cfg.model_dump(mode="json"),
    }


def render_report(result, tree: dict, metrics: dict) -> str:
    import plotly.offline

    data = report_data(result, tree, metrics)
    return _env().get_template("report.html.j2").render(
        title=data["title"],
        data_json=script_json(data),
        plotly_js=plotly.offline.get_plotlyjs(),
        report_js=_static("report.js"),
        report_css=_static("report.css"),
    )
