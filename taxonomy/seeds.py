"""A guided taxonomy: topics the user asks for (``taxonomy.seed_topics``).

Each seed's text (its name, and its description when given) is embedded with
the corpus' model. A paper joins the seed it is most similar to when the
cosine reaches ``taxonomy.zeroshot_min_similarity`` (BERTopic's zero-shot
rule); within a seed, the same rule places it under one of the seed's own
seed topics, if it has any. A seed (or seed under a seed) that gathers fewer
papers than ``hdbscan.min_cluster_size`` forms no node: its papers go back to
the others, which are clustered and named as usual beside the seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cluster import hdbscan_kwargs, join_by_centroid, renumber_by_size, subcluster
from .config import HdbscanConfig, SeedTopic, TaxonomyConfig
from .hierarchy import Taxonomy, level_sizes
from .util.arrays import unit_rows


@dataclass
class SeedPlacement:
    """Which seed (and which seed under it) each paper joined; -1 = none."""

    seed_of: np.ndarray
    child_of: np.ndarray
    report: list[dict]


def _nearest(Xn: np.ndarray, texts: list[str], embed, threshold: float) -> np.ndarray:
    if not texts:
        return np.full(len(Xn), -1, dtype=np.int64)
    return join_by_centroid(Xn, unit_rows(embed(texts)), threshold)


def place_seeds(
    X: np.ndarray,
    seeds: list[SeedTopic],
    embed: Callable[[list[str]], np.ndarray],
    *,
    min_similarity: float,
    min_size: int,
) -> SeedPlacement:
    """Papers per seed topic, by the zero-shot rule; seeds too small to form a node dropped.

    ``report`` has, per seed: its name, papers, whether it formed a node, and the
    same for the seeds under it (shown in ``metrics.json`` and the report).
    """
    Xn = unit_rows(X)
    n = len(Xn)
    seed_of = np.full(n, -1, dtype=np.int64)
    child_of = np.full(n, -1, dtype=np.int64)
    report = []
    formed = list(range(len(seeds)))
    # Drop seeds with too few papers and place again, so their papers can join another seed.
    while True:
        best = _nearest(Xn, [seeds[s].text for s in formed], embed, min_similarity)
        sizes = np.bincount(best[best >= 0], minlength=len(formed))
        small = [formed[k] for k in range(len(formed)) if sizes[k] < min_size]
        if not small:
            break
        formed = [s for s in formed if s not in small]
    mapped = np.array(formed, dtype=np.int64)
    seed_of[best >= 0] = mapped[best[best >= 0]]
    for s, seed in enumerate(seeds):
        mine = np.flatnonzero(seed_of == s)
        entry = {"name": seed.name, "papers": int(mine.size), "formed": s in formed}
        if seed.children and mine.size:
            kids = _nearest(Xn[mine], [c.text for c in seed.children], embed, min_similarity)
            counts = np.bincount(kids[kids >= 0], minlength=len(seed.children))
            keep = counts >= min_size
            kids = np.where((kids >= 0) & keep[np.maximum(kids, 0)], kids, -1)
            child_of[mine] = kids
            entry["children"] = [
                {
                    "name": c.name,
                    "papers": int(counts[k]) if keep[k] else 0,
                    "formed": bool(keep[k]),
                }
                for k, c in enumerate(seed.children)
            ]
        elif seed.children:
            entry["children"] = [
                {"name": c.name, "papers": 0, "formed": False} for c in seed.children
            ]
        if not entry["formed"]:
            entry["papers"] = 0
            entry["note"] = f"fewer than {min_size} papers (hdbscan.min_cluster_size) came close"
        report.append(entry)
    return SeedPlacement(seed_of, child_of, report)


# --- seeded clustering and the tree above it ----------------------------------------


def cluster_stage(
    Z: np.ndarray,
    params: HdbscanConfig,
    guided: SeedPlacement | None,
    cluster: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN topics (-1 = outlier) and, per topic, ``(seed, seed under it)`` (-1 = none).

    Without seeds every paper is clustered. With seeds, the papers no seed took
    are clustered as usual; each seed's papers make its own topics: one per seed
    under it, the rest split by HDBSCAN on their own points (never outliers).
    """
    if guided is None or (guided.seed_of < 0).all():
        raw = cluster(Z)
        return raw, np.full((int(raw.max()) + 1, 2), -1, dtype=np.int64)
    raw = np.full(len(Z), -1, dtype=np.int64)
    pool = np.flatnonzero(guided.seed_of < 0)
    if pool.size >= 2 * int(params.min_cluster_size):
        raw[pool] = cluster(Z[pool])
    elif pool.size:  # too few left to cluster: one topic of the papers no seed took
        raw[pool] = 0
    owner = {t: (-1, -1) for t in set(raw.tolist()) - {-1}}
    kwargs = hdbscan_kwargs(params)
    for s in sorted(set(guided.seed_of.tolist()) - {-1}):
        mine = guided.seed_of == s
        for c in sorted(set(guided.child_of[mine].tolist()) - {-1}):
            nxt = int(raw.max()) + 1
            raw[mine & (guided.child_of == c)] = nxt
            owner[nxt] = (s, c)
        rest = np.flatnonzero(mine & (guided.child_of < 0))
        if rest.size:
            parts = subcluster(Z[rest], int(params.min_cluster_size), kwargs)
            nxt = int(raw.max()) + 1
            raw[rest] = nxt + parts
            owner.update({nxt + q: (s, -1) for q in range(int(parts.max()) + 1)})
    new = renumber_by_size(raw)
    topic_seed = np.full((int(new.max()) + 1, 2), -1, dtype=np.int64)
    for old, renamed in set(zip(raw.tolist(), new.tolist())) - {(-1, -1)}:
        topic_seed[renamed] = owner[old]
    return new, topic_seed


def tree_sizes(t: TaxonomyConfig, topic_seed: np.ndarray) -> list[int]:
    """Nodes per level, top to leaves; with seeds, the levels above the leaves count the
    other topics' nodes (each seed adds one top-level node of its own)."""
    n_topics = len(topic_seed)
    sizes = level_sizes(n_topics, t.levels, t.top_level)
    n_seeds = len(set(topic_seed[:, 0].tolist()) - {-1})
    if not n_seeds:
        return sizes
    n_free = int((topic_seed[:, 0] < 0).sum())
    top = t.top_level if t.top_level == "auto" else int(t.top_level) - n_seeds
    if n_free < 2 or (top != "auto" and top < 2):
        return [min(n_free, 1)] * (len(sizes) - 1) + [n_topics]
    return level_sizes(n_free, len(sizes), top)[:-1] + [n_topics]


def mark_seeds(tax: Taxonomy, topic_seed: np.ndarray, seeds: list[SeedTopic]) -> None:
    """Put each seed's name on its node: the top-level node of its topics, and for a seed
    under a seed the highest node below that."""
    for t, (s, c) in enumerate(topic_seed.tolist()):
        if s < 0:
            continue
        path = tax.path(tax.leaf(t).node_id)
        path[0].seed = seeds[s].name
        if c >= 0:
            path[1].seed = seeds[s].children[c].name


def seed_texts(seeds: list[SeedTopic]) -> dict[str, str]:
    """A seed's name -> the text its papers were matched with (it names the seed's node)."""
    return {s.name: s.text for s in seeds} | {c.name: c.text for s in seeds for c in s.children}
