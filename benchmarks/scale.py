"""Scale: cold runs from 18k to 147k abstracts, ours and BERTopic side by side, Dask vs local,
and the cost of an update into the largest run (issue 21).

Data (benchmark use only, never committed or shipped): ``combined.jsonl.gz`` from
``../shared/datasets/acl_anthology_64k/build/`` (ACL Anthology 64k + 91,712 abstracts of
papercopilot/paperlists@33f9884e; README there), 147,267 abstracts with year, venue and a
coarse ``field`` from the venue (the gold the runs are scored against).

Each measurement runs in its own process (cold: a fresh cache directory unless said
otherwise) under a monitor that splits it at the pipeline's stage lines (``[embed] ...``)
and records, per stage, wall time, CPU time (this process and its children, so Dask
workers count) and peak RSS (sampled every 0.1 s, process + children); the whole
process's exact peak comes from ``getrusage``. One JSON line per measurement goes to
``benchmarks/results/scale.jsonl``; ``report`` writes ``scale.md`` from it, with each
stage's growth exponent (time ∝ n^b, least squares on log-log).

    python benchmarks/scale.py prepare --data /path/to/combined.jsonl.gz
    python benchmarks/scale.py ours 147267            # our cold run at that size
    python benchmarks/scale.py bertopic 147267        # BERTopic on the same embeddings
    python benchmarks/scale.py ours 100000 --embeddings-from 147267   # warm embeddings
    python benchmarks/scale.py engines 100000 --fit-sample 70000 --embeddings-from 147267
    python benchmarks/scale.py update 147267          # 1,000 new papers into that run
    python benchmarks/scale.py report

Sizes are nested: the first n papers of one seeded permutation.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
JSONL = RESULTS / "scale.jsonl"
WORK = Path(
    os.environ.get("TAXONOMY_SCALE_WORK", ROOT / "benchmarks" / "results" / "runs" / "scale")
)
SIZES = (18_000, 50_000, 100_000, 147_267)
SEED = 42
N_NEW = 1_000
STAGE_LINE = re.compile(r"^\[(\w+)\]")


# --- measuring ---------------------------------------------------------------------


class Monitor:
    """Wall, CPU and peak RSS per stage of this process and its children."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.stages: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._current: dict | None = None
        self.t0 = time.perf_counter()
        self.cpu0 = self._cpu()
        self.peak_any = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _tree(self):
        import psutil

        procs = [self.proc]
        try:
            procs += self.proc.children(recursive=True)
        except psutil.Error:
            pass
        return procs

    def _cpu(self) -> float:
        import psutil

        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        # Children that already ended (a joined pool) count through the process's own record.
        t = os.times()
        return total + t.children_user + t.children_system

    def _rss(self) -> int:
        import psutil

        total = 0
        for p in self._tree():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss = self._rss()
            with self._lock:
                self.peak_any = max(self.peak_any, rss)
                if self._current is not None:
                    self._current["peak_rss_gb"] = max(self._current["peak_rss_gb"], rss / 1e9)

    def mark(self, stage: str) -> None:
        """End the current stage (if any) and start ``stage``."""
        now, cpu = time.perf_counter(), self._cpu()
        with self._lock:
            if self._current is not None:
                c = self._current
                c["wall_s"] = round(now - c.pop("_t"), 2)
                c["cpu_s"] = round(cpu - c.pop("_cpu"), 2)
                c["peak_rss_gb"] = round(c["peak_rss_gb"], 3)
                self.stages.append(c)
            self._current = (
                {"stage": stage, "_t": now, "_cpu": cpu, "peak_rss_gb": self._rss() / 1e9}
                if stage
                else None
            )

    def log(self, msg: str) -> None:
        m = STAGE_LINE.match(msg)
        if m:
            self.mark(m.group(1))
        print(msg, flush=True)

    def finish(self) -> dict:
        self.mark("")
        self._stop.set()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {
            "wall_s": round(time.perf_counter() - self.t0, 2),
            "cpu_s": round(self._cpu() - self.cpu0, 2),
            "peak_rss_gb": round(max(self.peak_any, own) / 1e9, 3),
            "peak_rss_process_gb": round(own / 1e9, 3),
            "stages": self.stages,
        }


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count()}


