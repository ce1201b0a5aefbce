"""Maximal marginal relevance: picks relevant to a query that repeat each other little.

BERTopic has this only in a private module (``bertopic.representation._mmr``), so we
keep our own; tests/test_mmr.py checks it picks what BERTopic's picks.
"""

from __future__ import annotations

import numpy as np


def mmr(
    query: np.ndarray,
    candidates: np.ndarray,
    items: list[str],
    diversity: float = 0.1,
    top_n: int = 10,
) -> list[str]:
    """The ``top_n`` items chosen greedily by maximal marginal relevance, in pick order.

    Parameters
    ----------
    query : array (1, dim) or (dim,)
        What the items should be relevant to (a topic's centroid).
    candidates : array (n, dim)
        One embedding per item.
    items : list of str
        The items, ``items[i]`` embedded as ``candidates[i]``.
    diversity : float
        0 ranks by relevance alone; 1 by dissimilarity to the items already picked alone.
    top_n : int
        How many to pick (at most ``len(items)``).
    """
    if not items or top_n < 1:
        return []
    from sklearn.metrics.pairwise import cosine_similarity  # on use: its import takes ~1 s

    relevance = cosine_similarity(candidates, np.reshape(query, (1, -1)))[:, 0]
    similarity = cosine_similarity(candidates)
    picked = [int(np.argmax(relevance))]
    left = [i for i in range(len(items)) if i != picked[0]]
    while left and len(picked) < top_n:
        redundancy = similarity[np.ix_(left, picked)].max(axis=1)
        score = (1 - diversity) * relevance[left] - diversity * redundancy
        best = left[int(np.argmax(score))]
        picked.append(best)
        left.remove(best)
    return [items[i] for i in picked]
