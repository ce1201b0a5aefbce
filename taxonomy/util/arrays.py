"""Row arithmetic every stage shares: unit-length rows and the mean row of each group."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def unit_rows(X: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """``X`` as ``dtype`` with each row scaled to length 1 (an all-zero row stays zero)."""
    X = np.asarray(X, dtype=dtype)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def unit_vector(v: np.ndarray) -> np.ndarray:
    """One vector scaled to length 1 (zero stays zero); its dtype kept."""
    return v / max(float(np.linalg.norm(v)), 1e-12)


def group_means(X: np.ndarray, groups: Iterable[np.ndarray]) -> np.ndarray:
    """Row ``i``: the mean of the rows of ``X`` that ``groups[i]`` selects (indices or a
    boolean mask); zeros for a group that selects none."""
    X = np.asarray(X)
    means = [
        rows.mean(axis=0) if len(rows) else np.zeros(X.shape[1], X.dtype)
        for rows in (X[g] for g in groups)
    ]
    return np.stack(means) if means else np.zeros((0, X.shape[1]), X.dtype)


def label_means(X: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Row ``g``: the mean of the rows labelled ``g``, for ``g`` in ``0..n-1`` (zeros if none)."""
    return group_means(X, (labels == g for g in range(n)))


def unit_mean(X: np.ndarray) -> np.ndarray:
    """The mean row of ``X`` scaled to length 1: the centroid direction of a group of papers."""
    return unit_vector(np.asarray(X).mean(axis=0))
