"""Density clustering with HDBSCAN, then outliers joined to their nearest topic when close."""

from __future__ import annotations

import math

import numpy as np

from .config import HdbscanConfig
from .util.arrays import group_means, label_means, unit_rows


def cluster_points(Z: np.ndarray, params: HdbscanConfig, *, random_state: int) -> np.ndarray:
    """HDBSCAN labels (-1 = outlier), topics renumbered by size (0 = largest).

    ``params`` must have ``min_cluster_size`` and ``min_samples`` resolved
    (``config.resolve_auto``); ``outlier_threshold`` is applied afterwards by
    :func:`assign_outliers`.

    A cluster holding more than ``max_cluster_share`` of the papers is
    clustered again on its own (HDBSCAN's excess-of-mass choice readily keeps
    whole fields, e.g. all of condensed matter, as one topic). When HDBSCAN
    finds fewer than two clusters (tiny or uniform corpora) the points are
    split by k-means instead, so a taxonomy always has topics.
    """
    import hdbscan

    n = Z.shape[0]
    min_cluster_size = int(params.min_cluster_size)
    kwargs = hdbscan_kwargs(params)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=min(min_cluster_size, n), **kwargs)
    labels = clusterer.fit_predict(Z)
    labels = split_oversized(
        Z,
        labels,
        max_share=params.max_cluster_share,
        min_cluster_size=min_cluster_size,
        params=kwargs,
    )
    if len(set(labels) - {-1}) < 2:
        from sklearn.cluster import KMeans

        k = int(min(max(2, round(math.sqrt(n / 2))), n))
        labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(Z)
    return renumber_by_size(labels)


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
    labels = labels.copy()
    limit = max_share * labels.size
    for _ in range(max_rounds):
        changed = False
        for t in sorted(set(labels.tolist()) - {-1}):
            idx = np.flatnonzero(labels == t)
            if idx.size <= limit:
                continue
            sub = subcluster(Z[idx], min_cluster_size, params)
            if sub.max() < 1:
                continue
            labels[idx] = labels.max() + 1 + sub
            changed = True
        if not changed:
            break
    return labels


def subcluster(Zs: np.ndarray, min_cluster_size: int, params: dict) -> np.ndarray:
    """Parts ``0..k-1`` of a group of papers by HDBSCAN on its own points, noise joined to the
    nearest part (the points belong to the group, so none is an outlier); all ``0`` when
    HDBSCAN finds fewer than two parts."""
    import hdbscan

    if len(Zs) < 2 * min_cluster_size:
        return np.zeros(len(Zs), dtype=np.int64)
    sub = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, **params).fit_predict(Zs)
    parts = sorted(set(sub.tolist()) - {-1})
    if len(parts) < 2:
        return np.zeros(len(Zs), dtype=np.int64)
    centres = group_means(Zs, (sub == q for q in parts))
    noise = sub == -1
    if noise.any():
        d = ((Zs[noise][:, None, :] - centres[None]) ** 2).sum(-1)
        sub[noise] = np.array(parts)[d.argmin(axis=1)]
    return np.searchsorted(parts, sub).astype(np.int64)


def hdbscan_kwargs(params: HdbscanConfig) -> dict:
    return {
        "min_samples": params.min_samples,
        "cluster_selection_method": params.cluster_selection_method,
        "cluster_selection_epsilon": params.cluster_selection_epsilon,
        "metric": params.metric,
    }


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Topic 0 is the largest; ties broken by first appearance, so ids are stable."""
    ids = [t for t in dict.fromkeys(labels.tolist()) if t != -1]
    order = sorted(ids, key=lambda t: (-int(np.sum(labels == t)), ids.index(t)))
    mapping = {old: new for new, old in enumerate(order)}
    mapping[-1] = -1
    return np.array([mapping[t] for t in labels.tolist()], dtype=np.int64)


def topic_centroids(Xn: np.ndarray, topic_ids: np.ndarray) -> np.ndarray:
    """Unit-length mean embedding of each topic (rows in topic id order)."""
    # Ids may have gaps (a refit with --previous keeps old ids): an absent topic's row stays 0.
    return unit_rows(label_means(Xn, topic_ids, int(topic_ids.max(initial=-1)) + 1))


def join_by_centroid(Xn: np.ndarray, C: np.ndarray, threshold: float) -> np.ndarray:
    """The outlier rule: each row's most similar centroid if the cosine reaches ``threshold``, else -1."""
    if len(C) == 0 or len(Xn) == 0:
        return np.full(len(Xn), -1, dtype=np.int64)
    sims = Xn @ C.T
    best, conf = sims.argmax(axis=1), sims.max(axis=1)
    return np.where(conf >= threshold, best, -1).astype(np.int64)


def assign_outliers(X: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Join each outlier to its most similar topic centroid (:func:`join_by_centroid`).

    Returns the new labels and how many outliers joined. ``assign.AssignModel``
    applies the same rule to new papers that land among the fit's outliers.
    """
    labels = labels.copy()
    out = np.flatnonzero(labels == -1)
    if out.size == 0:
        return labels, 0
    Xn = unit_rows(X)
    joined = join_by_centroid(Xn[out], topic_centroids(Xn, labels), threshold)
    labels[out] = joined
    return labels, int((joined >= 0).sum())
