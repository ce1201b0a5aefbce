"""The run: corpus -> embeddings -> UMAP -> HDBSCAN -> taxonomy -> names -> outputs.

:func:`run` is the one path every command takes (``taxonomy run``, each point
of ``taxonomy sweep``); :func:`fit` does the work in memory. Each costly
stage's result is cached under a key made from everything it depends on, so a
re-run (or a sweep point) recomputes only what changed. Stage functions take
the arrays and the config section they need; this module wires them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .cluster import assign_outliers, cluster_points
from .config import RunConfig, resolve_auto, resolve_shape
from .corpus import Corpus, load_corpus
from .embedding.encoder import Embedder, EmbedStats, text_key
from .errors import InputError
from .evaluate import evaluate_taxonomy
from .hierarchy import Taxonomy, build_taxonomy
from .naming import load_vocabulary, name_tree
from .naming.vocabulary import Vocabulary
from .reduce import REDUCE_VERSION, reduce_with_graph
from .runs.assign import AssignModel, Placement, fit_placement, vote_size
from .runs.rundir import run_files
from .runs.timeline import Timeline, resolve_time, timeline_for, tree_metrics
from .seeds import SeedPlacement, cluster_stage, mark_seeds, place_seeds, seed_texts, tree_sizes
from .shape import shape_taxonomy
from .util.cache import ArrayStore, array_fingerprint, hash_key
from .util.folders import check_target, write_run_dir
from .util.memory import check_fit_memory
from .util.versions import version, versions

MIN_DOCS = 10
LIBRARIES = [
    "taxonomy",
    "sentence-transformers",
    "torch",
    "umap-learn",
    "hdbscan",
    "evoc",
    "scikit-learn",
    "numpy",
    "bertopic",
    "plotly",
]

Log = Callable[[str], None]


@dataclass
class RunResult:
    """Everything a fit produced, in memory (``run`` writes it out)."""

    cfg: RunConfig
    corpus: Corpus
    embeddings: np.ndarray
    reduced: np.ndarray
    xy: np.ndarray
    raw_ids: np.ndarray  # HDBSCAN's labels before outliers were joined
    placement: Placement
    taxonomy: Taxonomy
    metrics: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    # Papers left out of a sampled fit (engine.fit_sample) and where run() placed them.
    rest: Corpus | None = None
    rest_placement: Placement | None = None

    @property
    def topic_ids(self) -> np.ndarray:
        return self.placement.topic_ids

    @property
    def probabilities(self) -> np.ndarray:
        return self.placement.probabilities

    # Topics over time (runs/timeline.py); None when no paper has a date.
    timeline: Timeline | None = None
    # What changed against a previous run or in an update (changes.json); None for a plain run.
    changes: dict | None = None


class StageTimer:
    def __init__(self, log: Log):
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
    return {
        **versions(LIBRARIES, missing="not installed"),
        "taxonomy": version("taxonomy", missing=__version__),
    }


def stage_versions(*libs: str) -> dict[str, str]:
    """Part of a cache key: a library upgrade may change a stage's result."""
    installed = library_versions()
    return {lib: installed.get(lib, "?") for lib in libs}


def store_for(cfg: RunConfig) -> ArrayStore:
    return ArrayStore.for_config(cfg.cache)


# --- the stages, wired ------------------------------------------------------------


def load_papers(cfg: RunConfig, log: Log) -> Corpus:
    corpus = load_corpus(cfg.corpus)
    skipped = _skip_text(corpus.skipped)
    if len(corpus) < MIN_DOCS:
        raise InputError(
            corpus.source,
            f"{len(corpus)} usable paper{'' if len(corpus) == 1 else 's'} after skipping "
            f"{corpus.n_skipped} ({skipped}); a taxonomy needs at least {MIN_DOCS}",
        )
    log(f"        {len(corpus)} papers ({corpus.n_skipped} skipped: {skipped})")
    return corpus


