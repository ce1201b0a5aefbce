"""Taxonomy shape: which leaf topics share a parent, level by level.

Three ways to group the leaf topics (``taxonomy.parents``):

``evoc`` (default)
    EVoC's cluster layers (its own kNN graph and node embedding of the raw
    embeddings, then density clusters at several resolutions). Each layer is
    mapped onto our leaves by majority vote; the top level is the coarsest layer
    with 4-12 nodes, so its count is the data's, not a formula's. On the tuning
    halves its top level agreed best with the coarsest gold level on average
    (benchmarks/results/quality.md).
``ward``
    Ward linkage on the leaf centroids in the clustering (UMAP) space, node
    counts per level from :func:`~taxonomy.hierarchy.level_sizes`.
``density``
    The density tree HDBSCAN builds anyway: the condensed tree of an HDBSCAN
    fit on the same points with the same settings. Two leaves are as far apart
    as the density level (1 / lambda) at which their branches of the tree split;
    the tree is cut at the same counts as ``ward``. Best on arXiv's fields
    (physics | cs | math), but elsewhere the tree's top splits peel off small
    groups and leave one node with most papers.

Every option returns ``member[level]``: the node index of each leaf topic at
``level`` (1 = top), nested by construction; :func:`taxonomy_from_members`
turns it into the :class:`~taxonomy.hierarchy.Taxonomy`.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from .hierarchy import (
    MIN_TOP_LEVEL,
    Taxonomy,
    build_taxonomy,
    level_sizes,
    renumber_by_weight,
    taxonomy_from_members,
)
from .util.arrays import group_means, label_means

Parents = Literal["ward", "density", "evoc"]
MAX_TOP_LEVEL = 12


def shape_taxonomy(
    parents: Parents,
    *,
    points: np.ndarray,
    embeddings: np.ndarray,
    topic_ids: np.ndarray,
    levels: int | str,
    top_level: int | str,
    min_cluster_size: int,
    min_samples: int | None,
    random_state: int,
) -> Taxonomy:
    """The taxonomy of ``topic_ids`` with parents chosen by ``parents``.

    Parameters
    ----------
    parents : ``"ward"``, ``"density"`` or ``"evoc"`` (module docstring).
    points : papers in the clustering space (UMAP), where the leaves were found.
    embeddings : the papers' raw embeddings (EVoC clusters these).
    topic_ids : leaf topic of each paper (-1 = outlier), topics numbered 0..T-1.
    levels, top_level : ``taxonomy.levels`` and ``taxonomy.top_level`` (ints or ``"auto"``).
    min_cluster_size, min_samples : the HDBSCAN settings of the run (``density``).
    random_state : the run's seed.
    """
    n_topics = int(topic_ids.max()) + 1
    sizes = level_sizes(n_topics, levels, top_level)
    if parents == "ward" or len(sizes) < 2:
        return build_taxonomy(points, topic_ids, sizes)
    if parents == "density":
        dist = density_distances(points, topic_ids, min_cluster_size, min_samples)
        return taxonomy_from_members(topic_ids, cut_members(dist, topic_ids, sizes))
    if parents == "evoc":
        layers = evoc_layers(embeddings, random_state)
        member = layered_members(layers, topic_ids, points, sizes, fixed_top=top_level != "auto")
        return taxonomy_from_members(topic_ids, member)
    raise ValueError(f"parents: expected 'ward', 'density' or 'evoc', got {parents!r}")


# --- density: the HDBSCAN condensed tree -------------------------------------------------


def density_distances(
    points: np.ndarray, topic_ids: np.ndarray, min_cluster_size: int, min_samples: int | None
) -> np.ndarray:
    """Leaf x leaf distances read off HDBSCAN's condensed tree (an ultrametric).

    Each leaf sits at the deepest tree cluster holding at least half of its
    papers; two leaves are ``1 / lambda`` apart, lambda being the density at
    which the tree splits their common ancestor (leaves at the same tree
    cluster: where that cluster ends). Ties are broken by a small share of the
    centroid distance, so a many-way split is cut deterministically.
    """
    import hdbscan

    n = points.shape[0]
    n_topics = int(topic_ids.max()) + 1
    tree = (
        hdbscan.HDBSCAN(min_cluster_size=min(min_cluster_size, n), min_samples=min_samples)
        .fit(points)
        .condensed_tree_.to_numpy()
    )
    parent, child, lam = tree["parent"], tree["child"], tree["lambda_val"]
    is_point = child < n
    n_nodes = int(max(parent.max(), child.max())) + 1 - n if tree.size else 1
    up = np.full(n_nodes, -1)  # tree cluster -> its parent (cluster ids shifted by n)
    up[child[~is_point] - n] = parent[~is_point] - n
    # The density at which a cluster ends: where it splits, or its last point leaves.
    end = np.zeros(n_nodes)
    np.maximum.at(end, parent - n, lam)
    depth = np.zeros(n_nodes, dtype=np.int64)
    for c in range(1, n_nodes):  # children have larger ids than their parents
        depth[c] = depth[up[c]] + 1
    # Papers of each topic inside each tree cluster's subtree.
    home = np.zeros(n, dtype=np.int64)
    home[child[is_point]] = parent[is_point] - n
    counts = np.zeros((n_nodes, n_topics))
    ok = topic_ids >= 0
    np.add.at(counts, (home[ok], topic_ids[ok]), 1.0)
    for c in range(n_nodes - 1, 0, -1):
        counts[up[c]] += counts[c]
    sizes = counts[0]
    # Deepest cluster holding at least half of each topic.
    holds = counts >= 0.5 * sizes[None, :]
    where = np.array(
        [int(np.flatnonzero(holds[:, t])[depth[holds[:, t]].argmax()]) for t in range(n_topics)]
    )

    def ancestors(c: int) -> list[int]:
        out = [c]
        while up[out[-1]] >= 0:
            out.append(int(up[out[-1]]))
        return out

    paths = [ancestors(int(c)) for c in where]
    D = np.zeros((n_topics, n_topics))
    for a in range(n_topics):
        seen = set(paths[a])
        for b in range(a + 1, n_topics):
            lca = next(c for c in paths[b] if c in seen)
            D[a, b] = D[b, a] = 1.0 / max(end[lca], 1e-12)
    C = label_means(points, topic_ids, n_topics)
    G = np.sqrt(((C[:, None, :] - C[None]) ** 2).sum(-1))
    return D + 1e-6 * D.max() * G / max(G.max(), 1e-12)


def cut_members(dist: np.ndarray, topic_ids: np.ndarray, sizes: list[int]) -> dict[int, np.ndarray]:
    """Nested groups of leaves by average linkage on ``dist``, cut at each level's count."""
    from scipy.cluster.hierarchy import cut_tree, linkage
    from scipy.spatial.distance import squareform

    n_levels, n_topics = len(sizes), sizes[-1]
    Zl = linkage(squareform(dist, checks=False), method="average")
    weights = np.bincount(topic_ids[topic_ids >= 0], minlength=n_topics).astype(np.float64)
    member = {n_levels: np.arange(n_topics)}
    for level in range(n_levels - 1, 0, -1):
        k = min(sizes[level - 1], n_topics)
        groups = cut_tree(Zl, n_clusters=k).ravel()
        member[level] = renumber_by_weight(groups, weights)
    return member


