"""Does `assign` follow the fit? Two measures of the placement rule (taxonomy/assign.py).

1. **The rule alone reproduces the fit**: every paper of a fit placed again without its
   text key (so the rule, not the key lookup, decides): the share that lands in its own
   fitted topic.
2. **A held-out paper lands where a fit with it would put it**: fit on a seeded 90 % of
   the papers, place the other 10 %, and compare with the topics the full fit gave those
   papers (NMI and ARI). Two fits never agree perfectly, so the same agreement between the
   90 % fit and the full fit on the 90 % is shown beside it as the ceiling.

The rule (k nearest fitted papers voting with their HDBSCAN labels, outliers by the fit's
own centroid rule, k = min_cluster_size capped to [3, 10]) is shown beside the rule it
replaced (a vote of the 15 nearest papers' final topics).

    nice .venv/bin/python benchmarks/assign.py          # sample, Papers-with-Code, arXiv 18k

Writes ``benchmarks/results/assign.json`` and ``assign.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from taxonomy.config import build_config
from taxonomy.pipeline import assign_model, fit
from taxonomy.runs.assign import AssignModel, nearest, neighbour_weights, weighted_vote

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
CACHE = REPO / ".cache" / "taxonomy"
RESULTS = REPO / "benchmarks" / "results"
CORPORA = {
    "sample": {"path": "builtin:sample"},
    "paperswithcode_area_task": {
        "path": str(DATA / "paperswithcode_area_task/docs.jsonl.gz"),
        "id_field": "arxiv_id",
    },
    "arxiv_daily_2025_2026": {
        "path": str(DATA / "arxiv_daily_2025_2026/docs.jsonl.gz"),
        "format": "arxiv",
    },
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fit_on(corpus: dict):
    cfg = build_config(
        {
            "corpus": corpus,
            "cache": {"dir": str(CACHE)},
            "embedding": {"backend": "torch", "show_progress_bar": False},
        }
    )
    return fit(cfg, log=lambda m: None)


def previous_rule(model: AssignModel, X: np.ndarray, k: int = 15) -> np.ndarray:
    """The rule before: the 15 nearest fitted papers vote with their final topics."""
    idx, sims = nearest(X, model.embeddings, k)
    return weighted_vote(model.fitted.topic_ids[idx], neighbour_weights(sims))[0]


def bench(name: str, corpus: dict, tmp: Path) -> dict:
    log(f"{name}: fit on all papers")
    r = fit_on(corpus)
    model = assign_model(r)
    row = {
        "corpus": name,
        "papers": len(r.corpus),
        "k": model.k,
        "self_rule": round(float(np.mean(model.place(r.embeddings).topic_ids == r.topic_ids)), 4),
        "self_previous": round(
            float(np.mean(previous_rule(model, r.embeddings) == r.topic_ids)), 4
        ),
    }
    if name == "sample":
        return row
    n = len(r.topic_ids)
    order = np.random.default_rng(0).permutation(n)
    held, kept = np.sort(order[: n // 10]), np.sort(order[n // 10 :])
    c = r.corpus
    part = tmp / f"{name}-90.jsonl"
    with open(part, "w", encoding="utf-8") as fh:
        for i in kept:
            fh.write(json.dumps({"id": c.ids[i], "title": c.titles[i], "abstract": c.abstracts[i]}))
            fh.write("\n")
    log(f"{name}: fit on 90 % ({kept.size} papers), place the other {held.size}")
    r90 = fit_on({"path": str(part)})
    m90 = assign_model(r90)
    truth = r.topic_ids[held]
    placed = m90.place(r.embeddings[held]).topic_ids
    before = previous_rule(m90, r.embeddings[held])
    row.update(
        held_out=int(held.size),
        held_nmi_rule=round(float(normalized_mutual_info_score(truth, placed)), 4),
        held_ari_rule=round(float(adjusted_rand_score(truth, placed)), 4),
        held_nmi_previous=round(float(normalized_mutual_info_score(truth, before)), 4),
        held_ari_previous=round(float(adjusted_rand_score(truth, before)), 4),
        ceiling_nmi=round(float(normalized_mutual_info_score(r.topic_ids[kept], r90.topic_ids)), 4),
        ceiling_ari=round(float(adjusted_rand_score(r.topic_ids[kept], r90.topic_ids)), 4),
    )
    return row


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_md(rows: list[dict], path: Path) -> None:
    lines = [
        "# Assign follows the fit",
        "",
        "Regenerate: `nice .venv/bin/python benchmarks/assign.py` (embeddings from the shared cache).",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores.",
        "",
        *[" ".join(item.split()) for item in __doc__.split("\n\n")[1].split("\n2.")[:1]],
        "2. " + " ".join(__doc__.split("\n\n")[1].split("\n2.")[1].split()),
        "",
        (
            "| corpus | papers | k | rule alone: own topic | previous rule | held-out NMI / ARI "
            "| previous rule | ceiling (90 % fit vs full fit) |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        held = (
            f"{r['held_nmi_rule']:.3f} / {r['held_ari_rule']:.3f}" if "held_nmi_rule" in r else "–"
        )
        prev = (
            f"{r['held_nmi_previous']:.3f} / {r['held_ari_previous']:.3f}"
            if "held_nmi_rule" in r
            else "–"
        )
        ceil = f"{r['ceiling_nmi']:.3f} / {r['ceiling_ari']:.3f}" if "ceiling_nmi" in r else "–"
        lines.append(
            f"| {r['corpus']} | {r['papers']} | {r['k']} | {r['self_rule']:.1%} | "
            f"{r['self_previous']:.1%} | {held} | {prev} | {ceil} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    if "--md-only" in sys.argv:
        write_md(json.loads((RESULTS / "assign.json").read_text()), RESULTS / "assign.md")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, corpus in CORPORA.items():
            if not corpus["path"].startswith("builtin:") and not Path(corpus["path"]).exists():
                log(f"{name}: {corpus['path']} not here, skipped")
                continue
            rows.append(bench(name, corpus, Path(tmp)))
            (RESULTS / "assign.json").write_text(json.dumps(rows, indent=1) + "\n")
            write_md(rows, RESULTS / "assign.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
