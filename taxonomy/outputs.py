"""Run directory output: CSV, YAML, JSON and the report, written all-or-nothing.

Everything is written to a hidden staging folder beside the target and moved
into place at the end, so a failed or killed run never leaves a half-written
run directory. An existing run is replaced only when asked (``--overwrite``),
and then by two renames with the old run kept until the new one is in place.
Only a directory that a run wrote (it holds ``metrics.json``) or an empty one is
ever replaced, so a mistaken ``--out`` cannot delete other files. Staging
folders of killed runs are removed by the next run once their process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import OutputError
from .hierarchy import Taxonomy

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
# Every run directory has this file; it is how a directory is recognised as a run.
RUN_MARKER = "metrics.json"
_STAGING = re.compile(r"^\..+\.staging-(\d+)-[^/]*$")


def check_target(target: Path, overwrite: bool, marker: str = RUN_MARKER) -> None:
    """Fail early (before any work) when ``target`` exists and may not be replaced.

    Only a folder holding ``marker`` (a file every folder of that kind has) or an
    empty one is ever replaced.
    """
    target = Path(target)
    if not target.name or target.name in (".", ".."):
        raise OutputError(f"{target}: expected a run directory path that ends in a name")
    if target.parent.is_dir():
        recover_interrupted_swap(target)
        remove_stale_staging(target.parent)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory")
    if target.exists() and not overwrite:
        raise OutputError(
            f"{target}: a run directory already exists; pass --overwrite to replace it "
            "or --out to write elsewhere"
        )
    if target.exists():
        _check_replaceable(target, marker)
    parent = _existing_parent(target)
    if not parent.is_dir():
        raise OutputError(f"{target}: {parent} is a file, expected a directory")
    try:  # a real probe: os.access says yes to root even on read-only mounts
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=parent))
    except OSError as err:
        raise OutputError(f"{target}: cannot write in {parent} ({err.strerror})") from None


def _check_replaceable(target: Path, marker: str) -> None:
    """Refuse to replace anything but a previous run (or an empty directory)."""
    here = Path.cwd().resolve()
    real = target.resolve()
    if real == here or real in here.parents:
        raise OutputError(
            f"{target}: is the current directory or contains it; refusing to replace it"
        )
    if not (target / marker).is_file() and any(target.iterdir()):
        kind = "a run directory" if marker == RUN_MARKER else "a folder this command wrote"
        raise OutputError(
            f"{target}: exists and is not {kind} (no {marker}); refusing to replace it "
            "even with --overwrite; choose another --out"
        )


def remove_stale_staging(parent: Path) -> list[Path]:
    """Delete staging folders left in ``parent`` by runs whose process no longer exists."""
    removed = []
    for p in parent.glob(".*.staging-*"):
        m = _STAGING.match(p.name)
        if m and p.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OverflowError:
        return False
    return True


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


def write_run_dir(
    target: Path,
    files: dict[str, str | bytes | Callable[[Path], None]],
    overwrite: bool,
    marker: str = RUN_MARKER,
) -> Path:
    """Write ``files`` (name -> content, or a writer taking the path) as one run directory."""
    target = Path(target)
    check_target(target, overwrite, marker)
    try:
        _write_staged(target, files)
    except OSError as err:  # disk full, permissions changed, ... during the write
        raise OutputError(f"{target}: could not write the run directory: {err}") from None
    return target


def _write_staged(target: Path, files: dict[str, str | bytes | Callable[[Path], None]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets a later run tell a dead run's leftovers from a live run's work.
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.staging-{os.getpid()}-", dir=target.parent)
    )
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
        if n.term_id:  # named by a vocabulary term (vocabulary.py)
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
