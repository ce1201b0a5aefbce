"""Quality on held-out halves: BERTopic, BERTopic + reduce_outliers, k-means told k, and ours.

Every corpus is split once into a tuning half and a test half
(:func:`taxonomy.evaluate.holdout_half`; Papers with Code by its own ``split``
field). Defaults are chosen on the tuning halves (``--half tune``, with
``--set`` to try a setting); what ``quality.md`` reports is the test halves.
Each method is fitted on the half's papers only, with the same cached
all-MiniLM-L6-v2 embeddings, once per seed, and scored there:

- NMI / ARI / V-measure over all papers of the half (outliers as one class)
  against every gold level;
- NPMI (gensim ``c_npmi``, top-10 words, windows of 10) with one reference for
  every method: :func:`taxonomy.evaluate.neutral_tokens` of the half's texts
  (scikit-learn's word analyzer and English stop words), for BBC the OCTIS
  tokens; topic diversity;
- stability: mean pairwise NMI / ARI between the seeds' assignments.

Run from the repository root, with ``../shared`` beside it::

    nice -n 10 .venv/bin/python benchmarks/quality.py               # test halves, 5 seeds, all corpora
    nice -n 10 .venv/bin/python benchmarks/quality.py --md-only     # rewrite quality.md from the runs
    nice -n 10 .venv/bin/python benchmarks/tune_shape.py            # the tuning-half measurements

Each (corpus, half, method, seed) is saved under ``benchmarks/results/runs/``
as soon as it is done and reused by the next call (delete a file to redo it),
so a crash loses one fit. ``quality.csv`` / ``quality.md`` are rebuilt from
those files at the end of every call.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from taxonomy.config import CorpusConfig, EmbeddingConfig, build_config, set_dotted
from taxonomy.corpus import Corpus, load_corpus
from taxonomy.evaluate import (
    gold_scores,
    holdout_half,
    neutral_tokens,
    npmi_coherence,
    stability,
    topic_diversity,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
CACHE = REPO / ".cache" / "taxonomy"
RESULTS = REPO / "benchmarks" / "results"
RUNS = RESULTS / "runs"
SEEDS = (42, 1, 2, 3, 4)
SPLIT_SEED = 0
METHODS = ("bertopic", "bertopic+reduce_outliers", "kmeans", "taxonomy")

# name -> corpus settings (exactly as the shared embedding cache was built), gold fields
# broad to fine (the finest is the headline's), and how the halves are cut.
CORPORA = {
    "arxiv_daily_2025_2026": {
        "corpus": {
            "path": str(DATA / "arxiv_daily_2025_2026/docs.jsonl.gz"),
            "format": "arxiv",
            "gold_fields": ["group", "archive", "primary_category"],
        },
        "split": "hash",
    },
    "paperswithcode_area_task": {
        "corpus": {
            "path": str(DATA / "paperswithcode_area_task/docs.jsonl.gz"),
            "id_field": "arxiv_id",
            "gold_fields": ["area", "task"],
        },
        # The dataset's own split: "valid" papers tune, "test" papers test.
        "split": "field",
    },
    "twenty_newsgroups_19997": {
        "corpus": {
            "path": str(DATA / "twenty_newsgroups_19997/docs.jsonl.gz"),
            "title_field": "subject",
            "abstract_field": "text",
            "gold_fields": ["top", "level2", "group"],
        },
        "split": "hash",
    },
    "BBC_News": {"corpus": None, "split": "hash"},
}
# Headline gold level (finest) and the coarse one the top level is held to.
HEADLINE = {
    "arxiv_daily_2025_2026": ("primary_category", "group"),
    "paperswithcode_area_task": ("area", "area"),
    "twenty_newsgroups_19997": ("group", "top"),
    "BBC_News": ("label", "label"),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- corpora and halves ---------------------------------------------------------------


def bbc_corpus(tmp: Path) -> dict:
    """OCTIS' BBC corpus.tsv (tokens<TAB>partition<TAB>label, no header) as a JSONL corpus."""
    src = DATA / "octis_preprocessed/BBC_News/corpus.tsv"
    out = tmp / "bbc_news.jsonl"
    with open(src, encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as dst:
        for i, line in enumerate(fh):
            text, _, label = line.rstrip("\n").split("\t")
            dst.write(json.dumps({"id": f"bbc{i:04d}", "abstract": text, "label": label}) + "\n")
    return {"path": str(out), "format": "jsonl", "gold_fields": ["label"]}


def half_of(corpus: Corpus, rule: str) -> list[str]:
    """``tune`` / ``test`` for every paper: PwC's own ``split`` field, else the id hash."""
    if rule == "field":
        return ["test" if s == "test" else "tune" for s in corpus.gold["split"]]
    return [holdout_half(i, SPLIT_SEED) for i in corpus.ids]


def write_half(name: str, half: str, tmp: Path) -> tuple[dict, dict]:
    """The half's papers as a JSONL corpus (same texts, so the embedding cache hits)."""
    spec = CORPORA[name]
    base = spec["corpus"] or bbc_corpus(tmp)
    fields = list(base["gold_fields"])
    read = dict(base, gold_fields=fields + (["split"] if spec["split"] == "field" else []))
    full = load_corpus(CorpusConfig(**read))
    halves = half_of(full, spec["split"])
    out = tmp / f"{name}.{half}.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for i, h in enumerate(halves):
            if h != half:
                continue
            rec = {"id": full.ids[i], "title": full.titles[i], "abstract": full.abstracts[i]}
            rec.update({f: full.gold[f][i] for f in fields})
            fh.write(json.dumps(rec) + "\n")
    counts = {h: halves.count(h) for h in ("tune", "test")}
    return {"path": str(out), "format": "jsonl", "gold_fields": fields}, counts


def reference_for(name: str, texts: list[str]) -> list[list[str]]:
    """The NPMI reference: OCTIS tokens for BBC (its texts are those tokens), else neutral."""
    return [t.split() for t in texts] if name == "BBC_News" else neutral_tokens(texts)


# --- one fit of one method ---------------------------------------------------------------


def topic_scores(labels: np.ndarray, gold: dict[str, list], words, reference) -> dict:
    out = {
        "n_topics": len(set(labels.tolist()) - {-1}),
        "coverage": round(float(np.mean(labels >= 0)), 4),
        "gold": {f: gold_scores(labels.tolist(), g) for f, g in gold.items()},
    }
    if words:
        out["npmi"] = round(float(np.nanmean(npmi_coherence(words, reference))), 4)
        out["diversity"] = round(topic_diversity(words), 4)
    return out


def run_bertopic(texts, X, model, seed: int):
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    # BERTopic's own UMAP defaults with a seed; English stop words so words are not "the of and".
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    )
    tm = BERTopic(
        embedding_model=model,
        umap_model=umap_model,
        vectorizer_model=CountVectorizer(stop_words="english"),
    )
    topics, _ = tm.fit_transform(texts, embeddings=X)
    topics = np.asarray(topics)
    words = [[w for w, _ in tm.get_topic(t)][:10] for t in sorted(set(topics.tolist()) - {-1})]
    reduced = np.asarray(tm.reduce_outliers(texts, topics, strategy="embeddings", embeddings=X))
    return topics, words, reduced


