"""UMAP stage: the map fitted in a worker process gives the same bytes as fitted here."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from taxonomy import reduce
from taxonomy.config import CorpusConfig, EmbeddingConfig, UmapConfig
from taxonomy.corpus import load_corpus
from taxonomy.embedding.encoder import Embedder
from taxonomy.util.cache import ArrayStore


@pytest.fixture(scope="module")
def X(shared_cache) -> np.ndarray:
    texts = load_corpus(CorpusConfig()).texts
    cfg = EmbeddingConfig(backend="torch", show_progress_bar=False)
    return Embedder(cfg, ArrayStore(shared_cache)).embed(texts)[0]


def fit(X, **kw):
    return reduce.reduce_embeddings(X, UmapConfig(n_neighbors=10), random_state=7, **kw)


@pytest.fixture(scope="module")
def here(X):
    return fit(X, concurrent=False)


def test_worker_gives_the_same_bytes(X, here):
    Z, xy = fit(X, concurrent=True)
    assert Z.tobytes() == here[0].tobytes() and xy.tobytes() == here[1].tobytes()
    assert Z.shape == (len(X), 5) and xy.shape == (len(X), 2) and xy.dtype == np.float32


def test_a_worker_that_cannot_run_falls_back(X, here, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker exits at once
    _, xy = fit(X, concurrent=True)
    assert xy.tobytes() == here[1].tobytes()


def test_numba_keeps_umaps_compiled_code_inside_the_block_only():
    import umap.layouts

    from taxonomy.util.jit import cache_state, disk_cached, numba_disk_cache

    epoch = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    before = cache_state()
    assert not disk_cached(epoch)  # umap declares it without cache=True
    with numba_disk_cache() as switched:
        assert switched > 0 and disk_cached(epoch)
        with numba_disk_cache() as nested:  # a nested block finds them switched
            assert nested == 0
        assert disk_cached(epoch)
    assert cache_state() == before


def test_map_starts_from_the_embeddings_principal_axes(X):
    start = reduce.map_init(X)
    assert start.shape == (len(X), 2)
    np.testing.assert_array_equal(start, reduce.map_init(X.copy()))  # deterministic, sign fixed
