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


def dated_records(result, months: int = 8) -> list[dict]:
    """The sample's papers as JSONL records with a ``date``: the papers of its largest leaf
    topic in the last two months, the others spread evenly over all ``months`` (from 2025-01)."""
    leaf = max(result.taxonomy.level(result.taxonomy.n_levels), key=lambda n: n.size)
    rising = set(leaf.doc_idx.tolist())
    recs = []
    for i, (t, a) in enumerate(zip(result.corpus.titles, result.corpus.abstracts)):
        month = months - 1 - i % 2 if i in rising else i % months
        recs.append(
            {
                "id": f"25{month + 1:02d}.{i:05d}",
                "title": t,
                "abstract": a,
                "date": f"2025-{month + 1:02d}-{1 + i % 28:02d}",
            }
        )
    return recs


@pytest.fixture(scope="session")
def dated_run(tmp_path_factory, sample_run):
    """The sample with dates (one topic rising), run end to end on the sample run's cache."""
    import json

    from taxonomy.pipeline import run

    base = sample_run[0]
    tmp = tmp_path_factory.mktemp("dated_run")
    path = tmp / "dated.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in dated_records(base)), encoding="utf-8")
    cfg = sample_config(
        tmp, name="dated", corpus={"path": str(path)}, cache={"dir": base.cfg.cache.dir}
    )
    result = run(cfg, log=lambda msg: None)
    return result, result.out_dir
