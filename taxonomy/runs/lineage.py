"""Stable ids across refits: ``taxonomy run … --previous RUN_DIR``.

The new tree's nodes are matched to the previous run's, level by level from the
leaves up (leaves with leaves, their parents with parents, …), by the Hungarian
method (``scipy.optimize.linear_sum_assignment``) on a similarity of each pair:

    score = s · Jaccard(papers in common) + (1 − s) · max(0, cosine of centroids)

where ``s`` is the share of the new run's papers that the previous run also had
(papers are recognised by their text, title + abstract). Two refits of one
corpus compare by papers alone; a run on wholly new papers by centroids alone.
A pair is matched when its score is at least ``s · MIN_JACCARD + (1 − s) ·
MIN_COSINE``. A matched node takes the previous node's id and, unless its content
moved (score below ``KEEP_NAME``), its name; every other node gets an id never
used at its level before. Beyond the one-to-one matching, papers in common show

- a **split**: two or more new nodes each take at least ``PART`` of a previous
  node's papers and get most of theirs from it;
- a **merge**: two or more previous nodes each send most of their papers to one
  new node and each make at least ``PART`` of it;
- **new** and **vanished** topics: nodes left unmatched and in no split or merge.

Everything goes to ``changes.json`` and the report's "What changed" section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..hierarchy import Node, Taxonomy
from ..util.arrays import group_means, unit_rows

if TYPE_CHECKING:
    from .rundir import SavedRun

MIN_JACCARD = 0.2
MIN_COSINE = 0.8
KEEP_NAME = 0.5
PART = 0.2


@dataclass
class LevelMatch:
    """Matching of one level: new node id -> previous node id, with scores."""

    new_level: int
    old_level: int
    pairs: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    splits: list[dict] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)


def centroids(X: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Unit-length mean row of each group (float64; zeros for an empty group)."""
    return unit_rows(group_means(X, groups), dtype=np.float64)


