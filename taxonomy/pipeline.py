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
from importlib import metadata
from pathlib import Path

import numpy as np

from . import __version__
from .assign import ASSIGN_FILE, AssignModel, Placement, fit_placement, vote_size
from .backends import model_name
from .cache import ArrayStore, array_fingerprint, hash_key
from .cluster import (
    assign_outliers,
    cluster_points,
    hdbscan_kwargs,
    renumber_by_size,
    subcluster,
)
from .config import RunConfig, SeedTopic, dump_config, resolve_auto, resolve_shape
from .corpus import Corpus, load_corpus
from .embed import Embedder, EmbedStats, model_key, text_key
from .errors import InputError, OutputError
from .evaluate import evaluate_taxonomy
from .formats import csv_text, json_text, yaml_text
from .hierarchy import Taxonomy, build_taxonomy, level_sizes
from .label import Labeller, vocabulary
from .llm import apply_llm_names
from .outputs import (
    DOCUMENT_COLUMNS,
    TOPIC_COLUMNS,
    check_target,
    document_rows,
    leaf_paths,
    topics_rows,
    tree_dict,
    write_run_dir,
)
from .reduce import REDUCE_VERSION, reduce_embeddings
from .report import render_report, report_title, save_map_image
from .runstate import run_state_files
from .seeds import SeedPlacement, place_seeds
from .shape import shape_taxonomy
from .timeline import Timeline, resolve_time, timeline_files, tree_metrics, tree_timeline
from .vocabulary import load_vocabulary, name_with_vocabulary, with_llm

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

    # Topics over time (timeline.py); None when no paper has a date.
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
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = __version__ if lib == "taxonomy" else "not installed"
    return out


def _versions(*libs: str) -> dict[str, str]:
    """Part of a cache key: a library upgrade may change a stage's result."""
    versions = library_versions()
    return {lib: versions.get(lib, "?") for lib in libs}


def store_for(cfg: RunConfig) -> ArrayStore:
    return ArrayStore(cfg.cache.dir if cfg.cache.enabled else None)


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
) -> tuple[np.ndarray, np.ndarray]:
    """UMAP's clustering space and 2-D map, from the cache when the same inputs were seen."""
    key = hash_key(
        "reduce",
        array_fingerprint(X),
        cfg.umap.model_dump(),
        cfg.seed,
        _versions("umap-learn"),
        REDUCE_VERSION,
    )

    def compute() -> dict[str, np.ndarray]:
        Z, xy = reduce_embeddings(X, cfg.umap, random_state=cfg.seed)
        return {"Z": Z, "xy": xy}

    hit = store.get_or_compute("reduce", key, compute)
    return hit["Z"], hit["xy"]


