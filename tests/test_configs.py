"""Every YAML under config/ loads: run configs validate, experiments expand to valid points."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomy.config import load_config
from taxonomy.sweep import load_experiment

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
EXPERIMENTS = CONFIG / "experiments"
RUN_CONFIGS = sorted(p for p in CONFIG.glob("*.yaml"))
EXPERIMENT_FILES = sorted(p for p in EXPERIMENTS.glob("*.yaml") if "\nsweep:" in p.read_text())
# Configs that build on another (base:) without a sweep: run them with 'taxonomy run'.
DERIVED_CONFIGS = sorted(p for p in EXPERIMENTS.glob("*.yaml") if p not in EXPERIMENT_FILES)


def test_every_yaml_is_covered():
    every = sorted(CONFIG.rglob("*.yaml")) + sorted(CONFIG.rglob("*.yml"))
    assert sorted(every) == sorted(RUN_CONFIGS + EXPERIMENT_FILES + DERIVED_CONFIGS), (
        "a YAML under config/ is not tested"
    )
    assert len(EXPERIMENT_FILES) >= 2 and DERIVED_CONFIGS


@pytest.mark.parametrize("path", RUN_CONFIGS + DERIVED_CONFIGS, ids=lambda p: p.name)
def test_run_config_loads(path, monkeypatch):
    monkeypatch.chdir(REPO)  # paths in configs (base:, corpus.path) are relative to it
    cfg = load_config(path)
    assert cfg.name and cfg.seed >= 0


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.name)
def test_run_refuses_a_sweep_and_names_the_command(path, monkeypatch):
    from taxonomy.errors import ConfigError

    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigError, match="taxonomy sweep"):
        load_config(path)


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.name)
def test_experiment_loads(path, monkeypatch):
    monkeypatch.chdir(REPO)  # corpus paths like ../shared/... are relative to the repo
    exp = load_experiment(path)
    assert exp.name == path.stem and exp.points and exp.sweep and exp.select
    n = 1
    for values in exp.sweep.values():
        n *= len(values)
    assert len(exp.points) == n == len({p.name for p in exp.points})
    for p in exp.points:
        for key, value in p.params.items():
            section, field = key.split(".")
            assert getattr(getattr(p.cfg, section), field) == value
    corpus = exp.base.corpus.path
    if not corpus.startswith("builtin:") and not Path(corpus).exists():
        pytest.skip(f"{corpus} not here (needs ../shared beside the repo)")


def test_pwc_grid_is_the_issue_grid():
    exp = load_experiment(EXPERIMENTS / "pwc_grid.yaml")
    assert list(exp.sweep) == ["hdbscan.min_cluster_size", "umap.n_neighbors"]
    assert len(exp.points) == 9
    c = exp.base.corpus
    assert c.path.endswith("paperswithcode_area_task/docs.jsonl.gz")
    assert (c.id_field, c.gold_fields) == ("arxiv_id", ["area", "task"])
