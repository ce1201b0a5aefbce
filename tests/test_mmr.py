"""Our MMR (taxonomy.util.mmr) picks what BERTopic's private one picks, on real phrases."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy.util.mmr import mmr


@pytest.fixture(scope="module")
def phrases_and_vectors(shared_cache):
    """Candidate phrases of the sample's first abstracts, embedded by the bundled model."""
    from taxonomy.config import CorpusConfig, EmbeddingConfig
    from taxonomy.corpus import load_corpus
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.util.cache import ArrayStore

    texts = load_corpus(CorpusConfig()).texts[:40]
    words = sorted({w.strip(".,;:()").lower() for t in texts for w in t.split() if len(w) > 6})
    emb = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(shared_cache))
    X = emb.embed(texts, progress=False)[0]
    P = emb.embed(words, progress=False)[0]
    return words, P, X


@pytest.mark.parametrize("diversity", [0.0, 0.1, 0.3, 0.7, 1.0])
def test_mmr_picks_what_bertopic_picks(phrases_and_vectors, diversity):
    pytest.importorskip("bertopic")
    from bertopic.representation._mmr import mmr as bertopic_mmr

    words, P, X = phrases_and_vectors
    assert len(words) > 50
    for start in range(0, 40, 8):
        centroid = X[start : start + 8].mean(axis=0)
        for top_n in (1, 5, 12):
            ours = mmr(centroid[None, :], P, words, top_n=top_n, diversity=diversity)
            theirs = bertopic_mmr(centroid[None, :], P, words, top_n=top_n, diversity=diversity)
            assert ours == theirs, (diversity, start, top_n)


def test_mmr_bounds():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(4, 8))
    items = ["a", "b", "c", "d"]
    assert mmr(P[0], P, items, top_n=10) == mmr(P[0], P, items, top_n=4)
    assert sorted(mmr(P[0], P, items, top_n=10)) == items  # never more than there are
    assert mmr(P[0], P, items, top_n=1) == ["a"]  # the most relevant first
    assert mmr(P[0], P, [], top_n=3) == [] and mmr(P[0], P, items, top_n=0) == []
