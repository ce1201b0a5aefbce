"""The report of a large run: rendered again from its run directory, then loaded in Chromium.

    python benchmarks/report_scale.py RUN_DIR [--out DIR] [--loads 3] [--json PATH]
        [--inline-abstracts-max N] [--papers PAPERS.jsonl]

The run directory is only read. Its report is rendered into ``--out`` (default
``benchmarks/results/runs/report-<run>``) with the report settings of the run's config,
then loaded ``--loads`` times in headless Debian Chromium (offline, the flags of the
browser tests). For each load: time to interactive (``window.__report.timing.ready``:
map drawn, tree and every control in place), then the opening of one paper (its abstract
read from its chunk) and a search by a word of its abstract (every chunk read). Sizes are
of ``report.html`` and of the chunk files beside it. ``--json`` writes the figures.
``--papers``: a stand-in for a larger run not made yet (:func:`stand_in`): real texts, so real
sizes, on the run's map and tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import CHROMIUM_ARGS

from taxonomy.corpus import load_corpus
from taxonomy.outputs.report import ReportInputs, files_folder, report_files, shorten_abstract
from taxonomy.runs.rundir import REPORT_FILE, load_run, tree_taxonomy
from taxonomy.runs.timeline import timeline_for

CHROMIUM = "/usr/bin/chromium"


def render(run_dir: Path, out: Path, report: dict, papers: Path | None) -> dict:
    """Write the run's report into ``out`` (replaced), with ``report`` settings changed from the
    run's config (and ``papers`` in its place: :func:`stand_in`); its sizes and the time it took."""
    t0 = time.perf_counter()
    saved = load_run(run_dir)
    saved.cfg = saved.cfg.model_copy(update={"report": saved.cfg.report.model_copy(update=report)})
    if papers is not None:
        saved = stand_in(saved, papers)
    tax = tree_taxonomy(saved.tree, saved.topic_ids, saved.corpus.ids)
    dated = any(d is not None for d in saved.corpus.dates)
    tl = timeline_for(saved.corpus.dates, tax, saved.cfg.taxonomy) if dated else None
    inputs = ReportInputs(
        saved.corpus, tax, saved.xy, saved.topic_ids, saved.metrics, saved.cfg, tl
    )
    t1 = time.perf_counter()
    files = report_files(inputs, None, REPORT_FILE)
    t2 = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    chunks = list((out / files_folder(REPORT_FILE)).glob("*.js"))
    return {
        "papers": len(saved.corpus),
        "nodes": len(tax.nodes),
        "report_mb": round((out / REPORT_FILE).stat().st_size / 1e6, 2),
        "chunk_files": len(chunks),
        "chunks_mb": round(sum(p.stat().st_size for p in chunks) / 1e6, 2),
        "load_run_s": round(t1 - t0, 2),
        "render_s": round(t2 - t1, 2),
        "probe": probe(saved.corpus, saved.cfg.report.max_abstract_chars),
    }


def stand_in(saved, papers: Path):
    """A larger run made of ``saved``: the papers of ``papers`` (a superset whose first rows
    are the run's own, as benchmarks/scale.py's nested subsets are), each paper past the run's
    own on the map place and under the topic of a seeded random one of them, 0.08 apart."""
    cfg = saved.cfg.model_copy(
        update={"corpus": saved.cfg.corpus.model_copy(update={"path": str(papers)})}
    )
    corpus = load_corpus(cfg.corpus)
    n, m = len(corpus), len(saved.corpus)
    if corpus.ids[:m] != saved.corpus.ids:
        raise SystemExit(f"{papers}: its first {m} papers are not the run's")
    rng = np.random.default_rng(0)
    src = np.r_[np.arange(m), rng.integers(0, m, n - m)]
    xy = saved.xy[src] + np.r_[np.zeros((m, 2)), rng.normal(0, 0.08, (n - m, 2))]
    metrics = dict(saved.metrics, n_docs=n)
    return replace(
        saved, cfg=cfg, corpus=corpus, xy=xy, topic_ids=saved.topic_ids[src], metrics=metrics
    )


def saved_report(out: Path) -> dict:
    """The report settings the page was rendered with (its core payload's config)."""
    from taxonomy.outputs.report import report_payloads, unpacked

    core = unpacked(report_payloads((out / REPORT_FILE).read_text(encoding="utf-8"))["core-gz"])
    return core["config"]["report"]


