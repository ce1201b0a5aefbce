"""End to end on the bundled sample with the real model: outputs, taxonomy shape, determinism."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import sample_config

from taxonomy.config import load_config
from taxonomy.errors import OutputError
from taxonomy.outputs.tables import DOCUMENT_COLUMNS, TOPIC_COLUMNS
from taxonomy.pipeline import run

OUTPUT_FILES = {
    "documents.csv",
    "topics.csv",
    "taxonomy.yaml",
    "taxonomy.json",
    "report.html",
    "metrics.json",
    "config.yaml",
}


class TestSampleRun:
    def test_writes_every_output(self, sample_run):
        _, out = sample_run
        assert OUTPUT_FILES <= {p.name for p in out.iterdir()}

    def test_documents_csv(self, sample_run):
        result, out = sample_run
        docs = pd.read_csv(out / "documents.csv", keep_default_na=False)
        assert list(docs.columns) == DOCUMENT_COLUMNS and len(docs) == 66
        covered = docs[docs.topic_id >= 0]
        outliers = docs[docs.topic_id == -1]
        assert (outliers.path == "").all() and (outliers.topic_label == "").all()
        # path runs from the top level to the leaf, whose label is the topic label
        assert (covered.path.str.split(" > ").str[-1] == covered.topic_label).all()
        assert (covered.path.str.count(" > ") == result.taxonomy.n_levels - 1).all()
        assert docs.probability.between(0, 1).all()

    def test_at_most_15_percent_outliers(self, sample_run):
        result, _ = sample_run
        assert result.metrics["outlier_share"] <= 0.15

    def test_topics_csv_is_the_tree(self, sample_run):
        result, out = sample_run
        topics = pd.read_csv(
            out / "topics.csv", keep_default_na=False, dtype={"node_id": str, "parent_id": str}
        )
        assert list(topics.columns) == TOPIC_COLUMNS
        assert len(topics) == len(result.taxonomy.nodes)
        by_id = topics.set_index("node_id")
        for _, row in topics[topics.level > 0].iterrows():
            assert by_id.loc[row.parent_id, "level"] == row.level - 1
        # a parent's size is the sum of its children's
        for nid, row in by_id.iterrows():
            kids = topics[topics.parent_id == nid]
            if len(kids):
                assert kids["size"].sum() == row["size"]

    def test_at_least_two_levels_every_node_named_siblings_distinct(self, sample_run):
        result, _ = sample_run
        tax = result.taxonomy
        assert tax.n_levels >= 2 and len(tax.level(1)) >= 2
        for node in tax.nodes.values():
            assert node.label
            if node.namer == "extractive":  # a vocabulary term is named as its vocabulary has it
                assert 1 <= len(node.label.split()) <= 4
            kids = [tax.nodes[c].label.lower() for c in node.children]
            assert len(kids) == len(set(kids))
            assert len(node.representative) == min(3, node.size) and node.keywords

    def test_taxonomy_yaml_and_json_agree(self, sample_run):
        _, out = sample_run
        tree_yaml = yaml.safe_load((out / "taxonomy.yaml").read_text())
        tree_json = json.loads((out / "taxonomy.json").read_text())
        assert tree_yaml == tree_json
        leaf = tree_json["root"]["children"][0]["children"][0]
        assert {"label", "size", "keywords", "representative"} <= set(leaf)

    def test_metrics_and_resolved_config(self, sample_run):
        result, out = sample_run
        m = json.loads((out / "metrics.json").read_text())
        assert m["n_docs"] == 66 and m["n_skipped"] == 0 and m["seed"] == 42
        assert set(m["seconds"]) >= {"load", "embed", "reduce", "cluster", "taxonomy", "label"}
        assert m["versions"]["umap-learn"] and m["n_topics_per_level"]["1"] >= 2
        cfg = load_config(out / "config.yaml")
        assert cfg.umap.n_neighbors == result.cfg.umap.n_neighbors != "auto"
        assert isinstance(cfg.hdbscan.min_cluster_size, int)


def test_same_config_same_taxonomy(sample_run, tmp_path):
    """Determinism: a second run from an empty cache reproduces documents.csv and taxonomy.yaml."""
    _, first = sample_run
    again = run(sample_config(tmp_path), log=lambda m: None).out_dir
    for name in ("documents.csv", "taxonomy.yaml", "topics.csv"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name


def test_existing_run_is_not_clobbered(sample_run, tmp_path):
    _, out = sample_run
    before = (out / "documents.csv").read_bytes()
    cfg = sample_config(tmp_path)
    with pytest.raises(OutputError, match="--overwrite"):
        run(cfg, out_dir=out, log=lambda m: None)
    assert (out / "documents.csv").read_bytes() == before
