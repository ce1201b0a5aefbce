"""Names measured apart from clustering: does a node's name point at what people call its papers?

On one fitted taxonomy (this project at defaults), every node of every level
gets names from several namers: ours (the run's labels with ``labels.vocabulary: openalex``), ours without the vocabulary (the extractive names the vocabulary's
rule started from, recorded per node), BERTopic's default
representation (top-4 c-TF-IDF words of its own ``ClassTfidfTransformer`` with
``CountVectorizer(stop_words="english")``) and BERTopic's ``KeyBERTInspired``
(top 4), both fitted by BERTopic's manual topic modelling on exactly our nodes
(``y`` = the node of each paper), so every namer names the same nodes.

A node's gold class is the majority class of its papers (per gold field). A
name is right when, among the human names of all classes of that field, the one
nearest to it (cosine of the bundled all-MiniLM-L6-v2 embeddings) is its gold
class's name (acc@1), or among the 3 nearest (acc@3); ``cos`` is the mean cosine
between a name and its gold class's name. Human names: arXiv category, archive
and group names (``category_names.tsv``), Papers-with-Code area and task slugs
with "-" read as a space. They check names only; no namer sees them.

Each corpus is scored on a fit of all its papers and on a fit of its test half
(the halves of benchmarks/quality.py): name rules were developed on the tuning halves only.

    nice .venv/bin/python benchmarks/names.py                 # arXiv 18k and PwC, all + test half
    nice .venv/bin/python benchmarks/names.py --backend torch # fits on torch's vectors (default: auto)
    nice .venv/bin/python benchmarks/names.py --only pwc --halves tune   # what development looks at
    TAXONOMY_LLM_URL=http://localhost:11434/v1 nice .venv/bin/python benchmarks/names.py \
        --llm config/experiments/llm.yaml     # adds the LLM namer (labels.method: llm) as a row

With ``--llm FILE`` the ``labels`` section of that run config names a copy of the same
tree through its endpoint (:func:`taxonomy.naming.llm.apply_llm_names`, guards and fallback
included), scored as one more namer: abstractive names measured on the same nodes. A
run replaces the rows of the corpora and halves it fits, so one without ``--llm`` drops
their LLM namer (its names depend on the extractive ones, so old figures would be stale).

Writes ``benchmarks/results/names.json`` (rows, kept per corpus and half) and ``names.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from taxonomy.config import build_config
from taxonomy.embedding.encoder import Embedder
from taxonomy.util.cache import ArrayStore

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
CACHE = REPO / ".cache" / "taxonomy"
RESULTS = REPO / "benchmarks" / "results"
NAMERS = ["extractive", "ours", "llm", "bertopic", "keybert"]
NAMER_TITLES = {
    "extractive": "ours, labels.vocabulary: none",
    "ours": "ours (vocabulary: openalex)",
    "llm": "ours, labels.method: llm",
    "bertopic": "BERTopic top-4 c-TF-IDF words",
    "keybert": "BERTopic KeyBERTInspired (top 4)",
}


def arxiv_names() -> dict[str, str]:
    rows = (DATA / "arxiv_daily_2025_2026/category_names.tsv").read_text().splitlines()[1:]
    return dict(line.split("\t") for line in rows if "\t" in line)


CORPORA = {
    "arxiv": {
        "corpus": {
            "path": str(DATA / "arxiv_daily_2025_2026/docs.jsonl.gz"),
            "format": "arxiv",
            "gold_fields": ["group", "archive", "primary_category"],
        },
        "halves": "arxiv_daily_2025_2026",  # its name in benchmarks/quality.py
        # level -> gold fields it is scored against (headline first)
        "pairs": {
            1: ["archive", "group"],
            2: ["primary_category", "archive"],
            3: ["primary_category"],
        },
        "name_of": lambda field, code: arxiv_names().get(code, code),
    },
    "pwc": {
        "corpus": {
            "path": str(DATA / "paperswithcode_area_task/docs.jsonl.gz"),
            "id_field": "arxiv_id",
            "gold_fields": ["area", "task"],
        },
        "halves": "paperswithcode_area_task",
        "pairs": {1: ["area"], 2: ["task", "area"], 3: ["task"]},
        "name_of": lambda field, code: code.replace("-", " "),
    },
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def half_corpus(spec: dict, half: str, tmp: Path) -> dict:
    """The corpus's tuning or test half, cut by benchmarks/quality.py's own rule."""
    from quality import write_half

    corpus_cfg, _ = write_half(spec["halves"], half, tmp)
    return corpus_cfg


def fit_run(corpus_cfg: dict, name: str, backend: str = "auto"):
    from taxonomy.pipeline import fit

    cfg = build_config(
        {
            "name": name,
            "corpus": corpus_cfg,
            "cache": {"dir": str(CACHE)},
            "embedding": {"backend": backend, "show_progress_bar": False},
            # The vocabulary namer is measured here: on, whatever the default is.
            "labels": {"vocabulary": "openalex"},
        }
    )
    return fit(cfg, log=lambda m: log("  " + m.strip()))


def majority_of(doc_idx: np.ndarray, gold: np.ndarray) -> str:
    """The most common gold class among the papers (ties: the larger class code)."""
    vals = [g for g in gold[doc_idx] if g is not None]
    return max(set(vals), key=lambda v: (vals.count(v), v))


def extractive_name(node, metrics: dict) -> str:
    """The node's extractive name: the vocabulary's rule records the name a term replaced."""
    return metrics["labels"]["per_node"][node.node_id].get("extractive_name", node.label)


def bertopic_names(texts: list[str], X: np.ndarray, labels: np.ndarray, model) -> dict:
    """``{"bertopic": {node: name}, "keybert": {...}}`` from BERTopic's manual topic modelling."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.representation import KeyBERTInspired
    from sklearn.feature_extraction.text import CountVectorizer

    keep = np.flatnonzero(labels >= 0)
    docs = [texts[i] for i in keep]
    y = labels[keep]
    tm = BERTopic(
        embedding_model=model,
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=CountVectorizer(stop_words="english"),
        representation_model={"KeyBERT": KeyBERTInspired()},
    )
    topics, _ = tm.fit_transform(docs, embeddings=X[keep], y=y)
    topics = np.asarray(topics)
    out: dict[str, dict[int, str]] = {"bertopic": {}, "keybert": {}}
    for node in np.unique(y):
        t = int(np.bincount(topics[y == node] + 1).argmax()) - 1  # BERTopic renumbers topics
        out["bertopic"][int(node)] = " ".join(w for w, _ in tm.get_topic(t)[:4])
        out["keybert"][int(node)] = " ".join(w for w, _ in tm.topic_aspects_["KeyBERT"][t][:4])
    return out