def probe(corpus, limit: int) -> dict:
    """A paper past the first chunk, its abstract as shown, and a word of it in no title."""
    titles = " ".join(corpus.titles).lower()
    i = len(corpus) * 2 // 3
    for i in range(len(corpus) * 2 // 3, len(corpus)):
        words = [
            w for w in corpus.abstracts[i][:1500].lower().split() if w.isalpha() and len(w) > 7
        ]
        rare = [w for w in words if w not in titles]
        if rare:
            break
    word = rare[0] if rare else corpus.abstracts[i].split()[0].lower()
    return {"paper": i, "word": word, "abstract": shorten_abstract(corpus.abstracts[i], limit)}


def load(browser, page_path: Path, probe: dict) -> dict:
    """One load: the page's timing marks, then a search and a click-through, timed."""
    context = browser.new_context(viewport={"width": 1400, "height": 950}, offline=True)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_function("window.__report && window.__report.ready", timeout=120_000)
        timing = page.evaluate("window.__report.timing")
        drawn = page.evaluate("window.__report.mapPoints()")
        t0 = time.perf_counter()  # a fresh page: the paper's chunk is read now
        page.evaluate("i => window.__report.showDoc(i, null)", probe["paper"])
        page.wait_for_function(
            "!document.getElementById('doc-abstract').textContent.startsWith('Loading')"
        )
        open_s = time.perf_counter() - t0
        chunks_after_open = page.evaluate("window.__report.chunksLoaded()")
        abstract_ok = page.text_content("#doc-abstract") == probe["abstract"]
        t0 = time.perf_counter()  # a real click on the largest top-level node
        top = page.evaluate("Object.values(window.__report.node('0.0').children)[0]")
        page.click(f'#tree button.tlabel[data-node="{top}"]')
        page.wait_for_selector("#list-title")
        node_s = time.perf_counter() - t0
        listed = page.evaluate("window.__report.listed().length")
        t0 = time.perf_counter()  # every chunk is read now
        page.fill("#search", probe["word"])
        page.wait_for_function(
            "document.getElementById('search-count').textContent.endsWith('matching')",
            timeout=120_000,
        )
        search_s = time.perf_counter() - t0
        hits = page.evaluate("window.__report.listed().length")
        found = page.evaluate("i => window.__report.listed().includes(i)", probe["paper"])
        return {
            "ready_s": timing["ready"] / 1000,
            "timing_ms": timing,
            "points_drawn": drawn,
            "open_paper_s": round(open_s, 2),
            "chunks_read_to_open_it": chunks_after_open,
            "abstract_shown_right": abstract_ok,
            "select_top_node_s": round(node_s, 2),
            "top_node_papers_listed": listed,
            "search_s": round(search_s, 2),
            "search_hits": hits,
            "search_found_the_paper": found,
            "errors": errors,
        }
    finally:
        context.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--inline-abstracts-max", type=int, help="instead of the run's report setting")
    ap.add_argument("--papers", type=Path, help="a stand-in of these papers on the run's map")
    a = ap.parse_args()
    report = {}
    if a.inline_abstracts_max is not None:
        report["inline_abstracts_max"] = a.inline_abstracts_max
    out = a.out or REPO / "benchmarks" / "results" / "runs" / f"report-{a.run_dir.name}"
    figures = render(a.run_dir, out, report, a.papers)
    shown = figures["probe"].pop("abstract")
    print(json.dumps(figures), flush=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            loads = []
            for _ in range(a.loads):
                loads.append(
                    load(browser, out / REPORT_FILE, dict(figures["probe"], abstract=shown))
                )
                print(json.dumps(loads[-1]), flush=True)
        finally:
            browser.close()
    figures.update(
        run_dir=str(a.run_dir),
        stand_in_papers=str(a.papers) if a.papers else None,
        report_settings=saved_report(out),
        browser="Debian chromium, headless, " + " ".join(CHROMIUM_ARGS),
        load_average=round(os.getloadavg()[0], 1),
        cores=os.cpu_count(),
        ready_s=[round(x["ready_s"], 2) for x in loads],
        ready_median_s=round(statistics.median(x["ready_s"] for x in loads), 2),
        loads=loads,
    )
    if a.json:
        a.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in figures.items() if k != "loads"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