def reduce_cached(
    X: np.ndarray, cfg: RunConfig, store: ArrayStore
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """UMAP's clustering space, 2-D map and kNN graph (``None`` for a small corpus, searched
    exactly), from the cache when the same inputs were seen."""
    key = hash_key(
        "reduce",
        array_fingerprint(X),
        cfg.umap.model_dump(),
        cfg.seed,
        stage_versions("umap-learn"),
        REDUCE_VERSION,
    )

    def compute() -> dict[str, np.ndarray]:
        Z, xy, graph = reduce_with_graph(X, cfg.umap, random_state=cfg.seed)
        none = np.zeros((0, 0), dtype=np.int32)
        return {"Z": Z, "xy": xy, "graph": none if graph is None else graph.astype(np.int32)}

    hit = store.get_or_compute("reduce", key, compute)
    return hit["Z"], hit["xy"], (hit["graph"] if hit["graph"].size else None)


def cluster_cached(Z: np.ndarray, cfg: RunConfig, store: ArrayStore) -> np.ndarray:
    """HDBSCAN topics of the clustering space (-1 = outlier), cached."""
    key = hash_key(
        "cluster",
        array_fingerprint(Z),
        cfg.hdbscan.model_dump(exclude={"outlier_threshold"}),
        cfg.seed,
        stage_versions("hdbscan", "scikit-learn"),
    )

    def compute() -> dict[str, np.ndarray]:
        return {"ids": cluster_points(Z, cfg.hdbscan, random_state=cfg.seed)}

    return store.get_or_compute("cluster", key, compute)["ids"]


def fit(cfg: RunConfig, *, log: Log = print, embedder: Embedder | None = None) -> RunResult:
    """Run every stage in memory and return the result (nothing is written)."""
    timer = StageTimer(log)
    store = store_for(cfg)
    with timer("load", f"reading {cfg.corpus.path}"):
        terms = load_vocabulary(cfg.labels.vocabulary)  # a bad vocabulary fails before any work
        corpus = load_papers(cfg, log)
    corpus, rest = fit_sample(corpus, cfg, log)
    if cfg.engine.check_memory:
        check_fit_memory(len(corpus))  # before any work: a clear error, not a killed process
    cfg = resolve_auto(cfg, len(corpus), corpus_format=corpus.format)

    embedder = embedder or Embedder(cfg.embedding, store, log=log)
    # speed: embedding.backend auto resolved (measured once per machine, or remembered), so
    # config.yaml and later stages (assign, update) name the backend that made the vectors.
    cfg.embedding = embedder.cfg
    with timer("embed", f"embedding {len(corpus)} papers with {cfg.embedding.model}"):
        X, estats = embed_papers(corpus.texts, embedder, log)

    u = cfg.umap
    with timer("reduce", f"UMAP to {u.n_components}-D and 2-D (n_neighbors={u.n_neighbors})"):
        Z, xy, graph = reduce_cached(X, cfg, store)

    embed_phrases = embedder.embed_texts  # names, keywords and seed texts, in the papers' space
    h = cfg.hdbscan
    with timer(
        "cluster", f"HDBSCAN (min_cluster_size={h.min_cluster_size}, min_samples={h.min_samples})"
    ):
        clusters = cluster_and_place(X, Z, xy, cfg, store, embed_phrases, graph)

    n_topics = int(clusters.placement.topic_ids.max()) + 1
    with timer("taxonomy", f"grouping {n_topics} topics into a taxonomy"):
        tax = taxonomy_stage(X, Z, clusters, cfg)
        cfg = resolve_shape(cfg, tax.n_levels, len(tax.level(1)))

    with timer("label", f"naming {len(tax.nodes)} nodes"):
        label_metrics = name_stage(tax, corpus, X, embed_phrases, cfg, store, terms, log)

    with timer("timeline", "topics over time"):
        timeline = timeline_for(corpus.dates, tax, cfg.taxonomy)
        # The bin and window used (and the date field found) go to config.yaml; updates keep them.
        cfg = resolve_time(cfg, timeline, corpus.date_field)

    metrics = run_metrics(cfg, corpus, tax, estats, clusters)
    metrics["labels"] = label_metrics  # which namer won per node, and why
    metrics.update(tree_metrics(timeline, tax) if timeline is not None else {})
    with timer(
        "evaluate",
        "coverage, NPMI coherence, diversity" + (", gold agreement" if corpus.gold else ""),
    ):
        metrics.update(
            evaluate_taxonomy(tax, clusters.placement.topic_ids, corpus.texts, corpus.gold)
        )
    return RunResult(
        cfg,
        corpus,
        X,
        Z,
        xy,
        clusters.raw_ids,
        clusters.placement,
        tax,
        metrics,
        timer.seconds,
        rest=rest,
        timeline=timeline,
    )


def embed_papers(texts: list[str], embedder: Embedder, log: Log) -> tuple[np.ndarray, EmbedStats]:
    """The papers' embeddings (cached per text), and what the cache and the backend did."""
    X, estats = embedder.embed(texts)
    log(f"        {estats.n_cached} from cache, {estats.n_embedded} embedded")
    if estats.backend_choice:
        from .embedding.auto import describe

        log(f"        {describe(estats.backend_choice)}")
    return X, estats


def name_stage(
    tax: Taxonomy,
    corpus: Corpus,
    X: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    cfg: RunConfig,
    store: ArrayStore,
    terms: Vocabulary | None,
    log: Log,
) -> dict:
    """Every node named through the one naming entry point; what named them."""
    return name_tree(
        tax,
        corpus.texts,
        corpus.titles,
        X,
        embed,
        cfg.labels,
        embedding=cfg.embedding,
        terms=terms,
        store=store,
        root_name=corpus_title(cfg, corpus),
        seed_texts=seed_texts(cfg.taxonomy.seed_topics),
        log=log,
    )


@dataclass
class Clusters:
    """What the cluster stage found: HDBSCAN's labels, the final placement, the seeds."""

    raw_ids: np.ndarray  # HDBSCAN's labels before outliers were joined (-1 = outlier)
    placement: Placement
    n_joined: int  # outliers joined to a topic's centroid
    topic_seed: np.ndarray  # per topic: (seed, seed under it), -1 = none
    guided: SeedPlacement | None  # where the seed topics took papers (None without seeds)


def cluster_and_place(
    X: np.ndarray,
    Z: np.ndarray,
    xy: np.ndarray,
    cfg: RunConfig,
    store: ArrayStore,
    embed: Callable[[list[str]], np.ndarray],
    graph: np.ndarray | None = None,
) -> Clusters:
    """Seeds take their papers, HDBSCAN clusters the rest, confident outliers join a topic.

    ``graph``: UMAP's kNN graph of ``X``, whose neighbours the fit's own papers are scored by.
    """
    h, seeds = cfg.hdbscan, cfg.taxonomy.seed_topics
    guided = (
        place_seeds(
            X,
            seeds,
            embed,
            min_similarity=cfg.taxonomy.zeroshot_min_similarity,
            min_size=int(h.min_cluster_size),
        )
        if seeds
        else None
    )
    raw_ids, topic_seed = cluster_stage(
        Z, h, guided, lambda points: cluster_cached(points, cfg, store)
    )
    topic_ids, n_joined = assign_outliers(X, raw_ids, h.outlier_threshold)
    placement = fit_placement(X, raw_ids, topic_ids, xy, vote_size(h.min_cluster_size), graph)
    return Clusters(raw_ids, placement, n_joined, topic_seed, guided)


def taxonomy_stage(X: np.ndarray, Z: np.ndarray, clusters: Clusters, cfg: RunConfig) -> Taxonomy:
    """The tree above the topics: seeds as top-level nodes, or the shape ``taxonomy.parents`` says."""
    topic_ids, topic_seed = clusters.placement.topic_ids, clusters.topic_seed
    if (topic_seed[:, 0] >= 0).any():
        # Seeds are top-level nodes; the other topics are grouped by Ward in Z beside them.
        tax = build_taxonomy(Z, topic_ids, tree_sizes(cfg.taxonomy, topic_seed), topic_seed[:, 0])
        mark_seeds(tax, topic_seed, cfg.taxonomy.seed_topics)
        return tax
    # Parents by cfg.taxonomy.parents (shape.py): EVoC layers of X, or Ward / density in Z.
    h = cfg.hdbscan
    return shape_taxonomy(
        cfg.taxonomy.parents,
        points=Z,
        embeddings=X,
        topic_ids=topic_ids,
        levels=cfg.taxonomy.levels,
        top_level=cfg.taxonomy.top_level,
        min_cluster_size=h.min_cluster_size,
        min_samples=h.min_samples,
        random_state=cfg.seed,
    )


def corpus_title(cfg: RunConfig, corpus: Corpus) -> str:
    """The root's name: the corpus, not a topic (``report.title``, else the file's name)."""
    if cfg.report.title:
        return cfg.report.title
    stem = Path(corpus.source).name.split(".")[0] if corpus.source else ""
    return stem.replace("_", " ").strip() or "All papers"


def _skip_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in skipped.items())


