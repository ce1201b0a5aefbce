"""Density clustering with HDBSCAN, then outliers joined to their nearest topic when close."""

from __future__ import annotations

import math

import numpy as np


def cluster_points(
    Z: np.ndarray,
    *,
    min_cluster_size: int,
    min_samples: int | None,
    cluster_selection_method: str,
    cluster_selection_epsilon: float,
    metric: str,
    random_state: int,
    max_cluster_share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN labels (-1 = outlier) and membership strengths, topics renumbered by size.

    A cluster holding more than ``max_cluster_share`` of the papers is
    clustered again on its own (HDBSCAN's excess-of-mass choice readily keeps
    whole fields, e.g. all of condensed matter, as one topic). When HDBSCAN
    finds fewer than two clusters (tiny or uniform corpora) the points are
    split by k-means instead, so a taxonomy always has topics.
    """
    import hdbscan

    n = Z.shape[0]
    params = {
        "min_samples": min_samples,
        "cluster_selection_method": cluster_selection_method,
        "cluster_selection_epsilon": cluster_selection_epsilon,
        "metric": metric,
    }
    clusterer = hdbscan.HDBSCAN(min_cluster_size=min(min_cluster_size, n), **params)
    labels = clusterer.fit_predict(Z)
    probs = clusterer.probabilities_.astype(np.float32)
    labels = split_oversized(
        Z, labels, max_share=max_cluster_share, min_cluster_size=min_cluster_size, params=params
    )
    if len(set(labels) - {-1}) < 2:
        from sklearn.cluster import KMeans

        k = int(min(max(2, round(math.sqrt(n / 2))), n))
        labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(Z)
        probs = np.ones(n, dtype=np.float32)
    return renumber_by_size(labels), probs


def split_oversized(
    Z: np.ndarray,
    labels: np.ndarray,
    *,
    max_share: float,
    min_cluster_size: int,
    params: dict,
    max_rounds: int = 3,
) -> np.ndarray:
    """Re-cluster, on its own points, every cluster larger than ``max_share`` of the corpus.

    A sub-clustering that finds at least two parts replaces the cluster; its
    points left as noise go to the nearest part (they belonged to the cluster,
    so they are not outliers of the corpus).
    """
    import hdbscan

    labels = labels.copy()
    limit = max_share * labels.size
    for _ in range(max_rounds):
        changed = False
        for t in sorted(set(labels.tolist()) - {-1}):
            idx = np.flatnonzero(labels == t)
            if idx.size <= limit or idx.size < 2 * min_cluster_size:
                continue
            sub = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, **params).fit_predict(Z[idx])
            parts = sorted(set(sub.tolist()) - {-1})
            if len(parts) < 2:
                continue
            centres = np.stack([Z[idx][sub == q].mean(axis=0) for q in parts])
            noise = sub == -1
            if noise.any():
                d = ((Z[idx][noise][:, None, :] - centres[None]) ** 2).sum(-1)
                sub[noise] = np.array(parts)[d.argmin(axis=1)]
            base = labels.max() + 1
            labels[idx] = base + np.searchsorted(parts, sub)
            changed = True
        if not changed:
            break
    return labels


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Topic 0 is the largest; ties broken by first appearance, so ids are stable."""
    ids = [t for t in dict.fromkeys(labels.tolist()) if t != -1]
    order = sorted(ids, key=lambda t: (-int(np.sum(labels == t)), ids.index(t)))
    mapping = {old: new for new, old in enumerate(order)}
    mapping[-1] = -1
    return np.array([mapping[t] for t in labels.tolist()], dtype=np.int64)


def centroids(X: np.ndarray, labels: np.ndarray, n_topics: int) -> np.ndarray:
    """Unit-length mean embedding of each topic."""
    C = np.zeros((n_topics, X.shape[1]), dtype=np.float32)
    for t in range(n_topics):
        C[t] = X[labels == t].mean(axis=0)
    return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)


def assign_outliers(
    X: np.ndarray, labels: np.ndarray, probs: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Join each outlier to its most similar topic centroid if cosine >= ``threshold``.

    The cosine is kept as the paper's ``probability`` so the confidence of a
    joined paper stays visible. Returns new labels, probabilities, and how many joined.
    """
    labels, probs = labels.copy(), probs.copy()
    n_topics = int(labels.max()) + 1
    out = np.flatnonzero(labels == -1)
    if n_topics == 0 or out.size == 0:
        return labels, probs, 0
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    sims = Xn[out] @ centroids(Xn, labels, n_topics).T
    best = sims.argmax(axis=1)
    conf = sims[np.arange(out.size), best]
    ok = conf >= threshold
    labels[out[ok]] = best[ok]
    probs[out[ok]] = np.clip(conf[ok], 0.0, 1.0)
    probs[out[~ok]] = 0.0
    return labels, probs, int(ok.sum())