def run_ours(corpus_cfg: dict, name: str, seed: int, overrides: dict):
    from taxonomy.pipeline import fit

    data = {
        "name": name,
        "seed": seed,
        "corpus": corpus_cfg,
        "cache": {"dir": str(CACHE)},
        "embedding": {"backend": "torch", "show_progress_bar": False},
    }
    for key, value in overrides.items():
        set_dotted(data, key, value)
    t0 = time.perf_counter()
    r = fit(build_config(data), log=lambda m: None)
    return r, time.perf_counter() - t0


def run_file(name: str, half: str, method: str, seed: int, tag: str = "") -> Path:
    return RUNS / f"{name}.{half}{tag}.{method.replace('+', '_')}.{seed}.json"


def bench_seed(name, half, corpus_cfg, docs, X, model, seed, overrides, tag, methods) -> None:
    """Fit and score every method of one seed, each saved as soon as it is done."""
    texts = docs.texts
    gold = {f: v for f, v in docs.gold.items()}
    reference = reference_for(name, texts)
    RUNS.mkdir(parents=True, exist_ok=True)

    def save(method: str, record: dict) -> None:
        record.update({"corpus": name, "half": half, "method": method, "seed": seed})
        run_file(name, half, method, seed, tag).write_text(json.dumps(record) + "\n")

    baselines = methods != "ours" and not tag
    if baselines and not run_file(name, half, "bertopic+reduce_outliers", seed).exists():
        log(f"  BERTopic seed {seed}")
        t0 = time.perf_counter()
        bt, words, ro = run_bertopic(texts, X, model, seed)
        secs = round(time.perf_counter() - t0, 1)
        for method, labels in (("bertopic", bt), ("bertopic+reduce_outliers", ro)):
            rec = {"levels": {"topics": topic_scores(labels, gold, words, reference)}}
            rec["labels"] = {"topics": labels.tolist()}
            rec["seconds"] = secs
            save(method, rec)
    if baselines and not run_file(name, half, "kmeans", seed).exists():
        from sklearn.cluster import KMeans

        rec = {"levels": {}, "labels": {}}
        for f, g in gold.items():
            k = len({v for v in g if v is not None})
            if k > 60:  # PwC tasks: not a partition anyone would ask k-means for
                continue
            log(f"  k-means k={k} ({f}) seed {seed}")
            km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(X)
            rec["levels"][f] = topic_scores(km, gold, None, reference)
        save("kmeans", rec)
    if methods != "baselines" and not run_file(name, half, "taxonomy", seed, tag).exists():
        log(f"  taxonomy seed {seed} {overrides or ''}")
        r, secs = run_ours(corpus_cfg, name, seed, overrides)
        tax = r.taxonomy
        rec = {"levels": {}, "labels": {}, "seconds": round(secs, 1)}
        for lv in range(1, tax.n_levels + 1):
            labels = tax.labels_at(lv, r.topic_ids)
            words = [n.top_words for n in tax.level(lv)]
            rec["levels"][str(lv)] = topic_scores(labels, gold, words, reference)
            rec["labels"][str(lv)] = labels.tolist()
        rec["outlier_share_hdbscan"] = r.metrics.get("outlier_share_hdbscan")
        rec["in_run_npmi"] = r.metrics.get("npmi")
        save("taxonomy", rec)


