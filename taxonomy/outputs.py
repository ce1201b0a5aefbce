"""Run directory output: CSV, YAML, JSON and the report, written all-or-nothing.

Everything is written to a hidden staging folder beside the target and moved
into place at the end, so a failed or killed run never leaves a half-written
run directory. An existing run is replaced only when asked (``--overwrite``),
and then by two renames with the old run kept until the new one is in place.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from .errors import OutputError

DOCUMENT_COLUMNS = ["doc_id", "title", "topic_id", "topic_label", "path", "probability", "x", "y"]
TOPIC_COLUMNS = ["node_id", "parent_id", "level", "label", "size", "keywords"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Keep spreadsheet apps from reading corpus text as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(columns: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def yaml_text(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def json_text(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def check_target(target: Path, overwrite: bool) -> None:
    """Fail early (before any work) when ``target`` exists and may not be replaced."""
    recover_interrupted_swap(target)
    if target.exists() and not overwrite:
        raise OutputError(
            f"{target}: a run directory already exists; pass --overwrite to replace it "
            "or --out to write elsewhere"
        )
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory")
    parent = _existing_parent(target)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{target}: cannot write in {parent} (permission denied)")


def _existing_parent(path: Path) -> Path:
    p = path.absolute().parent
    while not p.exists():
        p = p.parent
    return p


def _backup_name(target: Path) -> Path:
    return target.parent / f".{target.name}.previous"


def recover_interrupted_swap(target: Path) -> None:
    """If a replace was killed between its two renames, put the previous run back."""
    backup = _backup_name(target)
    if backup.exists() and not target.exists():
        os.replace(backup, target)
    elif backup.exists():
        shutil.rmtree(backup, ignore_errors=True)


def write_run_dir(target: Path, files: dict[str, str | bytes | Callable[[Path], None]], overwrite: bool) -> Path:
    """Write ``files`` (name -> content, or a writer taking the path) as one run directory."""
    check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        os.chmod(staging, 0o755)
        _swap_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    backup = _backup_name(target)
    shutil.rmtree(backup, ignore_errors=True)
    os.replace(target, backup)
    os.replace(staging, target)
    shutil.rmtree(backup, ignore_errors=True)


# --- what a run writes ---------------------------------------------------------


def documents_rows(result) -> list[list[object]]:
    tax, c = result.taxonomy, result.corpus
    paths = {leaf.index: tax.path(leaf.node_id) for leaf in tax.level(tax.n_levels)}
    rows = []
    for i, doc_id in enumerate(c.ids):
        t = int(result.topic_ids[i])
        nodes = paths.get(t, [])
        rows.append([
            doc_id, c.titles[i], t, nodes[-1].label if nodes else "",
            " > ".join(n.label for n in nodes), round(float(result.probabilities[i]), 4),
            round(float(result.xy[i, 0]), 4), round(float(result.xy[i, 1]), 4),
        ])
    return rows


def topics_rows(result) -> list[list[object]]:
    return [
        [n.node_id, n.parent_id or "", n.level, n.label, n.size, "; ".join(n.keywords)]
        for n in sorted(result.taxonomy.nodes.values(), key=lambda n: (n.level, n.index))
    ]


def tree_dict(result) -> dict:
    tax, ids = result.taxonomy, result.corpus.ids

    def node(nid: str) -> dict:
        n = tax.nodes[nid]
        out = {
            "node_id": n.node_id, "level": n.level, "label": n.label, "size": n.size,
            "keywords": list(n.keywords), "top_words": list(n.top_words),
            "representative": [ids[i] for i in n.representative],
        }
        if n.level == tax.n_levels:
            out["topic_id"] = n.index
        if n.children:
            out["children"] = [node(c) for c in n.children]
        return out

    return {
        "name": result.cfg.name,
        "n_docs": len(ids),
        "n_levels": tax.n_levels,
        "n_outliers": int((result.topic_ids == -1).sum()),
        "root": node("0.0"),
    }


def run_files(result) -> dict[str, str | Callable[[Path], None]]:
    from .config import dump_config
    from .report import render_report

    metrics = dict(result.metrics, seconds=result.seconds)
    tree = tree_dict(result)
    return {
        "documents.csv": csv_text(DOCUMENT_COLUMNS, documents_rows(result)),
        "topics.csv": csv_text(TOPIC_COLUMNS, topics_rows(result)),
        "taxonomy.yaml": yaml_text(tree),
        "taxonomy.json": json_text(tree),
        "metrics.json": json_text(metrics),
        "config.yaml": dump_config(result.cfg),
        "report.html": render_report(result, tree, metrics),
    }
