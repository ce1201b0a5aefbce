"""What real names score on the similarity guard of LLM names (labels.llm.min_similarity).

The guard refuses a name whose embedding has a cosine below the threshold to the
centroid of its node's papers. This measures, with the run's own model
(all-MiniLM-L6-v2), the cosine of

* the sample's extractive names to their own node, and to the nodes of other branches;
* Papers-with-Code task and area names (human names, e.g. "image classification") to
  the centroid of their own papers, and to the other tasks' / areas' centroids;
* names from far fields (a model that ignored the prompt) to every sample node.

Run from the repository root, with ``../shared`` beside it (PwC is skipped without it)::

    nice .venv/bin/python benchmarks/name_similarity.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from taxonomy.config import CorpusConfig, EmbeddingConfig, build_config
from taxonomy.corpus import load_corpus
from taxonomy.embedding.encoder import Embedder
from taxonomy.pipeline import fit
from taxonomy.util.cache import ArrayStore

REPO = Path(__file__).resolve().parents[1]
PWC = REPO.parent / "shared" / "datasets" / "paperswithcode_area_task" / "docs.jsonl.gz"
CACHE = REPO / ".cache" / "taxonomy"
THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3]
OFF_TOPIC = [
    "protein structure prediction",
    "speech recognition",
    "robot locomotion",
    "medical image segmentation",
    "music generation",
    "stock price forecasting",
    "climate modelling",
    "quantum error correction",
]


def unit(A: np.ndarray) -> np.ndarray:
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def centroids(X: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    Xn = unit(X)
    return unit(np.stack([Xn[g].mean(axis=0) for g in groups]))


def describe(label: str, own: np.ndarray, other: np.ndarray) -> None:
    q = lambda a, p: float(np.percentile(a, p)) if a.size else float("nan")
    print(
        f"{label}: own n={own.size} min {own.min():.3f} p5 {q(own, 5):.3f} max {own.max():.3f} median "
        f"{np.median(own):.3f} | other n={other.size} median {np.median(other):.3f} "
        f"p95 {q(other, 95):.3f} max {other.max():.3f}"
    )
    for t in THRESHOLDS:
        print(
            f"    threshold {t:.2f}: refuses {np.mean(own < t):6.1%} of own names, "
            f"{np.mean(other < t):6.1%} of the others"
        )


def sample(embedder: Embedder) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(
            {
                "output_dir": tmp,
                "cache": {"dir": str(CACHE)},
                "embedding": {"show_progress_bar": False},
            }
        )
        r = fit(cfg, log=lambda m: None)
    tax = r.taxonomy
    nodes = [n for n in tax.nodes.values() if n.level > 0]
    C = centroids(r.embeddings, [n.doc_idx for n in nodes])
    P = unit(embedder.embed([n.label for n in nodes], progress=False)[0])
    S = P @ C.T  # S[i, j]: name of node i to centroid of node j
    lineage = {
        (i, j)
        for i, a in enumerate(nodes)
        for j, b in enumerate(nodes)
        if set(a.doc_idx) <= set(b.doc_idx) or set(b.doc_idx) <= set(a.doc_idx)
    }
    own = np.diag(S)
    pairs = [(i, j) for i in range(len(nodes)) for j in range(len(nodes)) if (i, j) not in lineage]
    other = np.array([S[i, j] for i, j in pairs])
    describe("sample, extractive names (other = nodes of other branches)", own, other)
    F = unit(embedder.embed(OFF_TOPIC, progress=False)[0]) @ C.T
    print(f"    far-field names to sample nodes: median {np.median(F):.3f} max {F.max():.3f}")
    for t in THRESHOLDS:
        print(f"    threshold {t:.2f}: refuses {np.mean(F < t):6.1%} of far-field names")


def pwc(embedder: Embedder) -> None:
    if not PWC.exists():
        print(f"PwC: {PWC} not here; skipped")
        return
    spec = CorpusConfig(path=str(PWC), id_field="arxiv_id", gold_fields=["area", "task"])
    docs = load_corpus(spec)
    X, _ = embedder.embed(docs.texts, progress=False)
    for field, min_docs in (("task", 20), ("area", 20)):
        gold = np.asarray(docs.gold[field])
        names = [g for g in sorted(set(gold)) if (gold == g).sum() >= min_docs]
        C = centroids(X, [np.flatnonzero(gold == g) for g in names])
        P = unit(embedder.embed([g.replace("-", " ") for g in names], progress=False)[0])
        S = P @ C.T
        off = ~np.eye(len(names), dtype=bool)
        describe(f"PwC {field} names ({len(names)} with >= {min_docs} papers)", np.diag(S), S[off])


def main() -> int:
    embedder = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(CACHE))
    sample(embedder)
    pwc(embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
