"""Embedding with the real bundled model, and its per-text disk cache."""

from __future__ import annotations

import numpy as np

from taxonomy.config import EmbeddingConfig
from taxonomy.embedding.encoder import Embedder
from taxonomy.embedding.models import model_location
from taxonomy.util.cache import ArrayStore

TEXTS = [
    "Dense retrieval with dual encoders.",
    "Scaling laws for neural language models.",
    "Low-rank adapters make fine-tuning efficient.",
]


def test_bundled_model_is_local():
    where, local = model_location("all-MiniLM-L6-v2")
    assert local and where.endswith("model")


def test_embeddings_are_real_and_normalised(tmp_path):
    X, stats = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(tmp_path)).embed(TEXTS)
    assert X.shape == (3, 384) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # Related sentences are closer than unrelated ones: the model is real, not random.
    q = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(tmp_path)).embed(
        ["neural scaling law of language model loss"]
    )[0][0]
    assert q @ X[1] > q @ X[0] and q @ X[1] > q @ X[2]
    assert stats.n_embedded == 3 and stats.n_cached == 0


def test_second_run_embeds_nothing(tmp_path):
    cfg = EmbeddingConfig(show_progress_bar=False)
    X1, _ = Embedder(cfg, ArrayStore(tmp_path)).embed(TEXTS)
    fresh = Embedder(cfg, ArrayStore(tmp_path))  # a new process would look the same
    X2, s2 = fresh.embed(TEXTS[::-1] + ["A brand new text about graph neural networks."])
    assert s2.n_cached == 3 and s2.n_embedded == 1
    assert np.array_equal(X2[:3], X1[::-1])
    X3, s3 = Embedder(cfg, ArrayStore(tmp_path)).embed(TEXTS)
    assert s3.n_embedded == 0 and fresh._encoder is not None
    assert np.array_equal(X3, X1)


def test_cache_key_depends_on_model_settings(tmp_path):
    Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(tmp_path)).embed(TEXTS)
    _, stats = Embedder(
        EmbeddingConfig(show_progress_bar=False, max_seq_length=64), ArrayStore(tmp_path)
    ).embed(TEXTS)
    assert stats.n_embedded == 3


def test_long_texts_are_counted_as_truncated(tmp_path):
    long_text = "retrieval " * 400
    _, stats = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(tmp_path)).embed(
        [long_text, TEXTS[0]]
    )
    assert stats.n_truncated == 1


def test_truncation_count_of_a_cached_run_is_kept_and_right(tmp_path):
    """A fully cached run reads the count of long texts back instead of tokenizing again."""
    texts = ["retrieval " * 400, TEXTS[0], "scaling " * 300]
    cfg = EmbeddingConfig(show_progress_bar=False, max_seq_length=128)
    store = ArrayStore(tmp_path)
    assert Embedder(cfg, store).embed(texts)[1].n_truncated == 2
    assert len(store.entries("truncated")) == 1  # counted while embedding, kept for a warm run
    _, warm = Embedder(cfg, store).embed(texts)
    assert warm.n_embedded == 0 and warm.n_truncated == 2 and len(store.entries("truncated")) == 1
    _, again = Embedder(cfg, store).embed(texts)
    assert again.n_truncated == 2 and len(store.entries("truncated")) == 1
    _, other = Embedder(cfg, store).embed(texts[1:])  # other texts: another entry, its own count
    assert other.n_truncated == 1


def test_a_lookup_reads_only_the_shards_that_hold_its_keys(tmp_path):
    """A shard's keys are read first; its vectors (checked) only when it holds a wanted key,
    and a damaged shard that does is still refused."""
    from taxonomy.embedding.encoder import EmbeddingCache

    cfg = EmbeddingConfig(backend="torch")
    rng = np.random.default_rng(0)
    shards = [[f"{s}{i:039d}" for i in range(3)] for s in "abc"]
    writer = EmbeddingCache(ArrayStore(tmp_path), cfg)
    for keys in shards:
        writer.add(keys, rng.normal(size=(3, 4)).astype(np.float32))

    class Counting(ArrayStore):
        loads = 0

        def load(self, stage, key):
            Counting.loads += 1
            return super().load(stage, key)

    cache = EmbeddingCache(Counting(tmp_path), cfg)
    got = cache.lookup([shards[1][0], "z" * 40])
    assert list(got) == [shards[1][0]] and Counting.loads == 1
    assert np.array_equal(got[shards[1][0]], writer.lookup([shards[1][0]])[shards[1][0]])
    # The vectors of a shard change on disk, its keys intact: the checksum refuses it.
    stage = tmp_path / cache.stage
    victim = next(p for p in stage.glob("*.npz") if shards[2][0] in np.load(p)["keys"].astype(str))
    with np.load(victim) as d:
        keys = d["keys"]
    with open(victim, "wb") as fh:
        np.savez(fh, keys=keys, vectors=np.zeros((3, 4), np.float32))
    fresh = EmbeddingCache(ArrayStore(tmp_path), cfg)
    assert fresh.lookup([shards[2][0]]) == {} and not victim.exists()