def cluster_cached(Z: np.ndarray, cfg: RunConfig, store: ArrayStore) -> np.ndarray:
    """HDBSCAN topics of the clustering space (-1 = outlier), cached."""
    key = hash_key(
        "cluster",
        array_fingerprint(Z),
        cfg.hdbscan.model_dump(exclude={"outlier_threshold"}),
        cfg.seed,
        _versions("hdbscan", "scikit-learn"),
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
    rest = None
    if cfg.engine.fit_sample and len(corpus) > cfg.engine.fit_sample:
        from .distributed import split_sample

        corpus, rest = split_sample(corpus, cfg.engine.fit_sample, cfg.seed)
        log(
            f"        fitting on a sample of {len(corpus)}; the other {len(rest)} are assigned after"
        )
    cfg = resolve_auto(cfg, len(corpus), corpus_format=corpus.format)

    embedder = embedder or Embedder(cfg.embedding, store, log=log)
    # speed: embedding.backend auto resolved (measured once per machine, or remembered), so
    # config.yaml and later stages (assign, update) name the backend that made the vectors.
    cfg.embedding = embedder.cfg
    with timer("embed", f"embedding {len(corpus)} papers with {cfg.embedding.model}"):
        X, estats = embedder.embed(corpus.texts)
    log(f"        {estats.n_cached} from cache, {estats.n_embedded} embedded")
    if estats.backend_choice:
        from .backends import describe

        log(f"        {describe(estats.backend_choice)}")

    u, h = cfg.umap, cfg.hdbscan
    with timer("reduce", f"UMAP to {u.n_components}-D and 2-D (n_neighbors={u.n_neighbors})"):
        Z, xy = reduce_cached(X, cfg, store)

    def embed_phrases(texts: list[str]) -> np.ndarray:
        return embedder.embed(texts, progress=False)[0]

    seeds = cfg.taxonomy.seed_topics
    with timer(
        "cluster", f"HDBSCAN (min_cluster_size={h.min_cluster_size}, min_samples={h.min_samples})"
    ):
        guided = (
            place_seeds(
                X,
                seeds,
                embed_phrases,
                min_similarity=cfg.taxonomy.zeroshot_min_similarity,
                min_size=int(h.min_cluster_size),
            )
            if seeds
            else None
        )
        raw_ids, topic_seed = cluster_stage(Z, cfg, store, guided)
        topic_ids, n_joined = assign_outliers(X, raw_ids, h.outlier_threshold)
        placement = fit_placement(X, raw_ids, topic_ids, xy, vote_size(h.min_cluster_size))

    n_topics = int(topic_ids.max()) + 1
    with timer("taxonomy", f"grouping {n_topics} topics into a taxonomy"):
        if (topic_seed[:, 0] >= 0).any():
            # Seeds are top-level nodes; the other topics are grouped by Ward in Z beside them.
            tax = build_taxonomy(Z, topic_ids, tree_sizes(cfg, topic_seed), topic_seed[:, 0])
            mark_seeds(tax, topic_seed, seeds)
        else:
            # Parents by cfg.taxonomy.parents (shape.py): EVoC layers of X, or Ward / density in Z.
            tax = shape_taxonomy(
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
        cfg = resolve_shape(cfg, tax.n_levels, len(tax.level(1)))

    with timer("label", f"naming {len(tax.nodes)} nodes"):
        vocab = vocabulary(corpus.texts, cfg.labels, store)
        labeller = Labeller(corpus.texts, X, embed_phrases, cfg.labels, vocab)
        seed_texts = {s.name: s.text for s in seeds} | {
            c.name: c.text for s in seeds for c in s.children
        }
        labeller.label_tree(tax, root_name=corpus_title(cfg, corpus), seed_texts=seed_texts)
        # Field and topic names of a vocabulary where they fit better (vocabulary.py).
        label_metrics = {"method": cfg.labels.method} | name_with_vocabulary(
            tax, X, terms, embed_phrases, model=model_name(cfg.embedding),
            model_key=model_key(cfg.embedding), store=store, log=log,
        )  # fmt: skip
        if cfg.labels.method == "llm":  # names from an OpenAI-compatible endpoint (llm.py)
            llm_metrics = apply_llm_names(
                tax, corpus.titles, X, cfg.labels, store=store, embed=embed_phrases, log=log
            )
            label_metrics = with_llm(tax, label_metrics, llm_metrics)

    with timer("timeline", "topics over time"):
        timeline = tree_timeline(
            corpus.dates,
            tax,
            time_bin=cfg.taxonomy.time_bin,
            recent_periods=cfg.taxonomy.recent_periods,
        )
        # The bin and window used (and the date field found) go to config.yaml; updates keep them.
        cfg = resolve_time(cfg, timeline, corpus.date_field)

    metrics = run_metrics(cfg, corpus, tax, estats, raw_ids, placement, n_joined)
    metrics["labels"] = label_metrics  # which namer won per node, and why
    if guided is not None:
        metrics["seed_topics"] = guided.report
    if timeline is not None:
        metrics.update(tree_metrics(timeline, tax))
    with timer(
        "evaluate",
        "coverage, NPMI coherence, diversity" + (", gold agreement" if corpus.gold else ""),
    ):
        metrics.update(evaluate_taxonomy(tax, topic_ids, corpus.texts, corpus.gold))
    return RunResult(
        cfg,
        corpus,
        X,
        Z,
        xy,
        raw_ids,
        placement,
        tax,
        metrics,
        timer.seconds,
        rest=rest,
        timeline=timeline,
    )


def cluster_stage(
    Z: np.ndarray, cfg: RunConfig, store: ArrayStore, guided: SeedPlacement | None
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN topics (-1 = outlier) and, per topic, ``(seed, seed under it)`` (-1 = none).

    Without seeds every paper is clustered. With seeds, the papers no seed took
    are clustered as usual; each seed's papers make its own topics: one per seed
    under it, the rest split by HDBSCAN on their own points (never outliers).
    """
    if guided is None or (guided.seed_of < 0).all():
        raw = cluster_cached(Z, cfg, store)
        return raw, np.full((int(raw.max()) + 1, 2), -1, dtype=np.int64)
    raw = np.full(len(Z), -1, dtype=np.int64)
    pool = np.flatnonzero(guided.seed_of < 0)
    if pool.size >= 2 * int(cfg.hdbscan.min_cluster_size):
        raw[pool] = cluster_cached(Z[pool], cfg, store)
    elif pool.size:  # too few left to cluster: one topic of the papers no seed took
        raw[pool] = 0
    owner = {t: (-1, -1) for t in set(raw.tolist()) - {-1}}
    params = hdbscan_kwargs(cfg.hdbscan)
    for s in sorted(set(guided.seed_of.tolist()) - {-1}):
        mine = guided.seed_of == s
        for c in sorted(set(guided.child_of[mine].tolist()) - {-1}):
            nxt = int(raw.max()) + 1
            raw[mine & (guided.child_of == c)] = nxt
            owner[nxt] = (s, c)
        rest = np.flatnonzero(mine & (guided.child_of < 0))
        if rest.size:
            parts = subcluster(Z[rest], int(cfg.hdbscan.min_cluster_size), params)
            nxt = int(raw.max()) + 1
            raw[rest] = nxt + parts
            owner.update({nxt + q: (s, -1) for q in range(int(parts.max()) + 1)})
    new = renumber_by_size(raw)
    topic_seed = np.full((int(new.max()) + 1, 2), -1, dtype=np.int64)
    for old, renamed in set(zip(raw.tolist(), new.tolist())) - {(-1, -1)}:
        topic_seed[renamed] = owner[old]
    return new, topic_seed


def tree_sizes(cfg: RunConfig, topic_seed: np.ndarray) -> list[int]:
    """Nodes per level, top to leaves; with seeds, the levels above the leaves count the
    other topics' nodes (each seed adds one top-level node of its own)."""
    n_topics = len(topic_seed)
    t = cfg.taxonomy
    sizes = level_sizes(n_topics, t.levels, t.top_level)
    n_seeds = len(set(topic_seed[:, 0].tolist()) - {-1})
    if not n_seeds:
        return sizes
    n_free = int((topic_seed[:, 0] < 0).sum())
    top = t.top_level if t.top_level == "auto" else int(t.top_level) - n_seeds
    if n_free < 2 or (top != "auto" and top < 2):
        return [min(n_free, 1)] * (len(sizes) - 1) + [n_topics]
    return level_sizes(n_free, len(sizes), top)[:-1] + [n_topics]


def mark_seeds(tax: Taxonomy, topic_seed: np.ndarray, seeds: list[SeedTopic]) -> None:
    """Put each seed's name on its node: the top-level node of its topics, and for a seed
    under a seed the highest node below that."""
    for t, (s, c) in enumerate(topic_seed.tolist()):
        if s < 0:
            continue
        path = tax.path(tax.leaf(t).node_id)
        path[0].seed = seeds[s].name
        if c >= 0:
            path[1].seed = seeds[s].children[c].name


def corpus_title(cfg: RunConfig, corpus: Corpus) -> str:
    """The root's name: the corpus, not a topic (``report.title``, else the file's name)."""
    if cfg.report.title:
        return cfg.report.title
    stem = Path(corpus.source).name.split(".")[0] if corpus.source else ""
    return stem.replace("_", " ").strip() or "All papers"


def _skip_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in skipped.items())


def run_metrics(
    cfg: RunConfig,
    corpus: Corpus,
    tax: Taxonomy,
    estats: EmbedStats,
    raw_ids: np.ndarray,
    placement: Placement,
    n_joined: int,
) -> dict:
    return {
        "n_docs": len(corpus),
        "n_read": corpus.n_read,
        "n_skipped": corpus.n_skipped,
        "skipped": dict(corpus.skipped),
        "n_truncated": estats.n_truncated,
        "n_topics": len(tax.level(tax.n_levels)),
        "n_levels": tax.n_levels,
        "n_topics_per_level": {str(lv): len(tax.level(lv)) for lv in range(1, tax.n_levels + 1)},
        "outlier_share": round(float(np.mean(placement.topic_ids == -1)), 4),
        "outlier_share_hdbscan": round(float(np.mean(raw_ids == -1)), 4),
        "n_outliers_joined": n_joined,
        "embedding_cache": {"cached": estats.n_cached, "embedded": estats.n_embedded},
        "embedding_backend": backend_metrics(estats),
        "seed": cfg.seed,
        "versions": dict(library_versions()),
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


def run_files(
    r: RunResult, previous_report: dict[str, str] | None = None
) -> dict[str, str | Callable[[Path], None]]:
    """Every file of a run directory, by name (writers take the path they write).

    ``previous_report``: payloads of a report this run extends (``taxonomy update``), so
    what it holds unchanged is not compressed again (``report.render_report``).
    """
    tax, c = r.taxonomy, r.corpus
    metrics = dict(r.metrics, seconds=r.seconds)
    tree = tree_dict(r.cfg.name, tax, c.ids, int((r.topic_ids == -1).sum()))
    paths = leaf_paths(tax)
    rows = document_rows(
        c.ids, c.titles, r.topic_ids, r.probabilities, r.placement.how, r.xy, paths
    )
    if r.rest is not None and r.rest_placement is not None:
        p = r.rest_placement
        rows += document_rows(
            r.rest.ids, r.rest.titles, p.topic_ids, p.probabilities, p.how, p.xy, paths
        )
    return {
        "documents.csv": csv_text(DOCUMENT_COLUMNS, rows),
        "topics.csv": csv_text(TOPIC_COLUMNS, topics_rows(tax)),
        "taxonomy.yaml": yaml_text(tree),
        "taxonomy.json": json_text(tree),
        "metrics.json": json_text(metrics),
        "config.yaml": dump_config(r.cfg),
        "report.html": render_report(
            c,
            tax,
            r.xy,
            r.topic_ids,
            metrics,
            r.cfg,
            timeline=r.timeline,
            changes=r.changes,
            previous=previous_report,
        ),
        "map.png": lambda path: save_map_image(tax, r.xy, r.topic_ids, report_title(r.cfg), path),
        # What 'taxonomy assign' needs to place new papers (taxonomy/assign.py).
        ASSIGN_FILE: lambda path: assign_model(r).save(path),
        # What 'taxonomy update' and 'run --previous' build on (taxonomy/runstate.py).
        **run_state_files(c, r.embeddings, r.topic_ids, r.probabilities, r.xy, r.placement.how),
        **(timeline_files(r.timeline, tax) if r.timeline is not None else {}),
        **({"changes.json": json_text(r.changes)} if r.changes is not None else {}),
    }


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
    (lineage.py) and ``changes.json`` says what changed.
    """
    target = Path(out_dir) if out_dir else Path(cfg.output_dir) / cfg.name
    check_target(target, overwrite)  # before any work: fail fast, clobber nothing
    prev = None
    if previous is not None:  # read before the fit: a wrong path fails fast
        from .runstate import load_run

        prev = load_run(previous)
    result = fit(cfg, log=log, embedder=embedder)
    if prev is not None:
        from .lineage import refit_against

        log(f"[lineage] matching the tree to {previous}")
        t0 = time.perf_counter()
        refit_against(result, prev)
        result.seconds["lineage"] = round(time.perf_counter() - t0, 3)
    if result.rest is not None:
        assign_rest(result, log=log)
    log(f"[write] {target}")
    files = run_files(result)
    files.update(extra_files or {})
    write_run_dir(target, files, overwrite)
    result.out_dir = target
    return result


def assign_model(r: RunResult) -> AssignModel:
    """What places new papers into this fit (saved as ``model/assign.npz``)."""
    keys = [text_key(t) for t in r.corpus.texts]
    return AssignModel.from_fit(r.embeddings, r.raw_ids, r.placement, keys, r.cfg.hdbscan)


def assign_rest(result: RunResult, log: Log = print) -> None:
    """Place the papers left out of a sampled fit (``engine.fit_sample``) with the fit's own rule."""
    from .distributed import embed_and_place

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


# --- placing new papers into a written run -------------------------------------------


def papers_stem(papers: str | Path) -> str:
    """A papers file's name without compression and format extensions ('a.v1.jsonl.gz' -> 'a.v1')."""
    name = Path(papers).name
    name = name.removesuffix(".gz")
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix and len(name) > len(suffix) else name


def load_run_config(run_dir: Path) -> RunConfig:
    from .config import load_config

    if not (run_dir / "config.yaml").exists():
        raise InputError(
            str(run_dir), "no config.yaml: not a run directory written by 'taxonomy run'"
        )
    return load_config(run_dir / "config.yaml")


def assign_papers(
    run_dir: Path,
    papers: str,
    *,
    fmt: str | None = None,
    out: Path | None = None,
    overwrite: bool = False,
    log: Log = print,
) -> tuple[Path, dict]:
    """Embed ``papers``, place them into the run at ``run_dir``, write ``documents.csv`` + ``metrics.json``.

    Returns the output directory (default ``<run_dir>/assigned/<papers stem>``) and the summary.
    """
    import json

    from .config import build_config
    from .distributed import embed_and_place
    from .outputs import RUN_MARKER, tree_leaf_paths

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "run directory not found")
    cfg = load_run_config(run_dir)
    model = AssignModel.load(run_dir)
    target = Path(out) if out else run_dir / "assigned" / papers_stem(papers)
    if target.resolve() == run_dir.resolve():
        raise OutputError(f"{target}: --out must not be the run directory itself")
    check_target(target, overwrite)
    data = cfg.model_dump(mode="json")
    # The fit's field names, gold fields dropped (new papers need none); format from the file.
    data["corpus"].update(path=str(papers), format=fmt or "auto", max_docs=None, gold_fields=[])
    cfg = build_config(data, "--papers/--format")
    corpus = load_corpus(cfg.corpus)
    placed = embed_and_place(cfg, model, corpus.texts, log=log)
    tree = json.loads((run_dir / "taxonomy.json").read_text(encoding="utf-8"))
    paths = tree_leaf_paths(tree)
    rows = document_rows(
        corpus.ids,
        corpus.titles,
        placed.topic_ids,
        placed.probabilities,
        placed.how,
        placed.xy,
        paths,
    )
    summary = {
        "run_dir": str(run_dir),
        "papers": str(papers),
        "n_docs": len(corpus),
        "n_in_fit": int(placed.in_fit.sum()),
        "n_outliers": int((placed.topic_ids == -1).sum()),
        "k_neighbours": model.k,
        "engine": cfg.engine.kind,
    }
    write_run_dir(
        target,
        {
            "documents.csv": csv_text(DOCUMENT_COLUMNS, rows),
            # Named like a run's metrics so --overwrite recognises the folder as ours.
            RUN_MARKER: json_text(summary),
        },
        overwrite,
    )
    return target, summary
