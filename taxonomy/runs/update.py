"""``taxonomy update RUN_DIR NEW_PAPERS``: new papers into a saved taxonomy, new topics from a pool.

An update never changes what an existing id means. It

1. reads the run (:func:`taxonomy.runs.rundir.load_run`; with the local engine on a
   second thread while the model embeds the new papers) and the new papers (with the
   run's corpus settings); papers already in the run (same title + abstract) or
   with an id already there are left out and counted;
2. embeds the new papers and places them with the fit's own rule,
   :meth:`taxonomy.runs.assign.AssignModel.place` on the run's ``model/assign.npz``,
   on the run's ``engine`` (:func:`taxonomy.runs.distributed.embed_and_place`, the
   same path as ``taxonomy assign``). A paper fits no topic when the placement
   says so (-1) or when, by the fit's own outlier rule, it would not have been
   let into any topic: its cosine to every fit topic's centroid is below
   ``hdbscan.outlier_threshold`` (:func:`fits_no_topic`). Such a paper may join a
   topic an earlier update proposed, when it is at least as close to that
   topic's centroid as nine in ten of its members are; otherwise it goes to the
   *pool*, kept in the run directory with every paper that fits no topic;
3. looks for dense groups in the pool with the fit's HDBSCAN settings
   (``min_cluster_size``, ``min_samples``, selection method and epsilon from the
   run's ``config.yaml``) on cosine distances of the embeddings; a group keeps
   the papers at least as close to its centre as 95 % of the fit's papers are to
   theirs, and is proposed as a new topic when it still has ``min_cluster_size``
   papers and is at least as cohesive (mean cosine of its papers to their
   centroid) as the fit's topics at their 10th percentile. A new topic gets the
   next unused leaf id, the level above's node nearest its centroid as parent,
   and a name from :func:`taxonomy.naming.name_tree`, the entry point of every run
   (its ``labels.method`` and ``labels.vocabulary`` included), contrasted with its
   parent's other papers and distinct from every name in the tree; the rest of the pool then joins it when close enough (as in 2);
4. writes a **new** run directory (all-or-nothing), holding old and new papers:
   report, topics over time, ``changes.json`` (new topics, topics whose share
   grew or shrank with this update, by the growth rule of ``runs/timeline.py``).
   What it does not change it carries over as it is (:func:`update_files`): the
   embeddings and the fit's model as hard links, the papers and ``documents.csv``
   as copies with the new papers appended.

The fit's ``model/assign.npz`` is carried over unchanged, so every update places
papers by the same fit. Quality metrics (coherence, gold agreement) are those of
the fit and are not measured again. docs/time.md has the details and the cost.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cluster import join_by_centroid
from ..config import RUN_NAME_PATTERN, HdbscanConfig, RunConfig, with_corpus
from ..corpus import Corpus, load_corpus
from ..embedding import Embedder
from ..errors import InputError, OutputError
from ..hierarchy import Node, Taxonomy
from ..naming import load_vocabulary, name_keys, name_tree
from ..naming.vocabulary import Vocabulary
from ..outputs.report import read_report_payloads
from ..pipeline import RunResult, StageTimer, library_versions, store_for, tree_counts
from ..util.arrays import StackedRows, group_means, label_rows, unit_mean, unit_rows, unit_vector
from ..util.cache import ArrayStore
from ..util.folders import check_target, write_run_dir
from ..util.formats import csv_text, json_text
from .assign import AssignModel, Placement
from .distributed import embed_and_place, subset_corpus
from .rundir import (
    ABSTRACTS_FILE,
    ASSIGN_FILE,
    DOCUMENTS_FILE,
    HISTORY_FILE,
    PAPERS_FILE,
    REPORT_FILE,
    STATE_FILE,
    SavedRun,
    check_run_files,
    documents_csv,
    load_run,
    load_run_config,
    read_tree,
    run_files,
    state_npz,
    tree_taxonomy,
    walk_tree,
)
from .saved_papers import abstracts_gz, paper_records_gz, papers_gz
from .timeline import share_growth, timeline_for, tree_metrics

# Pooled papers clustered at once (most recent first): the distance matrix is n^2 float64.
POOL_MAX = 5000
# A pool group must be at least as cohesive as this quantile of the fit's topics.
COHESION_QUANTILE = 0.1
# A paper of a proposed topic is as close to its centre as this quantile of the fit's papers
# are to their topics' centres.
MEMBER_QUANTILE = 0.05
# A pooled paper joins an update-born topic when at least as close as this quantile of its members.
JOIN_QUANTILE = 0.1
CHANGE_LIST = 20
Embed = Callable[[list[str]], np.ndarray]


# --- pure steps ---------------------------------------------------------------------------


def cohesion(X: np.ndarray) -> float:
    """Mean cosine of unit vectors ``X`` to their (unit) centroid."""
    c = unit_vector(X.mean(axis=0))
    return float((X @ c).mean())


def fit_bars(X: np.ndarray, topic_ids: np.ndarray, topics: list[int]) -> tuple[float, float]:
    """What a proposed topic must match, from the fit's topics (unit embeddings ``X``):
    the ``COHESION_QUANTILE`` of their cohesions, and the ``MEMBER_QUANTILE`` of their
    papers' cosines to their own topic's centroid."""
    cohesions, sims = [], []
    for rows in label_rows(topic_ids, topics):
        members = X[rows]
        if len(members):
            c = members.mean(axis=0)
            s = members @ unit_vector(c)
            cohesions.append(float(s.mean()))
            sims.append(s)
    if not cohesions:
        return -1.0, -1.0
    return (
        float(np.quantile(cohesions, COHESION_QUANTILE)),
        float(np.quantile(np.concatenate(sims), MEMBER_QUANTILE)),
    )


def pool_groups(
    X: StackedRows | np.ndarray,
    *,
    min_cluster_size: int,
    min_samples: int | None,
    cluster_selection_method: str = "eom",
    cluster_selection_epsilon: float = 0.0,
    min_cohesion: float = -1.0,
    min_similarity: float = -1.0,
) -> list[np.ndarray]:
    """Dense groups among pooled papers (unit embeddings ``X``): indices into ``X``, largest first.

    HDBSCAN with the fit's settings on cosine distances; a single dense group is
    allowed (a pool often holds one new topic and scattered misfits). A paper stays
    out of a group when its cosine to the group's centroid is below
    ``min_similarity``; a group is kept only when it still has ``min_cluster_size``
    papers and its :func:`cohesion` is at least ``min_cohesion``.
    """
    n = len(X)
    if n < max(2, min_cluster_size):
        return []  # before importing HDBSCAN (and scikit-learn): 1 s of a small update
    import hdbscan

    D = np.clip(1.0 - (X @ X.T).astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(D, 0.0)
    h = hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        metric="precomputed",
        cluster_selection_method=cluster_selection_method,
        cluster_selection_epsilon=cluster_selection_epsilon,
        allow_single_cluster=True,
    ).fit(D)
    groups = []
    for label in sorted(set(h.labels_.tolist()) - {-1}):
        g = np.flatnonzero(h.labels_ == label)
        # Misfits that hang on a group only where it was born stay pooled: a member must be
        # as close to the group's centre as the fit's papers are to their topics'.
        c = X[g].mean(axis=0)
        g = g[X[g] @ unit_vector(c) >= min_similarity]
        if g.size >= min_cluster_size and cohesion(X[g]) >= min_cohesion:
            groups.append(g)
    return sorted(groups, key=lambda g: (-g.size, int(g[0])))


def fits_no_topic(
    X: StackedRows | np.ndarray,
    fit_X: np.ndarray,
    fit_topic_ids: np.ndarray,
    topics: list[int],
    threshold: float,
) -> np.ndarray:
    """True for papers (unit embeddings ``X``) that the fit would have left out.

    The fit lets a paper HDBSCAN leaves out join a topic only when its cosine to
    that topic's centroid is at least ``hdbscan.outlier_threshold``
    (``cluster.assign_outliers``); a new paper below that bar for the centroid of
    every topic of the fit (``fit_X``, ``fit_topic_ids``: the fit's papers) fits
    none by the same confidence. ``AssignModel.place`` votes such papers into a
    topic anyway (its neighbours all have one), so the update applies this too;
    a placement that already says -1 for them makes it a no-op.
    """
    if not len(X) or not topics:
        return np.zeros(len(X), dtype=bool)
    # One sort of the fit's topic ids (label_rows), not a mask per topic over 147k rows.
    order = sorted(topics)
    C = unit_rows(group_means(fit_X, label_rows(fit_topic_ids, order)))
    return join_by_centroid(X, C, threshold) == -1


def base_pool_mask(base: SavedRun, n: int) -> np.ndarray:
    """Papers of the new run that were in the base run's pool."""
    mask = np.zeros(n, dtype=bool)
    mask[: len(base.topic_ids)] = base.topic_ids == -1
    return mask


def join_topics(X: np.ndarray, topic_ids: np.ndarray, probs: np.ndarray, topics: list[int]) -> int:
    """Papers that fit no topic (-1) join one of ``topics`` by :func:`join_born_topics`;
    ``topic_ids`` and ``probs`` (cosine to the centroid) change in place. Returns how many."""
    misfit = np.flatnonzero(topic_ids == -1)
    members = {t: X[rows] for t, rows in zip(topics, label_rows(topic_ids, topics))}
    joined = join_born_topics(X[misfit], members)
    took = joined >= 0
    for t in set(joined[took].tolist()):
        c = unit_mean(members[t])
        rows = misfit[joined == t]
        probs[rows] = np.clip(X[rows] @ c, 0.0, 1.0)
    topic_ids[misfit[took]] = joined[took]
    return int(took.sum())


def join_born_topics(
    X: np.ndarray, members: dict[int, np.ndarray], quantile: float = JOIN_QUANTILE
) -> np.ndarray:
    """For papers ``X`` that fit no topic of the fit: the update-born topic each joins, or -1.

    ``members`` maps such a topic to its papers' unit embeddings. A paper joins the
    topic whose centroid is most similar when that similarity is at least the
    ``quantile`` of the members' own similarities to it.
    """
    out = np.full(len(X), -1, dtype=np.int64)
    if not members or not len(X):
        return out
    topics = sorted(members)
    C = np.stack([unit_mean(members[t]) for t in topics])
    bar = np.array([np.quantile(members[t] @ C[k], quantile) for k, t in enumerate(topics)])
    S = X @ C.T
    best = S.argmax(axis=1)
    ok = S[np.arange(len(X)), best] >= bar[best]
    out[ok] = np.array(topics)[best[ok]]
    return out


def share_changes(
    tax: Taxonomy, before: np.ndarray, added: np.ndarray, n_before: int, n_added: int
) -> tuple[list[dict], list[dict]]:
    """Leaf topics whose share of this update's papers is surely above / below their share before.

    ``before`` and ``added`` are boolean masks over the papers of ``tax``. Same rule as
    rising/fading (:func:`taxonomy.runs.timeline.share_growth`): the whole 90 % interval
    of the log2 share ratio above 0 (grew) or below 0 (shrank).
    """
    if not n_before or not n_added:
        return [], []
    rows = []
    for node in tax.level(tax.n_levels):
        a, b = int(added[node.doc_idx].sum()), int(before[node.doc_idx].sum())
        if b == 0:  # born in this update: listed as new, not as grown
            continue
        g = share_growth(a, b, n_added, n_before)
        rows.append(
            {
                "node_id": node.node_id,
                "label": node.label,
                "before": b,
                "added": a,
                "growth": round(g.growth, 3),
                "low": round(g.low, 3),
                "high": round(g.high, 3),
            }
        )
    grew = sorted((r for r in rows if r["low"] > 0), key=lambda r: (-r["low"], r["node_id"]))
    shrank = sorted((r for r in rows if r["high"] < 0), key=lambda r: (r["high"], r["node_id"]))
    return grew[:CHANGE_LIST], shrank[:CHANGE_LIST]


# --- naming new topics ------------------------------------------------------------------------


def name_new_topics(
    groups: list[np.ndarray],
    scope: np.ndarray,
    corpus: Corpus,
    X: StackedRows | np.ndarray,
    embed: Embed,
    cfg: RunConfig,
    taken: set[str],
    *,
    terms: Vocabulary | None = None,
    store: ArrayStore | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Name, keywords, top words and representatives of each new topic (indices into ``corpus``).

    The topics are named by :func:`taxonomy.naming.name_tree`, the entry point of every
    run (so ``labels.method: llm`` names them too), on a small tree: the parent's papers
    (``scope``) as the root, each new topic and the rest of the scope as its children,
    so a name says what sets the new papers apart within their parent. A name already
    in the tree (``taken``: its :func:`~taxonomy.naming.name_keys`) gives way to the
    first keyword that is not taken.
    """
    in_new = np.concatenate(groups)
    rest = np.setdiff1d(scope, in_new)
    docs = np.concatenate([in_new, rest])  # local row -> global index
    local = {int(g): i for i, g in enumerate(docs)}
    nodes: dict[str, Node] = {"0.0": Node("0.0", 0, 0, None, np.arange(len(docs)))}
    parts = [np.array([local[int(i)] for i in g], dtype=np.int64) for g in groups]
    if rest.size:
        parts.append(np.array([local[int(i)] for i in rest], dtype=np.int64))
    for k, part in enumerate(parts):
        nodes[f"1.{k}"] = Node(f"1.{k}", 1, k, "0.0", part)
        nodes["0.0"].children.append(f"1.{k}")
    mini = Taxonomy(nodes, 1)
    name_tree(
        mini,
        [corpus.texts[i] for i in docs],
        [corpus.titles[i] for i in docs],
        X[docs],
        embed,
        cfg.labels,
        embedding=cfg.embedding,
        terms=terms,
        store=store,
        log=log,
    )
    out = []
    for k in range(len(groups)):
        node = mini.nodes[f"1.{k}"]
        label = node.label
        if name_keys(label) & taken:
            label = next((w for w in node.keywords if not name_keys(w) & taken), f"{label} (new)")
        taken |= name_keys(label)
        out.append(
            {
                "label": label,
                "description": node.description,
                "term": {"namer": node.namer, "term_id": node.term_id} if node.term_id else {},
                "keywords": list(node.keywords),
                "top_words": list(node.top_words),
                "representative": [int(docs[i]) for i in node.representative],
            }
        )
    return out


# --- the update -----------------------------------------------------------------------------


@dataclass
class UpdateOutcome:
    """What :func:`update_run` did; ``result`` is the new run (a ``RunResult``)."""

    result: object
    changes: dict
    files: dict
    seconds: dict[str, float] = field(default_factory=dict)


def history_of(run_dir: Path) -> dict:
    """``model/updates.json``: the fit's leaf ids and one entry per update so far."""
    path = run_dir / HISTORY_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    tree = read_tree(run_dir)
    leaves = [int(d["topic_id"]) for d, _ in walk_tree(tree["root"]) if "topic_id" in d]
    return {"base_run": str(run_dir), "fit_topics": sorted(leaves), "updates": []}


def update_target(run_dir: Path, out: str | Path | None, number: int, overwrite: bool) -> Path:
    """Where update ``number`` of the run goes: ``out``, else ``<run>-update<number>``."""
    target = Path(out) if out else default_target(run_dir, number)
    if target.resolve() == run_dir.resolve():
        raise OutputError(
            f"{target}: an update never rewrites the run it reads; choose another --out"
        )
    check_target(target, overwrite)
    return target


def read_while_embedding(
    run_dir: Path, cfg: RunConfig, texts: list[str], embedder: Embedder, timer: StageTimer
) -> tuple[SavedRun, AssignModel]:
    """The run and the fit's placement model, read on a second thread (one core, mostly)
    while the model embeds ``texts`` on the others (local engine): at 147k papers reading
    takes seconds. Papers of the fit are left out; one that an earlier update added is in
    the cache (a lookup; its vector goes unused)."""
    with ThreadPoolExecutor(1) as reader:
        reading = reader.submit(read_base, run_dir)
        ahead = unfitted(run_dir, texts) if cfg.engine.kind == "local" else []
        if ahead:
            with timer("embed", f"embedding {len(ahead)} papers while the run is read"):
                embedder.embed(ahead)
        with timer("load", f"reading the run {run_dir}"):
            return reading.result()


def read_base(run_dir: Path) -> tuple[SavedRun, AssignModel]:
    """The run an update reads and the fit's placement model (whose float32 vectors are
    the run's for the fit's papers)."""
    model = AssignModel.load(run_dir)
    return load_run(run_dir, model.embeddings), model


def unfitted(run_dir: Path, texts: list[str]) -> list[str]:
    """``texts`` the fit did not embed, by the text keys its ``assign.npz`` keeps (read alone)."""
    from ..embedding.encoder import text_key

    try:
        with np.load(run_dir / ASSIGN_FILE, allow_pickle=False) as d:
            fitted = set(d["keys"].tolist())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return []  # read_base names the problem
    return [t for t in texts if text_key(t).encode("ascii") not in fitted]


def new_papers(base: SavedRun, corpus: Corpus) -> tuple[Corpus, dict[str, int]]:
    """The papers of ``corpus`` not yet in the run, and how many were left out and why.

    A paper is in the run when one there has its title and abstract. The run's abstracts
    are read only when a title matches (they are most of the run's papers file)."""
    have = base.corpus
    shared = set(corpus.titles) & set(have.titles)
    # Pairs, not joined texts (no join of each of 147k papers); abstracts of shared titles only.
    have_texts = (
        {(t, a) for t, a in zip(have.titles, have.abstracts) if t in shared} if shared else set()
    )
    have_ids = set(have.ids)
    keep, already, dup_id = [], 0, 0
    for i, (doc_id, title, abstract) in enumerate(zip(corpus.ids, corpus.titles, corpus.abstracts)):
        if title in shared and (title, abstract) in have_texts:
            already += 1
        elif doc_id in have_ids:
            dup_id += 1
        else:
            keep.append(i)
    counts = {
        "read": corpus.n_read,
        "skipped": corpus.n_skipped,
        "already_in_run": already,
        "duplicate_id": dup_id,
    }
    return subset_corpus(corpus, np.array(keep, dtype=np.int64)), counts


def concat_corpora(a: Corpus, b: Corpus, gold_fields: list[str]) -> Corpus:
    n_b = len(b)
    gold = {
        f: list(a.gold.get(f, [None] * len(a))) + list(b.gold.get(f, [None] * n_b))
        for f in gold_fields
    }
    return Corpus(
        a.ids + b.ids,
        a.titles + b.titles,
        a.abstracts + b.abstracts,
        a.urls + b.urls,
        gold,
        source=a.source,
        n_read=len(a) + len(b),
        format=a.format,
        dates=list(a.dates or [None] * len(a)) + list(b.dates or [None] * n_b),
        date_field=a.date_field or b.date_field,
    )


def load_new_corpus(cfg: RunConfig, papers: str, fmt: str | None) -> Corpus:
    """The new papers, read with the run's corpus settings (gold fields only if they have them)."""
    new_cfg = with_corpus(cfg, papers, fmt, "--papers/--format", max_docs=None)
    try:
        return load_corpus(new_cfg.corpus)
    except InputError as err:
        if not new_cfg.corpus.gold_fields or "gold field" not in err.reason:
            raise
        return load_corpus(new_cfg.corpus.model_copy(update={"gold_fields": []}))


def default_target(run_dir: Path, number: int) -> Path:
    stem = re.sub(r"-update\d+$", "", run_dir.resolve().name)
    return run_dir.resolve().parent / f"{stem}-update{number}"


def update_run(
    run_dir: str | Path,
    papers: str,
    *,
    out: str | Path | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    embedder: Embedder | None = None,
) -> UpdateOutcome:
    """Place ``papers`` into the run at ``run_dir`` and write the updated run (see module doc).

    The stages are the pipeline's own: papers are embedded and placed on the configured
    engine (:func:`~taxonomy.runs.distributed.embed_and_place`, as ``assign`` does), new
    topics are named by :func:`~taxonomy.naming.name_tree`, and the timeline, counts and
    files come from the functions a run uses. ``embedder``: a loaded model to reuse
    (local engine).
    """
    timer = StageTimer(log)
    run_dir = Path(run_dir)
    with timer("load", f"reading the new papers and the run's settings ({run_dir})"):
        if not run_dir.is_dir():
            raise InputError(str(run_dir), "run directory not found")
        check_run_files(run_dir)
        cfg = load_run_config(run_dir)
        history = history_of(run_dir)
        number = len(history["updates"]) + 1
        target = update_target(run_dir, out, number, overwrite)
        terms = load_vocabulary(cfg.labels.vocabulary)  # a bad vocabulary fails before any work
        incoming = load_new_corpus(cfg, papers, fmt)
    embedder = embedder or quiet_embedder(cfg)
    base, model = read_while_embedding(run_dir, cfg, incoming.texts, embedder, timer)
    new, counts = new_papers(base, incoming)
    log(f"        {len(new)} new papers ({counts['already_in_run']} already in the run, "
        f"{counts['duplicate_id']} with an id already there)")  # fmt: skip
    with timer("embed", f"placing {len(new)} papers (engine: {cfg.engine.kind})"):
        placed = embed_and_place(
            cfg, model, new.texts, log=log, with_embeddings=True, embedder=embedder
        )
    fit_topics = set(history["fit_topics"])
    with timer("place", "papers the fit would have left out go to the pool"):
        papers_now = grown_papers(base, new, placed, sorted(fit_topics), number)
    corpus = concat_corpora(base.corpus, new, cfg.corpus.gold_fields)
    tree = copy.deepcopy(base.tree)
    with timer("pool", "looking for new topics among papers that fit none"):
        groups, bars = pool_topics(papers_now, fit_topics, cfg.hdbscan)
    new_topics = []
    if groups:
        embed = embedder.embed_texts
        with timer("label", f"naming {len(groups)} new topic{'s' * (len(groups) > 1)}"):
            new_topics = add_topics(
                tree, groups, corpus, papers_now, cfg, terms, embed, store_for(cfg), log
            )
            # The rest of the pool joins them when close enough, as later papers will.
            join_topics(
                papers_now.X,
                papers_now.topic_ids,
                papers_now.probs,
                [t["topic_id"] for t in new_topics],
            )
    papers_now.mark_how(groups)
    with timer("changes", "the tree with the new papers; what grew or shrank"):
        tax = tree_taxonomy(tree, papers_now.topic_ids, corpus.ids)
        changes = update_changes(
            base, history, papers_now, new_topics, tax, counts, bars, cfg.hdbscan, run_dir
        )
    history["updates"].append(
        {"number": number, "papers": str(papers), "added": len(new)}
        | {"new_topics": [t["node_id"] for t in new_topics]}
    )
    result = updated_result(base, cfg, target, corpus, papers_now, tax, changes, timer)
    with timer("write", f"writing {target}"):
        files = update_files(base, result, new, papers_now, history)
        write_run_dir(target, files, overwrite)
    result.out_dir = target
    return UpdateOutcome(result, changes, files, timer.seconds)


def quiet_embedder(cfg: RunConfig) -> Embedder:
    """One model for an update's papers (local engine) and its new topics' phrases, loaded on
    first use, with no progress bar."""
    return Embedder(cfg.embedding.model_copy(update={"show_progress_bar": False}), store_for(cfg))


@dataclass
class Papers:
    """Every paper of the updated run, old then new: unit embeddings, topics and how."""

    X: StackedRows  # read by rows: the run's embeddings and the new ones, not copied into one
    topic_ids: np.ndarray
    probs: np.ndarray
    xy: np.ndarray
    origin: np.ndarray  # 0 = the fit, k = the k-th update
    how: np.ndarray  # of str (assign.HOW)
    after_place: np.ndarray  # topics right after placing, before the pool
    number: int  # this update's number
    n_placed: int  # new papers placed in the fit's topics
    pooled_before: int  # the pool's size before this update

    def mark_how(self, groups: list[np.ndarray]) -> None:
        """How each paper got its topic (assign.HOW): a proposed topic's papers were
        clustered, papers that joined a topic of an update joined it, the pool's are outliers."""
        moved = self.topic_ids != self.after_place
        founders = np.zeros(len(self.topic_ids), dtype=bool)
        for g in groups:
            founders[g] = True
        self.how[moved & (self.topic_ids >= 0)] = "joined"
        self.how[moved & founders] = "clustered"
        self.how[self.topic_ids == -1] = "outlier"


def grown_papers(
    base: SavedRun, new: Corpus, placed: Placement, fit_topics: list[int], number: int
) -> Papers:
    """The run's papers with the new ones appended, placed by the fit's rule: a new paper
    that the fit's outlier rule would have left out (:func:`fits_no_topic`) is pooled."""
    X_new = (
        unit_rows(placed.embeddings)
        if len(new)
        else np.zeros((0, base.embeddings.shape[1]), np.float32)
    )
    topics_new = placed.topic_ids.astype(np.int64).copy()
    fit_papers = fit_rows(base.origin)
    outside = fits_no_topic(
        X_new,
        base.embeddings[fit_papers],
        base.topic_ids[fit_papers],
        fit_topics,
        base.cfg.hdbscan.outlier_threshold,
    )
    topics_new[outside] = -1
    probs_new = placed.probabilities.astype(np.float32).copy()
    probs_new[topics_new == -1] = 0.0
    how = base.how + ["outlier" if o else h for h, o in zip(placed.how, outside)]
    topic_ids = np.concatenate([base.topic_ids, topics_new])
    return Papers(
        X=StackedRows([base.embeddings, X_new]),
        topic_ids=topic_ids,
        probs=np.concatenate([base.probabilities, probs_new]),
        xy=np.concatenate([base.xy, placed.xy.astype(np.float32)]),
        origin=np.concatenate([base.origin, np.full(len(new), number, np.int16)]),
        how=np.array(how, dtype=object),
        after_place=topic_ids.copy(),
        number=number,
        n_placed=int((topics_new >= 0).sum()),
        pooled_before=int((base.topic_ids == -1).sum()),
    )


def fit_rows(origin: np.ndarray) -> slice | np.ndarray:
    """The fit's papers (``origin`` 0): the run's first rows, as a slice (a view of the
    147k-row embeddings, not a copy), or a mask where they are not first."""
    n_fit = int((origin == 0).sum())
    return slice(0, n_fit) if not origin[:n_fit].any() else origin == 0


def pool_topics(
    papers: Papers, fit_topics: set[int], h: HdbscanConfig
) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Misfits first join topics of earlier updates; dense groups of what is left, most
    recent papers first (``POOL_MAX``), become proposed topics. Returns the groups (indices
    into ``papers``) and the bars they passed (cohesion, member similarity)."""
    X, topic_ids, origin = papers.X, papers.topic_ids, papers.origin
    born = [int(t) for t in np.unique(topic_ids) if t >= 0 and int(t) not in fit_topics]
    join_topics(X, topic_ids, papers.probs, born)
    pool = np.flatnonzero(topic_ids == -1)
    pool = pool[np.argsort(-origin[pool], kind="stable")][:POOL_MAX]  # most recent first
    pool.sort()
    bar, near = fit_bars(X, topic_ids, sorted(fit_topics))
    groups = [
        pool[g]
        for g in pool_groups(
            X[pool],
            min_cluster_size=int(h.min_cluster_size),
            min_samples=h.min_samples,
            cluster_selection_method=h.cluster_selection_method,
            cluster_selection_epsilon=h.cluster_selection_epsilon,
            min_cohesion=bar,
            min_similarity=near,
        )
    ]
    return groups, (bar, near)


def update_changes(
    base: SavedRun,
    history: dict,
    papers: Papers,
    new_topics: list[dict],
    tax: Taxonomy,
    counts: dict[str, int],
    bars: tuple[float, float],
    h: HdbscanConfig,
    run_dir: Path,
) -> dict:
    """``changes.json`` of an update: what was added where, the pool, new, grown and shrunk topics."""
    number, origin, topic_ids = papers.number, papers.origin, papers.topic_ids
    mine = origin == number
    n_new = int(mine.sum())
    grew, shrank = share_changes(tax, origin < number, mine, int((origin < number).sum()), n_new)
    for t in new_topics:
        t["size"] = tax.nodes[t["node_id"]].size
    n_pooled = int((mine & (topic_ids == -1)).sum())
    n_in_new = int(np.isin(topic_ids[mine], [t["topic_id"] for t in new_topics]).sum())
    n_joined = n_new - papers.n_placed - n_in_new - n_pooled
    pool_size = int((topic_ids == -1).sum())
    return {
        "kind": "update",
        "summary": (
            f"Update {number} of {history['base_run']}: {n_new} papers added "
            f"({papers.n_placed} placed in the fit's topics, {n_joined} in topics of earlier "
            f"updates, {n_in_new} in new topics, {n_pooled} pooled); "
            f"{len(new_topics)} new topic{'' if len(new_topics) == 1 else 's'}; "
            f"the pool holds {pool_size} papers."
        ),
        "base_run": history["base_run"],
        "previous_run": str(run_dir),
        "update": number,
        "papers": dict(
            counts,
            added=n_new,
            placed=papers.n_placed,
            joined_update_topics=n_joined,
            in_new_topics=n_in_new,
            pooled=n_pooled,
        ),
        "pool": {
            "size": pool_size,
            "before": papers.pooled_before,
            "left_for_topics": int(
                ((origin < number) & base_pool_mask(base, len(topic_ids)) & (topic_ids >= 0)).sum()
            ),
            "min_cluster_size": int(h.min_cluster_size),
            "min_samples": h.min_samples,
            "min_cohesion": round(bars[0], 4),
            "min_similarity": round(bars[1], 4),
        },
        "new_topics": new_topics,
        "grew": grew,
        "shrank": shrank,
    }


def add_topics(
    tree: dict,
    groups: list[np.ndarray],
    corpus: Corpus,
    papers: Papers,
    cfg: RunConfig,
    terms: Vocabulary | None,
    embed: Embed,
    store: ArrayStore,
    log: Callable[[str], None],
) -> list[dict]:
    """Give each pool group a new leaf id, the nearest parent, and a name; edits ``tree``,
    ``papers.topic_ids`` and ``papers.probs`` in place. Returns the new topics for
    ``changes.json``."""
    X = papers.X
    n_levels = int(tree["n_levels"])
    parents: list[dict] = []
    leaves: list[int] = []
    taken: set[str] = set()
    for d, _ in walk_tree(tree["root"]):
        taken |= name_keys(d.get("label", ""))
        if int(d["level"]) == n_levels - 1 and d["level"] > 0:
            parents.append(d)
        if "topic_id" in d:
            leaves.append(int(d["topic_id"]))
    tax = tree_taxonomy(tree, papers.topic_ids, corpus.ids)
    if not parents:  # a one-level tree: new topics go under the root
        parents = [tree["root"]]
    P = np.stack([unit_mean(X[tax.nodes[p["node_id"]].doc_idx]) for p in parents])
    centres = [unit_mean(X[g]) for g in groups]
    parent_of = [int(np.argmax(P @ c)) for c in centres]
    named: dict[int, dict] = {}
    for p in sorted(set(parent_of)):
        ks = [k for k, q in enumerate(parent_of) if q == p]
        scope = np.union1d(
            tax.nodes[parents[p]["node_id"]].doc_idx, np.concatenate([groups[k] for k in ks])
        )
        found = name_new_topics(
            [groups[k] for k in ks], scope, corpus, X, embed, cfg, taken,
            terms=terms, store=store, log=log,
        )  # fmt: skip
        named.update(zip(ks, found))
    next_id = max(leaves, default=-1) + 1
    return [
        new_leaf(tree, parents[parent_of[k]], next_id + k, g, centres[k], named[k], corpus, papers)
        for k, g in enumerate(groups)
    ]


def new_leaf(
    tree: dict,
    parent: dict,
    topic: int,
    members: np.ndarray,
    centre: np.ndarray,
    info: dict,
    corpus: Corpus,
    papers: Papers,
) -> dict:
    """Put a named pool group into ``tree`` under ``parent`` as leaf ``topic``."""
    papers.topic_ids[members] = topic
    # Like a joined outlier: the probability is the cosine to the centroid.
    papers.probs[members] = np.clip(papers.X[members] @ centre, 0.0, 1.0)
    n_levels = int(tree["n_levels"])
    node_id = f"{n_levels}.{topic}"
    parent.setdefault("children", []).append(
        {
            "node_id": node_id,
            "level": n_levels,
            "label": info["label"],
            "description": info["description"],
            "size": int(members.size),
            "keywords": info["keywords"],
            "top_words": info["top_words"],
            "representative": [corpus.ids[i] for i in info["representative"]],
            "topic_id": topic,
            **info["term"],
        }
    )
    return {
        "node_id": node_id,
        "topic_id": topic,
        "label": info["label"],
        "parent_id": parent["node_id"],
        "parent_label": parent.get("label", ""),
        "size": int(members.size),
        "keywords": info["keywords"][:5],
    }


def updated_result(base, cfg, target, corpus, papers: Papers, tax, changes, timer):
    """The new run as a ``RunResult``, its timeline and metrics filled in as a run's are."""
    cfg = cfg.model_copy(deep=True)
    if re.match(RUN_NAME_PATTERN, target.name):
        cfg.name = target.name
    with timer("timeline", "topics over time"):
        tl = timeline_for(corpus.dates, tax, cfg.taxonomy)
    placement = Placement(
        papers.topic_ids,
        papers.probs,
        papers.xy,
        papers.how.tolist(),
        np.zeros(len(papers.topic_ids), bool),
    )
    # raw_ids (HDBSCAN's labels) belong to a fit; the run carries the fit's assign model over.
    result = RunResult(
        cfg, corpus, papers.X, None, papers.xy, papers.topic_ids, placement, tax,
        timeline=tl, changes=changes,
    )  # fmt: skip
    metrics = {
        k: v for k, v in base.metrics.items() if k not in ("seconds", "time", "rising", "fading")
    }
    metrics.update(
        n_docs=len(corpus),
        **tree_counts(tax, papers.topic_ids),
        versions=dict(library_versions()),
        update=changes["update"],
        quality_measured_on=f"the fit of {changes['base_run']}; an update does not measure again",
    )
    if tl is not None:
        metrics.update(tree_metrics(tl, tax))
    result.metrics = metrics
    result.seconds = timer.seconds
    return result


def update_files(base: SavedRun, result, new: Corpus, papers: Papers, history: dict) -> dict:
    """Every file of the new run directory. What the run it reads holds and this update does
    not change is carried over as it is, never rebuilt: the fit's model and embeddings
    (hard links), the papers (one more gzip member), ``documents.csv``'s rows when no paper
    of the run changed topic (the new rows appended)."""
    report = base.run_dir / REPORT_FILE
    n = len(base.topic_ids)
    # The previous report's chunk files of the run's own papers are not read: they are kept
    # as they are (hard links); only the last, grown chunk is packed again.
    previous = read_report_payloads(report, same_rows=n) if report.is_file() else None
    # The fit's model, unchanged: a hard link where the file system allows (never written to).
    files = run_files(result, linked(base.run_dir / ASSIGN_FILE), previous, same_rows=n)
    files.update({name: linked(base.run_dir / name) for name, v in files.items() if v is None})
    # New papers as one more gzip member of each file: the run's are not recompressed. A run
    # written before abstracts.jsonl.gz keeps its layout (abstracts in the records).
    if (base.run_dir / ABSTRACTS_FILE).is_file():
        files[PAPERS_FILE] = appended(base.run_dir / PAPERS_FILE, papers_gz(new))
        files[ABSTRACTS_FILE] = appended(base.run_dir / ABSTRACTS_FILE, abstracts_gz(new))
    else:
        files[PAPERS_FILE] = appended(base.run_dir / PAPERS_FILE, paper_records_gz(new))
        files.pop(ABSTRACTS_FILE, None)
    files.update(state_files(base, result, papers))
    if old_rows_unchanged(base, papers):
        files[DOCUMENTS_FILE] = appended(
            base.run_dir / DOCUMENTS_FILE, documents_csv(result, start=n).encode("utf-8")
        )
    elif base.metrics.get("n_assigned"):
        text = documents_csv(result) + rest_rows(base)
        files[DOCUMENTS_FILE] = lambda path: path.write_text(text, encoding="utf-8")
    files[HISTORY_FILE] = json_text(history)
    return files


def rest_rows(base: SavedRun) -> str:
    """The rows of ``documents.csv`` for the papers a sampled fit (``engine.fit_sample``)
    placed after fitting: its last ``n_assigned`` rows. The run keeps neither their text nor
    their embeddings, only these rows, so an update carries them over as they were, last."""
    path = base.run_dir / DOCUMENTS_FILE
    if not path.is_file():
        return ""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    return csv_text(None, rows[max(0, len(rows) - int(base.metrics["n_assigned"])) :])


def old_rows_unchanged(base: SavedRun, papers: Papers) -> bool:
    """Whether every paper of the run keeps its topic, probability and how (then its row of
    ``documents.csv`` is the same: ids, titles, names and map positions never change).

    Not for a sampled fit's line of runs (``engine.fit_sample``; metrics ``n_assigned``):
    its ``documents.csv`` ends with the papers placed after the fit, which the saved papers
    do not hold: its rows are built from the saved papers and those follow (:func:`rest_rows`).
    """
    n = len(base.topic_ids)
    return (
        not base.metrics.get("n_assigned")
        and (base.run_dir / DOCUMENTS_FILE).is_file()
        and np.array_equal(papers.topic_ids[:n], base.topic_ids)
        and np.array_equal(papers.probs[:n], base.probabilities)
        and papers.how[:n].tolist() == base.how
    )


def state_files(base: SavedRun, result, papers: Papers) -> dict:
    """``model/papers.npz`` without embeddings, the files that hold them (the run's, linked;
    this update's as ``embeddings-<number>.npy``), so no embedding is written twice."""
    own = f"embeddings-{papers.number}.npy"
    if base.embedding_files:
        links = {name: base.run_dir / "model" / name for name in base.embedding_files}
    else:  # the embeddings are inside the run's papers.npz: link it, only they are read
        links = {"embeddings-0.npz": base.run_dir / STATE_FILE}
    files = {f"model/{name}": linked(src) for name, src in links.items()}
    n = len(base.topic_ids)
    names = list(links)
    if len(result.embeddings) > n:
        X_new = np.asarray(result.embeddings[n:], dtype=np.float16)
        files[f"model/{own}"] = lambda path: np.save(path, X_new, allow_pickle=False)
        names.append(own)
    how = result.placement.how
    files[STATE_FILE] = lambda path: path.write_bytes(
        state_npz(
            None, result.topic_ids, result.probabilities, result.xy, how, papers.origin, names
        )
    )
    return files


def appended(src: Path, tail: bytes) -> Callable[[Path], None]:
    """A writer of a copy of ``src`` with ``tail`` appended (the copy is made by the kernel)."""

    def write(path: Path) -> None:
        shutil.copyfile(src, path)
        with open(path, "ab") as fh:
            fh.write(tail)

    return write


def linked(src: Path) -> Callable[[Path], None]:
    return lambda path: link_or_copy(src, path)


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main_update(args: argparse.Namespace) -> int:
    """CLI: ``taxonomy update RUN_DIR NEW_PAPERS [--out DIR] [--format F] [--overwrite]``."""
    import sys

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    done = update_run(
        args.run_dir, args.papers, out=args.out, fmt=args.format, overwrite=args.overwrite, log=log
    )
    c = done.changes
    p = c["papers"]
    names = "; ".join(f"'{t['label']}' under '{t['parent_label']}'" for t in c["new_topics"])
    print(
        f"{p['added']} papers added: {p['placed']} placed, {p['joined_update_topics']} in topics "
        f"of earlier updates, {p['in_new_topics']} in new topics, {p['pooled']} pooled "
        f"(pool {c['pool']['size']}); "
        f"{len(c['new_topics'])} new topics{': ' + names if names else ''}; "
        f"{len(c['grew'])} grew, {len(c['shrank'])} shrank"
    )
    print(f"report: {(done.result.out_dir / 'report.html').resolve()}")
    return 0