def fit_sample(corpus: Corpus, cfg: RunConfig, log: Log) -> tuple[Corpus, Corpus | None]:
    """The papers to fit on and the rest (``engine.fit_sample``; ``None``: fit on all)."""
    if not cfg.engine.fit_sample or len(corpus) <= cfg.engine.fit_sample:
        return corpus, None
    from .runs.distributed import split_sample

    corpus, rest = split_sample(corpus, cfg.engine.fit_sample, cfg.seed)
    log(f"        fitting on a sample of {len(corpus)}; the other {len(rest)} are assigned after")
    return corpus, rest


def run_metrics(
    cfg: RunConfig, corpus: Corpus, tax: Taxonomy, estats: EmbedStats, clusters: Clusters
) -> dict:
    """What ``metrics.json`` says of a fit before quality is measured."""
    seeds = {"seed_topics": clusters.guided.report} if clusters.guided is not None else {}
    return {
        "n_docs": len(corpus),
        "n_read": corpus.n_read,
        "n_skipped": corpus.n_skipped,
        "skipped": dict(corpus.skipped),
        "n_truncated": estats.n_truncated,
        **tree_counts(tax, clusters.placement.topic_ids),
        "outlier_share_hdbscan": round(float(np.mean(clusters.raw_ids == -1)), 4),
        "n_outliers_joined": clusters.n_joined,
        "embedding_cache": {"cached": estats.n_cached, "embedded": estats.n_embedded},
        "embedding_backend": backend_metrics(estats),
        "seed": cfg.seed,
        "versions": dict(library_versions()),
        **seeds,
    }


