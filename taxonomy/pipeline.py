"""The run: corpus -> embeddings -> UMAP -> HDBSCAN -> taxonomy -> names -> outputs.

Each costly stage's result is cached under a key made from everything it
depends on, so a re-run (or a sweep point) recomputes only what changed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from . import __version__
from .cache import ArrayStore, array_fingerprint, hash_key
from .cluster import assign_outliers, cluster_points
from .config import RunConfig, resolve_auto
from .corpus import Corpus, load_corpus
from .embed import Embedder, EmbedStats
from .errors import InputError
from .hierarchy import Taxonomy, build_taxonomy, level_sizes
from .label import Labeller
from .reduce import REDUCE_VERSION, reduce_embeddings
from .timeline import Timeline, tree_metrics, tree_timeline

MIN_DOCS = 10
LIBRARIES = [
    "taxonomy",
    "sentence-transformers",
    "torch",
    "umap-learn",
    "hdbscan",
    "scikit-learn",
    "numpy",
    "bertopic",
    "plotly",
]


@dataclass
class RunResult:
    cfg: RunConfig
    corpus: Corpus
    embeddings: np.ndarray
    reduced: np.ndarray
    xy: np.ndarray
    topic_ids: np.ndarray
    probabilities: np.ndarray
    taxonomy: Taxonomy
    metrics: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    # Papers left out of a sampled fit (engine.fit_sample); run() places them with assign.
    rest: Corpus | None = None
    # Topics over time (timeline.py); None when no paper has a date.
    timeline: Timeline | None = None
    # What changed against a previous run or in an update (changes.json); None for a plain run.
    changes: dict | None = None


class StageTimer:
    def __init__(self, log: Callable[[str], None]):
        self.seconds: dict[str, float] = {}
        self.log = log

    @contextmanager
    def __call__(self, stage: str, what: str) -> Iterator[None]:
        self.log(f"[{stage}] {what}")
        t0 = time.perf_counter()
        yield
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - t0, 3)


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = __version__ if lib == "taxonomy" else "not installed"
    return out


def store_for(cfg: RunConfig) -> ArrayStore:
    return ArrayStore(cfg.cache.dir if cfg.cache.enabled else None)


def fit(
    cfg: RunConfig, *, log: Callable[[str], None] = print, embedder: Embedder | None = None
) -> RunResult:
    """Run every stage in memory and return the result (nothing is written)."""
    timer = StageTimer(log)
    store = store_for(cfg)
    with timer("load", f"reading {cfg.corpus.path}"):
        corpus = load_corpus(cfg.corpus)
    if len(corpus) < MIN_DOCS:
        raise InputError(
            corpus.source,
            f"{len(corpus)} usable paper{'' if len(corpus) == 1 else 's'} after skipping {corpus.n_skipped} "
            f"({_skip_text(corpus.skipped)}); a taxonomy needs at least {MIN_DOCS}",
        )
    log(f"        {len(corpus)} papers ({corpus.n_skipped} skipped: {_skip_text(corpus.skipped)})")
    rest = None
    if cfg.engine.fit_sample and len(corpus) > cfg.engine.fit_sample:
        from .distributed import split_sample

        corpus, rest = split_sample(corpus, cfg.engine.fit_sample, cfg.seed)
        log(
            f"        fitting on a sample of {len(corpus)}; the other {len(rest)} are assigned after"
        )
    cfg = resolve_auto(cfg, len(corpus))

    embedder = embedder or Embedder(cfg.embedding, store)
    with timer("embed", f"embedding {len(corpus)} papers with {cfg.embedding.model}"):
        X, estats = embedder.embed(corpus.texts)
    log(f"        {estats.n_cached} from cache, {estats.n_embedded} embedded")

    u = cfg.umap
    with timer("reduce", f"UMAP to {u.n_components}-D and 2-D (n_neighbors={u.n_neighbors})"):
        key = hash_key(
            "reduce",
            array_fingerprint(X),
            u.model_dump(),
            cfg.seed,
            _versions("umap-learn"),
            REDUCE_VERSION,
        )

        def reduce() -> dict[str, np.ndarray]:
            Z, xy = reduce_embeddings(
                X,
                n_neighbors=u.n_neighbors,
                n_components=u.n_components,
                min_dist=u.min_dist,
                metric=u.metric,
                map_min_dist=u.map_min_dist,
                random_state=cfg.seed,
            )
            return {"Z": Z, "xy": xy}

        hit = store.get_or_compute("reduce", key, reduce)
        Z, xy = hit["Z"], hit["xy"]

    h = cfg.hdbscan
    with timer(
        "cluster", f"HDBSCAN (min_cluster_size={h.min_cluster_size}, min_samples={h.min_samples})"
    ):
        key = hash_key(
            "cluster",
            array_fingerprint(Z),
            h.model_dump(exclude={"outlier_threshold"}),
            cfg.seed,
            _versions("hdbscan", "scikit-learn"),
        )

        def cluster() -> dict[str, np.ndarray]:
            ids, probs = cluster_points(
                Z,
                min_cluster_size=h.min_cluster_size,
                min_samples=h.min_samples,
                cluster_selection_method=h.cluster_selection_method,
                cluster_selection_epsilon=h.cluster_selection_epsilon,
                metric=h.metric,
                random_state=cfg.seed,
                max_cluster_share=h.max_cluster_share,
            )
            return {"ids": ids, "probs": probs}

        hit = store.get_or_compute("cluster", key, cluster)
        raw_ids, raw_probs = hit["ids"], hit["probs"]
        topic_ids, probs, n_joined = assign_outliers(X, raw_ids, raw_probs, h.outlier_threshold)

    n_topics = int(topic_ids.max()) + 1
    with timer("taxonomy", f"grouping {n_topics} topics into a taxonomy"):
        sizes = level_sizes(n_topics, cfg.taxonomy.levels, cfg.taxonomy.top_level)
        # Grouped in the UMAP space the topics were found in (see hierarchy.py).
        tax = build_taxonomy(Z, topic_ids, sizes)

    with timer("label", f"naming {len(tax.nodes)} nodes"):
        lab = cfg.labels
        labeller = Labeller(
            corpus.texts,
            X,
            lambda texts: embedder.embed(texts, progress=False)[0],
            n_keywords=lab.n_keywords,
            ngram_range=tuple(lab.ngram_range),
            max_words=lab.max_words,
            n_candidates=lab.n_candidates,
            diversity=lab.diversity,
            n_representative=lab.n_representative,
            extra_stop_words=lab.extra_stop_words,
        )
        labeller.label_tree(tax)

    with timer("timeline", "topics over time"):
        timeline = tree_timeline(
            corpus.dates,
            tax,
            time_bin=cfg.taxonomy.time_bin,
            recent_periods=cfg.taxonomy.recent_periods,
        )
        if timeline is not None:  # the resolved bin goes to config.yaml; updates keep it
            cfg.taxonomy.time_bin = timeline.time_bin

    result = RunResult(
        cfg, corpus, X, Z, xy, topic_ids, probs, tax, seconds=timer.seconds, rest=rest
    )
    result.timeline = timeline
    result.metrics = run_metrics(result, estats, raw_ids, n_joined)
    if timeline is not None:
        result.metrics.update(tree_metrics(timeline, tax))
    with timer(
        "evaluate",
        "coverage, NPMI coherence, diversity" + (", gold agreement" if corpus.gold else ""),
    ):
        from .evaluate import evaluate_run

        result.metrics.update(evaluate_run(result))
    return result


def _versions(*libs: str) -> dict[str, str]:
    """Part of a cache key: a library upgrade may change a stage's result."""
    versions = library_versions()
    return {lib: versions.get(lib, "?") for lib in libs}


