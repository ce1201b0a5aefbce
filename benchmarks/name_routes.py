"""Routes towards issue 11's name targets, measured on the tuning halves only.

Each corpus's tuning half (the split of benchmarks/quality.py; names.md reports the
test halves and all papers) is fitted once with torch embeddings. Then, on that
same tree:

* **variants**: the tree is named again under other values of the naming
  constants of :mod:`taxonomy.naming.extractive` (prior weight, single-word penalty, parent
  balance) and scored as benchmarks/names.py scores names (acc@1: the human class
  name nearest to a node's name is its majority class's);
* **oracle**: per node, does any of its extractive candidates (the phrases the
  labeller chooses from) point at the node's gold class? The candidates that do
  at the top level are listed, to show what reaching the bar with extractive
  names would take.

    nice .venv/bin/python benchmarks/name_routes.py     # about 3 minutes here

Writes ``benchmarks/results/name_routes.md``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from taxonomy.config import EmbeddingConfig
from taxonomy.embedding.encoder import Embedder
from taxonomy.naming.extractive import Labeller, vocabulary
from taxonomy.util.cache import ArrayStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import names as bench  # benchmarks/ is not a package: imported from its folder

VARIANTS: dict[str, dict[str, float]] = {
    "defaults": {},
    "prior weight 0": {"prior_weight": 0.0},
    "prior weight .5": {"prior_weight": 0.5},
    "prior weight 1": {"prior_weight": 1.0},
    "prior weight 2": {"prior_weight": 2.0},
    "single-word penalty 0": {"single_word_penalty": 0.0},
    "single-word penalty .1": {"single_word_penalty": 0.1},
    "parent balance ≥ .6": {"min_balance": 0.6},
    "parent balance ≥ .7": {"min_balance": 0.7},
}


ABOUT = """\
`nice .venv/bin/python benchmarks/name_routes.py` (repository root, `../shared` beside it) fits
each corpus's tuning half once (torch embeddings) and, on that tree:

- names it again under other values of the naming settings (`labels.prior_weight`,
  `single_word_penalty`, `min_balance`), scored as
  in names.md (acc@1: the human class name nearest to a node's name is its majority class's);
- oracle: the share of nodes for which any of their extractive candidates points at the gold
  class, and at the top level which candidates do."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def routes(corpus: str, tmp: Path, embed) -> dict:
    spec = bench.CORPORA[corpus]
    corpus_cfg = bench.half_corpus(spec, "tune", tmp)
    log(f"{corpus} (tune): fitting")
    r = bench.fit_run(corpus_cfg, f"{corpus}-tune")
    texts, tax = r.corpus.texts, r.taxonomy
    labels_cfg = r.cfg.labels
    vocab = vocabulary(texts, labels_cfg, ArrayStore(bench.CACHE))
    pairs = [(lv, f) for lv in (1, 2) for f in spec["pairs"].get(lv, [])]
    golds = {}
    for lv, field in pairs:
        gold = np.array(r.corpus.gold[field], dtype=object)
        classes = {c: spec["name_of"](field, c) for c in {g for g in gold if g is not None}}
        golds[(lv, field)] = (gold, classes)

    def acc1(tree) -> dict[str, float]:
        out = {}
        for lv, field in pairs:
            gold, classes = golds[(lv, field)]
            nodes = tree.level(lv)
            majority = {n.index: bench.majority_of(n.doc_idx, gold) for n in nodes}
            names = {"ours": {n.index: n.label for n in nodes}}
            out[f"{lv}:{field}"] = bench.score_level(names, majority, classes, embed)["ours"][
                "acc1"
            ]
        return out

    variants = {}
    for name, values in VARIANTS.items():
        log(f"  variant: {name}")
        tree = copy.deepcopy(tax)
        variant_cfg = labels_cfg.model_copy(update=values)  # labels.* fields, as a config sets them
        Labeller(texts, r.embeddings, embed, variant_cfg, vocab).label_tree(tree)
        variants[name] = {"acc1": acc1(tree), "top": [n.label for n in tree.level(1)]}

    log("  oracle over each node's candidates")
    labeller = Labeller(texts, r.embeddings, embed, labels_cfg, vocab)
    oracle, hits_at_top = {}, []
    for lv, field in pairs:
        gold, classes = golds[(lv, field)]
        codes = sorted(classes)
        G = embed([classes[c] for c in codes])
        found = 0
        for node in tax.level(lv):
            parts = [tax.nodes[c].doc_idx for c in node.children]
            scope = tax.nodes[node.parent_id].doc_idx
            cand = labeller.name_candidates(node.doc_idx, scope, parts)
            if not cand.phrases:
                continue
            right = (embed(cand.phrases) @ G.T).argmax(axis=1) == codes.index(
                bench.majority_of(node.doc_idx, gold)
            )
            found += bool(right.any())
            if lv == 1 and field == pairs[0][1]:
                hits_at_top.append(
                    {
                        "name": node.label,
                        "gold": classes[bench.majority_of(node.doc_idx, gold)],
                        "n_candidates": len(cand.phrases),
                        "pointing_at_gold": [p for p, ok in zip(cand.phrases, right) if ok][:6],
                    }
                )
        oracle[f"{lv}:{field}"] = round(found / len(tax.level(lv)), 2)
    return {
        "corpus": corpus,
        "n_docs": len(texts),
        "nodes": {lv: len(tax.level(lv)) for lv in (1, 2)},
        "variants": variants,
        "oracle": oracle,
        "top": hits_at_top,
    }


def write_md(rows: list[dict], path: Path) -> None:
    lines = ["# Routes towards the name targets (issue 11), on the tuning halves", "", ABOUT]
    for row in rows:
        cols = list(row["oracle"])
        title = (
            f"## {row['corpus']} — tuning half ({row['n_docs']} papers; "
            f"{row['nodes'][1]} top-level nodes, {row['nodes'][2]} at level 2)"
        )
        lines += [
            "",
            title,
            "",
            "acc@1 per level and gold field:",
            "",
            "| naming | " + " | ".join(cols) + " | top level |",
            "|---|" + "---|" * len(cols) + "---|",
        ]
        for name, v in row["variants"].items():
            shown = ", ".join(v["top"])
            scores = " | ".join(f"{v['acc1'][c]:.2f}" for c in cols)
            lines.append(f"| {name} | {scores} | {shown} |")
        oracle = " | ".join(f"{row['oracle'][c]:.2f}" for c in cols)
        lines.append(f"| oracle: any candidate | {oracle} | |")
        lines += [
            "",
            "Top level: our name, gold class, candidates that point at the gold class:",
            "",
        ]
        for t in row["top"]:
            pointing = ", ".join(t["pointing_at_gold"]) or "none"
            lines.append(
                f"- **{t['name']}** ({t['gold']}): {pointing} (of {t['n_candidates']} candidates)"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    embedder = Embedder(
        EmbeddingConfig(backend="torch", show_progress_bar=False), ArrayStore(bench.CACHE)
    )

    def embed(texts: list[str]) -> np.ndarray:
        V = embedder.embed(texts, progress=False)[0]
        return V / np.linalg.norm(V, axis=1, keepdims=True)

    with tempfile.TemporaryDirectory() as tmp:
        rows = [routes(corpus, Path(tmp), embed) for corpus in bench.CORPORA]
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    out = bench.RESULTS / "name_routes.md"
    write_md(rows, out)
    log(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