def tree_counts(tax: Taxonomy, topic_ids: np.ndarray) -> dict:
    """Topics per level and the outlier share: the counts every run and update reports."""
    return {
        "n_topics": len(tax.level(tax.n_levels)),
        "n_levels": tax.n_levels,
        "n_topics_per_level": {str(lv): len(tax.level(lv)) for lv in range(1, tax.n_levels + 1)},
        "outlier_share": round(float(np.mean(topic_ids == -1)), 4),
    }


def backend_metrics(estats: EmbedStats) -> dict:
    """The backend that embedded and, for ``auto``, the measured figures it was chosen by."""
    c = estats.backend_choice
    if not c:
        return {"backend": estats.backend, "chosen_by": "config"}
    return {
        "backend": estats.backend,
        "chosen_by": "auto",
        "docs_per_s": c["docs_per_s"],
        "vs_torch_fp32": c["vs_torch"],
        "candidates_docs_per_s": {k: v.get("docs_per_s") for k, v in c["candidates"].items()},
        "cpu": c["cpu"],
        "measured_at": c["measured_at"],
    }


# --- writing a run ----------------------------------------------------------------


def run(
    cfg: RunConfig,
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    log: Log = print,
    embedder: Embedder | None = None,
    extra_files: dict[str, str] | None = None,
    previous: Path | None = None,
) -> RunResult:
    """Fit and write the run directory (``out_dir`` or ``<output_dir>/<name>``), all or nothing.

    The one path of every command that builds a taxonomy: ``taxonomy run`` and
    each point of ``taxonomy sweep`` (which passes its own ``embedder``, so the
    model loads once, and its point record in ``extra_files``). With ``previous`` (a
    run directory), nodes keep that run's ids and names where they match it
    (runs/lineage.py) and ``changes.json`` says what changed.
    """
    target = Path(out_dir) if out_dir else Path(cfg.output_dir) / cfg.name
    check_target(target, overwrite)  # before any work: fail fast, clobber nothing
    prev = None
    if previous is not None:  # read before the fit: a wrong path fails fast
        from .runs.rundir import load_run

        prev = load_run(previous)
    result = fit(cfg, log=log, embedder=embedder)
    if prev is not None:
        from .runs.lineage import refit_against

        log(f"[lineage] matching the tree to {previous}")
        t0 = time.perf_counter()
        refit_against(result, prev)
        result.seconds["lineage"] = round(time.perf_counter() - t0, 3)
    if result.rest is not None:
        assign_rest(result, log=log)
    log(f"[write] {target}")
    files = run_files(result, assign_writer(result))
    files.update(extra_files or {})
    write_run_dir(target, files, overwrite)
    result.out_dir = target
    return result


def assign_writer(r: RunResult) -> Callable[[Path], None]:
    """Writes what places new papers into this fit (``model/assign.npz``)."""
    return lambda path: assign_model(r).save(path)


def assign_model(r: RunResult) -> AssignModel:
    """What places new papers into this fit."""
    keys = [text_key(t) for t in r.corpus.texts]
    return AssignModel.from_fit(r.embeddings, r.raw_ids, r.placement, keys, r.cfg.hdbscan)


def assign_rest(result: RunResult, log: Log = print) -> None:
    """Place the papers left out of a sampled fit (``engine.fit_sample``) with the fit's own rule."""
    from .runs.distributed import embed_and_place

    rest = result.rest
    t0 = time.perf_counter()
    log(f"[assign] placing the other {len(rest)} papers (engine: {result.cfg.engine.kind})")
    model = assign_model(result)
    placed = embed_and_place(result.cfg, model, rest.texts, log=log)
    result.rest_placement = placed
    result.seconds["assign"] = round(time.perf_counter() - t0, 3)
    result.metrics.update(
        n_fit=len(result.corpus),
        n_assigned=len(rest),
        n_assigned_outliers=int((placed.topic_ids == -1).sum()),
    )