def _skip_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in skipped.items())


def run_metrics(r: RunResult, estats: EmbedStats, raw_ids: np.ndarray, n_joined: int) -> dict:
    tax = r.taxonomy
    n = len(r.corpus)
    return {
        "n_docs": n,
        "n_read": r.corpus.n_read,
        "n_skipped": r.corpus.n_skipped,
        "skipped": dict(r.corpus.skipped),
        "n_truncated": estats.n_truncated,
        "n_topics": len(tax.level(tax.n_levels)),
        "n_levels": tax.n_levels,
        "n_topics_per_level": {str(lv): len(tax.level(lv)) for lv in range(1, tax.n_levels + 1)},
        "outlier_share": round(float(np.mean(r.topic_ids == -1)), 4),
        "outlier_share_hdbscan": round(float(np.mean(raw_ids == -1)), 4),
        "n_outliers_joined": n_joined,
        "embedding_cache": {"cached": estats.n_cached, "embedded": estats.n_embedded},
        "seed": r.cfg.seed,
        "versions": dict(library_versions()),
    }


def run(
    cfg: RunConfig,
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    previous: Path | None = None,
) -> RunResult:
    """Fit and write the run directory (``out_dir`` or ``<output_dir>/<name>``).

    With ``previous`` (a run directory), nodes keep that run's ids and names where
    they match it (lineage.py) and ``changes.json`` says what changed.
    """
    from .outputs import check_target, run_files, write_run_dir

    target = Path(out_dir) if out_dir else Path(cfg.output_dir) / cfg.name
    check_target(target, overwrite)  # before any work: fail fast, clobber nothing
    prev = None
    if previous is not None:
        from .runstate import load_run

        prev = load_run(previous)
    result = fit(cfg, log=log)
    if prev is not None:
        from .lineage import refit_against

        log(f"[lineage] matching the tree to {previous}")
        t0 = time.perf_counter()
        refit_against(result, prev)
        result.seconds["lineage"] = round(time.perf_counter() - t0, 3)
    log(f"[write] {target}")
    extra_rows = ""
    if result.rest is not None:
        from .distributed import assign_rest

        extra_rows = assign_rest(result, log=log)
    files = run_files(result)
    files["documents.csv"] += extra_rows
    write_run_dir(target, files, overwrite)
    result.out_dir = target
    return result
