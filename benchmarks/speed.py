"""Speed and scale benchmarks (not part of the test suite; CPU-heavy).

Everything side by side in one run (``all``), or its parts::

    # embedding backends vs torch fp32 on 1,000 arXiv abstracts: docs/s (alternating rounds in
    # one process, medians), mean cosine, top-10 neighbour overlap, the fidelity bar
    nice .venv/bin/python benchmarks/speed.py quality --n 1000

    # what backend: auto chooses on this machine, measured afresh (and remembered)
    nice .venv/bin/python benchmarks/speed.py auto

    # ours at defaults vs BERTopic at defaults (same model), cold, per stage + peak RSS,
    # then a warm re-run of ours with one clustering parameter changed
    nice .venv/bin/python benchmarks/speed.py speed --sizes 1000 5000 18077

    nice .venv/bin/python benchmarks/speed.py all        # the three above, in that order

Each speed point runs in a fresh subprocess so peak RSS (``ru_maxrss``) is per point, and uses a
temporary cache dir so no embedding or UMAP result is cached across points (what this machine
keeps between runs — the ``auto`` choice and numba's compiled code — is kept, and said so in
speed.md). Every row records the CPU (model, flags, cores), the load average and the library
versions. Results are printed as Markdown-ready JSON lines and appended to
``benchmarks/results/speed.jsonl``.
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


def _vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak RSS of one process from /proc (``VmHWM``). Not ``ru_maxrss``: Linux carries that
    across fork + exec, so a point started by a big parent would report the parent's peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    return _vm_hwm_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildPeak:
    """Samples the peak RSS of this process's children (the map worker) twice a second."""

    def __init__(self):
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        me = os.getpid()
        while not self._stop.wait(0.5):
            for task in Path(f"/proc/{me}/task").glob("*/children"):
                try:
                    kids = task.read_text().split()
                except OSError:
                    continue
                for kid in kids:
                    self.peak = max(self.peak, _vm_hwm_mb(kid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def machine() -> dict:
    """The CPU and libraries a row was measured on."""
    from taxonomy.embedding.auto import backend_versions, cpu_info

    return {
        "cpu": cpu_info(),
        "versions": backend_versions(),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def arxiv_texts(n: int, seed: int = 0):
    """``n`` arXiv papers drawn at random (the file is sorted by id, so a head would be biased)."""
    from taxonomy.config import CorpusConfig
    from taxonomy.corpus import load_corpus
    from taxonomy.runs.distributed import subset_corpus

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


def quality(n: int, backends: list[str] | None, threads: int | None, rounds: int = 4) -> list[dict]:
    """Every backend on the same ``n`` texts: fidelity on all, speed in alternating rounds."""
    import statistics

    from taxonomy.config import EmbeddingConfig
    from taxonomy.embedding.auto import BACKENDS, MIN_MEAN_COSINE, MIN_TOP10_OVERLAP, runnable
    from taxonomy.embedding.encoder import load_encoder

    if not backends:
        backends = [b for b in BACKENDS if runnable(b) is None]
    texts = arxiv_texts(n).texts
    encoders, vectors, load_s = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            cfg = EmbeddingConfig(backend=backend, threads=threads, show_progress_bar=False)
            t0 = time.perf_counter()
            enc = load_encoder(cfg, tmp)
            enc.encode(texts[:16])  # export / convert / compile and warm up, timed apart
            load_s[backend] = time.perf_counter() - t0
            encoders[backend] = enc
            vectors[backend] = enc.encode(texts)
        ref = vectors[backends[0]]
        # Speed: rounds over disjoint slices, the order reversed every round, so load from
        # other jobs on the machine hits every backend alike; medians and ratios are quoted.
        size = len(texts) // rounds
        rates: dict[str, list[float]] = {b: [] for b in backends}
        for r in range(rounds):
            part = texts[r * size : (r + 1) * size]
            for backend in backends if r % 2 == 0 else backends[::-1]:
                t0 = time.perf_counter()
                encoders[backend].encode(part)
                rates[backend].append(len(part) / (time.perf_counter() - t0))
    rows = []
    base = statistics.median(rates[backends[0]])
    for backend in backends:
        V = vectors[backend]
        cos = np.sum(V * ref, axis=1)
        med = statistics.median(rates[backend])
        overlap = topk_overlap(ref, V)
        row = {
            "part": "quality",
            "backend": backend,
            "n": len(texts),
            "threads": threads,
            "load_s": round(load_s[backend], 1),
            "docs_per_s": round(med, 1),
            "docs_per_s_rounds": [round(x, 1) for x in rates[backend]],
            f"vs_{backends[0]}": round(med / base, 2),
            "mean_cosine": round(float(cos.mean()), 5),
            "min_cosine": round(float(cos.min()), 5),
            "top10_overlap": round(overlap, 4),
            "meets_bar": bool(cos.mean() >= MIN_MEAN_COSINE and overlap >= MIN_TOP10_OVERLAP),
            **machine(),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def auto() -> list[dict]:
    """``backend: auto`` measured afresh on this machine (and remembered for the runs after)."""
    from taxonomy.config import EmbeddingConfig
    from taxonomy.embedding import auto as backends
    from taxonomy.embedding.encoder import load_encoder

    cfg = EmbeddingConfig(show_progress_bar=False)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        backend, choice, _ = backends.choose(cfg, tmp, load=load_encoder, force=True)
        wall = time.perf_counter() - t0
    row = {
        "part": "auto",
        "backend": backend,
        "docs_per_s": choice["docs_per_s"],
        "vs_torch": choice["vs_torch"],
        "candidates": choice["candidates"],
        "probe_s": round(wall, 1),
        **machine(),
    }
    print(json.dumps(row), flush=True)
    return [row]


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
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    r = fit(cfg, log=lambda m: None)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    worker_cpu = _children_cpu() - k0  # the map worker process
    return {
        "seconds": r.seconds,
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "map_worker_cpu_s": round(worker_cpu, 1),
        "n_topics": r.metrics["n_topics"],
        "embedding_backend": r.metrics["embedding_backend"]["backend"],
    }


def _bertopic(corpus, seed: int) -> dict:
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    from taxonomy.embedding.models import bundled_model_path

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
    kids = ChildPeak()
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
        "map_worker_peak_rss_mb": round(kids.stop()),
        **machine(),
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
    q.add_argument("--n", type=int, default=1000)
    q.add_argument("--backends", nargs="+", default=None, help="default: every runnable one")
    q.add_argument("--threads", type=int, default=None)
    sub.add_parser("auto")
    s = sub.add_parser("speed")
    s.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 18077])
    s.add_argument("--seed", type=int, default=42)
    a = sub.add_parser("all")
    a.add_argument("--n", type=int, default=1000)
    a.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 18077])
    a.add_argument("--seed", type=int, default=42)
    pt = sub.add_parser("_point")
    pt.add_argument("system")
    pt.add_argument("n", type=int)
    pt.add_argument("seed", type=int)
    args = p.parse_args(argv)
    if args.cmd == "_point":
        print(json.dumps(speed_point(args.system, args.n, args.seed)))
        return 0
    rows: list[dict] = []
    if args.cmd in ("quality", "all"):
        rows += quality(args.n, getattr(args, "backends", None), getattr(args, "threads", None))
    if args.cmd in ("auto", "all"):
        rows += auto()
    if args.cmd in ("speed", "all"):
        rows += speed(args.sizes, args.seed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "speed.jsonl", "a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
