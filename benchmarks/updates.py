"""Daily arXiv: monthly updates into a saved taxonomy, stable ids across refits, and the cost.

Three parts, each writing JSON to ``benchmarks/results/updates.json`` (by part) and the
whole of ``benchmarks/results/updates.md``; run from the repository root with ``../shared``
beside it and the shared embedding cache in ``.cache/taxonomy``::

    nice .venv/bin/python benchmarks/updates.py monthly   # fit to 2025-12, update 2026-01..06
    nice .venv/bin/python benchmarks/updates.py seeds     # two seeds of all 18,077, --previous
    nice .venv/bin/python benchmarks/updates.py speed     # 1,000 new papers into the 18k run

``monthly``: fit on the papers listed up to 2025-12, then ``update`` once per month
through 2026-06 (the whole month each time); after each update check that every paper
is placed or pooled and that every node of the fit keeps its id, name, level and
parent; say which arXiv categories each proposed topic's papers come from; finally refit
on all months with ``--previous`` the last update and compare the two trees (matched
nodes per level, NMI of their leaves over all papers).

``seeds``: all 18,077 papers with seed 42, then seed 7 with ``--previous`` the first:
the share of leaf topics that keep an id, and of papers that keep their leaf id.

``speed``: the seed-42 run of all 18,077 papers (from ``seeds``), updated with 1,000
Papers-with-Code abstracts (not in it) three times, each against a fresh, empty
embedding cache, alternating with embedding the same 1,000 alone (model load
included both times, in this process); the update's cost over the embedding is
``update seconds / embedding seconds - 1`` (medians).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
ARXIV = DATA / "arxiv_daily_2025_2026" / "docs.jsonl.gz"
PWC = DATA / "paperswithcode_area_task" / "docs.jsonl.gz"
CACHE = REPO / ".cache" / "taxonomy"
OUT = REPO / "outputs" / "bench-updates"
RESULTS = REPO / "benchmarks" / "results"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
GOLD = ["group", "archive", "primary_category"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores visible)"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def arxiv_records() -> list[dict]:
    with gzip.open(ARXIV, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    return path


def arxiv_config(name: str, path: Path, seed: int = 42):
    from taxonomy.config import build_config

    return build_config(
        {
            "name": name,
            "seed": seed,
            "output_dir": str(OUT),
            "corpus": {"path": str(path), "format": "arxiv", "gold_fields": GOLD},
            "cache": {"dir": str(CACHE)},
            "embedding": {"show_progress_bar": False},
        }
    )


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def fit_nodes(tree: dict) -> dict[str, tuple]:
    from taxonomy.runs.rundir import walk_tree

    return {d["node_id"]: (d["label"], d["level"], p) for d, p in walk_tree(tree["root"])}


def categories_of(ids: list[str], cat: dict[str, str], k: int = 3) -> list[list]:
    counts = Counter(cat.get(i, "?") for i in ids)
    return [[c, n] for c, n in counts.most_common(k)]


# --- monthly ---------------------------------------------------------------------------------


def monthly() -> dict:
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from taxonomy.pipeline import run
    from taxonomy.runs.rundir import load_run, tree_taxonomy
    from taxonomy.runs.update import update_run

    recs = arxiv_records()
    cat = {r["id"]: r["primary_category"] for r in recs}
    work = fresh(OUT / "monthly")
    fit_recs = [r for r in recs if r["listing_date"][:7] <= "2025-12"]
    t0 = time.perf_counter()
    base = run(
        arxiv_config("fit-2025", write_jsonl(work / "fit.jsonl", fit_recs)),
        out_dir=work / "fit-2025",
        log=log,
    )
    out: dict = {
        "fit": {
            "papers": len(base.corpus),
            "leaf_topics": len(base.taxonomy.level(base.taxonomy.n_levels)),
            "levels": base.taxonomy.n_levels,
            "min_cluster_size": base.cfg.hdbscan.min_cluster_size,
            "seconds": round(time.perf_counter() - t0, 1),
        },
        "updates": [],
    }
    fit_tree = fit_nodes(json.loads((base.out_dir / "taxonomy.json").read_text()))
    run_dir = base.out_dir
    for k, month in enumerate(MONTHS, start=1):
        month_recs = [r for r in recs if r["listing_date"][:7] == month]
        papers = write_jsonl(work / f"{month}.jsonl", month_recs)
        t0 = time.perf_counter()
        done = update_run(run_dir, str(papers), out=work / f"update-{month}", log=log)
        seconds = time.perf_counter() - t0
        saved = load_run(done.result.out_dir)
        new = saved.origin == k
        now = fit_nodes(saved.tree)
        kept = all(now.get(i) == v for i, v in fit_tree.items())
        c = done.changes
        entry = {
            "month": month,
            "papers": c["papers"],
            "every_paper_placed_or_pooled": bool(
                new.sum() == c["papers"]["added"]
                and c["papers"]["placed"]
                + c["papers"]["joined_update_topics"]
                + c["papers"]["in_new_topics"]
                + c["papers"]["pooled"]
                == c["papers"]["added"]
            ),
            "fit_ids_and_names_unchanged": kept,
            "pool": c["pool"],
            "new_topics": [
                dict(
                    t,
                    categories=categories_of(
                        [
                            saved.corpus.ids[i]
                            for i in np.flatnonzero(saved.topic_ids == t["topic_id"])
                        ],
                        cat,
                    ),
                )
                for t in c["new_topics"]
            ],
            "grew": [(g["label"], g["added"], g["growth"]) for g in c["grew"][:5]],
            "shrank": [(g["label"], g["added"], g["growth"]) for g in c["shrank"][:5]],
            "seconds": round(seconds, 1),
            "stage_seconds": done.seconds,
        }
        log(json.dumps({k: v for k, v in entry.items() if k != "stage_seconds"}))
        out["updates"].append(entry)
        run_dir = done.result.out_dir
    final = load_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    out["final"] = {
        "papers": len(final.corpus),
        "pool": int((final.topic_ids == -1).sum()),
        "rising": [(r["label"], r["growth"], r["low"]) for r in metrics.get("rising", [])[:5]],
        "fading": [(r["label"], r["growth"], r["high"]) for r in metrics.get("fading", [])[:5]],
    }
    # A full refit on every month, matched to the last update.
    all_recs = [r for r in recs if r["listing_date"][:7] <= MONTHS[-1]]
    t0 = time.perf_counter()
    refit = run(
        arxiv_config("refit-2026-06", write_jsonl(work / "all.jsonl", all_recs)),
        out_dir=work / "refit-2026-06",
        log=log,
        previous=run_dir,
    )
    ch = refit.changes
    pos = {d: i for i, d in enumerate(final.corpus.ids)}
    both = [(i, pos[d]) for i, d in enumerate(refit.corpus.ids) if d in pos]
    a = np.array([int(refit.topic_ids[i]) for i, _ in both])
    b = np.array([int(final.topic_ids[j]) for _, j in both])
    gold = np.array([cat[refit.corpus.ids[i]] for i, _ in both])
    upd_tax = tree_taxonomy(final.tree, final.topic_ids, final.corpus.ids)
    parents_u = upd_tax.labels_at(upd_tax.n_levels - 1, b)
    parents_r = refit.taxonomy.labels_at(refit.taxonomy.n_levels - 1, a)
    out["refit"] = {
        "papers": len(refit.corpus),
        "leaf_topics": len(refit.taxonomy.level(refit.taxonomy.n_levels)),
        "updated_leaf_topics": len(upd_tax.level(upd_tax.n_levels)),
        "levels": ch["levels"],
        "leaf_id_agreement": ch["leaf_id_agreement"],
        "nmi_leaves": round(float(nmi(a, b)), 4),
        "nmi_parents": round(float(nmi(parents_r, parents_u)), 4),
        "nmi_gold_primary_refit": round(float(nmi(gold, a)), 4),
        "nmi_gold_primary_updated": round(float(nmi(gold, b)), 4),
        "new": len(ch["new_topics"]),
        "vanished": len(ch["vanished_topics"]),
        "merges": len(ch["merges"]),
        "splits": len(ch["splits"]),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(json.dumps(out["refit"]))
    return out


# --- seeds -------------------------------------------------------------------------------------


def seeds() -> dict:
    from taxonomy.pipeline import run

    work = OUT / "seeds"
    work.mkdir(parents=True, exist_ok=True)
    a = run(arxiv_config("seed42", ARXIV), out_dir=fresh(work / "seed42"), log=log)
    t0 = time.perf_counter()
    b = run(
        arxiv_config("seed7", ARXIV, seed=7),
        out_dir=fresh(work / "seed7"),
        log=log,
        previous=a.out_dir,
    )
    ch = b.changes
    leaves = ch["levels"][0]
    out = {
        "max_paper_agreement": round(max_agreement(a.topic_ids, b_fit_topics(b, a)), 4),
        "papers": len(b.corpus),
        "leaf_topics": [leaves["previous_nodes"], leaves["nodes"]],
        "levels": ch["levels"],
        "leaf_ids_kept_share": round(leaves["matched"] / leaves["previous_nodes"], 4),
        "leaf_topics_matched_share": leaves["matched_share"],
        "leaf_id_agreement_papers": ch["leaf_id_agreement"],
        "merges": len(ch["merges"]),
        "splits": len(ch["splits"]),
        "new": len(ch["new_topics"]),
        "vanished": len(ch["vanished_topics"]),
        "names_kept": sum(
            1
            for n in b.taxonomy.level(b.taxonomy.n_levels)
            if n.node_id in a.taxonomy.nodes and a.taxonomy.nodes[n.node_id].label == n.label
        ),
        "lineage_seconds": round(b.seconds.get("lineage", 0.0), 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(json.dumps(out))
    return out


def b_fit_topics(b, a) -> np.ndarray:
    """The second run's leaf ids in the first run's paper order."""
    pos = {d: i for i, d in enumerate(b.corpus.ids)}
    return b.topic_ids[[pos[d] for d in a.corpus.ids]]


def max_agreement(x: np.ndarray, y: np.ndarray) -> float:
    """The largest share of papers any one-to-one matching of x's topics to y's keeps together."""
    from scipy.optimize import linear_sum_assignment

    ux, uy = np.unique(x), np.unique(y)
    M = np.zeros((len(ux), len(uy)))
    np.add.at(M, (np.searchsorted(ux, x), np.searchsorted(uy, y)), 1)
    r, c = linear_sum_assignment(-M)
    return float(M[r, c].sum() / len(x))


# --- speed --------------------------------------------------------------------------------------


def speed(reps: int = 3, backend: str = "auto") -> dict:
    from taxonomy.config import EmbeddingConfig
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.runs.update import update_run
    from taxonomy.util.cache import ArrayStore

    base = OUT / "seeds" / "seed42"
    if not (base / "model" / "papers.jsonl.gz").exists():
        log("speed: no 18k run yet; running 'seeds' first")
        seeds()
    with gzip.open(PWC, "rt", encoding="utf-8") as f:
        pwc = [json.loads(line) for line in f]
    pick = np.sort(np.random.default_rng(0).choice(len(pwc), 1000, replace=False))
    new = [
        {
            "id": f"pwc-{pwc[i]['arxiv_id']}",
            "title": pwc[i]["title"],
            "abstract": pwc[i]["abstract"],
        }
        for i in pick
    ]
    work = OUT / "speed"
    papers = write_jsonl(work / "pwc-1000.jsonl", new)
    texts = [f"{r['title']}. {r['abstract']}" for r in new]
    cfg = EmbeddingConfig(show_progress_bar=False, backend=backend)
    embed_s, update_s, embed_cpu, update_cpu, stages = [], [], [], [], []
    for rep in range(reps):
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            Embedder(cfg, ArrayStore(tmp)).embed(texts, progress=False)
            embed_s.append(time.perf_counter() - t0)
            embed_cpu.append(time.process_time() - c0)
        with tempfile.TemporaryDirectory() as tmp:
            embedder = Embedder(cfg, ArrayStore(tmp))  # empty cache: the update really embeds
            t0, c0 = time.perf_counter(), time.process_time()
            done = update_run(
                base, str(papers), out=fresh(work / f"update-{rep}"), log=log, embedder=embedder
            )
            update_s.append(time.perf_counter() - t0)
            update_cpu.append(time.process_time() - c0)
            stages.append(done.seconds)
        log(
            f"rep {rep}: embedding alone {embed_s[-1]:.1f} s ({embed_cpu[-1]:.1f} s CPU), "
            f"update {update_s[-1]:.1f} s ({update_cpu[-1]:.1f} s CPU)"
        )
    e, u = statistics.median(embed_s), statistics.median(update_s)
    # Within each update: everything but its own embedding stage, against that stage.
    rest = [sum(v for k, v in st.items() if k != "embed") / st["embed"] for st in stages]
    out = {
        "base_papers": len(done.result.corpus) - done.changes["papers"]["added"],
        "new_papers": 1000,
        "embedding_alone_s": [round(x, 2) for x in embed_s],
        "update_s": [round(x, 2) for x in update_s],
        "median_embedding_s": round(e, 2),
        "median_update_s": round(u, 2),
        "overhead": round(u / e - 1, 4),
        "embedding_alone_cpu_s": [round(x, 2) for x in embed_cpu],
        "update_cpu_s": [round(x, 2) for x in update_cpu],
        "overhead_cpu": round(statistics.median(update_cpu) / statistics.median(embed_cpu) - 1, 4),
        "other_stages_over_embed_stage": [round(x, 4) for x in rest],
        "stages": stages,
        "new_topics": len(done.changes["new_topics"]),
        "load_average": os.getloadavg(),
        "backend": done.result.metrics.get("embedding_backend", {}).get("backend", backend)
        if backend == "auto"
        else backend,
    }
    log(json.dumps(out))
    return out


# --- results -------------------------------------------------------------------------------------


def save(part: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "updates.json"
    allres = json.loads(path.read_text()) if path.exists() else {}
    allres[part] = dict(data, cpu=cpu_name(), when=time.strftime("%Y-%m-%d %H:%M"))
    path.write_text(json.dumps(allres, indent=1, ensure_ascii=False) + "\n")


def write_md() -> Path:
    """``updates.md`` from ``updates.json`` (every part run so far)."""
    res = json.loads((RESULTS / "updates.json").read_text())
    lines = ["# Daily arXiv: updates, stable ids, cost", ""]
    lines.append(
        "Written by `benchmarks/updates.py` from `updates.json`; the data is "
        "`arxiv_daily_2025_2026` (18,077 papers, `listing_date` 2025-03 … 2026-07), embeddings "
        "all-MiniLM-L6-v2 from the shared cache, every setting at its default."
    )
    m = res.get("monthly")
    if m:
        f = m["fit"]
        lines += [
            "",
            f"## Fit to 2025-12, then one update per month ({m['cpu']}, {m['when']})",
            "",
            (
                f"Fit: {f['papers']:,} papers listed up to 2025-12, {f['leaf_topics']} leaf topics in "
                f"{f['levels']} levels (`min_cluster_size` {f['min_cluster_size']})."
            ),
            "",
            (
                "| month | added | placed | joined topics of earlier updates | in new topics | pooled | "
                "pool after | placed or pooled | fit ids & names unchanged | new topics (arXiv "
                "categories of their papers) | s |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for u in m["updates"]:
            p = u["papers"]
            new = "; ".join(
                f"{t['node_id']} '{t['label']}' under '{t['parent_label']}', {t['size']} "
                f"({', '.join(f'{c} {n}' for c, n in t['categories'])})"
                for t in u["new_topics"]
            )
            lines.append(
                f"| {u['month']} | {p['added']:,} | {p['placed']:,} | {p['joined_update_topics']} | "
                f"{p['in_new_topics']} | {p['pooled']} | {u['pool']['size']} | "
                f"{'yes' if u['every_paper_placed_or_pooled'] else 'NO'} | "
                f"{'yes' if u['fit_ids_and_names_unchanged'] else 'NO'} | {new or '–'} | "
                f"{u['seconds']} |"
            )
        fin, r = m["final"], m["refit"]
        lines += [
            "",
            f"After six updates: {fin['papers']:,} papers, {fin['pool']} in the pool. Rising "
            "(leaf, growth log2, low end): "
            + "; ".join(f"{a} {g:+.2f} ({lo:+.2f})" for a, g, lo in fin["rising"])
            + ". Fading: "
            + "; ".join(f"{a} {g:+.2f} ({hi:+.2f})" for a, g, hi in fin["fading"])
            + ".",
            "",
            (
                f"**Against a full refit** on all {r['papers']:,} papers of 2025-03 … 2026-06, run "
                "with `--previous` the last update:"
            ),
            "",
            "| level | nodes (refit / updated) | matched | matched share |",
            "|---|---|---|---|",
        ]
        for lv in r["levels"]:
            lines.append(
                f"| {lv['level']} | {lv['nodes']} / {lv['previous_nodes']} | {lv['matched']} | "
                f"{lv['matched_share']:.0%} |"
            )
        lines += [
            "",
            (
                f"NMI between the two trees over all papers: leaves {r['nmi_leaves']:.3f}, level "
                f"above {r['nmi_parents']:.3f}; papers keeping their leaf id "
                f"{r['leaf_id_agreement']:.1%}. Against arXiv primary categories (NMI, leaves): "
                f"refit {r['nmi_gold_primary_refit']:.3f}, updated {r['nmi_gold_primary_updated']:.3f}. "
                f"The refit reports {r['new']} new, {r['vanished']} vanished, {r['merges']} merged and "
                f"{r['splits']} split topics against the updated tree."
            ),
        ]
    sd = res.get("seeds")
    if sd:
        lv = sd["levels"][0]
        lines += [
            "",
            f"## Two seeds, `--previous` ({sd['cpu']}, {sd['when']})",
            "",
            (
                f"All {sd['papers']:,} papers with seed 42 ({lv['previous_nodes']} leaf topics), then "
                f"seed 7 ({lv['nodes']}) with `--previous` the first:"
            ),
            "",
            (
                f"- leaf topics of the refit (seed 7) that keep an id of the first run: "
                f"{lv['matched']} of {lv['nodes']} (**{sd['leaf_topics_matched_share']:.0%}**);"
            ),
            (
                f"- leaf ids of the first run that live on: {lv['matched']} of "
                f"{lv['previous_nodes']} ({sd['leaf_ids_kept_share']:.1%}; with "
                f"{lv['nodes']} leaves against {lv['previous_nodes']}, at most "
                f"{min(lv['nodes'], lv['previous_nodes'])} could);"
            ),
            (
                f"- papers keeping their leaf id: {sd['leaf_id_agreement_papers']:.1%}, which is the "
                "most any one-to-one id matching of these two trees allows (the rest are in topics "
                "one seed splits or merges);"
            ),
            (
                f"- reported: {sd['merges']} merges, {sd['splits']} splits, {sd['new']} new, "
                f"{sd['vanished']} vanished; names kept on {sd['names_kept']} leaves; matching took "
                f"{sd['lineage_seconds']} s."
            ),
        ]
        if "max_paper_agreement" in sd:
            lines[-2] = lines[-2].replace("the most", f"the most ({sd['max_paper_agreement']:.1%})")
    for part in sorted(k for k in res if k.startswith("speed")):
        sp = res[part]
        lines += [
            "",
            (
                f"## Cost of an update, embedding backend {sp.get('backend', 'auto')} "
                f"({sp['cpu']}, {sp['when']})"
            ),
            "",
            (
                f"{sp['new_papers']:,} Papers-with-Code abstracts (not in the run) into the "
                f"{sp['base_papers']:,}-paper arXiv run, {len(sp['update_s'])} times, each against an "
                "empty embedding cache so the update really embeds them, alternating with embedding "
                "the same papers alone (model load included both times), in one process:"
            ),
            "",
            "| | runs (s) | median (s) |",
            "|---|---|---|",
            (
                f"| embedding alone | {', '.join(map(str, sp['embedding_alone_s']))} | "
                f"{sp['median_embedding_s']} |"
            ),
            f"| whole update | {', '.join(map(str, sp['update_s']))} | {sp['median_update_s']} |",
            "",
            (
                f"Update cost over the embedding alone: **{sp['overhead']:+.1%}** in wall-clock "
                f"time (medians), {sp['overhead_cpu']:+.1%} in CPU time of this process (medians "
                f"of {', '.join(map(str, sp['update_cpu_s']))} s against "
                f"{', '.join(map(str, sp['embedding_alone_cpu_s']))} s); within each update, the "
                "stages other than embedding took "
                + ", ".join(f"{x:.1%}" for x in sp["other_stages_over_embed_stage"])
                + " of its own embedding stage's wall time"
            )
            + ". Stages of the last update (s): "
            + ", ".join(f"{k} {v}" for k, v in sp["stages"][-1].items())
            + f". Load average during the runs: {', '.join(f'{x:.1f}' for x in sp['load_average'])}.",
        ]
    path = RESULTS / "updates.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("part", choices=["monthly", "seeds", "speed", "md"])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--backend", default="auto", help="speed: the embedding backend to time")
    args = p.parse_args(argv)
    if not ARXIV.exists():
        log(f"{ARXIV} not found (needs ../shared beside the repo)")
        return 2
    if args.part != "md":
        run_part = {
            "monthly": monthly,
            "seeds": seeds,
            "speed": lambda: speed(args.reps, args.backend),
        }[args.part]
        data = run_part()
        part = (
            args.part if args.part != "speed" or args.backend == "auto" else f"speed_{args.backend}"
        )
        save(part, data)
        print(json.dumps(data, indent=1, ensure_ascii=False))
    log(f"wrote {write_md()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
