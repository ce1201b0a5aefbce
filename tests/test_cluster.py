"""HDBSCAN wrapper: oversized clusters are clustered again; outliers join only when close."""

from __future__ import annotations

import numpy as np

from taxonomy.cluster import assign_outliers, renumber_by_size, split_oversized

PARAMS = {
    "min_samples": 5,
    "cluster_selection_method": "eom",
    "cluster_selection_epsilon": 0.0,
    "metric": "euclidean",
}


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [6, 0], [30, 30]], dtype=float)
    Z = np.concatenate([c + rng.normal(scale=0.5, size=(100, 2)) for c in centres])
    return Z


def test_oversized_cluster_is_split_into_its_parts():
    Z = blobs()
    merged = np.repeat([0, 0, 1], 100)  # blobs 0 and 1 given as one cluster (2/3 of the points)
    out = split_oversized(Z, merged, max_share=0.5, min_cluster_size=10, params=PARAMS)
    assert len(set(out.tolist())) == 3
    # every point of the first two blobs stays together with its own blob
    assert len(set(out[:100].tolist())) == 1 and len(set(out[100:200].tolist())) == 1
    assert out[0] != out[150] and (out[200:] == 1).all()


def test_clusters_under_the_share_are_kept():
    Z = blobs()
    merged = np.repeat([0, 0, 1], 100)
    out = split_oversized(Z, merged, max_share=1.0, min_cluster_size=10, params=PARAMS)
    assert np.array_equal(out, merged)


def test_renumber_by_size_is_stable():
    assert renumber_by_size(np.array([5, 5, -1, 2, 2, 2, 7])).tolist() == [1, 1, -1, 0, 0, 0, 2]


def test_outliers_join_only_above_threshold():
    X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7], [-1, 0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, -1, -1])
    new, n = assign_outliers(X, labels, threshold=0.5)
    assert n == 1 and new[4] in (0, 1) and new[5] == -1
    assert new[:4].tolist() == labels[:4].tolist()