def score_level(
    names: dict[str, dict[int, str]],
    majority: dict[int, str],
    class_names: dict[str, str],
    embed,
) -> dict[str, dict]:
    """acc@1, acc@3 and mean cosine of each namer's names against the classes' human names."""
    codes = sorted(class_names)
    G = embed([class_names[c] for c in codes])
    out = {}
    nodes = sorted(majority)
    for namer, by_node in names.items():
        N = embed([by_node[n] for n in nodes])
        S = N @ G.T
        order = np.argsort(-S, axis=1)
        gold = np.array([codes.index(majority[n]) for n in nodes])
        out[namer] = {
            "acc1": round(float(np.mean(order[:, 0] == gold)), 3),
            "acc3": round(float(np.mean([g in o[:3] for g, o in zip(gold, order)])), 3),
            "cos": round(float(np.mean(S[np.arange(len(nodes)), gold])), 3),
            "n": len(nodes),
        }
    return out


def llm_tree(r, labels_cfg, embed):
    """A copy of the run's tree renamed through ``labels_cfg.llm``'s endpoint, and the
    labels metrics (per node: ``llm``, or ``extractive`` where a guard or the endpoint refused)."""
    import copy

    from taxonomy.naming.llm import apply_llm_names

    tax = copy.deepcopy(r.taxonomy)
    metrics = apply_llm_names(
        tax, r.corpus.titles, r.embeddings, labels_cfg, store=ArrayStore(CACHE), embed=embed,
        log=lambda m: log("  " + m.strip()),
    )  # fmt: skip
    return tax, metrics


