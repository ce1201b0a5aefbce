"""What a Dask worker holds for one run: its embedder, set up and torn down with the run.

The embedder (and the model it loads) lives in a worker plugin registered for the
run and unregistered when it ends, not in a process-wide cache that outlives it.
This module imports dask.distributed: :mod:`~taxonomy.runs.distributed` imports it
only for ``engine.kind: dask``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from distributed import WorkerPlugin, get_worker

from ..config import EmbeddingConfig
from ..embedding.encoder import Embedder
from ..util.cache import ArrayStore


class EmbedderPlugin(WorkerPlugin):
    """One :class:`Embedder` per worker for one run (its model loads on first use)."""

    def __init__(self, emb: EmbeddingConfig, cache_dir: str | None):
        self.emb_json = emb.model_dump_json()
        self.cache_dir = cache_dir
        self.embedder: Embedder | None = None

    def setup(self, worker) -> None:
        cfg = EmbeddingConfig.model_validate_json(self.emb_json)
        self.embedder = Embedder(cfg, ArrayStore(self.cache_dir))

    def teardown(self, worker) -> None:
        self.embedder = None


@contextlib.contextmanager
def embedder_on_workers(client, emb: EmbeddingConfig, cache_dir: str | None) -> Iterator[str]:
    """Give every worker of ``client`` an embedder for the duration of the block; yields the
    name the tasks find it under (:func:`worker_embedder`)."""
    name = f"taxonomy-embedder-{uuid.uuid4().hex}"
    client.register_plugin(EmbedderPlugin(emb, cache_dir), name=name)
    try:
        yield name
    finally:
        client.unregister_worker_plugin(name)


def worker_embedder(name: str) -> Embedder:
    """The embedder of the run's plugin ``name`` on the worker running this task."""
    return get_worker().plugins[name].embedder
