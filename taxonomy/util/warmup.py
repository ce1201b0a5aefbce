"""``taxonomy warmup``: pay, once at set-up, what a machine's first run would pay.

A first run on a fresh install compiles EVoC's, umap's and pynndescent's numba code (~90 s
of a 66-paper run on a 2-core machine, against ~3 s of work), and, with
``embedding.backend: auto``, times the embedding backends on this CPU. Both are properties of
the install and the machine, not of a corpus, so ``scripts/install.sh`` runs this step:

1. the embedding backend is chosen (remembered per machine and model) and the model is
   converted into the config's ``cache.dir`` (ONNX, OpenVINO), as a run would;
2. the bundled sample is fitted in memory, with a throwaway stage cache (nothing of the
   sample is kept, so a later run of it embeds and fits for real), inside
   :func:`taxonomy.util.jit.numba_disk_cache`: every numba function the fit calls is compiled
   into numba's disk cache (EVoC's declare ``cache=True``; umap's and pynndescent's are
   switched on for the block);
3. code paths the 66 papers do not reach are run on jittered copies of their embeddings:
   EVoC and both UMAPs on :data:`LARGER` points (several EVoC layers), and umap's
   approximate nearest-neighbour search, which runs from
   :data:`taxonomy.reduce.EXACT_BELOW` papers up.

Later processes load the compiled code instead of compiling it. numba keys it by the
library's source file and this CPU, so an upgrade of a library or another CPU compiles again
(and the next warm-up or run caches that). Not cacheable, so compiled in every process that
needs them: pynndescent's ``nn_descent`` (numba refuses: it reads a global array; ~15-30 s
of CPU, only in runs of ``EXACT_BELOW``+ papers) and umap's ``tau_rand``/``tau_rand_int``
(compiled when umap is imported, before any cache can be switched on; ~0.4 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import numpy as np

from ..config import RunConfig, build_config, load_config
from .arrays import unit_rows
from .jit import numba_disk_cache

Log = Callable[[str], None]
# Points of the jittered corpus that reaches several EVoC layers (with exact neighbours).
LARGER = 1000


def warm_up(cfg: RunConfig, *, log: Log = print) -> dict[str, float]:
    """Run the steps of the module docstring for ``cfg``'s embedding and UMAP settings;
    return the seconds each took."""
    from ..embedding import Embedder
    from ..pipeline import store_for

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    embedder = Embedder(cfg.embedding, store_for(cfg), log=log)
    encoder = embedder.encoder  # the backend's choice and the model's conversion happen here
    seconds["model"] = time.perf_counter() - t0
    log(f"[warmup] embedding model ready ({embedder.cfg.backend}) in {seconds['model']:.1f} s")
    with tempfile.TemporaryDirectory(prefix="taxonomy-warmup-") as tmp, numba_disk_cache():
        data = cfg.model_dump(mode="json")
        data["corpus"] = {"path": "builtin:sample"}
        data["cache"] = {"enabled": True, "dir": tmp}
        data["embedding"] = dict(embedder.cfg.model_dump(mode="json"), show_progress_bar=False)
        data["labels"]["method"] = "extractive"  # no endpoint is asked during set-up
        sample = build_config(data, "warmup")
        seconds.update(compile_run(sample, Embedder(sample.embedding, store_for(sample), encoder)))
    log(
        f"[warmup] numba code compiled and cached: the sample's fit {seconds['fit']:.1f} s, "
        f"{LARGER} papers' {seconds['larger']:.1f} s, large corpora's kNN {seconds['knn']:.1f} s"
    )
    return seconds


def compile_run(sample: RunConfig, embedder) -> dict[str, float]:
    """Fit the sample, then the stages whose code paths depend on the corpus's size and
    structure on jittered copies of its embeddings (inside :func:`numba_disk_cache`)."""
    from ..pipeline import fit
    from ..reduce import EXACT_BELOW, reduce_embeddings, shared_knn
    from ..shape import evoc_layers

    seconds = {}
    t0 = time.perf_counter()
    X = fit(sample, log=lambda msg: None, embedder=embedder).embeddings
    seconds["fit"] = time.perf_counter() - t0
    rng = np.random.default_rng(sample.seed)

    def jittered(n: int) -> np.ndarray:
        Y = X[rng.integers(0, len(X), n)] + 0.02 * rng.normal(size=(n, X.shape[1]))
        return unit_rows(Y)

    t0 = time.perf_counter()
    Y = jittered(LARGER)
    evoc_layers(Y, sample.seed)
    reduce_embeddings(
        Y,
        sample.umap.model_copy(update={"n_neighbors": 15}),
        random_state=sample.seed,
        concurrent=False,
    )
    seconds["larger"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # pynndescent's nn_descent itself cannot be cached (it reads a global array); what it
    # calls can.
    shared_knn(jittered(EXACT_BELOW), 15, sample.umap.metric, sample.seed)
    seconds["knn"] = time.perf_counter() - t0
    return seconds


def main_warmup(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    seconds = warm_up(cfg, log=lambda msg: print(msg, flush=True))
    print(f"warm-up done in {sum(seconds.values()):.0f} s: later runs start compiled")
    return 0
