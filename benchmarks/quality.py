"""Quality side by side: BERTopic defaults, k-means told the true k, and this project at defaults.

All three use the same cached all-MiniLM-L6-v2 embeddings of each corpus. Every
method is scored against the corpus' finest gold level (NMI, ARI, V-measure over
all papers, outliers as one class of their own) and, where it has topic words,
NPMI (gensim ``c_npmi``: top-10 words, windows of 10, the corpus itself as the
reference, one tokenisation for every method) and topic diversity.

Run from the repository root, with ``../shared`` beside it::

    nice .venv/bin/python benchmarks/quality.py            # all four corpora
    nice .venv/bin/python benchmarks/quality.py --only BBC_News

Writes ``benchmarks/results/quality.csv`` (rows of the corpora run are replaced,
others kept) and ``benchmarks/results/quality.md``.
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

from taxonomy.config import CorpusConfig, EmbeddingConfig, build_config
from taxonomy.corpus import load_corpus
from taxonomy.evaluate import gold_scores, npmi_coherence, reference_tokens, topic_diversity

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
CACHE = REPO / ".cache" / "taxonomy"
RESULTS = REPO / "benchmarks" / "results"
COLUMNS = [
    "corpus",
    "method",
    "level",
    "n_topics",
    "coverage",
    "nmi",
    "ari",
    "v_measure",
    "npmi",
    "diversity",
]
SEED = 42

# name -> corpus settings (exactly as the shared embedding cache was built), the gold
# field every method is scored against (the finest), and all gold fields broad to fine.
CORPORA = {
    "arxiv_daily_2025_2026": {
        "corpus": {
            "path": str(DATA / "arxiv_daily_2025_2026/docs.jsonl.gz"),
            "format": "arxiv",
            "gold_fields": ["group", "archive", "primary_category"],
        },
        "gold": "primary_category",
    },
    "paperswithcode_area_task": {
        "corpus": {
            "path": str(DATA / "paperswithcode_area_task/docs.jsonl.gz"),
            "id_field": "arxiv_id",
            "gold_fields": ["area", "task"],
        },
        "gold": "area",
    },
    "twenty_newsgroups_19997": {
        "corpus": {
            "path": str(DATA / "twenty_newsgroups_19997/docs.jsonl.gz"),
            "title_field": "subject",
            "abstract_field": "text",
            "gold_fields": ["top", "level2", "group"],
        },
        "gold": "group",
    },
    "BBC_News": {"corpus": None, "gold": "label"},
}


def bbc_corpus(tmp: Path) -> dict:
    """OCTIS' BBC corpus.tsv (tokens<TAB>partition<TAB>label, no header) as a JSONL corpus."""
    src = DATA / "octis_preprocessed/BBC_News/corpus.tsv"
    out = tmp / "bbc_news.jsonl"
    with open(src, encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as dst:
        for i, line in enumerate(fh):
            text, _, label = line.rstrip("\n").split("\t")
            dst.write(json.dumps({"id": f"bbc{i:04d}", "abstract": text, "label": label}) + "\n")
    return {"path": str(out), "format": "jsonl", "gold_fields": ["label"]}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def score(
    corpus: str, method: str, level: str, labels: np.ndarray, gold: list, topics, reference
) -> dict:
    s = gold_scores(labels.tolist(), gold)
    npmi = float(np.nanmean(npmi_coherence(topics, reference))) if topics else None
    td = topic_diversity(topics) if topics else None
    row = {
        "corpus": corpus,
        "method": method,
        "level": level,
        "n_topics": len(set(labels.tolist()) - {-1}),
        "coverage": round(float(np.mean(labels >= 0)), 4),
        "nmi": s["nmi"],
        "ari": s["ari"],
        "v_measure": s["v_measure"],
        "npmi": None if npmi is None else round(npmi, 4),
        "diversity": None if td is None else round(td, 4),
    }
    log("  " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "corpus"))
    return row


def run_bertopic(texts, X, model, seed):
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    # BERTopic's own UMAP defaults, with a seed; English stop words so words are not "the of and".
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


def run_ours(corpus_cfg: dict, name: str):
    from taxonomy.pipeline import fit

    cfg = build_config(
        {
            "name": name,
            "seed": SEED,
            "corpus": corpus_cfg,
            "cache": {"dir": str(CACHE)},
            # torch: the shared cache holds torch fp32 vectors, and the published quality
            # figures were measured on them (backend auto would pick per machine).
            "embedding": {"backend": "torch", "show_progress_bar": False},
        }
    )
    t0 = time.perf_counter()
    r = fit(cfg, log=lambda m: log("  " + m.strip()))
    return r, time.perf_counter() - t0


