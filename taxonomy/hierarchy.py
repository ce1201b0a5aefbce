"""The taxonomy tree: leaf topics grouped into broader parents by agglomerating centroids.

Levels are numbered from the root (level 0, the whole corpus) down to the
leaves (level ``L``). A node's id is ``"<level>.<index>"``; a leaf's index is
its ``topic_id``.

Topics are grouped with Ward linkage on their centroids in the space the
topics were found in (the UMAP clustering space): there, topics HDBSCAN saw as
neighbouring densities sit close together, which matched gold fields better
than grouping in the raw embedding space (docs/labels-and-shape.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .util.arrays import label_means

MIN_TOP_LEVEL = 4


@dataclass
class Node:
    node_id: str
    level: int
    index: int
    parent_id: str | None
    doc_idx: np.ndarray
    children: list[str] = field(default_factory=list)
    label: str = ""
    # One line on what the node's papers study (labels.method: llm); empty otherwise.
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    top_words: list[str] = field(default_factory=list)
    representative: list[int] = field(default_factory=list)
    # Share of the node's papers nearer its name than its siblings' names (naming/extractive.py).
    name_fit: float | None = None
    # The phrase chosen as its name, before display case or an "other — …" label (naming/extractive.py).
    best_phrase: str | None = None
    # The user's seed topic this node stands for (taxonomy.seed_topics), named as given.
    seed: str | None = None
    # Which namer gave the label (extractive, seed, vocabulary:<id>, llm) and the vocabulary
    # term it is (naming/vocabulary.py).
    namer: str = "extractive"
    term_id: str | None = None

    @property
    def size(self) -> int:
        return int(self.doc_idx.size)


@dataclass
class Taxonomy:
    nodes: dict[str, Node]
    n_levels: int  # below the root; the leaves are at level n_levels

    @property
    def root(self) -> Node:
        return self.nodes["0.0"]

    def level(self, level: int) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.level == level), key=lambda n: n.index)

    def leaf(self, topic_id: int) -> Node:
        return self.nodes[f"{self.n_levels}.{topic_id}"]

    def path(self, node_id: str) -> list[Node]:
        """Nodes from level 1 down to ``node_id`` (the root is implied)."""
        out = []
        node = self.nodes[node_id]
        while node.level > 0:
            out.append(node)
            node = self.nodes[node.parent_id]
        return out[::-1]

    def labels_at(self, level: int, topic_ids: np.ndarray) -> np.ndarray:
        """Index of the level-``level`` ancestor of each leaf topic id (-1 stays -1)."""
        leaf_to = {}
        for leaf in self.level(self.n_levels):
            leaf_to[leaf.index] = self.path(leaf.node_id)[level - 1].index
        return np.array([leaf_to.get(int(t), -1) for t in topic_ids], dtype=np.int64)


def level_sizes(n_topics: int, levels: int | str, top_level: int | str) -> list[int]:
    """Node counts per level, top to leaves, e.g. 100 topics, 3 levels -> [5, 22, 100].

    Auto: 2 levels up to 40 leaf topics, 3 up to 400, else 4; counts shrink
    geometrically from the leaves to the top. The top level has at least
    ``min(4, n_topics // 2)`` nodes: a corpus split in two or three says little
    (8 topics would give 3 parents, 2.7 children each, by the geometric rule).
    """
    if levels == "auto":
        levels = 2 if n_topics <= 40 else 3 if n_topics <= 400 else 4
    sizes = [max(2, round(n_topics ** (j / levels))) for j in range(1, levels)]
    if top_level == "auto":
        sizes[0] = max(sizes[0], min(MIN_TOP_LEVEL, n_topics // 2))
    else:
        top = min(int(top_level), n_topics)
        span = levels - 1
        sizes = [
            max(2, round(top * (n_topics / top) ** ((j - 1) / span))) for j in range(1, levels)
        ]
    sizes = [min(s, n_topics) for s in sizes] + [n_topics]
    # Each level has at least as many nodes as the one above it.
    for i in range(len(sizes) - 2, -1, -1):
        sizes[i] = min(sizes[i], sizes[i + 1])
    return sizes


def build_taxonomy(
    points: np.ndarray,
    topic_ids: np.ndarray,
    sizes: list[int],
    seed_of_topic: np.ndarray | None = None,
) -> Taxonomy:
    """Group leaf topics level by level with Ward linkage on their centroids.

    ``points`` are the papers in the space the topics were found in (the
    pipeline passes the UMAP clustering space). ``sizes`` are node counts from
    level 1 down to the leaves; a level whose count equals the one below is
    still kept, so every path has the same depth.

    ``seed_of_topic`` (a guided taxonomy) gives each topic's seed topic (-1 =
    none): a seed's topics stay apart from the others and meet in one top-level
    node; ``sizes`` above the leaves then count the other topics' nodes only.
    """
    from sklearn.cluster import AgglomerativeClustering

    n_levels = len(sizes)
    n_topics = sizes[-1]
    # member[level][topic] = index of that topic's ancestor at this level
    member: dict[int, np.ndarray] = {n_levels: np.arange(n_topics)}
    topic_sizes = np.bincount(topic_ids[topic_ids >= 0], minlength=n_topics).astype(np.float64)
    C = label_means(points, topic_ids, n_topics).astype(np.float64)
    seed = np.full(n_topics, -1) if seed_of_topic is None else np.asarray(seed_of_topic)
    for level in range(n_levels - 1, 0, -1):
        below = member[level + 1]
        n_below = int(below.max()) + 1
        # A group's centroid is the mean of its papers (size-weighted mean of its topics' centroids).
        weights = np.array([topic_sizes[below == g].sum() for g in range(n_below)])
        groups_below = np.stack(
            [(C[below == g] * topic_sizes[below == g, None]).sum(0) for g in range(n_below)]
        ) / np.maximum(weights[:, None], 1)
        group_seed = np.array([seed[below == g][0] for g in range(n_below)])
        free = np.flatnonzero(group_seed < 0)
        k = sizes[level - 1]
        parent_of = np.empty(n_below, dtype=np.int64)
        if 0 < k < free.size:
            parent_of[free] = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(
                groups_below[free]
            )
        else:
            parent_of[free] = np.arange(free.size)
        base = int(parent_of[free].max()) + 1 if free.size else 0
        held = np.flatnonzero(group_seed >= 0)
        # A seed's groups meet at the top level; below it each stays its own node.
        parent_of[held] = base + (group_seed[held] if level == 1 else np.arange(held.size))
        parent_of = renumber_by_weight(parent_of, weights)
        member[level] = parent_of[below]
    return taxonomy_from_members(topic_ids, member)


def taxonomy_from_members(topic_ids: np.ndarray, member: dict[int, np.ndarray]) -> Taxonomy:
    """The tree from ``member[level][topic]``, each leaf topic's node index at every level.

    ``member`` runs from level 1 (the top) to the leaves (``member[L]`` is the
    identity); it must be nested: leaves sharing a node at one level share
    their nodes at every level above.
    """
    n_levels = max(member)
    nodes: dict[str, Node] = {}
    covered = np.flatnonzero(topic_ids >= 0)
    nodes["0.0"] = Node("0.0", 0, 0, None, covered)
    for level in range(1, n_levels + 1):
        m = member[level]
        for idx in range(int(m.max()) + 1):
            topics = np.flatnonzero(m == idx)
            docs = np.flatnonzero(np.isin(topic_ids, topics))
            parent_id = "0.0" if level == 1 else f"{level - 1}.{member[level - 1][topics[0]]}"
            node = Node(f"{level}.{idx}", level, idx, parent_id, docs)
            nodes[node.node_id] = node
            nodes[parent_id].children.append(node.node_id)
    return Taxonomy(nodes, n_levels)


def renumber_by_weight(groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Parent 0 is the largest by papers, ties by first member, so ids are stable."""
    ids = list(dict.fromkeys(groups.tolist()))
    mass = {g: float(weights[groups == g].sum()) for g in ids}
    order = sorted(ids, key=lambda g: (-mass[g], ids.index(g)))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping[g] for g in groups.tolist()], dtype=np.int64)
