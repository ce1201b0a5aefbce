"""Traps a user fell into, each fixed and held here (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from taxonomy.cli import main
from taxonomy.config import build_config
from taxonomy.errors import ConfigError


def test_input_keeps_the_configs_format_fields_and_gold(tmp_path, monkeypatch):
    """`taxonomy run config/arxiv.yaml --input x.jsonl.gz` used to reset the format to auto."""
    import gzip

    rows = [
        {
            "id": f"2401.{i:05d}",
            "title": f"Paper {i} on {'superconductivity' if i % 2 else 'retrieval'}",
            "abstract": f"We study {'superconducting gaps' if i % 2 else 'dense retrievers'} "
            f"in setting {i} with many careful experiments and analysis of results.",
            "categories": ["cond-mat.supr-con"] if i % 2 else ["cs.IR"],
        }
        for i in range(24)
    ]
    src = tmp_path / "listing.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    cfg = yaml.safe_load((REPO / "config" / "arxiv.yaml").read_text())
    cfg.update(output_dir=str(tmp_path / "out"), cache={"dir": str(tmp_path / "cache")})
    cfg_path = tmp_path / "arxiv.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(cfg_path), "--input", str(src)]) == 0
    written = yaml.safe_load((tmp_path / "out" / "arxiv" / "config.yaml").read_text())
    assert written["corpus"]["format"] == "arxiv"
    assert written["corpus"]["gold_fields"] == ["group", "archive", "primary_category"]
    metrics = json.loads((tmp_path / "out" / "arxiv" / "metrics.json").read_text())
    assert "gold" in metrics


def test_the_written_config_has_no_auto_left(sample_run):
    _, run_dir = sample_run
    text = (run_dir / "config.yaml").read_text()
    assert "auto" not in yaml.safe_load(text).__repr__()


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("umap", "metric", "cosin", "umap.metric: expected 'cosine'"),
        ("hdbscan", "metric", "cosine", "hdbscan.metric: expected 'euclidean'"),
        ("embedding", "device", "gpu", "embedding.device: expected a torch device such as 'cpu'"),
    ],
)
def test_strings_that_failed_after_embedding_fail_at_load(section, key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        build_config({section: {key: value}}, "x.yaml")


def test_relative_paths_in_a_config_follow_the_working_directory(tmp_path, monkeypatch):
    from taxonomy.config import load_config

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "base.yaml").write_text("seed: 3\n")
    (tmp_path / "conf" / "mine.yaml").write_text("base: conf/base.yaml\noutput_dir: runs\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("conf/mine.yaml"))
    assert cfg.seed == 3 and cfg.output_dir == "runs"