def record(kind: str, n: int, result: dict, **extra) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    line = {"kind": kind, "n": n, **extra, **result, **machine(), "when": time.strftime("%F %T")}
    with open(JSONL, "a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps({k: v for k, v in line.items() if k != "stages"}))


# --- data --------------------------------------------------------------------------


def papers_path(n: int) -> Path:
    return WORK / "data" / f"papers-{n}.jsonl"


def new_papers_path() -> Path:
    return WORK / "data" / f"new-{N_NEW}.jsonl"


def prepare(data: Path, arxiv: Path, sizes: tuple[int, ...] = SIZES) -> None:
    """Nested subsets of one seeded permutation, and 1,000 arXiv papers that arrive later."""
    with gzip.open(data, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    order = np.random.default_rng(SEED).permutation(len(rows))
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    # paperlists records without an id of their own share "venueYEAR:": number them.
    seen: dict[str, int] = {}
    for r in rows:
        k = seen[r["id"]] = seen.get(r["id"], 0) + 1
        if k > 1 or r["id"].endswith(":"):
            r["id"] = f"{r['id']}#{k}"
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    for n in sizes:
        with open(papers_path(n), "w", encoding="utf-8") as f:
            for i in order[: min(n, len(rows))]:
                r = rows[i]
                keep = ("id", "title", "abstract", "date", "venue", "field")
                f.write(json.dumps({k: r.get(k) for k in keep}, ensure_ascii=False) + "\n")
    # New papers: the latest arXiv listings in cs.CL / cs.CV / cs.RO / cs.LG / cs.AI, fields
    # this corpus covers, so they land in its topics or make new ones.
    wanted = {"cs.CL", "cs.CV", "cs.RO", "cs.LG", "cs.AI"}
    with gzip.open(arxiv, "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for line in f]
    recs = [r for r in recs if r.get("primary_category") in wanted and r.get("abstract")]
    recs.sort(key=lambda r: str(r.get("listing_date") or r.get("date") or ""), reverse=True)
    with open(new_papers_path(), "w", encoding="utf-8") as f:
        for r in recs[:N_NEW]:
            date = str(r.get("listing_date") or r.get("date") or "")[:7]
            row = {"id": f"arxiv:{r['id']}", "title": r["title"], "abstract": r["abstract"]}
            f.write(json.dumps({**row, "date": date}, ensure_ascii=False) + "\n")
    print(f"wrote {len(sizes)} subsets and {N_NEW} new papers under {WORK / 'data'}")


# --- one measurement each -----------------------------------------------------------


def run_config(n: int, cache: Path, **engine):
    from taxonomy.config import build_config

    data = {
        "name": f"scale-{n}",
        "seed": SEED,
        "output_dir": str(WORK / "runs"),
        "corpus": {
            "path": str(papers_path(n)),
            "format": "jsonl",
            "gold_fields": ["field"],
            "date_field": "date",
            "url_field": None,
        },
        "embedding": {"show_progress_bar": False},
        "cache": {"dir": str(cache)},
    }
    if engine:
        data["engine"] = engine
    return build_config(data)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def measure_ours(n: int, embeddings_from: int | None = None, tag: str = "") -> None:
    """Our run at n, cold; with ``embeddings_from`` M, the embeddings come warm from the cold
    run at M (nested sizes: M's cache holds every paper of n) and every other stage is cold.
    ``tag``: a second run at the same size, kept beside the first (``ours-<n>-<tag>``)."""
    from taxonomy.pipeline import run

    name = f"ours-{n}" + (f"-{tag}" if tag else "")
    cache, out = fresh(WORK / "cache" / name), fresh(WORK / "runs" / name)
    backend = None
    if embeddings_from is not None:
        backend = seed_cache(embeddings_from, papers_path(n), cache)
    cfg = run_config(n, cache)
    if backend:
        cfg.embedding = cfg.embedding.model_copy(update={"backend": backend})
    mon = Monitor()
    r = run(cfg, out_dir=out, log=mon.log)
    res = mon.finish()
    m = r.metrics
    record(
        "ours" + (f"-{tag}" if tag else ""),
        n,
        res,
        embeddings_warm_from=embeddings_from,
        backend=m["embedding_backend"]["backend"],
        n_topics=m["n_topics"],
        n_topics_per_level=m["n_topics_per_level"],
        outlier_share=m["outlier_share"],
        gold=m.get("gold"),
        report_mb=round((out / "report.html").stat().st_size / 1e6, 2),
        run_dir_mb=round(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6, 1),
    )


def measure_bertopic(n: int) -> None:
    """BERTopic (its defaults, seeded UMAP, English stop words) + reduce_outliers + update_topics,
    on our run's embeddings of the same papers (read from that run's cache)."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from umap import UMAP

    from taxonomy.corpus import load_corpus
    from taxonomy.embedding import Embedder
    from taxonomy.runs.rundir import load_run_config
    from taxonomy.util.cache import ArrayStore

    name = f"ours-{n}" if (WORK / "runs" / f"ours-{n}").is_dir() else f"ours-{n}-warm"
    cfg = load_run_config(WORK / "runs" / name)
    corpus = load_corpus(cfg.corpus)
    X, stats = Embedder(cfg.embedding, ArrayStore(WORK / "cache" / name)).embed(
        corpus.texts, progress=False
    )
    assert stats.n_embedded == 0, "the ours run's cache must hold every embedding"
    mon = Monitor()

    class TimedUMAP(UMAP):
        def fit_transform(self, X, *args, **kw):
            mon.mark("reduce")
            return super().fit_transform(X, *args, **kw)

    class TimedHDBSCAN(HDBSCAN):
        def fit(self, X, *args, **kw):
            mon.mark("cluster")
            return super().fit(X, *args, **kw)

    class TimedVectorizer(CountVectorizer):
        def fit(self, raw_documents, y=None):
            # BERTopic's first fit of its vectorizer ends HDBSCAN's stage (update_topics fits
            # it again, inside its own stage).
            if mon._current and mon._current["stage"] == "cluster":
                mon.mark("represent")
            return super().fit(raw_documents, y)

    mon.mark("setup")
    tm = BERTopic(
        umap_model=TimedUMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=SEED
        ),
        hdbscan_model=TimedHDBSCAN(
            min_cluster_size=10,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        ),
        vectorizer_model=TimedVectorizer(stop_words="english"),
    )
    topics, _ = tm.fit_transform(corpus.texts, embeddings=X)
    mon.mark("reduce_outliers")
    reduced = tm.reduce_outliers(corpus.texts, topics, strategy="embeddings", embeddings=X)
    mon.mark("update_topics")
    tm.update_topics(
        corpus.texts, topics=reduced, vectorizer_model=CountVectorizer(stop_words="english")
    )
    res = mon.finish()
    gold = np.asarray(corpus.gold["field"])
    red = np.asarray(reduced)
    record(
        "bertopic",
        n,
        res,
        n_topics=len(set(red.tolist()) - {-1}),
        outlier_share=round(float(np.mean(red == -1)), 4),
        outlier_share_before=round(float(np.mean(np.asarray(topics) == -1)), 4),
        gold={
            "field": {
                "nmi": round(float(normalized_mutual_info_score(gold, red)), 4),
                "ari": round(float(adjusted_rand_score(gold, red)), 4),
            }
        },
    )


def seed_cache(source_n: int, papers: Path, cache: Path, fit_sample: int | None = None) -> str:
    """A fresh cache holding the embeddings of ``papers`` (or of their fit sample) taken from
    the cold ``ours`` run at ``source_n``; returns the backend that made them."""
    from taxonomy.config import with_corpus
    from taxonomy.corpus import load_corpus
    from taxonomy.embedding import Embedder
    from taxonomy.embedding.encoder import EmbeddingCache, text_key
    from taxonomy.runs.distributed import split_sample
    from taxonomy.runs.rundir import load_run_config
    from taxonomy.util.cache import ArrayStore

    cfg = load_run_config(WORK / "runs" / f"ours-{source_n}")
    corpus = load_corpus(with_corpus(cfg, str(papers), "jsonl", "scale").corpus)
    if fit_sample is not None:
        corpus, _ = split_sample(corpus, fit_sample, cfg.seed)
    X, stats = Embedder(cfg.embedding, ArrayStore(WORK / "cache" / f"ours-{source_n}")).embed(
        corpus.texts, progress=False
    )
    assert stats.n_embedded == 0, f"the run at {source_n} must hold every embedding"
    EmbeddingCache(ArrayStore(fresh(cache)), cfg.embedding).add(
        [text_key(t) for t in corpus.texts], X
    )
    return cfg.embedding.backend


def measure_engines(n: int, fit_sample: int, source_n: int) -> None:
    """The sampled fit at n on the local engine, then on Dask (2 worker processes).

    Both fit the same sample with the same embeddings (from the cold run at ``source_n``);
    the Dask run reads the fit stages' results from the local run's cache, and each engine
    embeds the rest cold (the Dask cache is the local one minus the rest's vectors), so
    their ``assign`` stages compare like for like.
    """
    from taxonomy.pipeline import run

    local_cache, dask_cache = (
        WORK / "cache" / f"engine-local-{n}",
        WORK / "cache" / f"engine-dask-{n}",
    )
    backend = seed_cache(source_n, papers_path(n), local_cache, fit_sample)
    seeded = {p.name for p in local_cache.rglob("*") if p.is_file()}
    for engine, cache in (("local", local_cache), ("dask", dask_cache)):
        if engine == "dask":
            fresh(dask_cache)
            shutil.copytree(local_cache, dask_cache)
            shards = [p for p in dask_cache.glob("embeddings/*/*") if p.name not in seeded]
            for p in shards:
                p.unlink()
        out = fresh(WORK / "runs" / f"engine-{engine}-{n}")
        cfg = run_config(
            n, cache, kind=engine, fit_sample=fit_sample, n_workers=2, threads_per_worker=1
        )
        cfg.embedding = cfg.embedding.model_copy(update={"backend": backend})
        mon = Monitor()
        r = run(cfg, out_dir=out, log=mon.log)
        res = mon.finish()
        record(
            "engine", n, res, engine=engine, fit_sample=fit_sample,
            n_assigned=r.metrics.get("n_assigned"), n_topics=r.metrics["n_topics"],
        )  # fmt: skip
    record("agreement", n, agreement(n))


def agreement(n: int) -> dict:
    """Share of the papers placed after the fit that the two engines gave the same topic id."""
    import pandas as pd

    from taxonomy.corpus import load_corpus
    from taxonomy.runs.distributed import split_sample
    from taxonomy.runs.rundir import load_run_config

    cfg = load_run_config(WORK / "runs" / f"engine-dask-{n}")
    _, rest = split_sample(load_corpus(cfg.corpus), cfg.engine.fit_sample, cfg.seed)
    docs = {
        e: pd.read_csv(
            WORK / "runs" / f"engine-{e}-{n}" / "documents.csv", usecols=["doc_id", "topic_id"]
        )
        for e in ("dask", "local")
    }
    m = json.loads((WORK / "runs" / f"engine-dask-{n}" / "metrics.json").read_text())
    both = docs["dask"].merge(docs["local"], on="doc_id", suffixes=("_dask", "_local"))
    both = both[both.doc_id.astype(str).isin(set(map(str, rest.ids)))]
    same = float((both.topic_id_dask == both.topic_id_local).mean())
    return {"n_papers": len(both), "same_topic_id": round(same, 5), "n_fit": m.get("n_fit")}


def cold_copy(run: Path, to: Path, cache: Path) -> Path:
    """The run as hard links, its ``config.yaml`` naming ``cache``: a copy of the run's cache
    without any shard holding a new paper (an earlier update put them there), so the update
    reads the whole cache as it would and embeds every new paper."""
    import yaml

    from taxonomy.config import with_corpus
    from taxonomy.corpus import load_corpus
    from taxonomy.embedding.encoder import text_key
    from taxonomy.runs.rundir import load_run_config

    cfg = load_run_config(run)
    new = load_corpus(
        with_corpus(cfg, str(new_papers_path()), "jsonl", "new", gold_fields=[]).corpus
    )
    keys = {text_key(t) for t in new.texts}
    shutil.copytree(cfg.cache.dir, fresh(cache), copy_function=os.link)
    for shard in cache.glob("embeddings/*/*.npz"):
        with np.load(shard) as d:
            if keys.intersection(d["keys"].astype(str).tolist()):
                shard.unlink()
                shard.with_suffix(".sha256").unlink()
    shutil.copytree(run, fresh(to), copy_function=os.link)
    data = yaml.safe_load((run / "config.yaml").read_text())
    data["cache"]["dir"] = str(cache)
    (to / "config.yaml").unlink()  # a link to the run's own: replaced, not written through
    (to / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return to


def measure_update(n: int, tag: str = "") -> None:
    """``taxonomy update`` of 1,000 new papers into the ``ours`` run at n (``ours-<n>-<tag>``
    with a tag), against embedding those 1,000 alone (a fresh process that loads the model
    and embeds them, no cache)."""
    run = WORK / "runs" / (f"ours-{n}" + (f"-{tag}" if tag else ""))
    base = cold_copy(run, WORK / "runs" / f"update-base-{n}", WORK / "cache" / f"update-{n}")
    target = fresh(WORK / "runs" / f"update-{n}")
    py = sys.executable
    walls = {}
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(Path(py).with_name("taxonomy")),
            "update",
            str(base),
            str(new_papers_path()),
            "--out",
            str(target),
        ],
        check=True,
        cwd=ROOT,
    )
    walls["update"] = round(time.perf_counter() - t0, 2)
    code = (
        "from taxonomy.config import with_corpus;from taxonomy.corpus import load_corpus;"
        "from taxonomy.embedding import Embedder;from taxonomy.runs.rundir import load_run_config;"
        "from taxonomy.util.cache import ArrayStore;"
        f"cfg=with_corpus(load_run_config({str(base)!r}),{str(new_papers_path())!r},'jsonl','new',gold_fields=[]);"
        "texts=load_corpus(cfg.corpus).texts;"
        "Embedder(cfg.embedding,ArrayStore(None)).embed(texts,progress=False)"
    )
    t0 = time.perf_counter()
    subprocess.run([py, "-c", code], check=True, cwd=ROOT)
    walls["embed_alone"] = round(time.perf_counter() - t0, 2)
    record(
        "update" + (f"-{tag}" if tag else ""),
        n,
        {"wall_s": walls["update"]},
        **walls,
        ratio=round(walls["update"] / walls["embed_alone"], 3),
    )


# --- the table ---------------------------------------------------------------------


def latest(rows: list[dict]) -> dict:
    out = {}
    for r in rows:
        out[(r["kind"], r["n"], r.get("engine"))] = r
    return out


def exponent(ns: list[int], ts: list[float]) -> float | None:
    pts = [(np.log(n), np.log(t)) for n, t in zip(ns, ts) if t and t > 0]
    if len(pts) < 2:
        return None
    a = np.array(pts)
    return round(float(np.polyfit(a[:, 0], a[:, 1], 1)[0]), 2)


def stage_table(rows: dict, kind: str) -> list[str]:
    sizes = sorted(n for (k, n, _e) in rows if k == kind)
    if not sizes:
        return []
    stages = list(dict.fromkeys(s["stage"] for n in sizes for s in rows[(kind, n, None)]["stages"]))
    head = (
        "| stage | "
        + " | ".join(f"{n:,}: wall s / CPU s / peak GB" for n in sizes)
        + " | b (wall) |"
    )
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for st in stages + ["total"]:
        cells, walls = [], []
        for n in sizes:
            r = rows[(kind, n, None)]
            s = r if st == "total" else next((x for x in r["stages"] if x["stage"] == st), None)
            if s is None:
                cells.append("–")
                walls.append(None)
                continue
            cells.append(f"{s['wall_s']:.1f} / {s['cpu_s']:.1f} / {s['peak_rss_gb']:.2f}")
            walls.append(s["wall_s"])
        b = exponent(sizes, walls) if None not in walls else None
        lines.append(f"| {st} | " + " | ".join(cells) + f" | {b if b is not None else '–'} |")
    return lines


def result_row(n: int, o: dict, b: dict) -> str:
    levels = (o.get("gold") or {}).get("levels", {})
    top, leaf = levels.get("1", {}), levels.get(str(len(o["n_topics_per_level"])), {})
    bg = (b.get("gold") or {}).get("field", {})
    warm = f"warm from {o['embeddings_warm_from']:,}" if o.get("embeddings_warm_from") else "cold"
    if o["kind"] not in ("ours", "ours-warm"):
        warm += f" ({o['kind']})"
    per_level = " / ".join(str(v) for v in o["n_topics_per_level"].values())
    before = f" ({b['outlier_share_before']:.1%})" if b else ""
    b_out = f"{b['outlier_share']:.1%}{before}" if b else "–"
    return (
        f"| {n:,} | {warm} | {per_level} | {o['outlier_share']:.1%} | "
        f"{top.get('nmi_all', '–')} / {top.get('ari_all', '–')} | {leaf.get('nmi_all', '–')} | "
        f"{b.get('n_topics', '–')} | {b_out} | {bg.get('nmi', '–')} / {bg.get('ari', '–')} | "
        f"{o.get('report_mb', '–')} | {o.get('run_dir_mb', '–')} |"
    )


def write_md() -> None:
    with open(JSONL, encoding="utf-8") as f:
        every = [json.loads(line) for line in f]
    rows = latest(every)
    any_row = next(iter(rows.values()))
    md = [
        "# Scale: 18k to 147k abstracts, cold, on one machine and on Dask",
        "",
        (
            f"Machine: {any_row['cpu']}, {any_row['cores']} cores, 24 GiB. Written by "
            "`python benchmarks/scale.py report` from `scale.jsonl`; how each row was measured: "
            "the module's docstring. Peak RSS counts the process and its children."
        ),
        "",
        "## Ours, cold (fresh cache), per stage",
        "",
        (
            "Both cold runs ran the code before this work's memory fixes (the 18k one also before "
            "the fit's voters read UMAP's graph); two other jobs shared the cores during the 147k "
            "embedding, so its embed wall time is inflated (CPU s per abstract: 32.6 ms at 18k, "
            "33.2 ms at 147k)."
        ),
        "",
        *stage_table(rows, "ours"),
        "",
        "## Ours with this commit's code, embeddings warm from the cold 147k run",
        "",
        (
            "Every stage but embedding cold (fresh cache); the model loads in `label` for the "
            "phrases, so it is in memory at the peak."
        ),
        "",
        *stage_table(rows, "ours-warm"),
        "",
        "## Ours with the memory fixes, cold at 147k",
        "",
        (
            "A fresh cache, every stage cold (`scale.py ours 147267 --tag cold2`, code e93911e). "
            "The test suite and profiling shared the cores for part of the embedding, so compare "
            "its CPU s."
        ),
        "",
        *stage_table(rows, "ours-cold2"),
        "",
        "## BERTopic on the same embeddings (+ reduce_outliers + update_topics)",
        "",
        (
            "`cluster` holds HDBSCAN and BERTopic's c-TF-IDF; HDBSCAN's joblib workers count as "
            "children."
        ),
        "",
        *stage_table(rows, "bertopic"),
        "",
        "## Results",
        "",
        (
            "Agreement with the coarse `field` of each paper's venue (7 classes: nlp, vision, "
            "robotics, ml, ai, learning-theory, web): ours at the top level and at the leaves, "
            "BERTopic's flat topics after `reduce_outliers`."
        ),
        "",
        (
            "| n | embeddings | ours topics per level | ours outliers | ours NMI / ARI top | "
            "ours NMI leaves | BERTopic topics | BERTopic outliers (before reduce) | "
            "BERTopic NMI / ARI | report MB | run dir MB |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, n in sorted(
        {
            (k, n)
            for (k, n, _e) in rows
            if k in ("ours", "ours-warm", "ours-cold2", "ours-warm2", "ours-warm4")
        },
        key=lambda x: (x[1], x[0]),
    ):
        md.append(result_row(n, rows[(k, n, None)], rows.get(("bertopic", n, None), {})))
    eng = [r for r in every if r["kind"] == "engine"]
    if eng:
        md += [
            "",
            "## Dask vs local engine",
            "",
            (
                "Both fit the same sample with the same embeddings; the Dask run reads the fit "
                "stages' results from the local run's cache (so its total is shorter), and each "
                "engine embeds and places the rest cold (`assign`: 2 worker processes of one thread "
                "each, their start and model load included, against one process of 2 threads). "
                "The 90k-sample pair shared the cores with tests (the local run with the suite, "
                "the Dask run with one file); the 50k-sample pair ran on the otherwise idle machine."
            ),
            "",
            "| engine | n | fit sample | wall s | CPU s | peak GB | assign wall s | assign CPU s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in eng:
            a = next((s for s in r["stages"] if s["stage"] == "assign"), {})
            md.append(
                f"| {r['engine']} | {r['n']:,} | {r['fit_sample']:,} | {r['wall_s']} | {r['cpu_s']} | "
                f"{r['peak_rss_gb']} | {a.get('wall_s', '–')} | {a.get('cpu_s', '–')} |"
            )
    if not eng:
        md += [
            "",
            "## Dask vs local engine",
            "",
            (
                "Not measured at 100k yet: `python benchmarks/scale.py engines 100000 --fit-sample "
                "70000 --embeddings-from 147267` (about 30 min here). The Dask path runs in CI on "
                "3,000 ACL abstracts through a 2-worker LocalCluster (`tests/test_scale.py`)."
            ),
        ]
    agree = [r for r in every if r["kind"] == "agreement"]
    for a in agree:
        md.append(
            f"\nPapers placed after the fit with the same topic id on both engines: "
            f"{a['same_topic_id']:.2%} of {a['n_papers']:,} (a fit on "
            f"{a.get('n_fit', a['n'] - a['n_papers']):,} of {a['n']:,})."
        )
    md += update_lines(every)
    (RESULTS / "scale.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


UPDATE_RUNS = {
    "update": "code before issue 21's update work, into the cold run",
    "update-warm": "the update-scale merge (1b7a2e5), into its own 147k run",
    "update-ahead": (
        "the run read while the new papers embed (9a78e89), into its own 147k run, its cache "
        "without the new papers"
    ),
    "update-warm2": (
        "and the report's unchanged chunk files hard-linked, HDBSCAN imported only when the "
        "pool can hold a topic (538493f), the same run and cache"
    ),
    "update-warm4": (
        "the papers saved as columns with the abstracts apart and read only when used, the "
        "fit's vectors mapped from its model, the report's per-paper columns in chunks, the "
        "kNN bound by 1,024 blocks, no scipy.stats or scipy.sparse import, chunk files packed "
        "while map.png is drawn (issue 21, last round), into its own 147k run (ours-147267-warm4)"
    ),
}


def update_lines(every: list[dict]) -> list[str]:
    """Each kind of update measurement: every repeat side by side, and the median ratio."""
    md = []
    for kind, what in UPDATE_RUNS.items():
        runs = [r for r in every if r["kind"] == kind]
        if not runs:
            continue
        md += [
            "",
            f"## Update: {what}",
            "",
            "| update s | embed alone s | ratio |",
            "|---|---|---|",
        ]
        md += [f"| {u['update']} | {u['embed_alone']} | {u['ratio']} |" for u in runs]
        ratio = float(np.median([u["ratio"] for u in runs]))
        md += [
            "",
            (
                f"`taxonomy update` of {N_NEW:,} new papers into the {runs[0]['n']:,} run against "
                f"embedding those papers alone in a fresh process (model load included): median "
                f"ratio {ratio:.2f} over {len(runs)} run{'s' * (len(runs) > 1)}."
            ),
        ]
    return md


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("--data", type=Path, required=True)
    pr.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    pr.add_argument(
        "--arxiv",
        type=Path,
        default=ROOT.parent / "shared" / "datasets" / "arxiv_daily_2025_2026" / "docs.jsonl.gz",
    )
    o = sub.add_parser("ours")
    o.add_argument("n", type=int)
    o.add_argument("--embeddings-from", type=int, help="take the embeddings warm from this run")
    o.add_argument("--tag", default="", help="keep this run beside the first at its size")
    sub.add_parser("bertopic").add_argument("n", type=int)
    u = sub.add_parser("update")
    u.add_argument("n", type=int)
    u.add_argument("--tag", default="", help="update the run made with this tag")
    e = sub.add_parser("engines")
    e.add_argument("n", type=int)
    e.add_argument("--fit-sample", type=int, required=True)
    e.add_argument("--embeddings-from", type=int, required=True)
    sub.add_parser("agreement").add_argument("n", type=int)
    sub.add_parser("report")
    a = p.parse_args(argv)
    if a.cmd == "prepare":
        prepare(a.data, a.arxiv, tuple(a.sizes))
    elif a.cmd == "ours":
        measure_ours(a.n, a.embeddings_from, a.tag)
    elif a.cmd == "bertopic":
        measure_bertopic(a.n)
    elif a.cmd == "engines":
        measure_engines(a.n, a.fit_sample, a.embeddings_from)
    elif a.cmd == "update":
        measure_update(a.n, a.tag)
    elif a.cmd == "agreement":
        record("agreement", a.n, agreement(a.n))
    else:
        write_md()
    return 0


if __name__ == "__main__":
    sys.exit(main())