# --- layered clusterings (EVoC) ---------------------------------------------------------


def evoc_layers(embeddings: np.ndarray, random_state: int) -> list[np.ndarray]:
    """EVoC's cluster layers of the raw embeddings, finest first (-1 = noise).

    Run on one numba thread (restored afterwards): with several, EVoC's
    result depends on the thread count, so the same seed gave other layers on
    a machine with other cores.
    """
    import evoc
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        # On a few dozen papers EVoC's graph has empty rows (log2 of 0); it then finds one
        # cluster and the caller falls back to Ward, so its warnings say nothing to the user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            model = evoc.EVoC(random_state=random_state)
            model.fit(np.ascontiguousarray(embeddings, dtype=np.float32))
    finally:
        numba.set_num_threads(threads)
    return [np.asarray(layer) for layer in model.cluster_layers_]


def vote(layer: np.ndarray, topic_ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The layer cluster each leaf topic's papers fall in most (noise ignored).

    A leaf whose papers are all noise in the layer goes to the cluster whose
    papers' centroid is nearest its own.
    """
    n_topics = int(topic_ids.max()) + 1
    k = int(layer.max()) + 1
    ok = (topic_ids >= 0) & (layer >= 0)
    votes = np.zeros((n_topics, max(k, 1)))
    np.add.at(votes, (topic_ids[ok], layer[ok]), 1.0)
    out = votes.argmax(axis=1)
    empty = votes.sum(axis=1) == 0
    if empty.any() and k > 0:
        centres = label_means(points, layer, k)
        for t in np.flatnonzero(empty):
            c = points[topic_ids == t].mean(axis=0)
            out[t] = int(((centres - c) ** 2).sum(axis=1).argmin())
    return out


def layered_members(
    layers: list[np.ndarray],
    topic_ids: np.ndarray,
    points: np.ndarray,
    sizes: list[int],
    *,
    fixed_top: bool = False,
) -> dict[int, np.ndarray]:
    """Nested parents of the leaves from layered clusterings of the papers.

    Every layer is mapped onto the leaves by :func:`vote`. The top level is the
    coarsest layer giving 4-12 parents (``sizes[0]`` parents when ``fixed_top``
    or when no layer does: the coarsest finer layer, its groups merged by Ward);
    each level between takes the layer whose count is nearest (on a log scale)
    the geometric step from the top to the leaves. Nesting is then enforced from
    the leaves up: a node goes to the parent holding most of its papers.
    """
    n_levels, n_topics = len(sizes), sizes[-1]
    weights = np.bincount(topic_ids[topic_ids >= 0], minlength=n_topics).astype(np.float64)
    mapped = [vote(layer, topic_ids, points) for layer in layers]
    mapped = [m for m in mapped if 1 < len(set(m.tolist())) < n_topics]
    counts = [len(set(m.tolist())) for m in mapped]
    lo, hi = min(MIN_TOP_LEVEL, max(2, n_topics // 2)), MAX_TOP_LEVEL
    inside = [i for i, k in enumerate(counts) if lo <= k <= hi]
    if inside and not fixed_top:
        top_map = mapped[min(inside, key=lambda i: counts[i])]
    else:
        # The coarsest layer finer than the wanted count, merged down to it by Ward (a
        # coarser layer would break the 4-12 bound); no such layer: Ward on the leaves.
        finer = [i for i, k in enumerate(counts) if k > sizes[0]]
        base = mapped[min(finer, key=lambda i: counts[i])] if finer else np.arange(n_topics)
        top_map = _merge_to(base, sizes[0], topic_ids, points)
    k_top = len(set(top_map.tolist()))
    chosen = {1: top_map, n_levels: np.arange(n_topics)}
    for level in range(2, n_levels):
        want = k_top * (n_topics / k_top) ** ((level - 1) / (n_levels - 1))
        between = [i for i, k in enumerate(counts) if k_top < k < n_topics]
        if between:
            chosen[level] = mapped[min(between, key=lambda i: abs(np.log(counts[i] / want)))]
        else:
            chosen[level] = _merge_to(np.arange(n_topics), round(want), topic_ids, points)
    # Nest from the leaves up: each node follows most of its papers.
    member = {n_levels: np.arange(n_topics)}
    for level in range(n_levels - 1, 0, -1):
        below = member[level + 1]
        votes = np.zeros((int(below.max()) + 1, int(chosen[level].max()) + 1))
        np.add.at(votes, (below, chosen[level]), weights)
        parents = renumber_by_weight(votes.argmax(axis=1), _group_weights(below, weights))
        member[level] = parents[below]
    return member


def _merge_to(groups: np.ndarray, k: int, topic_ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Leaf -> group with at most ``k`` groups: Ward on the groups' centroids when there are more."""
    from sklearn.cluster import AgglomerativeClustering

    groups = np.unique(groups, return_inverse=True)[1]  # ids 0..G-1 (votes leave gaps)
    n_groups = int(groups.max()) + 1
    if n_groups <= k:
        return groups
    C = group_means(
        points, (np.isin(topic_ids, np.flatnonzero(groups == g)) for g in range(n_groups))
    )
    parent = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(C)
    return parent[groups]


def _group_weights(groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.bincount(groups, weights=weights, minlength=int(groups.max()) + 1)
