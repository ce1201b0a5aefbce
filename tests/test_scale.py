"""Issue 21 at a size CI affords: 3,000 real abstracts through a real 2-worker Dask cluster.

The fit runs on a seeded sample; the rest is embedded and placed by the workers, and a
local placement of the same papers (embedded again, in this process) gives them the same
topics. benchmarks/scale.py measures the same path at 100k. Needs ../shared beside the
repo (CI has it); skips without it.
"""

from __future__ import annotations

import csv
import gzip
import json
from itertools import islice

import numpy as np
import pytest
from conftest import SHARED

from taxonomy.config import build_config
from taxonomy.corpus import load_corpus
from taxonomy.runs.assign import AssignModel
from taxonomy.runs.distributed import embed_and_place, split_sample

ACL = SHARED / "datasets" / "acl_anthology_64k" / "docs.jsonl.gz"
N, FIT, CHECKED = 3000, 1000, 500

pytestmark = pytest.mark.skipif(not ACL.exists(), reason=f"{ACL} not here (needs ../shared)")


@pytest.fixture(scope="module")
def acl_papers(tmp_path_factory):
    path = tmp_path_factory.mktemp("acl") / "acl-3k.jsonl"
    with gzip.open(ACL, "rt", encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in islice(src, N):
            r = json.loads(line)
            row = {k: r.get(k) for k in ("id", "title", "abstract", "date", "venue")}
            out.write(json.dumps(row) + "\n")
    return path


def config(papers, tmp, **engine):
    return build_config(
        {
            "name": "acl3k",
            "corpus": {"path": str(papers), "format": "jsonl", "date_field": "date"},
            # 128 tokens: half the embedding time, and this test is about where papers go.
            "embedding": {"show_progress_bar": False, "max_seq_length": 128},
            "cache": {"dir": str(tmp / "cache")},
            "output_dir": str(tmp / "out"),
            "engine": engine,
        }
    )


def test_dask_places_the_rest_on_workers_as_one_process_would(acl_papers, tmp_path):
    pytest.importorskip("dask.distributed")
    from taxonomy.pipeline import run

    cfg = config(
        acl_papers, tmp_path / "dask",
        kind="dask", n_workers=2, threads_per_worker=1, fit_sample=FIT, batch_size=250,
    )  # fmt: skip
    lines: list[str] = []
    result = run(cfg, log=lines.append)
    corpus = load_corpus(cfg.corpus)
    _, rest = split_sample(corpus, FIT, cfg.seed)
    assert result.metrics["n_fit"] == FIT and result.metrics["n_assigned"] == len(rest) > 1500
    assert any("batches on Dask (local cluster, 2 workers)" in m for m in lines)

    with open(result.out_dir / "documents.csv", newline="", encoding="utf-8") as f:
        by_id = {row["doc_id"]: int(row["topic_id"]) for row in csv.DictReader(f)}
    assert len(by_id) == len(corpus)
    placed_by_workers = np.array([by_id[i] for i in rest.ids])
    assert len(set(placed_by_workers.tolist()) - {-1}) > 5  # the rest spreads over the tree

    # A seeded share of the same papers placed in this process, embedded afresh (own cache).
    pick = np.sort(np.random.default_rng(0).choice(len(rest), CHECKED, replace=False))
    local = embed_and_place(
        config(acl_papers, tmp_path / "local"),
        AssignModel.load(result.out_dir),
        [rest.texts[i] for i in pick],
    )
    placed_by_workers = placed_by_workers[pick]
    same = float(np.mean(local.topic_ids == placed_by_workers))
    assert same >= 0.99, f"only {same:.1%} of the rest got the same topic on both engines"


class TestMemoryCheck:
    def test_a_fit_past_memory_names_the_setting_and_a_size_that_fits(self):
        from taxonomy.errors import ConfigError
        from taxonomy.util.memory import check_fit_memory, fit_bytes

        check_fit_memory(10_000, available=24e9)  # fits: no error
        with pytest.raises(ConfigError) as e:
            check_fit_memory(2_600_000, available=24e9)
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith("engine.fit_sample:") and "2,600,000" in msg
        suggested = int(msg.split("at most ")[1].split(" ")[0].replace(",", ""))
        assert 0 < suggested < 2_600_000 and fit_bytes(suggested) <= 24e9

    def test_the_run_refuses_before_any_work(self, tmp_path, monkeypatch):
        from conftest import sample_config

        from taxonomy import pipeline
        from taxonomy.errors import ConfigError
        from taxonomy.util import memory

        monkeypatch.setattr(memory, "available_bytes", lambda: 10**6)
        cfg = sample_config(tmp_path)
        with pytest.raises(ConfigError, match="engine.fit_sample"):
            pipeline.run(cfg, log=lambda m: None)
        assert not (tmp_path / "outputs").exists()
        assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))
        cfg.engine.check_memory = False  # the escape hatch the message names
        assert pipeline.fit(cfg, log=lambda m: None).taxonomy.n_levels >= 1


def test_counting_only_repeated_phrases_keeps_the_vocabulary_exact(monkeypatch):
    """The hash prefilter of the naming vocabulary changes its memory, never its content,
    even when every phrase collides with others (4 buckets)."""
    from taxonomy.naming import phrases
    from taxonomy.naming.phrases import Vocabulary, stop_words

    with gzip.open(ACL, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["abstract"] for line in islice(f, 300)]
    args = (texts, stop_words(), (1, 3), 4)
    filtered = Vocabulary(*args)
    monkeypatch.setattr(phrases, "possibly_repeated", lambda runs, rng: lambda g: True)
    exact = Vocabulary(*args)
    monkeypatch.undo()
    monkeypatch.setattr(phrases, "HASH_BITS", 2)
    collided = Vocabulary(*args)
    for v in (filtered, collided):
        assert list(v.vocab) == list(exact.vocab) and list(v.forms) == list(exact.forms)
        assert (v.doc_terms != exact.doc_terms).nnz == 0
        assert (v.present != exact.present).nnz == 0
