"""Stable ids across refits (lineage.py): a constructed case of kept, merged, split, new and
vanished topics, and ``run --previous`` on two seeds of the sample."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import sample_config

from taxonomy.corpus import Corpus
from taxonomy.embedding.encoder import text_key
from taxonomy.runs.lineage import apply_previous
from taxonomy.runs.rundir import load_run, tree_taxonomy


def tree(levels: dict[str, list[tuple[str, int, list[int]]]]) -> dict:
    """A two-level taxonomy.json: {parent label: [(leaf label, topic id, ...)]}."""
    parents = []
    for p, (plabel, leaves) in enumerate(levels.items()):
        children = [
            {"node_id": f"2.{t}", "level": 2, "label": label, "topic_id": t, "representative": []}
            for label, t, _ in leaves
        ]
        parents.append({"node_id": f"1.{p}", "level": 1, "label": plabel, "children": children})
    return {
        "n_levels": 2,
        "root": {"node_id": "0.0", "level": 0, "label": "all", "children": parents},
    }


def topics_of(levels, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    for leaves in levels.values():
        for _, t, papers in leaves:
            out[papers] = t
    return out


def papers(n: int) -> list[str]:
    return [f"Paper {i}. Abstract of paper number {i}." for i in range(n)]


@pytest.fixture
def constructed():
    """Previous: A B C | D E over papers 0-99. New: A' BC | D1 D2 F over papers 0-79 and 100-119:
    A kept, B and C merged, D split, E vanished (its papers gone), F new (new papers)."""
    rng = np.random.default_rng(0)
    centre = {k: rng.normal(size=16) for k in "ABCDEF"}
    where = {}  # paper -> centre
    for k, lo in zip("ABCDE", range(0, 100, 20)):
        where.update({i: k for i in range(lo, lo + 20)})
    where.update({i: "F" for i in range(100, 120)})
    texts = papers(120)
    X = np.stack([centre[where[i]] + 0.3 * rng.normal(size=16) for i in range(120)])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    old_levels = {
        "ml": [
            ("alpha", 0, list(range(20))),
            ("beta", 1, list(range(20, 40))),
            ("gamma", 2, list(range(40, 60))),
        ],
        "physics": [("delta", 3, list(range(60, 80))), ("epsilon", 4, list(range(80, 100)))],
    }
    old_idx = list(range(100))
    prev = SimpleNamespace(
        run_dir=Path("prev"),
        tree=tree(old_levels),
        topic_ids=topics_of(old_levels, 100),
        corpus=Corpus(
            [f"p{i}" for i in old_idx],
            [t.split(".")[0] for t in texts[:100]],
            [t.split(". ", 1)[1] for t in texts[:100]],
            [None] * 100,
        ),
        embeddings=X[:100],
    )
    new_idx = list(range(80)) + list(range(100, 120))  # E's papers are gone, F's are new
    pos = {p: k for k, p in enumerate(new_idx)}
    # The new fit numbers its topics its own way (as a fresh HDBSCAN would).
    new_levels = {
        "learning": [
            ("alpha2", 3, [pos[i] for i in range(20)]),
            ("beta-gamma", 0, [pos[i] for i in range(20, 60)]),
        ],
        "matter": [
            ("delta one", 1, [pos[i] for i in range(60, 70)]),
            ("delta two", 4, [pos[i] for i in range(70, 80)]),
            ("phi", 2, [pos[i] for i in range(100, 120)]),
        ],
    }
    new_topics = topics_of(new_levels, len(new_idx))
    tax = tree_taxonomy(tree(new_levels), new_topics, [f"q{i}" for i in new_idx])
    keys = [text_key(texts[i]) for i in new_idx]
    return prev, tax, new_topics, keys, X[new_idx]


def test_constructed_case_reports_kept_merged_split_new_vanished(constructed):
    prev, tax, topics, keys, X = constructed
    out, leaf_ids, changes, ids = apply_previous(tax, topics, keys, X, prev)
    label = {n.node_id: n.label for n in out.nodes.values()}
    # alpha2 is alpha with the same papers: old id 2.0 and the old name.
    assert ids["2.3"] == "2.0" and label["2.0"] == "alpha"
    assert (leaf_ids[:20] == 0).all()
    # beta + gamma -> one node: a merge of 2.1 and 2.2, which keeps one of their ids.
    (merge,) = changes["merges"]
    assert sorted(f["old_node_id"] for f in merge["from"]) == ["2.1", "2.2"]
    assert merge["node_id"] == ids["2.0"] and ids["2.0"] in {"2.1", "2.2"}
    # delta -> two nodes: a split; one keeps delta's id 2.3, the other gets a fresh id.
    (split,) = [s for s in changes["splits"] if s["old_node_id"] == "2.3"]
    assert sorted(n["node_id"] for n in split["into"]) == sorted([ids["2.1"], ids["2.4"]])
    assert "2.3" in {ids["2.1"], ids["2.4"]}
    # phi (only new papers) is new with an id never used at its level; epsilon vanished.
    assert [n["label"] for n in changes["new_topics"]] == ["phi"]
    assert int(ids["2.2"].split(".")[1]) >= 5
    assert [v["label"] for v in changes["vanished_topics"]] == ["epsilon"]
    # Parents: "learning" holds alpha, beta and gamma's papers: it is ml (1.0) and keeps its name.
    assert ids["1.0"] == "1.0" and label["1.0"] == "ml"
    assert changes["shared_papers"] == 80 and changes["leaf_id_agreement"] is not None
    assert len(set(label.values())) == len(label)  # no name worn twice


def test_same_tree_keeps_every_id_and_name(constructed):
    prev, *_ = constructed
    tax = tree_taxonomy(prev.tree, prev.topic_ids, prev.corpus.ids)
    keys = [text_key(t) for t in prev.corpus.texts]
    out, _, changes, ids = apply_previous(tax, prev.topic_ids, keys, prev.embeddings, prev)
    assert all(k == v for k, v in ids.items())
    assert changes["leaf_id_agreement"] == 1.0
    assert not (changes["merges"] or changes["splits"] or changes["new_topics"])
    assert {n.label for n in out.nodes.values()} == {
        n.label for n in tree_taxonomy(prev.tree, prev.topic_ids, prev.corpus.ids).nodes.values()
    }


def test_previous_on_another_seed_keeps_ids_and_writes_changes(sample_run, tmp_path, capsys):
    from taxonomy.cli import main
    from taxonomy.config import dump_config

    base, base_dir = sample_run
    cfg = sample_config(tmp_path, seed=7, cache={"dir": base.cfg.cache.dir})
    (tmp_path / "seed7.yaml").write_text(dump_config(cfg))
    out = tmp_path / "seed7"
    assert (
        main(["run", str(tmp_path / "seed7.yaml"), "--out", str(out), "--previous", str(base_dir)])
        == 0
    )
    c = json.loads((out / "changes.json").read_text())
    assert c["summary"] in capsys.readouterr().out
    assert c["kind"] == "refit" and c["shared_papers"] == len(base.corpus)
    leaves = c["levels"][0]
    # Most leaf topics keep an id, and most papers keep their leaf id (bounds, not figures).
    assert leaves["matched"] >= 0.7 * min(leaves["nodes"], leaves["previous_nodes"])
    assert c["leaf_id_agreement"] >= 0.6
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["lineage"]["leaf_id_agreement"] == c["leaf_id_agreement"]
    # Ids in documents.csv and taxonomy.json agree with each other and with changes.json.
    saved = load_run(out)
    tax = tree_taxonomy(saved.tree, saved.topic_ids, saved.corpus.ids)
    assert {f"2.{t}" for t in set(saved.topic_ids.tolist()) - {-1}} <= set(tax.nodes)
    assert {n["node_id"] for n in c["new_topics"]} <= set(tax.nodes)


def test_previous_must_be_a_run(tmp_path):
    from taxonomy.errors import InputError
    from taxonomy.pipeline import run

    with pytest.raises(InputError, match="run directory not found"):
        run(sample_config(tmp_path), previous=tmp_path / "nope", log=lambda m: None)
