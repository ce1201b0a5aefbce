"""The default decisions, re-checked on the tuning halves only (never the test halves).

For each corpus' tuning half (see ``benchmarks/quality.py``), one fit of this
project at defaults (seed 42), then on the same leaf topics:

- ``taxonomy.parents``: Ward on the leaf centroids in the UMAP space (the
  default until now), Ward in the raw embedding space, the HDBSCAN condensed
  tree (``density``) and EVoC's layers (``evoc``); every level scored against
  every gold level (NMI / ARI over all papers);
- ``hdbscan.max_cluster_share``: 0.25 against 1.0 (off), a second fit;
- top words by c-TF-IDF with and without ``reduce_frequent_words`` (NPMI by the
  neutral reference, TD), on the same nodes.

Run from the repository root::

    nice -n 10 .venv/bin/python benchmarks/tune_shape.py [--only NAME,...]

Writes ``benchmarks/results/tuning.json`` (per corpus, resumable) and ``tuning.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from quality import CORPORA, HEADLINE, RESULTS, log, reference_for, run_ours, write_half

from taxonomy.evaluate import gold_scores, npmi_coherence, topic_diversity
from taxonomy.hierarchy import build_taxonomy, level_sizes
from taxonomy.shape import shape_taxonomy

SEED = 42
OUT = RESULTS / "tuning.json"


def plscan_layers(
    points: np.ndarray, min_cluster_size: int, min_samples: int | None
) -> list[np.ndarray]:
    """fast_hdbscan (the ``bench`` extra)'s layered clusterings of the clustering space, finest first (-1 = noise)."""
    from fast_hdbscan.layer_clusters import build_cluster_layers

    layers = build_cluster_layers(
        np.ascontiguousarray(points, dtype=np.float32),
        min_samples=min_samples or min_cluster_size,
        base_min_cluster_size=min_cluster_size,
        reproducible=True,
    )[0]
    return [np.asarray(layer) for layer in layers]


def level_scores(tax, topic_ids, gold) -> list[dict]:
    rows = []
    for lv in range(1, tax.n_levels + 1):
        labels = tax.labels_at(lv, topic_ids).tolist()
        row = {"level": lv, "nodes": len(tax.level(lv))}
        for f, g in gold.items():
            s = gold_scores(labels, g)
            row[f] = [s["nmi"], s["ari"]]
        rows.append(row)
    return rows


def top_words_variants(r, reference) -> dict:
    """NPMI / TD of the leaves' top words with and without reduce_frequent_words."""
    from taxonomy.naming.extractive import Labeller, c_tf_idf

    lab = Labeller(r.corpus.texts, r.embeddings, embed=None, params=r.cfg.labels)
    out = {}
    tax = r.taxonomy
    for lv in (1, tax.n_levels):
        nodes = tax.level(lv)
        counts = lab._level_counts([n.doc_idx for n in nodes])
        for rfw in (True, False):
            words = [lab._top_words(row) for row in c_tf_idf(counts, reduce_frequent_words=rfw)]
            out[f"level {lv} reduce_frequent_words={rfw}"] = {
                "npmi": round(float(np.nanmean(npmi_coherence(words, reference))), 4),
                "diversity": round(topic_diversity(words), 4),
            }
    return out