def bench_corpus(
    name: str,
    spec: dict,
    model,
    tmp: Path,
    old: list[dict] | None = None,
    old_extra: dict | None = None,
) -> tuple[list[dict], dict]:
    """All rows of one corpus; with ``old`` rows the baselines are kept from them, not re-run."""
    from sklearn.cluster import KMeans

    from taxonomy.cache import ArrayStore
    from taxonomy.embed import Embedder
    from taxonomy.label import stop_words

    corpus_cfg = spec["corpus"] or bbc_corpus(tmp)
    docs = load_corpus(CorpusConfig(**corpus_cfg))
    texts, gold = docs.texts, docs.gold[spec["gold"]]
    log(f"{name}: {len(texts)} docs; embedding (cache: {CACHE})")
    emb = EmbeddingConfig(backend="torch", show_progress_bar=False)  # as run_ours
    X, stats = Embedder(emb, ArrayStore(CACHE)).embed(texts)
    log(f"  {stats.n_cached} cached, {stats.n_embedded} embedded")
    # One reference for every method: all 2,225 OCTIS token lists for BBC (duplicates too, as
    # in the paper; the run drops duplicate texts), our tokenisation elsewhere.
    if spec["corpus"] is None:
        tsv = DATA / "octis_preprocessed/BBC_News/corpus.tsv"
        reference = [
            line.split("\t")[0].split() for line in tsv.read_text(encoding="utf-8").splitlines()
        ]
    else:
        reference = reference_tokens(texts, stop_words())
    rows, extra = [], {"n_docs": len(texts), "gold": spec["gold"]}
    if old:
        log("  baselines kept from the previous results (--ours-only)")
        rows = [r for r in old if r["method"] != "taxonomy"]
        extra["bertopic_s"] = (old_extra or {}).get("bertopic_s")
    else:
        log("  BERTopic (defaults)")
        t0 = time.perf_counter()
        bt, words, bt_ro = run_bertopic(texts, X, model, SEED)
        extra["bertopic_s"] = round(time.perf_counter() - t0, 1)
        rows.append(score(name, "bertopic", "topics", bt, gold, words, reference))
        rows.append(
            score(name, "bertopic+reduce_outliers", "topics", bt_ro, gold, words, reference)
        )

        k = len({g for g in gold if g is not None})
        log(f"  k-means, k={k}")
        km = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(X)
        rows.append(score(name, "kmeans_true_k", f"k={k}", km, gold, None, reference))

    log("  taxonomy (defaults)")
    r, secs = run_ours(corpus_cfg, name)
    extra["taxonomy_s"] = round(secs, 1)
    tax = r.taxonomy
    for lv in range(1, tax.n_levels + 1):
        labels = tax.labels_at(lv, r.topic_ids)
        words = [n.top_words for n in tax.level(lv)]
        rows.append(score(name, "taxonomy", str(lv), labels, gold, words, reference))
    extra["taxonomy_gold"] = r.metrics.get("gold_scores", [])
    extra["outlier_share_hdbscan"] = r.metrics.get("outlier_share_hdbscan")
    return rows, extra


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(fh)]


def _num(v) -> float | None:
    return None if v in (None, "") else float(v)


def verdicts(rows: list[dict]) -> list[str]:
    """The issue's targets, one line per corpus, met or not, with the figures."""
    out = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        mine = [r for r in rows if r["corpus"] == corpus]
        bt = next((r for r in mine if r["method"] == "bertopic"), None)
        km = next((r for r in mine if r["method"] == "kmeans_true_k"), None)
        ours = [r for r in mine if r["method"] == "taxonomy"]
        if not (bt and km and ours):
            continue
        leaf = max(ours, key=lambda r: int(r["level"]))
        best = max(ours, key=lambda r: _num(r["v_measure"]))
        need = _num(bt["nmi"]) + 0.05
        ok1 = _num(leaf["nmi"]) >= need and _num(leaf["coverage"]) >= 0.9
        ok2 = _num(best["v_measure"]) >= _num(km["v_measure"])
        line = (
            f"- **{corpus}**: NMI(all) of our leaf topics {_num(leaf['nmi']):.3f} vs BERTopic "
            f"{_num(bt['nmi']):.3f} + 0.05 = {need:.3f}, coverage {_num(leaf['coverage']):.1%} → "
            f"{'met' if ok1 else 'MISSED'}; best level (level {best['level']}) V-measure "
            f"{_num(best['v_measure']):.3f} vs k-means(true k) {_num(km['v_measure']):.3f} → "
            f"{'met' if ok2 else 'MISSED'}"
        )
        if corpus == "BBC_News":
            npmi, td = _num(leaf["npmi"]), _num(leaf["diversity"])
            ok3 = npmi >= 0.18 and td >= 0.85
            line += f"; NPMI {npmi:.3f} (≥ .18), TD {td:.3f} (≥ .85) → {'met' if ok3 else 'MISSED'}"
        out.append(line)
    return out