def bench(
    name: str, half: str, seeds, model, tmp: Path, overrides: dict, tag: str, methods: str
) -> None:
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.util.cache import ArrayStore

    corpus_cfg, counts = write_half(name, half, tmp)
    docs = load_corpus(CorpusConfig(**corpus_cfg))
    log(f"{name} {half} half: {len(docs)} papers (tune {counts['tune']}, test {counts['test']})")
    X, stats = Embedder(
        EmbeddingConfig(backend="torch", show_progress_bar=False), ArrayStore(CACHE)
    ).embed(docs.texts, progress=False)
    log(f"  embeddings: {stats.n_cached} cached, {stats.n_embedded} embedded")
    for seed in seeds:
        bench_seed(name, half, corpus_cfg, docs, X, model, seed, overrides, tag, methods)


# --- tables ---------------------------------------------------------------------------


def load_runs(half: str = "test", tag: str = "") -> dict:
    """(corpus, method) -> list of run records, seeds in SEEDS order."""
    out: dict = {}
    for name in CORPORA:
        for method in METHODS:
            recs = []
            for seed in SEEDS:
                path = run_file(name, half, method, seed, tag)
                if path.exists():
                    recs.append(json.loads(path.read_text()))
            if recs:
                out[(name, method)] = recs
    return out


def mean_sd(values: list[float]) -> tuple[float, float]:
    a = np.array([v for v in values if v is not None], dtype=float)
    return (
        (float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0) if a.size else (None, None)
    )


