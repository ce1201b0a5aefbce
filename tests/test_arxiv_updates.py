"""Daily arXiv end to end, on a sample: fit on papers listed up to 2025-12, update month by month
through 2026-06, then refit on all months with --previous (benchmarks/updates.py runs all of it).

Needs ../shared beside the repo (CI has it); skips without it.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
from conftest import DATASETS, sample_config

from taxonomy.runs.rundir import walk_tree

ARXIV = DATASETS / "arxiv_daily_2025_2026" / "docs.jsonl.gz"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
N_FIT, N_RANDOM, N_NEW = 200, 15, 10
N_MONTH = N_RANDOM + N_NEW
# Information theory: 10 papers listed up to 2025-12, 986 from 2026-01 to 06 (a topic the
# fit cannot have). Each month's sample holds N_NEW of them, so the data has a new topic.
NEW_FIELD = "cs.IT"
# Fields with under 5 % of their papers listed up to 2025-12 (cs.IT, cs.GT, cs.CE): new in 2026.
NEW_SHARE = 0.05

pytestmark = pytest.mark.skipif(not ARXIV.exists(), reason=f"{ARXIV} not here (needs ../shared)")


def nodes_of(tree: dict) -> dict[str, tuple]:
    return {d["node_id"]: (d["label"], d["level"], p) for d, p in walk_tree(tree["root"])}


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """A seeded sample: N_FIT papers listed up to 2025-12; from each month after, N_RANDOM
    papers of other fields and N_NEW of NEW_FIELD."""
    with gzip.open(ARXIV, "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for line in f]
    rng = np.random.default_rng(0)
    tmp = tmp_path_factory.mktemp("arxiv_updates")

    def pick(rows, n):
        return [rows[i] for i in np.sort(rng.choice(len(rows), n, replace=False))]

    def write(name, rows):
        path = tmp / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    fit = pick([r for r in recs if r["listing_date"][:7] <= "2025-12"], N_FIT)
    monthly = {}
    for m in MONTHS:
        rows = [r for r in recs if r["listing_date"][:7] == m]
        monthly[m] = pick([r for r in rows if r["primary_category"] != NEW_FIELD], N_RANDOM) + pick(
            [r for r in rows if r["primary_category"] == NEW_FIELD], N_NEW
        )
    early = Counter(r["primary_category"] for r in recs if r["listing_date"][:7] <= "2025-12")
    total = Counter(r["primary_category"] for r in recs)
    new_fields = {c for c in total if early[c] < NEW_SHARE * total[c]}
    paths = {m: write(m, rows) for m, rows in monthly.items()}
    return tmp, write("fit", fit), paths, fit, monthly, new_fields


def test_monthly_updates_keep_the_fit_and_compare_with_a_refit(months):
    from sklearn.metrics import normalized_mutual_info_score

    from taxonomy.pipeline import run
    from taxonomy.runs.rundir import load_run
    from taxonomy.runs.update import update_run

    tmp, fit_path, month_paths, fit, monthly, new_fields = months
    assert NEW_FIELD in new_fields
    cfg = sample_config(
        tmp, name="fit", corpus={"path": str(fit_path), "format": "arxiv", "gold_fields": ["group"]}
    )
    base = run(cfg, log=lambda m: None)
    assert base.cfg.taxonomy.time_bin == "month"  # listing_date found by corpus.date_field: auto
    fit_nodes = nodes_of(json.loads((base.out_dir / "taxonomy.json").read_text()))
    run_dir, total, new_topics = base.out_dir, len(base.corpus), []
    for k, month in enumerate(MONTHS, start=1):
        done = update_run(run_dir, str(month_paths[month]), log=lambda m: None)
        saved = load_run(done.result.out_dir)
        p = done.changes["papers"]
        total += p["added"]
        # Every paper placed or pooled; the pool is every paper without a topic.
        assert p["added"] == N_MONTH == int((saved.origin == k).sum())
        assert p["placed"] + p["joined_update_topics"] + p["in_new_topics"] + p["pooled"] == N_MONTH
        assert done.changes["pool"]["size"] == int((saved.topic_ids == -1).sum())
        assert len(saved.corpus) == total
        # The fit's ids, names, levels and parents never change.
        now = nodes_of(saved.tree)
        assert {i: now[i] for i in fit_nodes} == fit_nodes
        new_topics += done.changes["new_topics"]
        run_dir = done.result.out_dir
    # The data has a new topic, and the pool finds it: its papers are of the fields new in 2026.
    category = {r["id"]: r["primary_category"] for rows in monthly.values() for r in rows}
    assert new_topics, "no new topic proposed"
    final = load_run(run_dir)
    for t in new_topics:
        ids = [final.corpus.ids[i] for i in np.flatnonzero(final.topic_ids == t["topic_id"])]
        assert sum(category.get(i) in new_fields for i in ids) >= 0.8 * len(ids), t
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["time"]["last_period"] == "2026-06" and metrics["time"]["n_undated"] == 0
    over_time = (run_dir / "topics_over_time.csv").read_text().splitlines()
    assert over_time[0] == "node_id,period,papers,share" and len(over_time) > 1
    # A refit on every paper, matched to the last update: the two trees agree by a fair margin.
    all_path = tmp / "all.jsonl"
    all_path.write_text(
        "".join(json.dumps(r) + "\n" for rows in [fit, *monthly.values()] for r in rows)
    )
    refit = run(
        sample_config(
            tmp,
            name="refit",
            corpus={"path": str(all_path), "format": "arxiv", "gold_fields": ["group"]},
        ),
        log=lambda m: None,
        previous=run_dir,
    )
    c = refit.changes
    assert c["shared_papers"] == len(final.corpus) == len(refit.corpus)
    assert c["levels"][0]["matched"] >= 1
    pos = {d: i for i, d in enumerate(final.corpus.ids)}
    b = final.topic_ids[[pos[d] for d in refit.corpus.ids]]
    assert normalized_mutual_info_score(refit.topic_ids, b) > 0.3