NOTES = """\
## Why the two misses stand

- **Papers-with-Code NMI (.336 vs .377 needed).** Every method lands in .31–.35 against the 16 PwC
  areas at any granularity: k-means told k = 16 .311, BERTopic .327 (.353 with its outliers
  reassigned), ours .336–.352 for `min_cluster_size` 12–36 (33 to 119 leaf topics). A paper's area comes
  from the tasks its authors tagged on Papers with Code, and many papers sit in several areas while
  carrying one label, so agreement with any partition of the text is capped low. Our margin over
  BERTopic at defaults is +.009; BERTopic with its outliers reassigned (`reduce_outliers`, 100 %
  coverage) reaches .353, above our .336 at defaults and level with ours at `min_cluster_size` 12.
- **BBC best-level V-measure (.735 vs k-means' .830).** Our top level has 4 nodes for 5 classes, but the
  count is only part of it: grouping our 18 leaf topics into exactly 5 (Ward, or size-weighted k-means,
  on their centroids in the clustering space) reaches .795, still below k-means on the raw vectors;
  only size-weighted k-means on the leaves' raw-embedding centroids, told k = 5, reaches .828. A
  data-driven top-level count was tried (2026-11-28) (silhouette of the papers in UMAP space, largest
  gap in Ward merge heights, k = 2–12 on all four corpora): silhouette rises with k on arXiv, PwC and
  20 Newsgroups and the gap rule picks 4 or 7 on BBC, so neither finds the gold count and the
  geometric rule was kept.

## What was tried (ad-hoc runs on the same cached embeddings and UMAP; not regenerated by this script)

- **`min_cluster_size`** (default `round(0.5·sqrt(n))`: PwC 36, BBC 23). PwC leaf NMI(all): 12 → .352
  (119 leaves), 20 → .347 (74), 25 with `min_samples` 3 → .334, 36 → .336 (33), 36 with
  `cluster_selection_method: leaf` → .329. The BERTopic + .05 target (.377) is out of reach this way:
  PwC's area labels are noisy (k-means told k = 16 gets .311). BBC: 12 → leaf .545 / level 1 .726,
  35 → .675 / .727, 50 → level 2 (7 nodes) .750, `min_samples` 3 → level 1 .736. None beats k-means
  told k = 5 (.830): the top level has 4 nodes (`taxonomy.top_level: auto` = round(sqrt(18 leaves)))
  and Ward on the topic centroids merges business into politics; forcing `taxonomy.top_level: 5`
  gives .795 (ARI .821), 6 gives .764. Since no hdbscan setting moved a target, the defaults were left
  as they are (the arXiv run and the 66-paper sample keep their settings).
- **arXiv** (default `min_cluster_size` 67, `min_samples` 22). Before re-clustering oversized
  clusters there were only 20 leaves, the largest holding 42 % of the papers (all of condensed matter).
  Leaf / best-level NMI(all) against `primary_category` then: defaults .527; `min_samples` 5 → .518
  (25 leaves); `min_cluster_size` 35 → level 2 (12 nodes) .530, leaves (43) .507 — none reached
  k-means (.565). What did: `hdbscan.max_cluster_share: 0.25` (now the default) clusters again, on its
  own points, every cluster holding more than a quarter of the papers; the giant cluster became 11
  physics topics and the leaf NMI rose to .575 (ARI .196 → .379), above k-means told k.
- **Top words (NPMI, TD).** The leaf NPMI/TD depend on how `label.py` ranks each node's top-10
  unigrams, not on the clustering. Adopted: on the same leaf topics, ranking by BERTopic's
  `reduce_frequent_words` variant of c-TF-IDF (sqrt of the l1-normalised term frequency × idf) with the
  labeller's own vocabulary gives BBC NPMI .158 → .183 and TD .833 → .950 (both targets met), PwC
  NPMI .095 → .101 and TD .730 → .936, and higher NPMI and TD at every level of both corpora.
"""