def summary_rows(runs: dict) -> list[dict]:
    """One row per (corpus, method, level, gold field): means over seeds."""
    rows = []
    for (name, method), recs in runs.items():
        for level in recs[0]["levels"]:
            for field in recs[0]["levels"][level]["gold"]:
                per = [r["levels"][level] for r in recs if level in r["levels"]]
                nmi = mean_sd([p["gold"][field]["nmi"] for p in per])
                ari = mean_sd([p["gold"][field]["ari"] for p in per])
                rows.append(
                    {
                        "corpus": name,
                        "method": method,
                        "level": level,
                        "gold": field,
                        "seeds": len(per),
                        "n_topics": round(float(np.mean([p["n_topics"] for p in per])), 1),
                        "coverage": round(float(np.mean([p["coverage"] for p in per])), 4),
                        "nmi": round(nmi[0], 4),
                        "nmi_sd": round(nmi[1], 4),
                        "ari": round(ari[0], 4),
                        "ari_sd": round(ari[1], 4),
                        "npmi": _round(mean_sd([p.get("npmi") for p in per])[0]),
                        "diversity": _round(mean_sd([p.get("diversity") for p in per])[0]),
                    }
                )
    return rows


def _round(v):
    return None if v is None else round(v, 4)


def stability_rows(runs: dict) -> list[dict]:
    rows = []
    for (name, method), recs in runs.items():
        if method == "kmeans" or len(recs) < 2:
            continue
        levels = list(recs[0]["labels"])
        picks = {"topics": "topics"} if method != "taxonomy" else {"leaf": levels[-1], "top": "1"}
        for what, level in picks.items():
            s = stability([r["labels"][level] for r in recs])
            rows.append({"corpus": name, "method": method, "level": what, **s})
    return rows


COLUMNS = [
    "corpus",
    "method",
    "level",
    "gold",
    "seeds",
    "n_topics",
    "coverage",
    "nmi",
    "nmi_sd",
    "ari",
    "ari_sd",
    "npmi",
    "diversity",
]


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})


def _f(v, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:.1%}" if pct else f"{v:.3f}"


