"""Past one machine: fit on a sample, then embed and place the rest in batches on an engine.

``engine.kind: local`` runs the batches in this process; ``engine.kind: dask``
sends them to a Dask cluster (``engine.address``, or a local cluster of
``engine.n_workers`` when none is given). Each batch is independent (embed,
then :meth:`AssignModel.place`), so the result does not depend on where or in
what order batches run: the Dask path gives the same assignments as the local
one. Why Dask and not Ray: docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

from .assign import AssignModel, Placement
from .config import EngineConfig, RunConfig
from .errors import ConfigError

DISTRIBUTED_INSTALL_HINT = "pip install '.[distributed]'"


def split_sample(corpus, n: int, seed: int):
    """``(sample, rest)``: a seeded random sample of ``n`` papers to fit on, and the others.

    Both keep the input order, so the same config and data always give the same split.
    """
    idx = np.random.default_rng(seed).permutation(len(corpus))
    keep = np.zeros(len(corpus), dtype=bool)
    keep[idx[:n]] = True
    return subset_corpus(corpus, np.flatnonzero(keep)), subset_corpus(corpus, np.flatnonzero(~keep))


def subset_corpus(corpus, idx: np.ndarray):
    """A corpus of the papers at ``idx`` (per-paper lists are sliced, the rest copied)."""
    import dataclasses

    n = len(corpus)
    fields = {}
    for f in dataclasses.fields(corpus):
        v = getattr(corpus, f.name)
        if isinstance(v, list) and len(v) == n:
            v = [v[i] for i in idx]
        elif (
            isinstance(v, dict)
            and all(isinstance(x, list) and len(x) == n for x in v.values())
            and v
        ):
            v = {k: [x[i] for i in idx] for k, x in v.items()}
        fields[f.name] = v
    return type(corpus)(**fields)


def batch_slices(n: int, size: int) -> list[slice]:
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


@lru_cache(maxsize=4)
def _embedder(emb_json: str, cache_dir: str | None):
    """One embedder (model loaded once) per worker process and config."""
    from .cache import ArrayStore
    from .config import EmbeddingConfig
    from .embed import Embedder

    return Embedder(EmbeddingConfig.model_validate_json(emb_json), ArrayStore(cache_dir))


def embed_place_batch(
    emb_json: str, cache_dir: str | None, model: AssignModel, texts: list[str]
) -> Placement:
    """Embed one batch and place it: the task each worker runs."""
    from .embed import text_key

    X, _ = _embedder(emb_json, cache_dir).embed(texts, progress=False)
    return model.place(X, [text_key(t) for t in texts])


def _concat(parts: list[Placement]) -> Placement:
    return Placement(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("topic_ids", "probabilities", "xy", "in_fit")
        )
    )


@contextlib.contextmanager
def dask_client(engine: EngineConfig) -> Iterator[object]:
    """A client for ``engine.address``, or for a local cluster started (and stopped) here."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            f"engine.kind: 'dask' needs dask.distributed, which is not installed; "
            f"{DISTRIBUTED_INSTALL_HINT} installs it (or set engine.kind: local)"
        ) from None
    if engine.address:
        try:
            client = Client(engine.address, timeout="30s")
        except OSError as err:
            raise ConfigError(
                f"engine.address: cannot reach a Dask scheduler at {engine.address!r}: {err}"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=engine.n_workers,
            threads_per_worker=engine.threads_per_worker,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def embed_and_place(
    cfg: RunConfig,
    model: AssignModel,
    texts: list[str],
    log: Callable[[str], None] = lambda m: None,
) -> Placement:
    """Embed and place ``texts`` in batches of ``engine.batch_size`` on the configured engine."""
    eng = cfg.engine
    emb = cfg.embedding.model_copy(update={"show_progress_bar": False})
    cache_dir = cfg.cache.dir if cfg.cache.enabled else None
    slices = batch_slices(len(texts), eng.batch_size)
    if not texts:
        return Placement(
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros((0, 2), np.float32),
            np.zeros(0, bool),
        )
    if eng.kind == "local":
        parts = []
        for i, s in enumerate(slices):
            log(f"        batch {i + 1}/{len(slices)} ({s.stop - s.start} papers)")
            parts.append(embed_place_batch(emb.model_dump_json(), cache_dir, model, texts[s]))
        return _concat(parts)
    if not eng.address and emb.threads is None:
        # Workers share this machine: one model thread per worker thread, no oversubscription.
        emb = emb.model_copy(update={"threads": eng.threads_per_worker})
    with dask_client(eng) as client:
        log(
            f"        {len(slices)} batches on Dask ({eng.address or f'local cluster, {eng.n_workers} workers'})"
        )
        shared = client.scatter(model, broadcast=True)  # the fitted papers travel once per worker
        futures = [
            client.submit(
                embed_place_batch, emb.model_dump_json(), cache_dir, shared, texts[s], pure=False
            )
            for s in slices
        ]
        return _concat(client.gather(futures))


def assign_rest(result, log: Callable[[str], None] = print) -> str:
    """Place the papers left out of a sampled fit; returns their ``documents.csv`` rows (no header).

    Also records ``n_fit``/``n_assigned`` in the metrics and the time as the ``assign`` stage.
    """
    from .assign import leaf_paths, placement_rows
    from .embed import text_key
    from .outputs import DOCUMENT_COLUMNS, csv_text, tree_dict

    rest = result.rest
    t0 = time.perf_counter()
    log(f"[assign] placing the other {len(rest)} papers (engine: {result.cfg.engine.kind})")
    model = AssignModel(
        result.embeddings,
        result.topic_ids,
        result.probabilities,
        result.xy,
        [text_key(t) for t in result.corpus.texts],
    )
    placed = embed_and_place(result.cfg, model, rest.texts, log=log)
    rows = placement_rows(rest, placed, leaf_paths(tree_dict(result)))
    result.seconds["assign"] = round(time.perf_counter() - t0, 3)
    result.metrics.update(
        n_fit=len(result.corpus),
        n_assigned=len(rest),
        n_assigned_outliers=int((placed.topic_ids == -1).sum()),
    )
    return csv_text(DOCUMENT_COLUMNS, rows).split("\n", 1)[1]
