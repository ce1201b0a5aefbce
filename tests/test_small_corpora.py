"""Small corpora (50-300 papers) still give a useful taxonomy: 5-15 leaf topics,
at most 15 % outliers, two levels with distinct names (the real model, UMAP and
HDBSCAN on random Papers-with-Code samples)."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
from conftest import DATASETS, sample_config

PWC = DATASETS / "paperswithcode_area_task" / "docs.jsonl.gz"


def write_sample(path, n: int, seed: int) -> None:
    with gzip.open(PWC, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(doc) + "\n" for doc in random.Random(seed).sample(docs, n))


def run_sample(tmp_path, cache, n: int, seed: int):
    if not PWC.exists():
        pytest.skip("../shared/datasets/paperswithcode_area_task is not here")
    from taxonomy.pipeline import fit

    write_sample(tmp_path / "papers.jsonl", n, seed)
    cfg = sample_config(
        tmp_path,
        corpus={"path": str(tmp_path / "papers.jsonl"), "id_field": "arxiv_id"},
        cache={"dir": str(cache)},
    )
    return fit(cfg, log=lambda msg: None)


def check_small(result) -> None:
    tax = result.taxonomy
    n_leaves = len(tax.level(tax.n_levels))
    assert 5 <= n_leaves <= 15, f"{n_leaves} leaf topics"
    assert float(np.mean(result.topic_ids == -1)) <= 0.15
    assert tax.n_levels >= 2 and 2 <= len(tax.level(1)) < n_leaves
    labels = [n.label for n in tax.nodes.values()]
    assert len(set(labels)) == len(labels), labels


def test_sixty_papers(tmp_path, shared_cache):
    check_small(run_sample(tmp_path, shared_cache, 60, seed=1))


@pytest.mark.slow
@pytest.mark.parametrize("n, seed", [(50, 2), (150, 3), (300, 4)])
def test_small_corpus_sizes(tmp_path, shared_cache, n, seed):
    check_small(run_sample(tmp_path, shared_cache, n, seed))
