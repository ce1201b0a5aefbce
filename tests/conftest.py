"""Shared fixtures: one real run of the bundled sample (real model, real UMAP/HDBSCAN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomy.config import RunConfig, build_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets"
# Headless Debian chromium as root, with no background traffic to a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def sample_config(tmp: Path, **overrides) -> RunConfig:
    data = {
        "name": "sample",
        "output_dir": str(tmp / "outputs"),
        "cache": {"dir": str(tmp / "cache")},
        "embedding": {"show_progress_bar": False},
    }
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return build_config(data)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The sample corpus run once end to end; returns (RunResult, run directory)."""
    from taxonomy.pipeline import run

    tmp = tmp_path_factory.mktemp("sample_run")
    result = run(sample_config(tmp), log=lambda msg: None)
    return result, result.out_dir


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """A cache dir shared by tests that only need embeddings of the sample (saves re-embedding)."""
    return tmp_path_factory.mktemp("shared_cache")
