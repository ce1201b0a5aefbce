"""Speed and scale benchmarks (not part of the test suite; CPU-heavy).

Two parts::

    # embedding backends vs torch fp32 on an arXiv subset: docs/s, mean cosine, top-10 overlap
    nice .venv/bin/python benchmarks/speed.py quality --n 2000

    # ours at defaults vs BERTopic at defaults (same model object), cold, per stage + peak RSS,
    # then a warm re-run of ours with one clustering parameter changed
    nice .venv/bin/python benchmarks/speed.py speed --sizes 1000 5000 18077

Each point runs in a fresh subprocess so peak RSS (``ru_maxrss``) is per point, and uses a
temporary cache dir so nothing is cached across points. Results are printed as Markdown
and appended as JSON lines to ``benchmarks/results/speed.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ARXIV = REPO.parent / "shared" / "datasets" / "arxiv_daily_2025_2026" / "docs.jsonl.gz"
RESULTS = REPO / "benchmarks" / "results"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def arxiv_texts(n: int, seed: int = 0):
    """``n`` arXiv papers drawn at random (the file is sorted by id, so a head would be biased)."""
    from taxonomy.config import CorpusConfig
    from taxonomy.corpus import load_corpus
    from taxonomy.distributed import subset_corpus

    corpus = load_corpus(CorpusConfig(path=str(ARXIV)))
    if n >= len(corpus):
        return corpus
    idx = np.sort(np.random.default_rng(seed).choice(len(corpus), n, replace=False))
    return subset_corpus(corpus, idx)


def topk_overlap(A: np.ndarray, B: np.ndarray, k: int = 10) -> float:
    """Mean share of each row's k nearest neighbours (cosine, self excluded) that A and B agree on."""

    def knn(X):
        S = X @ X.T
        np.fill_diagonal(S, -np.inf)
        return np.argpartition(-S, k, axis=1)[:, :k]

    a, b = knn(A), knn(B)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


# --- embedding quality --------------------------------------------------------------


def quality(n: int, backends: list[str], threads: int | None) -> list[dict]:
    from taxonomy.config import EmbeddingConfig
    from taxonomy.embed import load_encoder

    texts = arxiv_texts(n).texts
    rows, ref = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            cfg = EmbeddingConfig(backend=backend, threads=threads, show_progress_bar=False)
            t0 = time.perf_counter()
            enc = load_encoder(cfg, tmp)
            if backend != "torch":
                _ = enc.session  # export / quantise / load, timed apart from encoding
            t_load = time.perf_counter() - t0
            enc.encode(texts[:64])  # warm-up (allocators, kernels)
            t0, c0 = time.perf_counter(), time.process_time()
            V = enc.encode(texts)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            if ref is None:
                ref = V
            row = {
                "part": "quality",
                "backend": backend,
                "n": len(texts),
                "threads": threads,
                "load_s": round(t_load, 1),
                "encode_s": round(dt, 1),
                "docs_per_s": round(len(texts) / dt, 1),
                # CPU seconds (all threads): comparable across runs when other jobs share the cores
                "cpu_s": round(cpu, 1),
                "docs_per_cpu_s": round(len(texts) / cpu, 2),
                "mean_cosine": round(float(np.mean(np.sum(V * ref, axis=1))), 5),
                "min_cosine": round(float(np.min(np.sum(V * ref, axis=1))), 5),
                "top10_overlap": round(topk_overlap(ref, V), 4),
                "load_avg_1m": round(os.getloadavg()[0], 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# --- end-to-end speed -----------------------------------------------------------------


def _ours(corpus, cache: str, seed: int, overrides: dict | None = None) -> dict:
    from taxonomy.config import build_config
    from taxonomy.pipeline import fit

    data = {"seed": seed, "cache": {"dir": cache}, "embedding": {"show_progress_bar": False}}
    for k, v in (overrides or {}).items():
        sec, key = k.split(".")
        data.setdefault(sec, {})[key] = v
    cfg = build_config(data)
    # fit() reads the corpus itself: hand it ours through a jsonl in the temp dir.
    path = Path(cache) / f"corpus-{len(corpus)}.jsonl"
    if not path.exists():
        with open(path, "w") as f:
            f.writelines(
                json.dumps({"id": i, "title": t, "abstract": a}) + "\n"
                for i, t, a in zip(corpus.ids, corpus.titles, corpus.abstracts)
            )
    cfg.corpus.path = str(path)
    t0, c0 = time.perf_counter(), time.process_time()
    r = fit(cfg, log=lambda m: None)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": r.seconds,
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "n_topics": r.metrics["n_topics"],
    }


def _bertopic(corpus, seed: int) -> dict:
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    from taxonomy.models import bundled_model_path

    texts = corpus.texts
    c0 = time.process_time()
    t0 = time.perf_counter()
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.max_seq_length = 256
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb = model.encode(texts, show_progress_bar=False)
    t_emb = time.perf_counter() - t0
    topic_model = BERTopic(
        embedding_model=model, vectorizer_model=CountVectorizer(stop_words="english")
    )
    t0 = time.perf_counter()
    topics, _ = topic_model.fit_transform(texts, emb)
    t_fit = time.perf_counter() - t0
    return {
        "seconds": {
            "load_model": round(t_load, 1),
            "embed": round(t_emb, 1),
            "fit (umap+hdbscan+ctfidf)": round(t_fit, 1),
        },
        "total_s": round(t_load + t_emb + t_fit, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "n_topics": len(set(topics) - {-1}),
    }


def speed_point(system: str, n: int, seed: int) -> dict:
    """One cold point (run in a fresh process by :func:`speed`)."""
    corpus = arxiv_texts(n)
    with tempfile.TemporaryDirectory() as cache:
        if system == "bertopic":
            res = _bertopic(corpus, seed)
        else:
            res = _ours(corpus, cache, seed)
            if system == "ours+warm":
                cold = res
                t0 = time.perf_counter()
                warm = _ours(corpus, cache, seed, {"hdbscan.cluster_selection_method": "leaf"})
                res = {
                    "cold": cold,
                    "warm": warm,
                    "warm_wall_s": round(time.perf_counter() - t0, 1),
                }
    return {
        "part": "speed",
        "system": system,
        "n": len(corpus),
        **res,
        "peak_rss_mb": round(peak_rss_mb()),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def speed(sizes: list[int], seed: int) -> list[dict]:
    rows = []
    for n in sizes:
        for system in ("ours+warm", "bertopic"):
            out = subprocess.run(
                [sys.executable, __file__, "_point", system, str(n), str(seed)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--n", type=int, default=2000)
    q.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    q.add_argument("--threads", type=int, default=None)
    s = sub.add_parser("speed")
    s.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 18077])
    s.add_argument("--seed", type=int, default=42)
    pt = sub.add_parser("_point")
    pt.add_argument("system")
    pt.add_argument("n", type=int)
    pt.add_argument("seed", type=int)
    args = p.parse_args(argv)
    if args.cmd == "_point":
        print(json.dumps(speed_point(args.system, args.n, args.seed)))
        return 0
    rows = (
        quality(args.n, args.backends, args.threads)
        if args.cmd == "quality"
        else speed(args.sizes, args.seed)
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "speed.jsonl", "a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
