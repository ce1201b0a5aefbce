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

from .cluster import join_by_centroid
from .config import SeedTopic
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
