"""The tables of a run: documents.csv rows, topics.csv rows, the taxonomy as a nested dict."""

from __future__ import annotations

import numpy as np

from ..hierarchy import Taxonomy

DOCUMENT_COLUMNS = [
    "doc_id",
    "title",
    "topic_id",
    "topic_label",
    "path",
    "probability",
    "placement",
    "x",
    "y",
]
TOPIC_COLUMNS = ["node_id", "parent_id", "level", "label", "size", "keywords", "term_id"]

# --- what a run writes ---------------------------------------------------------


def leaf_paths(tax: Taxonomy) -> dict[int, list[str]]:
    """``topic_id -> [label of level 1, ..., leaf label]``."""
    return {
        leaf.index: [n.label for n in tax.path(leaf.node_id)] for leaf in tax.level(tax.n_levels)
    }


def tree_leaf_paths(tree: dict) -> dict[int, list[str]]:
    """:func:`leaf_paths` of a written run, from its ``taxonomy.json``."""
    out: dict[int, list[str]] = {}

    def walk(node: dict, trail: list[str]) -> None:
        here = trail + [node["label"]] if node.get("level", 0) > 0 else trail
        if "topic_id" in node:
            out[int(node["topic_id"])] = here
        for child in node.get("children", []):
            walk(child, here)

    walk(tree["root"], [])
    return out


def document_rows(
    ids: list[str],
    titles: list[str],
    topic_ids: np.ndarray,
    probabilities: np.ndarray,
    placement: list[str],
    xy: np.ndarray,
    paths: dict[int, list[str]],
) -> list[list[object]]:
    """Rows in ``DOCUMENT_COLUMNS``; ``paths`` maps a topic id to its labels, top level first."""
    rows = []
    for i, doc_id in enumerate(ids):
        t = int(topic_ids[i])
        labels = paths.get(t, [])
        rows.append(
            [
                doc_id,
                titles[i],
                t,
                labels[-1] if labels else "",
                " > ".join(labels),
                round(float(probabilities[i]), 4),
                placement[i],
                round(float(xy[i, 0]), 4),
                round(float(xy[i, 1]), 4),
            ]
        )
    return rows


def topics_rows(tax: Taxonomy) -> list[list[object]]:
    return [
        [
            n.node_id,
            n.parent_id or "",
            n.level,
            n.label,
            n.size,
            "; ".join(n.keywords),
            n.term_id or "",
        ]
        for n in sorted(tax.nodes.values(), key=lambda n: (n.level, n.index))
    ]


def tree_dict(name: str, tax: Taxonomy, ids: list[str], n_outliers: int) -> dict:
    """The taxonomy as nested mappings (``taxonomy.yaml`` / ``taxonomy.json``)."""

    def node(nid: str) -> dict:
        n = tax.nodes[nid]
        out = {
            "node_id": n.node_id,
            "level": n.level,
            "label": n.label,
            "description": n.description,
            "size": n.size,
            "keywords": list(n.keywords),
            "top_words": list(n.top_words),
            "representative": [ids[i] for i in n.representative],
        }
        if n.term_id:  # named by a vocabulary term (naming/vocabulary.py)
            out.update(namer=n.namer, term_id=n.term_id)
        if n.level == tax.n_levels:
            out["topic_id"] = n.index
        if n.children:
            out["children"] = [node(c) for c in n.children]
        return out

    return {
        "name": name,
        "n_docs": len(ids),
        "n_levels": tax.n_levels,
        "n_outliers": int(n_outliers),
        "root": node("0.0"),
    }