def headline(rows: list[dict], stab: list[dict]) -> tuple[list[str], list[str]]:
    """The like-for-like table and the done-when verdicts, test halves."""
    table = [
        "| corpus · gold (k) | method | level | topics | coverage | NMI | ARI | NPMI | TD |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, (fine, coarse) in HEADLINE.items():
        mine = [r for r in rows if r["corpus"] == name]
        if not mine:
            verdicts.append(f"- **{name}**: not run yet")
            continue
        at = {(r["method"], r["level"], r["gold"]): r for r in mine}
        ours = sorted({r["level"] for r in mine if r["method"] == "taxonomy"}, key=lambda v: int(v))
        k_fine = next(
            (r["level"] for r in mine if r["method"] == "kmeans" and r["level"] == fine), None
        )
        order = [("bertopic", "topics"), ("bertopic+reduce_outliers", "topics")]
        order += [("kmeans", fine)] + [("taxonomy", lv) for lv in ours]
        for method, level in order:
            r = at.get((method, level, fine))
            if r is None:
                continue
            shown = "k = true k" if method == "kmeans" else level
            table.append(
                f"| {name} · {fine} | {method} | {shown} | {r['n_topics']:g} | "
                f"{_f(r['coverage'], True)} | {_f(r['nmi'])} ± {r['nmi_sd']:.3f} | "
                f"{_f(r['ari'])} ± {r['ari_sd']:.3f} | {_f(r['npmi'])} | {_f(r['diversity'])} |"
            )
        ro = at.get(("bertopic+reduce_outliers", "topics", fine))
        km = at.get(("kmeans", k_fine, fine)) if k_fine else None
        leaf = at.get(("taxonomy", ours[-1], fine)) if ours else None
        best = max(
            (at[("taxonomy", lv, fine)] for lv in ours), key=lambda r: r["nmi"], default=None
        )
        parts = []
        if ro and leaf:
            ok = leaf["nmi"] >= ro["nmi"] + 0.03 and leaf["ari"] >= ro["ari"] + 0.03
            parts.append(
                f"leaves NMI {leaf['nmi']:.3f} / ARI {leaf['ari']:.3f} vs BERTopic+RO + .03 = "
                f"{ro['nmi'] + 0.03:.3f} / {ro['ari'] + 0.03:.3f} → {'met' if ok else 'MISSED'}"
            )
        if km and best:
            ok = best["nmi"] >= km["nmi"]
            parts.append(
                f"best level (level {best['level']}) NMI {best['nmi']:.3f} vs k-means(true k) "
                f"{km['nmi']:.3f} → {'met' if ok else 'missed'}"
            )
        top = at.get(("taxonomy", "1", coarse))
        kc = at.get(("kmeans", coarse, coarse))
        if coarse != fine and top and kc:
            ok = top["nmi"] >= kc["nmi"]
            parts.append(
                f"top level vs {coarse}: NMI {top['nmi']:.3f} (ARI {top['ari']:.3f}) vs k-means "
                f"told k {kc['nmi']:.3f} (ARI {kc['ari']:.3f}) → {'met' if ok else 'MISSED'}"
            )
        st = {(s["method"], s["level"]): s for s in stab if s["corpus"] == name}
        o, b, bro = (
            st.get(("taxonomy", "leaf")),
            st.get(("bertopic", "topics")),
            st.get(("bertopic+reduce_outliers", "topics")),
        )
        if o and b and bro:
            ok_b = o["nmi"] >= b["nmi"] and o["ari"] >= b["ari"]
            ok_ro = o["nmi"] >= bro["nmi"] and o["ari"] >= bro["ari"]
            parts.append(
                f"stability (leaves) NMI {o['nmi']:.3f} / ARI {o['ari']:.3f} vs BERTopic "
                f"{b['nmi']:.3f} / {b['ari']:.3f} → {'met' if ok_b else 'MISSED'}, vs +RO "
                f"{bro['nmi']:.3f} / {bro['ari']:.3f} → {'met' if ok_ro else 'MISSED'}"
            )
        verdicts.append(f"- **{name}**: " + "; ".join(parts))
    return table, verdicts


def write_md(rows: list[dict], stab: list[dict], extras: dict, path: Path, notes: str) -> None:
    table, verdicts = headline(rows, stab)
    lines = [
        "# Quality on held-out test halves: ours vs BERTopic (+ reduce_outliers) and k-means",
        "",
        (
            "Regenerate (from the repository root, `../shared` beside it; about 1.5 hours on 2 busy "
            "cores, resumable):"
        ),
        "",
        "    nice -n 10 .venv/bin/python benchmarks/quality.py",
        "",
        (
            "**Protocol.** Each corpus is split once into a tuning and a test half: Papers with Code by "
            "its own `split` field (`valid` tunes, `test` tests), the others by one bit of a BLAKE2b "
            "hash of the paper id keyed with `0` (`taxonomy.evaluate.holdout_half`). Every default "
            "was (re)checked on the tuning halves only (below and `benchmarks/results/tuning.md`); "
            "every figure here is from the **test halves**, each method fitted on the test half's "
            "papers alone with the same cached all-MiniLM-L6-v2 embeddings, once per seed "
            f"({', '.join(map(str, SEEDS))}); figures are means ± standard deviation over the seeds. "
            "NMI (arithmetic, = V-measure) and ARI over **all** papers of the half, outliers as one "
            "class. `bertopic`: BERTopic 0.17 defaults (UMAP seeded, `CountVectorizer(stop_words="
            '"english")`); `+reduce_outliers`: its `reduce_outliers(strategy="embeddings")`, the '
            "strongest form, 100 % coverage; `kmeans`: k-means told the gold level's number of classes "
            "(`n_init=10`); `taxonomy`: this project at defaults, one row per level (1 = top). NPMI: "
            "gensim `c_npmi` of each topic's top-10 words, boolean sliding windows of 10, with **one "
            "reference for every method**: the half's texts through scikit-learn's default word "
            "analyzer with only its English stop words removed (`taxonomy.evaluate.neutral_tokens`; "
            "for BBC the OCTIS tokens); TD: unique top-10 words / 10·topics."
        ),
        "",
        "## Done-when (issue 16), test halves",
        "",
        *verdicts,
        "",
        "## Like for like, against the finest gold level",
        "",
        *table,
        "",
        "## Top level against the coarsest gold level",
        "",
        "| corpus · gold (k) | method | level | topics | NMI | ARI |",
        "|---|---|---|---|---|---|",
    ]
    for name, (fine, coarse) in HEADLINE.items():
        for r in rows:
            if r["corpus"] != name or r["gold"] != coarse or coarse == fine:
                continue
            if r["method"] == "kmeans" and r["level"] != coarse:
                continue
            shown = "k = true k" if r["method"] == "kmeans" else r["level"]
            lines.append(
                f"| {name} · {coarse} | {r['method']} | {shown} | {r['n_topics']:g} | "
                f"{_f(r['nmi'])} ± {r['nmi_sd']:.3f} | {_f(r['ari'])} ± {r['ari_sd']:.3f} |"
            )
    lines += [
        "",
        "## Stability: mean pairwise agreement between the 5 seeds' assignments",
        "",
        "| corpus | method | assignment | NMI | ARI |",
        "|---|---|---|---|---|",
    ]
    for s in stab:
        lines.append(
            f"| {s['corpus']} | {s['method']} | {s['level']} | {_f(s['nmi'])} | {_f(s['ari'])} |"
        )
    lines += [
        "",
        "## Every level against every gold level (means over seeds)",
        "",
        "| corpus | method | level | gold | topics | coverage | NMI | ARI |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['method']} | {r['level']} | {r['gold']} | {r['n_topics']:g} | "
            f"{_f(r['coverage'], True)} | {_f(r['nmi'])} | {_f(r['ari'])} |"
        )
    if extras:
        # Not a speed benchmark (benchmarks/speed.py is): stages cached by an earlier call are
        # not re-run, and the 2 cores are shared.
        lines += ["", "## Papers per test half", ""]
        lines += [f"- {k}: {v}" for k, v in extras.items()]
    path.write_text("\n".join(lines) + "\n\n" + notes, encoding="utf-8")


def half_sizes(runs: dict) -> dict:
    out = {}
    for name in CORPORA:
        recs = runs.get((name, "taxonomy")) or runs.get((name, "bertopic"))
        if recs:
            out[name] = str(len(next(iter(recs[0]["labels"].values()))))
    return out


def rebuild(notes: str) -> None:
    runs = load_runs("test")
    rows, stab = summary_rows(runs), stability_rows(runs)
    write_csv(rows, RESULTS / "quality.csv")
    (RESULTS / "stability.json").write_text(json.dumps(stab, indent=1) + "\n", encoding="utf-8")
    write_md(rows, stab, half_sizes(runs), RESULTS / "quality.md", notes)
    log(f"written {RESULTS / 'quality.md'}")


def notes_text() -> str:
    """The hand-written notes, then the tuning-half tables (``tune_shape.py``) a level down."""
    parts = []
    for name in ("quality_notes.md", "tuning.md"):
        path = RESULTS / name
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            if name == "tuning.md":
                lines = ["#" + ln if ln.startswith("#") else ln for ln in lines]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated corpus names (default: all)")
    p.add_argument("--half", choices=("test", "tune"), default="test")
    p.add_argument("--seeds", help=f"comma-separated seeds (default: {SEEDS})")
    p.add_argument(
        "--methods",
        choices=("all", "ours", "baselines"),
        default="all",
        help="ours: skip BERTopic and k-means; baselines: skip ours",
    )
    p.add_argument("--md-only", action="store_true", help="only rebuild quality.md from the runs")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for our runs (tuning only; saved under a tag)",
    )
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CORPORA)
    unknown = set(names) - set(CORPORA)
    if unknown:
        p.error(f"unknown corpus {sorted(unknown)}; expected some of {list(CORPORA)}")
    if args.md_only:
        rebuild(notes_text())
        return 0
    import yaml

    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    if overrides and args.half == "test":
        p.error("--set is for the tuning half: defaults are not chosen on the test half")
    tag = "".join(f"+{k}={v}" for k, v in sorted(overrides.items()))
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(SEEDS)

    if args.half == "test" and not args.only and not args.seeds:
        # One command for everything: the tuning-half checks first (skipped when saved).
        import tune_shape

        tune_shape.main([])

    from taxonomy.embedding.encoder import load_sentence_transformer

    model = load_sentence_transformer(EmbeddingConfig())  # BERTopic gets the model object itself
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            bench(name, args.half, seeds, model, Path(tmp), overrides, tag, args.methods)
            if args.half == "test":
                rebuild(notes_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