def bench(
    corpus: str, half: str, tmp: Path, model, embed, labels_llm=None, backend: str = "auto"
) -> dict:
    spec = CORPORA[corpus]
    corpus_cfg = spec["corpus"] if half == "all" else half_corpus(spec, half, tmp)
    log(f"{corpus} ({half}): fitting")
    r = fit_run(corpus_cfg, f"{corpus}-{half}", backend)
    tax, texts = r.taxonomy, r.corpus.texts
    llm_tax, llm_metrics = llm_tree(r, labels_llm, embed) if labels_llm else (None, None)
    levels = {}
    for lv in range(1, tax.n_levels + 1):
        labels = tax.labels_at(lv, r.topic_ids)
        log(f"  level {lv}: {len(tax.level(lv))} nodes; BERTopic namers")
        names = {
            "extractive": {n.index: extractive_name(n, r.metrics) for n in tax.level(lv)},
            "ours": {n.index: n.label for n in tax.level(lv)},
        }
        if llm_tax is not None:
            names["llm"] = {n.index: n.label for n in llm_tax.level(lv)}
        names.update(bertopic_names(texts, r.embeddings, labels, model))
        rows = {}
        for field in spec["pairs"].get(lv, []):
            gold = np.array(r.corpus.gold[field], dtype=object)
            majority = {}
            for node in tax.level(lv):
                if any(g is not None for g in gold[node.doc_idx]):
                    majority[node.index] = majority_of(node.doc_idx, gold)
            classes = {c: spec["name_of"](field, c) for c in {g for g in gold if g is not None}}
            rows[field] = score_level(
                {k: {i: v[i] for i in majority} for k, v in names.items()},
                majority,
                classes,
                embed,
            )
            rows[field]["classes"] = len(classes)
        levels[str(lv)] = {
            "n_nodes": len(tax.level(lv)),
            "n_vocabulary": sum(n.namer.startswith("vocabulary") for n in tax.level(lv)),
            "scores": rows,
            "names": {k: [v[n.index] for n in tax.level(lv)] for k, v in names.items()},
            "sizes": [n.size for n in tax.level(lv)],
        }
    out = {
        "corpus": corpus,
        "half": half,
        "n_docs": len(texts),
        "root": tax.root.label,
        "backend": r.cfg.embedding.backend,
        "namers": r.metrics["labels"]["namers"],
        "levels": levels,
    }
    if llm_metrics is not None:
        out["llm"] = {k: llm_metrics[k] for k in ("model", "n_llm", "n_extractive", "reasons")}
    return out


def targets(rows: list[dict]) -> list[str]:
    """Issue 23's bars, one line per corpus fit and per namer of ours in it."""
    out = []
    for row in rows:
        arxiv = row["corpus"] == "arxiv"
        leaf = str(max(int(lv) for lv in row["levels"]))
        for namer in [k for k in ("ours", "llm") if k in row["levels"]["1"]["names"]]:
            fails = []
            for lv, info in row["levels"].items():
                for field, sc in info["scores"].items():
                    ours = sc[namer]["acc1"]
                    best = max(sc["bertopic"]["acc1"], sc["keybert"]["acc1"])
                    if info.get("n_vocabulary") and ours < best + 0.15:
                        fails.append(f"level {lv} vs {field}: {ours:.2f} < {best:.2f} + .15")
                    if lv == leaf and ours < sc["extractive"]["acc1"] - 0.03:
                        was = sc["extractive"]["acc1"]
                        fails.append(f"leaves vs {field}: {ours:.2f} < extractive {was:.2f} - .03")
            top = row["levels"]["1"]["scores"]["archive" if arxiv else "area"][namer]["acc1"]
            if arxiv and top < 0.8:
                fails.append(f"top level vs archive: {top:.2f} < .8")
            if arxiv and "2" in row["levels"]:
                second = row["levels"]["2"]["scores"]["primary_category"][namer]["acc1"]
                if second < 0.75:
                    fails.append(f"level 2 vs primary category: {second:.2f} < .75")
            if not arxiv and top < 0.6:
                fails.append(f"top level vs area: {top:.2f} < .6")
            verdict = "met" if not fails else "MISSED: " + "; ".join(fails)
            who = "" if namer == "ours" else f", {NAMER_TITLES[namer]} ({row['llm']['model']})"
            out.append(
                f"- **{row['corpus']} ({row['half']}, {row['n_docs']} papers{who})**: {verdict}"
            )
    return out