def tune(name: str, tmp: Path) -> dict:
    corpus_cfg, counts = write_half(name, "tune", tmp)
    log(f"{name}: tuning half {counts['tune']} papers; fit at defaults")
    r, secs = run_ours(corpus_cfg, name, SEED, {})
    gold = {f: v for f, v in r.corpus.gold.items()}
    h = r.cfg.hdbscan
    out = {"n_docs": len(r.corpus), "fit_s": round(secs, 1), "parents": {}}
    n_topics = int(r.topic_ids.max()) + 1
    out["n_topics"] = n_topics
    sizes = level_sizes(n_topics, "auto", "auto")
    variants = {
        "ward (UMAP space)": lambda: build_taxonomy(r.reduced, r.topic_ids, sizes),
        "ward (raw embeddings)": lambda: build_taxonomy(r.embeddings, r.topic_ids, sizes),
    }
    for parents in ("density", "evoc"):
        variants[parents] = lambda parents=parents: shape_taxonomy(
            parents,
            points=r.reduced,
            embeddings=r.embeddings,
            topic_ids=r.topic_ids,
            levels="auto",
            top_level="auto",
            min_cluster_size=h.min_cluster_size,
            min_samples=h.min_samples,
            random_state=SEED,
        )
    from taxonomy.shape import layered_members, taxonomy_from_members

    variants["density layers (fast_hdbscan, UMAP space)"] = lambda: taxonomy_from_members(
        r.topic_ids,
        layered_members(
            plscan_layers(r.reduced, h.min_cluster_size, h.min_samples),
            r.topic_ids,
            r.reduced,
            sizes,
        ),
    )
    for label, make in variants.items():
        t0 = time.perf_counter()
        tax = make()
        out["parents"][label] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "levels": level_scores(tax, r.topic_ids, gold),
        }
        log(f"  {label}: {out['parents'][label]}")
        if label == "evoc" and len(tax.level(1)) != sizes[0]:
            # The same count by Ward, to tell the grouping from the count.
            k = len(tax.level(1))
            wk = build_taxonomy(r.reduced, r.topic_ids, level_sizes(n_topics, len(sizes), k))
            out["parents"][f"ward (UMAP space), top = evoc's {k}"] = {
                "seconds": 0.0,
                "levels": level_scores(wk, r.topic_ids, gold),
            }
    out["top_words"] = top_words_variants(r, reference_for(name, r.corpus.texts))
    log(f"  top words: {out['top_words']}")
    fine = HEADLINE[name][0]
    leaf = r.taxonomy.labels_at(r.taxonomy.n_levels, r.topic_ids).tolist()
    out["max_cluster_share"] = {"0.25": gold_scores(leaf, gold[fine]) | {"leaves": n_topics}}
    log("  fit with hdbscan.max_cluster_share=1.0")
    r1, _ = run_ours(corpus_cfg, name, SEED, {"hdbscan.max_cluster_share": 1.0})
    leaf1 = r1.taxonomy.labels_at(r1.taxonomy.n_levels, r1.topic_ids).tolist()
    out["max_cluster_share"]["1.0"] = gold_scores(leaf1, gold[fine]) | {
        "leaves": int(r1.topic_ids.max()) + 1
    }
    log(f"  max_cluster_share: {out['max_cluster_share']}")
    return out


def write_md(results: dict) -> None:
    lines = [
        "# Default decisions, re-checked on the tuning halves",
        "",
        (
            "Regenerate: `nice -n 10 .venv/bin/python benchmarks/tune_shape.py` (tuning halves only; "
            "seed 42; NMI / ARI over all papers of the half, outliers as one class)."
        ),
        "",
    ]
    for name, res in results.items():
        fine, _coarse = HEADLINE[name]
        fields = [
            f
            for f in res["parents"][next(iter(res["parents"]))]["levels"][0]
            if f not in ("level", "nodes")
        ]
        lines += [
            f"## {name} (tuning half, {res['n_docs']} papers, {res['n_topics']} leaf topics)",
            "",
            "| parents | level | nodes | " + " | ".join(f"{f} NMI / ARI" for f in fields) + " |",
            "|---|---|---|" + "---|" * len(fields),
        ]
        for label, v in res["parents"].items():
            for row in v["levels"][:-1]:
                cells = " | ".join(f"{row[f][0]:.3f} / {row[f][1]:.3f}" for f in fields)
                lines.append(f"| {label} | {row['level']} | {row['nodes']} | {cells} |")
        leaf = res["parents"][next(iter(res["parents"]))]["levels"][-1]
        cells = " | ".join(f"{leaf[f][0]:.3f} / {leaf[f][1]:.3f}" for f in fields)
        lines += [f"| (leaves) | {leaf['level']} | {leaf['nodes']} | {cells} |", ""]
        m = res["max_cluster_share"]
        lines.append(
            f"`max_cluster_share` against {fine}: 0.25 → NMI {m['0.25']['nmi']:.3f} / ARI "
            f"{m['0.25']['ari']:.3f} ({m['0.25']['leaves']} leaves); 1.0 (off) → NMI "
            f"{m['1.0']['nmi']:.3f} / ARI {m['1.0']['ari']:.3f} ({m['1.0']['leaves']} leaves)."
        )
        lines.append("")
        lines.append(
            "Top words (NPMI by the neutral reference / TD): "
            + "; ".join(
                f"{k}: {v['npmi']:.3f} / {v['diversity']:.3f}" for k, v in res["top_words"].items()
            )
            + "."
        )
        lines.append("")
    (RESULTS / "tuning.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated corpus names (default: all)")
    p.add_argument("--redo", action="store_true", help="recompute corpora already in tuning.json")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CORPORA)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name in results and not args.redo:
                continue
            results[name] = tune(name, Path(tmp))
            OUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_md({k: results[k] for k in CORPORA if k in results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