def level_scores(
    old_of: np.ndarray,
    new_of: np.ndarray,
    n_old: int,
    n_new: int,
    old_C: np.ndarray,
    new_C: np.ndarray,
    shared: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Score matrix (previous × new nodes) and the contingency of papers in common.

    ``old_of``/``new_of``: for each paper in common, its node index (position in
    the level's node list) in each run, -1 for none.
    """
    M = np.zeros((n_old, n_new), dtype=np.float64)
    both = (old_of >= 0) & (new_of >= 0)
    np.add.at(M, (old_of[both], new_of[both]), 1.0)
    a = np.bincount(old_of[old_of >= 0], minlength=n_old).astype(np.float64)
    b = np.bincount(new_of[new_of >= 0], minlength=n_new).astype(np.float64)
    union = a[:, None] + b[None, :] - M
    jac = np.divide(M, union, out=np.zeros_like(M), where=union > 0)
    cos = np.clip(old_C @ new_C.T, 0.0, 1.0)
    return shared * jac + (1 - shared) * cos, M


def match_level(score: np.ndarray, shared: float) -> list[tuple[int, int]]:
    """One-to-one pairs (previous, new) of the best total score, each at least the bar."""
    from scipy.optimize import linear_sum_assignment

    if not score.size:
        return []
    bar = shared * MIN_JACCARD + (1 - shared) * MIN_COSINE
    rows, cols = linear_sum_assignment(-score)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if score[r, c] >= bar]


def splits_and_merges(
    M: np.ndarray,
) -> tuple[list[tuple[int, list[int]]], list[tuple[list[int], int]]]:
    """From papers in common: (previous node, [new nodes]) splits and ([previous], new) merges."""
    a = M.sum(axis=1, keepdims=True)
    b = M.sum(axis=0, keepdims=True)
    of_old = np.divide(M, a, out=np.zeros_like(M), where=a > 0)  # share of the old node's papers
    of_new = np.divide(M, b, out=np.zeros_like(M), where=b > 0)  # share of the new node's papers
    splits = []
    for i in range(M.shape[0]):
        parts = [int(j) for j in np.flatnonzero((of_old[i] >= PART) & (of_new[i] > 0.5))]
        if len(parts) >= 2:
            splits.append((i, parts))
    merges = []
    for j in range(M.shape[1]):
        parts = [int(i) for i in np.flatnonzero((of_new[:, j] >= PART) & (of_old[:, j] > 0.5))]
        if len(parts) >= 2:
            merges.append((parts, j))
    return splits, merges


def paper_nodes(tax: Taxonomy, level: int, n: int) -> tuple[list[Node], np.ndarray]:
    """Nodes of a level (in order) and each paper's position among them (-1 = in none)."""
    nodes = tax.level(level)
    of = np.full(n, -1, dtype=np.int64)
    for k, node in enumerate(nodes):
        of[node.doc_idx] = k
    return nodes, of


def match_trees(
    old: Taxonomy,
    old_keys: list[str],
    old_X: np.ndarray,
    new: Taxonomy,
    new_keys: list[str],
    new_X: np.ndarray,
) -> tuple[list[LevelMatch], float]:
    """Match ``new``'s nodes to ``old``'s, level by level from the leaves up.

    Returns the matches per level (leaves first) and ``s``, the share of the new
    run's papers the old run also has.
    """
    pos = {k: i for i, k in enumerate(old_keys)}
    common_new = np.array([i for i, k in enumerate(new_keys) if k in pos], dtype=np.int64)
    common_old = np.array([pos[new_keys[i]] for i in common_new], dtype=np.int64)
    shared = len(common_new) / max(len(new_keys), 1)
    out = []
    for depth in range(min(old.n_levels, new.n_levels)):
        lo, ln = old.n_levels - depth, new.n_levels - depth
        o_nodes, o_of = paper_nodes(old, lo, len(old_keys))
        n_nodes, n_of = paper_nodes(new, ln, len(new_keys))
        score, M = level_scores(
            o_of[common_old] if len(common_old) else np.zeros(0, np.int64),
            n_of[common_new] if len(common_new) else np.zeros(0, np.int64),
            len(o_nodes),
            len(n_nodes),
            centroids(old_X, [n.doc_idx for n in o_nodes]),
            centroids(new_X, [n.doc_idx for n in n_nodes]),
            shared,
        )
        m = LevelMatch(ln, lo)
        for i, j in match_level(score, shared):
            m.pairs[n_nodes[j].node_id] = o_nodes[i].node_id
            m.scores[n_nodes[j].node_id] = round(float(score[i, j]), 4)
        if len(common_new):
            splits, merges = splits_and_merges(M)
            m.splits = [
                {"old": o_nodes[i].node_id, "new": [n_nodes[j].node_id for j in js]}
                for i, js in splits
            ]
            m.merges = [
                {"old": [o_nodes[i].node_id for i in is_], "new": n_nodes[j].node_id}
                for is_, j in merges
            ]
        out.append(m)
    return out, shared


def new_ids(old: Taxonomy, new: Taxonomy, matches: list[LevelMatch]) -> dict[str, str]:
    """Final id of every new node: its match's index, else one never used at its level."""
    ids = {"0.0": "0.0"}
    by_level = {m.new_level: m for m in matches}
    for level in range(1, new.n_levels + 1):
        m = by_level.get(level)
        old_level = m.old_level if m else level
        taken = {n.index for n in old.level(old_level)} if old_level <= old.n_levels else set()
        pairs = m.pairs if m else {}
        taken |= {
            int(pairs[n.node_id].split(".")[1]) for n in new.level(level) if n.node_id in pairs
        }
        fresh = max(taken, default=-1) + 1
        for node in new.level(level):
            if node.node_id in pairs:
                ids[node.node_id] = f"{level}.{pairs[node.node_id].split('.')[1]}"
            else:
                ids[node.node_id] = f"{level}.{fresh}"
                fresh += 1
    return ids


def renumber(tax: Taxonomy, ids: dict[str, str]) -> Taxonomy:
    """``tax`` with every node id replaced as ``ids`` says (indices follow the ids)."""
    nodes = {}
    for n in tax.nodes.values():
        nid = ids[n.node_id]
        nodes[nid] = dataclasses.replace(
            n,
            node_id=nid,
            index=int(nid.split(".")[1]),
            parent_id=ids[n.parent_id] if n.parent_id else None,
            children=[ids[c] for c in n.children],
            keywords=list(n.keywords),
            top_words=list(n.top_words),
            representative=list(n.representative),
        )
    return Taxonomy(nodes, tax.n_levels)


def keep_names(
    new: Taxonomy, old: Taxonomy, matches: list[LevelMatch], ids: dict[str, str]
) -> list[dict]:
    """Give matched nodes whose content stayed their previous name (in ``new``, by final id),
    unless that name would then be worn twice. Returns the matched nodes renamed."""
    keep: dict[str, str] = {}  # final id -> previous label
    renamed = []
    for m in matches:
        for nid, oid in m.pairs.items():
            fid = ids[nid]
            if m.scores[nid] >= KEEP_NAME:
                keep[fid] = old.nodes[oid].label
            elif old.nodes[oid].label != new.nodes[fid].label:
                renamed.append(
                    {
                        "node_id": fid,
                        "old_label": old.nodes[oid].label,
                        "label": new.nodes[fid].label,
                    }
                )
    while True:
        final = {nid: keep.get(nid, n.label) for nid, n in new.nodes.items()}
        seen: dict[str, list[str]] = {}
        for nid, label in final.items():
            seen.setdefault(label.lower(), []).append(nid)
        clash = {nid for group in seen.values() if len(group) > 1 for nid in group if nid in keep}
        if not clash:
            break
        for nid in clash:
            del keep[nid]
    for nid, label in keep.items():
        new.nodes[nid].label = label
    return renamed


def apply_previous(
    tax: Taxonomy,
    topic_ids: np.ndarray,
    keys: list[str],
    X: np.ndarray,
    previous,
) -> tuple[Taxonomy, np.ndarray, dict, dict[str, str]]:
    """Match a fresh fit to a previous run (a :class:`~taxonomy.runs.rundir.SavedRun`).

    Returns the renumbered and renamed taxonomy, the papers' leaf ids in the new
    numbering, the ``changes.json`` content, and the id map (fit id -> final id).
    """
    from ..embedding.encoder import text_key
    from .rundir import tree_taxonomy

    old = tree_taxonomy(previous.tree, previous.topic_ids, previous.corpus.ids)
    old_keys = [text_key(t) for t in previous.corpus.texts]
    matches, shared = match_trees(old, old_keys, previous.embeddings, tax, keys, X)
    ids = new_ids(old, tax, matches)
    out = renumber(tax, ids)
    renamed = keep_names(out, old, matches, ids)
    leaf = {n.index: int(ids[n.node_id].split(".")[1]) for n in tax.level(tax.n_levels)}
    new_topics = np.array([leaf.get(int(t), -1) for t in topic_ids], dtype=np.int64)
    changes = describe(
        old,
        out,
        matches,
        ids,
        previous=previous,
        shared=shared,
        keys=keys,
        old_keys=old_keys,
        new_topics=new_topics,
        renamed=renamed,
    )
    return out, new_topics, changes, ids


def describe(
    old: Taxonomy,
    new: Taxonomy,
    matches: list[LevelMatch],
    ids: dict[str, str],
    *,
    previous: SavedRun,
    shared: float,
    keys: list[str],
    old_keys: list[str],
    new_topics: np.ndarray,
    renamed: list[dict],
) -> dict:
    """``changes.json`` of a refit: matched share per level, new, vanished, merged, split, renamed.

    ``old``/``new``: the previous and the renumbered tree; ``matches`` and ``ids`` (fit id
    -> final id) from :func:`match_trees` and :func:`new_ids`; ``shared``: the share of
    papers in common; ``keys``/``old_keys``: the papers' text keys in each run;
    ``new_topics``: each paper's leaf id in the final numbering.
    """
    splits, merges, touched_new, touched_old = split_merge_entries(old, new, matches, ids)
    per_level = [level_share(old, new, m) for m in matches]
    matched_new = {ids[n] for m in matches for n in m.pairs} | touched_new
    matched_old = {o for m in matches for o in m.pairs.values()} | touched_old
    new_topics_list = [
        {
            "node_id": n.node_id,
            "label": n.label,
            "level": n.level,
            "parent_id": n.parent_id,
            "parent_label": new.nodes[n.parent_id].label if n.parent_id else "",
            "size": n.size,
        }
        for n in sorted(new.nodes.values(), key=lambda n: (n.level, n.index))
        if n.level > 0 and n.node_id not in matched_new
    ]
    vanished = [
        {"old_node_id": n.node_id, "label": n.label, "level": n.level, "size": n.size}
        for n in sorted(old.nodes.values(), key=lambda n: (n.level, n.index))
        if n.level > 0 and n.node_id not in matched_old
    ]
    pos = {k: i for i, k in enumerate(old_keys)}
    common = [(i, pos[k]) for i, k in enumerate(keys) if k in pos]
    same = sum(int(new_topics[i]) == int(previous.topic_ids[j]) for i, j in common)
    agreement = round(same / len(common), 4) if common else None
    leaves = per_level[0] if per_level else {"matched": 0, "nodes": 0}
    return {
        "kind": "refit",
        "summary": (
            f"Compared with {previous.run_dir}: {len(common)} papers in common; "
            f"{leaves['matched']} of {leaves['nodes']} leaf topics keep their id"
            + (f", {agreement:.1%} of the papers in common keep their leaf id" if common else "")
            + f"; {len(new_topics_list)} new, {len(vanished)} vanished, {len(merges)} merged, "
            f"{len(splits)} split."
        ),
        "previous_run": str(previous.run_dir),
        "shared_papers": len(common),
        "shared_share": round(shared, 4),
        "leaf_id_agreement": agreement,
        "levels": per_level,
        "new_topics": new_topics_list,
        "vanished_topics": vanished,
        "merges": merges,
        "splits": splits,
        "renamed": renamed,
    }


def split_merge_entries(
    old: Taxonomy, new: Taxonomy, matches: list[LevelMatch], ids: dict[str, str]
) -> tuple[list[dict], list[dict], set[str], set[str]]:
    """The splits and merges of every level for ``changes.json``, and the new and old node
    ids they involve (those are neither new nor vanished)."""
    touched_new: set[str] = set()
    touched_old: set[str] = set()
    splits, merges = [], []
    for m in matches:
        for s in m.splits:
            touched_old.add(s["old"])
            touched_new.update(ids[j] for j in s["new"])
            splits.append(
                {
                    "old_node_id": s["old"],
                    "old_label": old.nodes[s["old"]].label,
                    "into": [
                        {"node_id": ids[j], "label": new.nodes[ids[j]].label} for j in s["new"]
                    ],
                }
            )
        for g in m.merges:
            touched_new.add(ids[g["new"]])
            touched_old.update(g["old"])
            merges.append(
                {
                    "node_id": ids[g["new"]],
                    "label": new.nodes[ids[g["new"]]].label,
                    "from": [{"old_node_id": i, "label": old.nodes[i].label} for i in g["old"]],
                }
            )
    return splits, merges, touched_new, touched_old


def level_share(old: Taxonomy, new: Taxonomy, m: LevelMatch) -> dict:
    """One level's row of ``changes.json``: its nodes, the previous level's, how many matched."""
    n_new = len(new.level(m.new_level))
    return {
        "level": m.new_level,
        "previous_level": m.old_level,
        "nodes": n_new,
        "previous_nodes": len(old.level(m.old_level)),
        "matched": len(m.pairs),
        "matched_share": round(len(m.pairs) / max(n_new, 1), 4),
    }


def refit_against(result, previous) -> None:
    """Give a fitted ``RunResult`` the ids (and names) of a previous run, in place.

    Renumbers the taxonomy, the papers' topics and HDBSCAN labels (which the
    saved assign model votes with), re-keys per-node metrics, recomputes topics
    over time, and sets ``result.changes``.
    """
    from ..embedding.encoder import text_key
    from .timeline import timeline_for, tree_metrics

    keys = [text_key(t) for t in result.corpus.texts]
    tax, topic_ids, changes, ids = apply_previous(
        result.taxonomy, result.topic_ids, keys, result.embeddings, previous
    )
    leaf = {
        int(old.split(".")[1]): int(new.split(".")[1])
        for old, new in ids.items()
        if old.startswith(f"{tax.n_levels}.")
    }
    result.raw_ids = np.array([leaf.get(int(t), -1) for t in result.raw_ids], dtype=np.int64)
    result.placement.topic_ids = topic_ids
    result.taxonomy, result.changes = tax, changes
    npmi = result.metrics.get("npmi_per_node")
    if isinstance(npmi, dict):
        result.metrics["npmi_per_node"] = {ids.get(k, k): v for k, v in npmi.items()}
    if result.timeline is not None:
        result.timeline = timeline_for(result.corpus.dates, tax, result.cfg.taxonomy)
        result.metrics.update(tree_metrics(result.timeline, tax))
    levels = changes["levels"]
    result.metrics["lineage"] = {
        "previous_run": changes["previous_run"],
        "leaf_id_agreement": changes["leaf_id_agreement"],
        "matched_share": {str(lv["level"]): lv["matched_share"] for lv in levels},
    }
