"""A guided taxonomy (taxonomy.seed_topics): config, the zero-shot rule, and a seeded run."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO, sample_config

from taxonomy.config import load_config
from taxonomy.errors import ConfigError
from taxonomy.seeds import place_seeds

SEEDED = REPO / "config" / "experiments" / "seeded.yaml"
# Which sample papers each seed is about, by their titles (a check of the seeding, written by
# hand for this test; nothing in the product sees it).
ABOUT = {
    "retrieval": r"retriev|search|rank(ing|er)|BEIR",
    "scaling laws": r"scaling law|scale reliably|predictable|power law",
    "efficient training": (
        r"low-rank|LoRA|parameter-efficient|mixture of experts|data diet|data selection|"
        r"stacking your|hyperattention"
    ),
}


class TestConfig:
    def test_names_descriptions_and_nesting(self):
        from taxonomy.config import build_config

        cfg = build_config(
            {
                "taxonomy": {
                    "seed_topics": {
                        "machine learning": ["efficient training", "scaling laws"],
                        "retrieval": "finding documents for a query",
                    }
                }
            }
        )
        ml, ret = cfg.taxonomy.seed_topics
        assert [c.name for c in ml.children] == ["efficient training", "scaling laws"]
        assert ret.text == "retrieval: finding documents for a query"

    @pytest.mark.parametrize(
        "seeds, message",
        [
            (["a", "A"], "taxonomy.seed_topics: expected seed topic names must differ"),
            ([{"name": ""}], "taxonomy.seed_topics[0].name: expected"),
            ([{"nam": "x"}], "taxonomy.seed_topics[0].nam: unknown key; did you mean 'name'?"),
            (
                [{"name": "a", "children": [{"name": "b", "children": ["c"]}]}],
                "at most two levels of seed topics",
            ),
        ],
    )
    def test_bad_seeds_name_the_key(self, seeds, message):
        from taxonomy.config import build_config

        with pytest.raises(ConfigError, match=re.escape(message)):
            build_config({"taxonomy": {"seed_topics": seeds}}, "x.yaml")

    def test_the_example_is_a_run_config(self, monkeypatch):
        monkeypatch.chdir(REPO)
        cfg = load_config(SEEDED)
        assert [s.name for s in cfg.taxonomy.seed_topics] == list(ABOUT)


class TestRule:
    def embed(self, texts):
        # Seed texts point along one axis each; papers are built below.
        axes = {"alpha": 0, "beta": 1, "gamma": 2, "delta": 3}
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, axes[t.split(":")[0]]] = 1
        return out

    def test_papers_join_their_nearest_seed_above_the_threshold(self):
        from taxonomy.config import SeedTopic

        rng = np.random.default_rng(0)
        X = np.vstack(
            [np.eye(4)[0] + 0.1 * rng.random((6, 4)), np.eye(4)[1] + 0.1 * rng.random((6, 4))]
            + [np.eye(4)[2] * 0.2 + 0.8 * np.eye(4)[3]]  # close to no seed but delta
        )
        seeds = [SeedTopic(name=n) for n in ("alpha", "beta", "gamma")]
        placed = place_seeds(X, seeds, self.embed, min_similarity=0.5, min_size=3)
        assert placed.seed_of.tolist() == [0] * 6 + [1] * 6 + [-1]
        report = {r["name"]: r for r in placed.report}
        assert report["alpha"]["formed"] and report["alpha"]["papers"] == 6
        assert not report["gamma"]["formed"] and report["gamma"]["papers"] == 0

    def test_a_seed_too_small_gives_its_papers_back(self):
        from taxonomy.config import SeedTopic

        X = np.vstack([np.tile(np.eye(4)[0], (5, 1)), np.eye(4)[0] * 0.6 + 0.8 * np.eye(4)[1]])
        seeds = [SeedTopic(name="alpha"), SeedTopic(name="beta")]
        placed = place_seeds(X, seeds, self.embed, min_similarity=0.5, min_size=2)
        # beta had one paper: it forms no node, and that paper goes to alpha (cosine .6).
        assert placed.seed_of.tolist() == [0] * 6
        assert [r["formed"] for r in placed.report] == [True, False]


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory, monkeypatch_module):
    from taxonomy.pipeline import fit

    monkeypatch_module.chdir(REPO)
    tmp = tmp_path_factory.mktemp("seeded")
    seeds = load_config(SEEDED).taxonomy
    extra = [{"name": "protein folding", "description": "predicting the 3D structure of proteins"}]
    cfg = sample_config(
        tmp,
        taxonomy={
            "seed_topics": [s.model_dump() for s in seeds.seed_topics] + extra,
            "zeroshot_min_similarity": seeds.zeroshot_min_similarity,
        },
    )
    return fit(cfg, log=lambda m: None)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


class TestSeededRun:
    def test_seeds_are_top_level_nodes_with_their_names(self, seeded_run):
        tax = seeded_run.taxonomy
        top = {n.label: n for n in tax.level(1)}
        assert set(ABOUT) <= set(top)
        for name in ABOUT:
            assert top[name].seed == name
        labels = [n.label.lower() for n in tax.nodes.values()]
        assert len(labels) == len(set(labels))  # no other node took a seed's name

    def test_each_seed_holds_most_of_its_papers(self, seeded_run):
        tax, titles = seeded_run.taxonomy, seeded_run.corpus.titles
        top = {n.label: set(n.doc_idx.tolist()) for n in tax.level(1)}
        for name, pattern in ABOUT.items():
            about = {i for i, t in enumerate(titles) if re.search(pattern, t, re.IGNORECASE)}
            assert len(about & top[name]) / len(about) > 0.5, name

    def test_seed_sizes_and_unformed_seeds_are_reported(self, seeded_run):
        report = {r["name"]: r for r in seeded_run.metrics["seed_topics"]}
        top = {n.label: n.size for n in seeded_run.taxonomy.level(1)}
        for name in ABOUT:
            assert report[name]["formed"] and report[name]["papers"] == top[name]
        assert not report["protein folding"]["formed"]
        assert "protein folding" not in top

    def test_the_rest_is_clustered_beside_the_seeds(self, seeded_run):
        tax = seeded_run.taxonomy
        assert tax.root.size == sum(n.size for n in tax.level(1))
        others = [n for n in tax.level(1) if not n.seed]
        assert all(not n.label.lower() in ABOUT for n in others)
