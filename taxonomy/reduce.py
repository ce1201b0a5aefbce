"""Dimension reduction with UMAP: a low-dimensional space to cluster in, and a 2-D map."""

from __future__ import annotations

import warnings

import numpy as np

from .config import UmapConfig


def _fit_transform(X: np.ndarray, **kwargs) -> tuple[np.ndarray, object]:
    """``umap.UMAP(**kwargs).fit_transform(X)`` and the fitted model."""
    import umap

    with warnings.catch_warnings():
        # umap warns that a fixed random_state disables parallelism: that is the point (determinism).
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        model = umap.UMAP(**kwargs)
        return model.fit_transform(X), model


MAP_EPOCHS = 200
# Part of the reduce cache key: bump when the computation changes for the same settings.
REDUCE_VERSION = 2


def map_init(Z: np.ndarray) -> np.ndarray:
    """Start the 2-D map from the clustering space's two principal axes, not a second
    spectral embedding: the clusters start apart, and the eigen-solve is not paid twice."""
    Zc = Z - Z.mean(axis=0)
    # Deterministic: full SVD, each axis's sign fixed by its largest loading.
    _, _, vt = np.linalg.svd(Zc.astype(np.float64), full_matrices=False)
    axes = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(axis=1)])[:, None]
    return Zc @ axes.T


def reduce_embeddings(
    X: np.ndarray, params: UmapConfig, *, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(Z, xy)``: ``params.n_components``-D coordinates to cluster in and a 2-D map.

    ``params`` must have ``n_neighbors`` resolved (``config.resolve_auto``). From
    4,096 papers up, the map reuses the first fit's nearest-neighbour graph, so
    the costly approximate kNN search runs once; below that umap computes exact
    neighbours (cheap there) and keeps no graph to reuse.
    """
    n = X.shape[0]
    n_neighbors = min(int(params.n_neighbors), n - 1)
    # Spectral init needs more points than dimensions; tiny corpora start from random.
    init = "spectral" if n > params.n_components + 2 else "random"
    Z, reducer = _fit_transform(
        X,
        n_neighbors=n_neighbors,
        n_components=params.n_components,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=random_state,
        init=init,
        low_memory=True,
    )
    knn = tuple(
        getattr(reducer, a, None) for a in ("_knn_indices", "_knn_dists", "_knn_search_index")
    )
    xy, _ = _fit_transform(
        X,
        n_neighbors=n_neighbors,
        n_components=2,
        min_dist=params.map_min_dist,
        metric=params.metric,
        random_state=random_state,
        init=map_init(Z) if n > 4 else "random",
        # From that start 200 epochs settle the map (umap's default above 10k points; below
        # it uses 500, which made the map cost as much as the clustering space at 5k).
        n_epochs=MAP_EPOCHS,
        precomputed_knn=knn,
        low_memory=True,
    )
    return Z.astype(np.float32), xy.astype(np.float32)