def write_md(rows: list[dict], path: Path) -> None:
    lines = [
        "# Names against human names (issues 11 and 23)",
        "",
        "Regenerate (repository root, `../shared` beside it; embeddings from the shared cache):",
        "",
        "    nice .venv/bin/python benchmarks/names.py",
        *[
            f"    TAXONOMY_LLM_URL=... nice .venv/bin/python benchmarks/names.py "
            f"--only {r['corpus']} --halves {r['half']} --llm CONFIG   # the LLM row"
            for r in rows
            if "llm" in r
        ],
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        __doc__.split("\n\n")[2].replace("\n", " "),
        "",
        "## Targets",
        "",
        (
            "Issue 23: top level ≥ .8 against arXiv archive names and level 2 ≥ .75 against "
            "arXiv primary categories; PwC top level ≥ .6 against area names; ours ≥ the best "
            "BERTopic namer + .15 at every level where a vocabulary name is used; leaves no "
            "worse than the extractive names (within .03)."
        ),
        "",
        *targets(rows),
    ]
    for row in rows:
        lines += [
            "",
            (
                f"## {row['corpus']} — {row['half']} ({row['n_docs']} papers; root: {row['root']!r}; "
                f"embeddings: {row.get('backend', 'torch')}; namers: {row.get('namers', {})})"
            ),
            "",
            "| level | nodes | gold | classes | namer | acc@1 | acc@3 | cos |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for lv, info in row["levels"].items():
            for field, sc in info["scores"].items():
                for namer in [n for n in NAMERS if n in sc]:
                    s = sc[namer]
                    lines.append(
                        f"| {lv} | {info['n_nodes']} | {field} | {sc['classes']} | "
                        f"{NAMER_TITLES[namer]} | {s['acc1']:.2f} | {s['acc3']:.2f} | {s['cos']:.2f} |"
                    )
        if "llm" in row:
            m = row["llm"]
            reasons = ", ".join(f"{k} {v}" for k, v in m["reasons"].items()) or "none"
            total = m["n_llm"] + m["n_extractive"]
            said = (
                f"LLM namer: model `{m['model']}`; {m['n_llm']} of {total} names from the model, "
                f"the rest extractive (guards: {reasons})."
            )
            lines += ["", said]
        top = row["levels"]["1"]
        namers = list(dict.fromkeys(n for n in ["ours"] + NAMERS if n in top["names"]))
        titles = {
            "extractive": "extractive",
            "ours": "ours",
            "llm": "LLM",
            "bertopic": "BERTopic",
            "keybert": "KeyBERTInspired",
        }
        lines += ["", f"Top level, largest first ({' / '.join(titles[n] for n in namers)}):", ""]
        for i, size in enumerate(top["sizes"]):
            shown = [f"**{top['names']['ours'][i]}**"] + [top["names"][n][i] for n in namers[1:]]
            lines.append(f"- {size} papers: " + " / ".join(shown))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated corpora (default: arxiv,pwc)")
    p.add_argument("--halves", default="all,test", help="comma-separated: all, tune, test")
    p.add_argument("--md-only", action="store_true", help="only rewrite names.md from names.json")
    p.add_argument("--llm", type=Path, help="run config whose labels section names through an LLM")
    p.add_argument("--backend", default="auto", help="embedding.backend of the fits (default auto)")
    args = p.parse_args(argv)
    labels_llm = None
    if args.llm:
        from taxonomy.config import load_config

        labels_llm = load_config(args.llm).labels
        if labels_llm.method != "llm":
            p.error(f"--llm {args.llm}: labels.method is {labels_llm.method!r}, not 'llm'")
    json_path = RESULTS / "names.json"
    rows = json.loads(json_path.read_text()) if json_path.exists() else []
    if not args.md_only:
        from taxonomy.config import EmbeddingConfig
        from taxonomy.embedding.encoder import load_sentence_transformer

        model = load_sentence_transformer(EmbeddingConfig())  # BERTopic gets the object itself
        embedder = Embedder(
            EmbeddingConfig(backend="torch", show_progress_bar=False), ArrayStore(CACHE)
        )

        def embed(texts: list[str]) -> np.ndarray:
            V = embedder.embed(texts, progress=False)[0]
            return V / np.linalg.norm(V, axis=1, keepdims=True)

        with tempfile.TemporaryDirectory() as tmp:
            for corpus in (args.only or "arxiv,pwc").split(","):
                for half in args.halves.split(","):
                    row = bench(corpus, half, Path(tmp), model, embed, labels_llm, args.backend)
                    rows = [r for r in rows if (r["corpus"], r["half"]) != (corpus, half)] + [row]
                    rows.sort(key=lambda r: (list(CORPORA).index(r["corpus"]), r["half"]))
                    RESULTS.mkdir(parents=True, exist_ok=True)
                    json_path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
                    log(f"written {json_path}")
    write_md(rows, RESULTS / "names.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
