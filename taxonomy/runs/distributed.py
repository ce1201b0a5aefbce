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
import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from ..config import EngineConfig, RunConfig
from ..corpus import Corpus
from ..embedding.encoder import Embedder, text_key
from ..errors import ConfigError
from ..util.cache import ArrayStore
from ..util.lazy import LazyRows
from .assign import AssignModel, Placement

DISTRIBUTED_INSTALL_HINT = "pip install '.[distributed]'"


def split_sample(corpus: Corpus, n: int, seed: int) -> tuple[Corpus, Corpus]:
    """``(sample, rest)``: a seeded random sample of ``n`` papers to fit on, and the others.

    Both keep the input order, so the same config and data always give the same split.
    """
    idx = np.random.default_rng(seed).permutation(len(corpus))
    keep = np.zeros(len(corpus), dtype=bool)
    keep[idx[:n]] = True
    return subset_corpus(corpus, np.flatnonzero(keep)), subset_corpus(corpus, np.flatnonzero(~keep))


def subset_corpus(corpus: Corpus, idx: np.ndarray) -> Corpus:
    """A corpus of the papers at ``idx`` (per-paper lists are sliced, the rest copied)."""
    n = len(corpus)
    fields = {}
    for f in dataclasses.fields(corpus):
        v = getattr(corpus, f.name)
        if isinstance(v, (list, LazyRows)) and len(v) == n:
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


def embed_place_batch(
    embedder: Embedder | str, model: AssignModel, texts: list[str], with_embeddings: bool = False
) -> Placement:
    """Embed one batch and place it: the task each worker runs.

    ``embedder`` is the embedder itself, or on a Dask worker the name of the run's plugin
    that holds the worker's one (:mod:`~taxonomy.runs.dask_worker`). The embeddings travel
    back (``placement.embeddings``) only when the caller keeps them (an update stores them).
    """
    if isinstance(embedder, str):
        from .dask_worker import worker_embedder

        embedder = worker_embedder(embedder)
    X, _ = embedder.embed(texts, progress=False)
    placed = model.place(X, [text_key(t) for t in texts])
    if with_embeddings:
        placed.embeddings = np.asarray(X, dtype=np.float32)
    return placed


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
    *,
    embedder: Embedder | None = None,
    with_embeddings: bool = False,
) -> Placement:
    """Embed and place ``texts`` in batches of ``engine.batch_size`` on the configured engine.

    The one path by which papers outside a fit get a topic: the rest of a sampled fit,
    ``taxonomy assign`` and ``taxonomy update``. ``with_embeddings``: bring the papers'
    embeddings back too (``placement.embeddings``).

    ``embedder``: the caller's, for ``engine.kind: local`` (one is made for this call when
    none is given); Dask workers each make their own for the duration of the call.
    """
    eng = cfg.engine
    emb = cfg.embedding.model_copy(update={"show_progress_bar": False})
    cache_dir = cfg.cache.dir if cfg.cache.enabled else None
    slices = batch_slices(len(texts), eng.batch_size)
    if not texts:
        return Placement.empty()
    if eng.kind == "local":
        embedder = embedder or Embedder(emb, ArrayStore(cache_dir))
        parts = []
        for i, s in enumerate(slices):
            log(f"        batch {i + 1}/{len(slices)} ({s.stop - s.start} papers)")
            parts.append(embed_place_batch(embedder, model, texts[s], with_embeddings))
        return Placement.concat(parts)
    if not eng.address and emb.threads is None:
        # Workers share this machine: one model thread per worker thread, no oversubscription.
        emb = emb.model_copy(update={"threads": eng.threads_per_worker})
    with dask_client(eng) as client:
        from .dask_worker import embedder_on_workers  # dask is installed: dask_client checked

        with embedder_on_workers(client, emb, cache_dir) as name:
            log(
                f"        {len(slices)} batches on Dask ({eng.address or f'local cluster, {eng.n_workers} workers'})"
            )
            # The fitted papers travel once per worker.
            shared = client.scatter(model, broadcast=True)
            futures = [
                client.submit(
                    embed_place_batch, name, shared, texts[s], with_embeddings, pure=False
                )
                for s in slices
            ]
            return gather_in_order(futures, log)


def gather_in_order(futures: list, log: Callable[[str], None]) -> Placement:
    """Each batch's placement as it finishes, its future released at once (so a worker frees
    the batch's result instead of holding every batch until the last), concatenated in order."""
    from distributed import as_completed

    index = {f.key: i for i, f in enumerate(futures)}
    parts: list[Placement | None] = [None] * len(futures)
    step = max(1, len(futures) // 10)
    for done, (future, placed) in enumerate(as_completed(futures, with_results=True), 1):
        parts[index[future.key]] = placed
        future.release()
        if done % step == 0 or done == len(futures):
            log(f"        {done}/{len(futures)} batches placed")
    futures.clear()
    return Placement.concat(parts)