def write_md(rows: list[dict], extras: dict, path: Path) -> None:
    def cell(v, pct=False):
        if v in (None, ""):
            return "–"
        return (
            f"{float(v):.1%}"
            if pct
            else (f"{float(v):.3f}" if isinstance(v, float) or "." in str(v) else str(v))
        )

    lines = [
        "# Quality: this project vs BERTopic and k-means (true k)",
        "",
        "Regenerate (from the repository root, `../shared` beside it; about an hour on 2 busy cores):",
        "",
        "    nice .venv/bin/python benchmarks/quality.py",
        "",
        (
            "Same all-MiniLM-L6-v2 embeddings for every method (the shared cache). Gold level scored: arXiv "
            "`primary_category` (24), Papers-with-Code `area` (16), 20 Newsgroups `group` (20), BBC `label` (5). "
            "NMI/ARI/V over **all** papers, outliers (-1) as one class. NMI here is scikit-learn's arithmetic-mean "
            "NMI, which equals V-measure (β = 1). NPMI: gensim `c_npmi` (top-10 words, boolean sliding windows of "
            "10, the corpus itself as reference; for BBC the OCTIS tokens), TD: unique top-10 words / 10·topics. "
            "`bertopic`: BERTopic 0.17 defaults (UMAP random_state=42, CountVectorizer English stop words); "
            '`+reduce_outliers`: its `reduce_outliers(strategy="embeddings")` (same words). `kmeans_true_k`: '
            "told the number of gold classes (the MTEB setting). `taxonomy`: this project at defaults, one row "
            "per taxonomy level (1 = top, highest = leaf topics)."
        ),
        "",
        "## Targets (issue 3)",
        "",
        *verdicts(rows),
        *[
            f"- **{c}**: not run yet (no row in quality.csv)"
            for c in CORPORA
            if c not in {r["corpus"] for r in rows}
        ],
        "",
        "## All rows",
        "",
        "| corpus | method | level | topics | coverage | NMI | ARI | V | NPMI | TD |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['method']} | {r['level']} | {r['n_topics']} | "
            f"{cell(r['coverage'], True)} | {cell(r['nmi'])} | {cell(r['ari'])} | "
            f"{cell(r['v_measure'])} | {cell(r['npmi'])} | {cell(r['diversity'])} |"
        )
    for corpus, ex in extras.items():
        lines += [
            "",
            f"### {corpus}: each taxonomy level against each gold level (from the run's metrics)",
            "",
            (
                f"{ex.get('n_docs')} docs; fit time BERTopic {ex.get('bertopic_s')} s, taxonomy "
                f"{ex.get('taxonomy_s')} s (embeddings cached, 2 shared cores); HDBSCAN outliers before "
                f"joining: {cell(ex.get('outlier_share_hdbscan'), True)}."
            ),
            "",
            "| level | nodes | gold | classes | NMI all | NMI covered | ARI all | V all |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for g in ex.get("taxonomy_gold", []):
            mark = " (fits)" if g["fits"] else ""
            lines.append(
                f"| {g['level']} | {g['n_nodes']} | {g['gold']}{mark} | {g['n_classes']} | "
                f"{cell(g['nmi_all'])} | {cell(g['nmi_covered'])} | {cell(g['ari_all'])} | "
                f"{cell(g['v_measure_all'])} |"
            )
    path.write_text("\n".join(lines) + "\n\n" + NOTES, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated corpus names (default: all)")
    p.add_argument(
        "--md-only", action="store_true", help="only rewrite quality.md from quality.csv"
    )
    p.add_argument(
        "--ours-only",
        action="store_true",
        help="re-run only this project; keep the BERTopic and k-means rows already written",
    )
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CORPORA)
    unknown = set(names) - set(CORPORA)
    if unknown:
        p.error(f"unknown corpus {sorted(unknown)}; expected some of {list(CORPORA)}")

    csv_path, extras_path = RESULTS / "quality.csv", RESULTS / "quality_levels.json"
    if args.md_only:
        extras = json.loads(extras_path.read_text()) if extras_path.exists() else {}
        write_md(
            read_csv(csv_path),
            {k: extras[k] for k in CORPORA if k in extras},
            RESULTS / "quality.md",
        )
        return 0

    from taxonomy.embed import load_sentence_transformer

    model = load_sentence_transformer(EmbeddingConfig())  # BERTopic gets the model object itself
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = read_csv(csv_path)
    rows = [r for r in previous if r["corpus"] not in names]
    extras = json.loads(extras_path.read_text()) if extras_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            old = [r for r in previous if r["corpus"] == name] if args.ours_only else None
            new, extra = bench_corpus(name, CORPORA[name], model, Path(tmp), old, extras.get(name))
            rows = [r for r in rows if r["corpus"] != name] + new
            extras[name] = extra
            order = list(CORPORA)
            rows.sort(key=lambda r: order.index(r["corpus"]))
            write_csv(rows, csv_path)
            extras_path.write_text(json.dumps(extras, indent=1) + "\n", encoding="utf-8")
            write_md(
                read_csv(csv_path),
                {k: extras[k] for k in order if k in extras},
                RESULTS / "quality.md",
            )
            log(f"written {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
